/**
 * Discard and write-zeroes on a raw image in a host file must never allocate: a 16-byte guest
 * request used to make the host write gigabytes of zeros (and a guest `fstrim` filled a sparse
 * image). Allocation is measured with st_blocks; qemu-img map/compare check what the file holds.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { RawBackend, rawFormat } from '../../storage/raw.ts';
import { run, scratchDir } from '../../storage/testing.ts';
import { FileStore } from './file-store.ts';

const MiB = 1 << 20;
const dir = scratchDir('virtkit-discard-');

/** Bytes the file system has allocated to the file. */
const allocated = (path: string): number => statSync(path).blocks * 512;

interface MapEntry {
  start: number;
  length: number;
  data: boolean;
  zero: boolean;
}
const qemuMap = (path: string): MapEntry[] =>
  JSON.parse(run('qemu-img', 'map', '-f', 'raw', '--output=json', path)) as MapEntry[];
/** Whether qemu-img sees data anywhere in [start, end). */
const hasData = (map: MapEntry[], start: number, end: number): boolean =>
  map.some((e) => e.data && e.start < end && e.start + e.length > start);

async function openRaw(path: string, size: number): Promise<{ store: FileStore; disk: RawBackend }> {
  const store = await FileStore.open(path, { create: true, truncate: true });
  await rawFormat.create!(store, size, { options: {} });
  const disk = (await rawFormat.open(store, {})) as RawBackend;
  return { store, disk };
}

describe('raw image in a host file: discard and write-zeroes', () => {
  it('a 200 MiB discard over holes allocates nothing; over data it frees the blocks', async () => {
    const path = join(dir, 'discard.raw');
    const { disk } = await openRaw(path, 256 * MiB);
    const before = allocated(path);
    await disk.discard(16 * MiB, 200 * MiB);
    assert.ok(allocated(path) <= before, `discarding holes allocated ${allocated(path) - before} bytes`);

    // 8 MiB of data at 32 MiB and 1 MiB at 240 MiB; discard the first, keep the second.
    const data = new Uint8Array(8 * MiB).fill(0xa5);
    await disk.write(32 * MiB, data);
    await disk.write(240 * MiB, data.subarray(0, MiB));
    await disk.flush();
    const withData = allocated(path);
    assert.ok(withData >= before + 9 * MiB, 'the writes are allocated');
    await disk.discard(16 * MiB, 200 * MiB);
    const after = allocated(path);
    assert.ok(after <= withData - 8 * MiB, `discard freed only ${withData - after} bytes`);

    // The discarded range reads as zeros (or, as virtio allows, its old content); the rest is intact.
    const got = new Uint8Array(8 * MiB);
    await disk.read(32 * MiB, got);
    assert.ok(got.every((b) => b === 0 || b === 0xa5));
    const kept = new Uint8Array(MiB);
    await disk.read(240 * MiB, kept);
    assert.ok(kept.every((b) => b === 0xa5));
    await disk.close();

    const map = qemuMap(path);
    assert.equal(hasData(map, 16 * MiB, 216 * MiB), false, `qemu-img map: ${JSON.stringify(map)}`);
    assert.equal(hasData(map, 240 * MiB, 241 * MiB), true);
  });

  it('write-zeroes never allocates and frees what it zeroes; qemu-img compare agrees', async () => {
    const path = join(dir, 'wz.raw');
    const { disk } = await openRaw(path, 256 * MiB);
    const data = new Uint8Array(4 * MiB).fill(0x5a);
    await disk.write(64 * MiB, data);
    await disk.write(128 * MiB, data);
    await disk.flush();
    const withData = allocated(path);

    // Holes stay holes (large and small, unaligned requests).
    await disk.writeZeroes(0, 60 * MiB);
    await disk.writeZeroes(200 * MiB + 100, 3000);
    assert.ok(allocated(path) <= withData, `zeroing holes allocated ${allocated(path) - withData} bytes`);

    // Zeroing data frees it; unaligned edges are exact.
    await disk.writeZeroes(64 * MiB + 1000, 4 * MiB - 2000);
    await disk.writeZeroes(128 * MiB, 4 * MiB);
    assert.ok(allocated(path) <= withData - 7 * MiB, `write-zeroes freed only ${withData - allocated(path)} bytes`);
    await disk.close();

    const expect = join(dir, 'wz-expected.raw');
    const e = await openRaw(expect, 256 * MiB);
    await e.disk.write(64 * MiB, data.subarray(0, 1000));
    await e.disk.write(68 * MiB - 1000, data.subarray(0, 1000));
    await e.disk.close();
    run('qemu-img', 'compare', '-f', 'raw', '-F', 'raw', expect, path);
    const map = qemuMap(path);
    assert.equal(hasData(map, 128 * MiB, 132 * MiB), false, `qemu-img map: ${JSON.stringify(map)}`);
  });

  it('without fallocate: discard does nothing, write-zeroes skips holes and zeroes data', async () => {
    const path = join(dir, 'nopunch.raw');
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const { disk } = await openRaw(path, 64 * MiB);
      const data = new Uint8Array(2 * MiB).fill(7);
      await disk.write(8 * MiB, data);
      await disk.flush();
      const withData = allocated(path);
      await disk.discard(0, 64 * MiB);
      await disk.writeZeroes(16 * MiB, 48 * MiB);
      assert.ok(allocated(path) <= withData, `allocated ${allocated(path) - withData} bytes`);
      await disk.writeZeroes(8 * MiB + 512, MiB);
      const got = new Uint8Array(2 * MiB);
      await disk.read(8 * MiB, got);
      assert.ok(got.every((b, i) => b === (i >= 512 && i < 512 + MiB ? 0 : 7)));
      await disk.close();
    } finally {
      process.env.PATH = saved;
    }
  });
});
