import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBlockBackendContract } from '../contract/block-backend-contract.ts';
import { MemoryStore } from '../memory-store.ts';
import type { OpenOptions } from '../formats.ts';
import type { BlockBackend } from '../types.ts';
import { StorageError } from '../types.ts';
import { crc32c } from './crc32c.ts';
import { guidBytes, guidText } from './guid.ts';
import { vhdxFormat } from './index.ts';
import { MiB } from './layout.ts';

async function fresh(size: number, options: Record<string, string>): Promise<MemoryStore> {
  const store = new MemoryStore('disk.vhdx');
  await vhdxFormat.create!(store, size, { options });
  return store;
}

function contract(label: string, options: Record<string, string>): void {
  runBlockBackendContract(label, async (size) => {
    let store = await fresh(size, options);
    return {
      backend: await vhdxFormat.open(store, {}),
      async reopen(readOnly) {
        store = readOnly ? store.readOnlyView() : store;
        return vhdxFormat.open(store, { readOnly });
      },
    };
  });
}

contract('vhdx dynamic 1 MiB blocks', { block_size: '1M' });
contract('vhdx fixed 1 MiB blocks', { subformat: 'fixed', block_size: '1M' });

/** A parent with a pattern, and a differencing child: the contract sees the parent through it. */
runBlockBackendContract('vhdx differencing child', async (size) => {
  const parentStore = await fresh(size, { block_size: '1M' });
  const parent = await vhdxFormat.open(parentStore, {});
  const initial = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) initial.fill(((i >> 12) % 251) + 1, i, Math.min(size, i + 1500));
  await parent.write(0, initial);
  await parent.close();
  const openBacking: OpenOptions['openBacking'] = async (name) => {
    assert.equal(name, 'parent.vhdx');
    return vhdxFormat.open(parentStore.readOnlyView(), { readOnly: true });
  };
  let store = new MemoryStore('child.vhdx');
  await vhdxFormat.create!(store, size, { options: { block_size: '1M' }, backingFile: 'parent.vhdx', openBacking });
  return {
    initial,
    backend: await vhdxFormat.open(store, { openBacking }),
    async reopen(readOnly) {
      store = readOnly ? store.readOnlyView() : store;
      return vhdxFormat.open(store, { readOnly, openBacking });
    },
  };
});

describe('vhdx pieces', () => {
  it('computes CRC-32C check values', () => {
    assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  });
  it('round-trips GUIDs in mixed-endian order', () => {
    const g = guidBytes('2DC27766-F623-4200-9D64-115E9BFD4A08');
    assert.deepEqual([...g.subarray(0, 4)], [0x66, 0x77, 0xc2, 0x2d]);
    assert.equal(guidText(g), '2DC27766-F623-4200-9D64-115E9BFD4A08');
  });
});

describe('vhdx', () => {
  it('probes and creates with the requested geometry', async () => {
    const store = await fresh(10 * MiB, { block_size: '2M' });
    const head = new Uint8Array(64);
    await store.read(0, head);
    assert.equal(vhdxFormat.probe(head, await store.size()), 100);
    const b = (await vhdxFormat.open(store, {})) as BlockBackend & { info: { blockSize: number } };
    assert.equal(b.size, 10 * MiB);
    assert.equal(b.info.blockSize, 2 * MiB);
    await b.close();
  });

  it('rejects bad options', async () => {
    await assert.rejects(fresh(MiB, { subformat: 'sparse' }), /subformat/);
    await assert.rejects(fresh(MiB, { block_size: '3M' }), /block_size/);
    await assert.rejects(fresh(MiB, { cluster_size: '64k' }), /unknown option/);
    await assert.rejects(fresh(128 * 1024 * 1024 * MiB, {}), { code: 'too-large' });
  });

  it('cannot open a read-only store for writing', async () => {
    const s = (await fresh(MiB, {})).readOnlyView();
    await assert.rejects(vhdxFormat.open(s, { readOnly: false }), { code: 'read-only' });
    assert.equal((await vhdxFormat.open(s, {})).readOnly, true);
  });

  it('allocates blocks at the 1 MiB aligned end and changes headers on first write', async () => {
    const store = await fresh(8 * MiB, { block_size: '1M' });
    const before = store.bytes();
    const b = await vhdxFormat.open(store, {});
    assert.deepEqual(store.bytes(), before, 'opening read-write writes nothing');
    await b.write(3 * MiB + 100, Uint8Array.of(1, 2, 3));
    const st = await b.blockStatus(3 * MiB, MiB);
    assert.equal(st.data, true);
    assert.equal(st.hostOffset! % MiB, 0);
    assert.equal(st.hostOffset, before.length);
    await b.close();
    const after = store.bytes();
    // Both headers were rewritten, with new write GUIDs and higher sequence numbers.
    for (const off of [64 * 1024, 128 * 1024]) {
      const dv = new DataView(after.buffer, off);
      const old = new DataView(before.buffer, off);
      assert.ok(dv.getBigUint64(8, true) > old.getBigUint64(8, true));
      assert.notDeepEqual(after.subarray(off + 16, off + 48), before.subarray(off + 16, off + 48));
    }
  });

  it('does not open a differencing image without a way to open its parent', async () => {
    const parent = await fresh(2 * MiB, {});
    const store = new MemoryStore('child');
    await vhdxFormat.create!(store, 2 * MiB, {
      options: {},
      backingFile: 'p.vhdx',
      openBacking: async () => vhdxFormat.open(parent, { readOnly: true }),
    });
    await assert.rejects(vhdxFormat.open(store, {}), { code: 'not-found' });
    // A parent of the wrong size is refused too.
    const other = await fresh(4 * MiB, {});
    await assert.rejects(
      vhdxFormat.open(store, { openBacking: async () => vhdxFormat.open(other, {}) }),
      /parent "p\.vhdx" has size 4194304, not the virtual size 2097152/,
    );
  });

  it('rejects a non-VHDX store', async () => {
    await assert.rejects(
      vhdxFormat.open(new MemoryStore('x', new Uint8Array(MiB)), {}),
      (e: unknown) => e instanceof StorageError && e.code === 'bad-magic',
    );
  });
});
