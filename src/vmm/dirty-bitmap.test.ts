import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirtyBitmap, MAX_BITMAP_BYTES, trackWrites } from './dirty-bitmap.ts';
import { MemoryStore } from '../storage/memory-store.ts';
import { RawBackend } from '../storage/raw.ts';
import { qcow2Format } from '../storage/qcow2/format.ts';
import { hasSnapshots } from '../storage/types.ts';

test('writes mark whole clusters; takeAndReset hands them over and starts empty', async () => {
  const disk = new RawBackend(new MemoryStore('m', new Uint8Array(1 << 20)), 1 << 20, false);
  const bm = trackWrites(disk, 65536);
  await disk.write(65536 + 10, new Uint8Array(4));
  await disk.writeZeroes(5 * 65536 - 1, 2); // straddles clusters 4 and 5
  await disk.discard(15 * 65536, 65536);
  const bits = bm.takeAndReset();
  assert.deepEqual([...DirtyBitmap.runs(bits, bm.granularity, disk.size)], [
    { offset: 65536, length: 65536 },
    { offset: 4 * 65536, length: 2 * 65536 },
    { offset: 15 * 65536, length: 65536 },
  ]);
  assert.equal(DirtyBitmap.dirtyBytes(bits, bm.granularity, disk.size), 4 * 65536);
  assert.equal(DirtyBitmap.dirtyBytes(bm.takeAndReset(), bm.granularity, disk.size), 0);
  // The data went through.
  const back = new Uint8Array(4);
  await disk.read(65546, back);
  assert.deepEqual([...back], [0, 0, 0, 0]);
});

test('a huge disk gets a coarser granularity so the bitmap stays bounded', () => {
  const bm = new DirtyBitmap(2 ** 46, 65536); // 64 TiB
  assert.ok(bm.granularity > 65536);
  bm.mark(2 ** 46 - 1, 1);
  const bits = bm.takeAndReset();
  assert.ok(bits.length <= MAX_BITMAP_BYTES);
  assert.equal([...DirtyBitmap.runs(bits, bm.granularity, 2 ** 46)].length, 1);
});

test('the last, partial unit is clipped to the disk size', () => {
  const bm = new DirtyBitmap(100_000, 65536);
  bm.mark(99_999, 1);
  assert.deepEqual([...DirtyBitmap.runs(bm.takeAndReset(), bm.granularity, 100_000)], [{ offset: 65536, length: 34464 }]);
});

test('a wrapped qcow2 image still offers its snapshots, and snapshots are not writes', async () => {
  const store = new MemoryStore('q');
  await qcow2Format.create!(store, 1 << 20, { options: {} });
  const img = await qcow2Format.open(store, {});
  const bm = trackWrites(img, 65536);
  assert.equal(hasSnapshots(img), true);
  await img.write(0, new Uint8Array([1, 2, 3]));
  if (hasSnapshots(img)) await img.createSnapshot('t');
  const bits = bm.takeAndReset();
  assert.deepEqual([...DirtyBitmap.runs(bits, bm.granularity, img.size)], [{ offset: 0, length: 65536 }]);
  const back = new Uint8Array(3);
  await img.read(0, back);
  assert.deepEqual([...back], [1, 2, 3]);
});
