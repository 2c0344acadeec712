import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StorageError } from '../../storage/types.ts';
import { openImage } from '../../storage/open.ts';
import { BlobStore } from './blob-store.ts';

test('reads slices of a Blob, zero past the end, and is read-only', async () => {
  const bytes = Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff);
  const s = new BlobStore('disk.img', new Blob([bytes]));
  assert.equal(await s.size(), 5000);
  const b = new Uint8Array(100);
  await s.read(4950, b);
  assert.deepEqual(b.subarray(0, 50), bytes.subarray(4950));
  assert.ok(b.subarray(50).every((x) => x === 0));
  await assert.rejects(s.write(), (e) => e instanceof StorageError && e.code === 'read-only');
  await assert.rejects(s.read(-5, b), (e) => e instanceof StorageError && e.code === 'out-of-range');
});

test('a raw image opens over a Blob', async () => {
  const disk = await openImage(new BlobStore('disk.img', new Blob([new Uint8Array(65536).fill(9)])), {
    format: 'raw',
    readOnly: true,
  });
  assert.equal(disk.size, 65536);
  const b = new Uint8Array(512);
  await disk.read(512, b);
  assert.ok(b.every((x) => x === 9));
});

test('a read error of the file becomes a StorageError naming it', async () => {
  const broken = { size: 10, slice: () => ({ arrayBuffer: () => Promise.reject(new Error('file was removed')) }) };
  const s = new BlobStore('gone.img', broken);
  await assert.rejects(s.read(0, new Uint8Array(4)), /gone\.img: cannot read the file \(file was removed\)/);
});
