import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'fflate';
import { MemoryStore } from '../../storage/memory-store.ts';
import { encodeBase64 } from './base64.ts';
import { OverlayStore } from './overlay-store.ts';
import {
  MAX_OVERLAY_RECORD_BYTES,
  OverlayRecordError,
  decodeOverlayRecord,
  encodeOverlayRecord,
  type OverlayRecord,
} from './overlay-snapshot.ts';

function pattern(n: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
}

async function readAll(s: OverlayStore): Promise<Uint8Array> {
  const b = new Uint8Array(await s.size());
  await s.read(0, b);
  return b;
}

test('a record carries writes, growth and truncation to a fresh overlay over the same base, through JSON', async () => {
  const base = new MemoryStore('disk', pattern(50_000), true);
  const a = await OverlayStore.open(base);
  await a.write(4095, pattern(9000, 5));
  await a.truncate(30_000); // hides the base past 30000 for good
  await a.write(60_000, pattern(100, 9)); // grows past the base
  const record = JSON.parse(JSON.stringify(encodeOverlayRecord(a.exportContents(), 'disk'))) as OverlayRecord;
  const b = await OverlayStore.open(new MemoryStore('disk', pattern(50_000), true));
  b.importContents(decodeOverlayRecord(record, 'disk'));
  assert.equal(await b.size(), 60_100);
  assert.deepEqual(await readAll(b), await readAll(a));
  assert.equal(b.overlayBytes, a.overlayBytes);
  // Still a working overlay afterwards: new writes land on top of the restored ones.
  await b.write(0, new Uint8Array([1, 2, 3]));
  assert.deepEqual((await readAll(b)).subarray(0, 3), Uint8Array.of(1, 2, 3));
});

test('an empty overlay makes a small record that restores to the plain base', async () => {
  const base = new MemoryStore('d', pattern(8192), true);
  const rec = encodeOverlayRecord((await OverlayStore.open(base)).exportContents(), 'd');
  assert.equal(rec.blocks, '');
  const o = await OverlayStore.open(base);
  o.importContents(decodeOverlayRecord(rec, 'd'));
  assert.deepEqual(await readAll(o), pattern(8192));
});

test('refuses changes saved over a base of another size', async () => {
  const a = await OverlayStore.open(new MemoryStore('d', pattern(8192), true));
  await a.write(0, Uint8Array.of(9));
  const rec = encodeOverlayRecord(a.exportContents(), 'd');
  const b = await OverlayStore.open(new MemoryStore('d', pattern(12_288), true));
  assert.throws(() => b.importContents(decodeOverlayRecord(rec, 'd')), /made to a 8192-byte disk, this one has 12288/);
});

test('malformed records are OverlayRecordErrors or refused imports, never half applied', async () => {
  const a = await OverlayStore.open(new MemoryStore('d', pattern(16_384), true));
  await a.write(5000, pattern(3000, 1));
  await a.write(12_000, pattern(10, 2));
  const good = encodeOverlayRecord(a.exportContents(), 'd');
  const idx = (...n: number[]) => {
    const b = new Uint8Array(n.length * 4);
    n.forEach((v, i) => new DataView(b.buffer).setUint32(i * 4, v, true));
    return encodeBase64(b);
  };
  const bad: [Partial<OverlayRecord> | null | number, RegExp][] = [
    [null, /not a record/],
    [7, /not a record/],
    [{ ...good, format: 2 }, /format 2; this page reads format 1/],
    [{ ...good, format: undefined }, /no format number/],
    [{ ...good, length: -1 }, /bad length/],
    [{ ...good, baseSize: 1.5 }, /bad baseSize/],
    [{ ...good, blocks: undefined }, /lack their blocks/],
    [{ ...good, data: 'not base64!' }, /damaged \(/],
    [{ ...good, blocks: encodeBase64(new Uint8Array(6)) }, /damaged block list/],
    [{ ...good, data: encodeBase64(pattern(100)) }, /deflate stream|wrong length/],
    // One block too few and one too many for the data: both are caught by the length check.
    [{ ...good, blocks: idx(1) }, /wrong length|deflate/],
    [{ ...good, blocks: idx(1, 2, 3, 4) }, /wrong length|deflate/],
    // A tiny record claiming a huge number of blocks is refused before any allocation.
    [
      { ...good, blocks: encodeBase64(new Uint8Array((MAX_OVERLAY_RECORD_BYTES / 4096 + 1) * 4)) },
      /larger than 256 MiB/,
    ],
  ];
  for (const [rec, re] of bad)
    assert.throws(() => decodeOverlayRecord(rec, 'd'), { name: 'OverlayRecordError', message: re });

  // Well-formed records whose contents do not fit the store: refused by the import, which keeps the old state.
  const b = await OverlayStore.open(new MemoryStore('d', pattern(16_384), true));
  await b.write(0, Uint8Array.of(42));
  const before = await readAll(b);
  const two = deflateSync(new Uint8Array(8192));
  const inconsistent: Partial<OverlayRecord>[] = [
    { ...good, blocks: idx(3, 1), data: encodeBase64(two) }, // out of order
    { ...good, blocks: idx(1, 1), data: encodeBase64(two) }, // duplicate
    { ...good, blocks: idx(1, 9), data: encodeBase64(two) }, // past the end
    { ...good, baseLength: 20_000 }, // more base than there is
  ];
  for (const rec of inconsistent)
    assert.throws(() => b.importContents(decodeOverlayRecord(rec, 'd')), /out of order or out of range|inconsistent/);
  assert.deepEqual(await readAll(b), before);
});

test('saving refuses more changes than a record can carry, naming the disk', () => {
  const block = new Uint8Array(4096);
  const blocks: [number, Uint8Array][] = Array.from({ length: MAX_OVERLAY_RECORD_BYTES / 4096 + 1 }, (_, i) => [
    i,
    block,
  ]);
  assert.throws(
    () => encodeOverlayRecord({ baseSize: 0, baseLength: 0, length: blocks.length * 4096, blocks }, 'disk x'),
    (e: unknown) => e instanceof OverlayRecordError && /disk x holds 256\.0 MiB .* \(256 MiB\)/.test(e.message),
  );
});
