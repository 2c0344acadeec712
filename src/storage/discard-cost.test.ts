/**
 * A discard is advisory and must stay cheap whatever range it names: it never writes data nor
 * allocates. Measured here as the bytes each format writes to its store during a discard.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from './memory-store.ts';
import { findFormat } from './registry.ts';
import type { ByteStore } from './types.ts';

const MiB = 1 << 20;
const SIZE = 16 * MiB;

/** A MemoryStore that counts the bytes written to it. */
class CountingStore extends MemoryStore {
  written = 0;
  override async write(offset: number, data: Uint8Array): Promise<void> {
    this.written += data.length;
    await super.write(offset, data);
  }
}

const cases: Array<[string, string, Record<string, string>]> = [
  ['raw', 'raw', {}],
  ['qcow2', 'qcow2', {}],
  ['vhd dynamic', 'vpc', {}],
  ['vhd fixed', 'vpc', { subformat: 'fixed' }],
  ['vhdx dynamic', 'vhdx', { block_size: '1M' }],
  ['vhdx fixed', 'vhdx', { subformat: 'fixed', block_size: '1M' }],
  ['vmdk sparse', 'vmdk', {}],
];

async function image(fmt: string, options: Record<string, string>) {
  const store = new CountingStore('disk');
  const f = findFormat(fmt);
  await f.create!(store as ByteStore, SIZE, { options });
  return { store, disk: await f.open(store, {}) };
}

describe('discard writes no data', () => {
  for (const [name, fmt, options] of cases) {
    it(`${name}: a small unaligned discard writes nothing and does not grow the image`, async () => {
      const { store, disk } = await image(fmt, options);
      await disk.flush();
      const size = await store.size();
      store.written = 0;
      await disk.discard(512, 1024);
      await disk.discard(3 * MiB + 4096, 4096);
      await disk.flush();
      assert.equal(await store.size(), size);
      // Metadata only (a dirty flag, VHDX's two 4 KiB headers): less than a 64 KiB cluster.
      assert.ok(store.written <= 16384, `${store.written} bytes written`);
      await disk.close();
    });
    it(`${name}: discarding the whole disk over data writes at most metadata`, async () => {
      const { store, disk } = await image(fmt, options);
      await disk.write(0, new Uint8Array(SIZE).fill(1));
      await disk.flush();
      store.written = 0;
      await disk.discard(512, SIZE - 1024);
      await disk.flush();
      assert.ok(store.written <= SIZE / 16, `${store.written} bytes written`);
      await disk.close();
    });
  }
});
