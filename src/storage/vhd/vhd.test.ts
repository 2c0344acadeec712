import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBlockBackendContract } from '../contract/block-backend-contract.ts';
import { MemoryStore } from '../memory-store.ts';
import { chsForSectors, parseFooter, virtualSizeOf } from './footer.ts';
import { vpcFormat } from './index.ts';
import { vhdGeometryFor } from './create.ts';

for (const subformat of ['fixed', 'dynamic']) {
  for (const force_size of ['on', 'off']) {
    runBlockBackendContract(
      `vpc ${subformat} force_size=${force_size}`,
      async (size) => {
        let store = new MemoryStore('disk.vhd');
        await vpcFormat.create!(store, size, { options: { subformat, force_size } });
        // Without force_size qemu's rule rounds the size up to a whole CHS geometry, so the suite uses such a size.
        const b = await vpcFormat.open(store, {});
        assert.equal(b.size, size);
        return {
          backend: b,
          async reopen(readOnly) {
            store = readOnly ? store.readOnlyView() : store;
            return vpcFormat.open(store, { readOnly });
          },
        };
      },
      { size: force_size === 'on' ? 4 * 1024 * 1024 + 1536 : vhdGeometryFor(4 << 20, false).size },
    );
  }
}

runBlockBackendContract(
  'vpc differencing over a dynamic parent',
  async (size) => {
    const parentStore = new MemoryStore('parent.vhd');
    await vpcFormat.create!(parentStore, size, { options: { force_size: 'on' } });
    const parent = await vpcFormat.open(parentStore, {});
    const initial = new Uint8Array(size);
    for (let i = 0; i < size; i += 4096) initial.fill((i >> 12) + 1, i, Math.min(size, i + 3000));
    await parent.write(0, initial);
    await parent.close();
    const openBacking = async (name: string) => {
      assert.equal(name, 'parent.vhd');
      return vpcFormat.open(parentStore.readOnlyView(), { readOnly: true });
    };
    let store = new MemoryStore('child.vhd');
    await vpcFormat.create!(store, 0, { options: { force_size: 'on' }, backingFile: 'parent.vhd', openBacking });
    return {
      backend: await vpcFormat.open(store, { openBacking }),
      initial,
      async reopen(readOnly) {
        store = readOnly ? store.readOnlyView() : store;
        return vpcFormat.open(store, { readOnly, openBacking });
      },
    };
  },
  { size: 4 * 1024 * 1024 + 1536 },
);

describe('vpc geometry and size rules', () => {
  it('computes the VHD specification CHS geometry', () => {
    assert.deepEqual(chsForSectors(19531), { cylinders: 287, heads: 4, sectorsPerTrack: 17 });
    assert.deepEqual(chsForSectors(65535 * 16 * 255 + 5), { cylinders: 65535, heads: 16, sectorsPerTrack: 255 });
    // 1 GiB: 2097152 sectors -> 63 sectors per track, 16 heads.
    assert.deepEqual(chsForSectors(2097152), { cylinders: 2080, heads: 16, sectorsPerTrack: 63 });
  });
  it('rounds a requested size up to a whole geometry unless force_size', () => {
    assert.equal(vhdGeometryFor(10_000_000, false).size, 10027008);
    assert.equal(vhdGeometryFor(10_000_000, true).size, 10000384);
  });
  it('uses current_size for Hyper-V creators and the geometry for Virtual PC', async () => {
    const s = new MemoryStore('x.vhd');
    await vpcFormat.create!(s, 10_000_000, { options: { subformat: 'dynamic' } });
    const f = parseFooter((await s.bytes()).subarray(0, 512), 'start');
    assert.equal(f.creatorApp, 'qemu');
    const base = { ...f, currentSize: 10_000_000 - 1808 };
    assert.equal(virtualSizeOf({ ...base, creatorApp: 'vpc ' }), 10027008);
    assert.equal(virtualSizeOf({ ...base, creatorApp: 'win ' }), Math.floor((10_000_000 - 1808) / 512) * 512);
    assert.equal(virtualSizeOf({ ...base, creatorApp: 'd2v ' }), Math.floor((10_000_000 - 1808) / 512) * 512);
  });
});

describe('vpc differencing', () => {
  it('refuses to open without openBacking, naming the parent', async () => {
    const p = new MemoryStore('base.vhd');
    await vpcFormat.create!(p, 1 << 20, { options: {} });
    const c = new MemoryStore('kid.vhd');
    await vpcFormat.create!(c, 0, {
      options: {},
      backingFile: 'base.vhd',
      openBacking: async () => vpcFormat.open(p, {}),
    });
    await assert.rejects(
      vpcFormat.open(c, {}),
      (e: Error & { code?: string }) => e.code === 'not-found' && /base\.vhd/.test(e.message),
    );
  });
});

describe('dynamic VHD data writes', () => {
  it('overlap: allocation is serialised, data goes out together, flush waits for it', async () => {
    const mem = new MemoryStore('o.vhd');
    await vpcFormat.create!(mem, 16 << 20, { options: { subformat: 'dynamic' } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const issued: number[] = [];
    // Block data (1 MiB here) waits for the gate; metadata (bitmaps, footer, BAT) does not.
    const store = Object.create(mem) as MemoryStore;
    store.write = async (offset: number, data: Uint8Array) => {
      if (data.length >= 1 << 20) {
        issued.push(offset);
        await gate;
      }
      return mem.write(offset, data);
    };
    const img = await vpcFormat.open(store, {});
    const a = new Uint8Array(1 << 20).fill(1);
    const b = new Uint8Array(1 << 20).fill(2);
    const writing = [img.write(0, a), img.write(4 << 20, b)];
    for (let i = 0; i < 2000 && issued.length < 2; i++) await Promise.resolve();
    assert.equal(issued.length, 2, 'both blocks written at once');
    let flushed = false;
    const flushing = img.flush().then(() => (flushed = true));
    for (let i = 0; i < 200; i++) await Promise.resolve();
    assert.equal(flushed, false, 'flush waits for the data in flight');
    release();
    await Promise.all([...writing, flushing]);
    const back = new Uint8Array(1 << 20);
    await img.read(4 << 20, back);
    assert.deepEqual(back, b);
    await img.close();
    const again = await vpcFormat.open(mem, { readOnly: true });
    await again.read(0, back);
    assert.deepEqual(back, a);
    await again.close();
  });
});
