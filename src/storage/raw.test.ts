import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBlockBackendContract } from './contract/block-backend-contract.ts';
import { MemoryStore } from './memory-store.ts';
import { rawFormat } from './raw.ts';
import { StorageError } from './types.ts';

runBlockBackendContract('raw over MemoryStore', async (size) => {
  let store = new MemoryStore('disk.raw');
  await rawFormat.create!(store, size, { options: {} });
  return {
    backend: await rawFormat.open(store, {}),
    async reopen(readOnly) {
      store = readOnly ? store.readOnlyView() : store;
      return rawFormat.open(store, { readOnly });
    },
  };
});

describe('raw', () => {
  it('refuses a backing file and unknown preallocation', async () => {
    const s = new MemoryStore();
    await assert.rejects(rawFormat.create!(s, 512, { options: {}, backingFile: 'x' }), StorageError);
    await assert.rejects(rawFormat.create!(s, 512, { options: { preallocation: 'bogus' } }), /preallocation/);
  });
  it('cannot open a read-only store for writing', async () => {
    const s = new MemoryStore('ro', new Uint8Array(512), true);
    await assert.rejects(rawFormat.open(s, { readOnly: false }), { code: 'read-only' });
    const b = await rawFormat.open(s, {});
    assert.equal(b.readOnly, true);
  });
  it('resizes', async () => {
    const s = new MemoryStore();
    const b = await rawFormat.open(s, {});
    await (b as unknown as { resize(n: number): Promise<void> }).resize(4096);
    assert.equal(b.size, 4096);
    assert.equal(await s.size(), 4096);
  });
});
