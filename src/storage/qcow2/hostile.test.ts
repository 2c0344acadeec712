/**
 * Malformed qcow2 headers and tables: each must give a StorageError naming the field, before
 * anything large is allocated; and a read-only image must never be written.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRng } from '../contract/block-backend-contract.ts';
import { MemoryStore } from '../memory-store.ts';
import { StorageError } from '../types.ts';
import { openQcow2, qcow2Format } from './format.ts';

async function image(options: Record<string, string> = {}): Promise<Uint8Array> {
  const s = new MemoryStore();
  await qcow2Format.create!(s, 8 << 20, { options: { cluster_size: '4k', ...options } });
  const b = await openQcow2(s, {});
  await b.write(100_000, new Uint8Array(50_000).fill(3));
  await b.createSnapshot('s');
  await b.close();
  return s.bytes();
}

function patch(img: Uint8Array, off: number, bytes: number[]): MemoryStore {
  const c = img.slice();
  c.set(bytes, off);
  return new MemoryStore('bad.qcow2', c, true);
}
const u32 = (v: number): number[] => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const u64 = (v: number): number[] => [...u32(Math.floor(v / 2 ** 32)), ...u32(v >>> 0)];

describe('qcow2 hostile input', () => {
  const cases: [string, number, number[], RegExp][] = [
    ['cluster_bits 30', 20, u32(30), /cluster_bits/],
    ['cluster_bits 3', 20, u32(3), /cluster_bits/],
    ['huge l1_size', 36, u32(0x7fffffff), /l1_table_offset|too large/],
    ['l1 outside the file', 40, u64(2 ** 40), /l1_table_offset/],
    ['unaligned l1', 40, u64(4097), /l1_table_offset/],
    ['l1 too small for the size', 36, u32(0), /l1_size/],
    ['huge refcount table', 56, u32(1 << 24), /refcount_table/],
    ['refcount table outside', 48, u64(2 ** 44), /refcount_table_offset/],
    ['too many snapshots', 60, u32(1 << 20), /nb_snapshots/],
    ['snapshot table outside', 64, u64(2 ** 45), /snapshots_offset/],
    ['refcount_order 7', 96, u32(7), /refcount_order/],
    ['header_length beyond the cluster', 100, u32(1 << 20), /header_length/],
    ['backing name too long', 8, [...u64(1024), ...u32(5000)], /backing_file_size/],
    ['backing name outside the cluster', 8, [...u64(4000), ...u32(200)], /backing_file_offset/],
    ['unknown incompatible feature', 72, u64(2 ** 40), /incompatible/],
    ['encryption', 32, u32(1), /encrypt/],
    ['version 4', 4, u32(4), /version/],
    ['size beyond 2^53', 24, [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0], /size/],
  ];
  for (const [name, off, bytes, re] of cases) {
    it(name, async () => {
      const img = await image();
      const s = patch(img, off, bytes);
      await assert.rejects(openQcow2(s, { readOnly: true }), (e: unknown) => {
        assert.ok(e instanceof StorageError, String(e));
        assert.match(e.message, re);
        return true;
      });
    });
  }

  it('a header extension running past the cluster', async () => {
    const img = await image();
    await assert.rejects(openQcow2(patch(img, 112, [0x12, 0x34, 0x56, 0x78, ...u32(0x10000)]), {}), /header extension/);
  });

  it('random corruption of metadata never escapes as a non-StorageError', async () => {
    const img = await image({ refcount_bits: '8' });
    const rng = makeRng(99);
    for (let i = 0; i < 150; i++) {
      const c = img.slice();
      // Corrupt the metadata clusters (header, refcounts, L1, L2, snapshot table).
      for (let k = 0; k < 4; k++) c[rng(Math.min(c.length, 12 * 4096))] = rng(256);
      const s = new MemoryStore('fuzz', c, true);
      try {
        const b = await openQcow2(s, { readOnly: true });
        const buf = new Uint8Array(200_000);
        await b.read(0, buf);
        await b.blockStatus(0, b.size);
        await b.check();
        await b.close();
      } catch (e) {
        assert.ok(e instanceof StorageError, `case ${i}: ${String(e)}`);
      }
    }
  });

  it('never writes a read-only image, and refuses writes to an image marked corrupt', async () => {
    const img = await image();
    const s = new MemoryStore('ro', img, true);
    const b = await openQcow2(s, { readOnly: true });
    await assert.rejects(b.write(0, new Uint8Array(1)), { code: 'read-only' });
    await assert.rejects(b.createSnapshot('x'), { code: 'read-only' });
    await assert.rejects(b.check('leaks'), { code: 'read-only' });
    await b.close();
    assert.deepEqual(s.bytes(), img);
    const marked = img.slice();
    marked[79] |= 2;
    await assert.rejects(openQcow2(new MemoryStore('c', marked), {}), { code: 'corrupt' });
  });

  it('an L2 entry pointing inside a cluster fails reads and writes, naming the entry', async () => {
    const img = await image();
    const b = await openQcow2(new MemoryStore('x', img, true), { readOnly: true });
    const l2 = b.l1[0]!;
    await b.close();
    // Entry 24 maps guest offset 96k..100k (4k clusters), written above: move it 512 bytes on.
    const bad = img.slice();
    const dv = new DataView(bad.buffer);
    dv.setUint32(l2 + 24 * 8 + 4, dv.getUint32(l2 + 24 * 8 + 4) + 512);
    const re =
      /L2 entry 24 of the table at 0x[0-9a-f]+ points at cluster offset 0x[0-9a-f]+200, which is not cluster aligned/;
    const ro = await openQcow2(new MemoryStore('bad', bad.slice(), true), { readOnly: true });
    await assert.rejects(ro.read(98_304, new Uint8Array(4096)), (e: unknown) => {
      assert.ok(e instanceof StorageError, String(e));
      assert.equal(e.code, 'corrupt');
      assert.match(e.message, re);
      return true;
    });
    await assert.rejects(ro.blockStatus(98_304, 4096), re);
    const r = await ro.check();
    assert.ok(
      r.messages.some((m) => /not properly aligned/.test(m)),
      r.messages.join('\n'),
    );
    await ro.close();
    const rw = await openQcow2(new MemoryStore('bad', bad.slice()), {});
    await assert.rejects(rw.write(98_304 + 100, new Uint8Array(10)), re);
    await assert.rejects(rw.createSnapshot('t'), re);
  });

  it("a snapshot's L1 entry pointing inside a cluster fails the revert, naming the entry", async () => {
    const img = await image();
    const b = await openQcow2(new MemoryStore('x', img, true), { readOnly: true });
    const l1 = b.snapshots[0]!.l1Offset;
    await b.close();
    const bad = img.slice();
    const dv = new DataView(bad.buffer);
    dv.setUint32(l1 + 4, dv.getUint32(l1 + 4) + 512);
    const rw = await openQcow2(new MemoryStore('bad', bad), {});
    await assert.rejects(
      rw.applySnapshot('s'),
      /L1 entry 0 points at L2 table offset 0x[0-9a-f]+200, which is not cluster aligned/,
    );
    assert.ok((await rw.check()).corruptions >= 1);
  });

  it('check() counts an L2 entry far past the end of the file without allocating for it', async () => {
    const img = await image();
    const b = await openQcow2(new MemoryStore('x', img, true), { readOnly: true });
    const l2 = b.l1.find((o) => o > 0)!;
    await b.close();
    const c = img.slice();
    // Entry 0 of the first L2 table -> 2^38 + 2^31: past EOF, low word with bit 31 set.
    c.set(u64(2 ** 38 + 2 ** 31), l2);
    const bad = await openQcow2(new MemoryStore('bad', c, true), { readOnly: true });
    const before = process.memoryUsage().arrayBuffers;
    const r = await bad.check();
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 << 20);
    assert.ok(r.corruptions >= 1);
    assert.ok(
      r.messages.some((m) => /beyond the end of the image/.test(m)),
      r.messages.join('\n'),
    );
    await bad.close();
  });
});
