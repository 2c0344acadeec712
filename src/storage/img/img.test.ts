/** The img library over in-memory files (no host, no qemu): the verbs' logic on its own. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formats } from '../registry.ts';
import { StorageError } from '../types.ts';
import type { ImgContext } from './context.ts';
import {
  imgCheck,
  imgCommit,
  imgCompare,
  imgConvert,
  imgCreate,
  imgInfo,
  imgMap,
  imgRebase,
  openChain,
} from './index.ts';
import { MemoryImgHost } from './memory-host.ts';

function setup(): { host: MemoryImgHost; ctx: ImgContext } {
  const host = new MemoryImgHost();
  return { host, ctx: { host, formats } };
}

async function write(ctx: ImgContext, path: string, offset: number, data: Uint8Array): Promise<void> {
  const img = await openChain(ctx, path, { readOnly: false });
  try {
    await img.backend.write(offset, data);
  } finally {
    await img.close();
  }
}

async function readAll(ctx: ImgContext, path: string): Promise<Uint8Array> {
  const img = await openChain(ctx, path);
  try {
    const buf = new Uint8Array(img.backend.size);
    await img.backend.read(0, buf);
    return buf;
  } finally {
    await img.close();
  }
}

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

test('convert raw -> qcow2 -> raw in memory keeps content, skips zeros, leaves the source alone', async () => {
  const { host, ctx } = setup();
  await imgCreate(ctx, 'src.raw', { format: 'raw', size: 8 << 20 });
  await write(ctx, 'src.raw', 4096, fill(8192, 0xaa));
  await write(ctx, 'src.raw', 5 << 20, fill(100, 0xbb));
  await write(ctx, 'src.raw', 6 << 20, new Uint8Array(1 << 20)); // written zeros: must stay sparse
  const before = host.bytes('src.raw');
  const r = await imgConvert(ctx, ['src.raw'], 'dst.qcow2', { format: 'qcow2' });
  assert.equal(r.format, 'qcow2');
  assert.equal(r.dataBytes, 8192 + 4096); // 100 bytes become one 4 KiB block at -S 4k
  assert.deepEqual(host.bytes('src.raw'), before);
  const map = await imgMap(ctx, 'dst.qcow2');
  assert.equal(
    map.filter((e) => e.data).reduce((n, e) => n + e.length, 0),
    2 * 65536, // two qcow2 clusters hold the data
  );
  await imgConvert(ctx, ['dst.qcow2'], 'back.raw', {});
  assert.deepEqual(await readAll(ctx, 'back.raw'), await readAll(ctx, 'src.raw'));
  assert.deepEqual(await imgCompare(ctx, 'src.raw', 'dst.qcow2'), { identical: true, sizeMismatch: false });
});

test('convert takes a long hole as one step, not one per chunk, and still zeroes it in an existing target', async () => {
  const { ctx } = setup();
  await imgCreate(ctx, 'src.qcow2', { format: 'qcow2', size: 64 << 20 });
  await write(ctx, 'src.qcow2', 0, fill(65536, 1));
  await write(ctx, 'src.qcow2', 60 << 20, fill(65536, 2));
  // -n: an existing target full of other data, so the hole must be written as zeros.
  await imgCreate(ctx, 'dst.qcow2', { format: 'qcow2', size: 64 << 20 });
  await write(ctx, 'dst.qcow2', 0, fill(64 << 20, 7));
  const steps: number[] = [];
  await imgConvert(ctx, ['src.qcow2'], 'dst.qcow2', {
    format: 'qcow2',
    noCreate: true,
    onProgress: (done) => steps.push(done),
  });
  assert.deepEqual(steps, [65536, 60 << 20, (60 << 20) + 65536, 64 << 20]);
  assert.deepEqual(await readAll(ctx, 'dst.qcow2'), await readAll(ctx, 'src.qcow2'));
});

test('compare reports the first differing sector and strict allocation differences', async () => {
  const { ctx } = setup();
  await imgCreate(ctx, 'a.qcow2', { format: 'qcow2', size: 1 << 20 });
  await imgCreate(ctx, 'b.raw', { format: 'raw', size: 1 << 20 });
  assert.equal((await imgCompare(ctx, 'a.qcow2', 'b.raw')).identical, true);
  assert.deepEqual(await imgCompare(ctx, 'a.qcow2', 'b.raw', { strict: true }), {
    identical: false,
    offset: 0,
    reason: 'allocation',
    sizeMismatch: false,
  });
  await write(ctx, 'b.raw', 70000, fill(1, 1));
  const r = await imgCompare(ctx, 'a.qcow2', 'b.raw');
  assert.deepEqual(r, { identical: false, offset: 69632, reason: 'content', sizeMismatch: false });
});

test('commit moves overlay data down; rebase keeps the guest view', async () => {
  const { ctx } = setup();
  await imgCreate(ctx, 'd/base.qcow2', { format: 'qcow2', size: 1 << 20 });
  await write(ctx, 'd/base.qcow2', 0, fill(65536 * 4, 1));
  await imgCreate(ctx, 'd/top.qcow2', { format: 'qcow2', backingFile: 'base.qcow2' });
  await write(ctx, 'd/top.qcow2', 65536, fill(65536, 2));
  const info = (await imgInfo(ctx, 'd/top.qcow2'))[0]!;
  assert.equal(info.backingFilename, 'base.qcow2');
  assert.equal(info.fullBackingFilename, 'd/base.qcow2');
  assert.equal(info.backingFilenameFormat, 'qcow2');
  assert.equal(info.virtualSize, 1 << 20);
  const view = await readAll(ctx, 'd/top.qcow2');

  await imgCreate(ctx, 'd/empty.raw', { format: 'raw', size: 1 << 20 });
  const rb = await imgRebase(ctx, 'd/top.qcow2', { backingFile: 'empty.raw', backingFormat: 'raw' });
  assert.ok(rb.copiedBytes >= 3 * 65536);
  assert.deepEqual(await readAll(ctx, 'd/top.qcow2'), view);
  assert.equal((await imgInfo(ctx, 'd/top.qcow2'))[0]!.backingFilename, 'empty.raw');

  const c = await imgCommit(ctx, 'd/top.qcow2');
  assert.equal(c.base, 'd/empty.raw');
  assert.deepEqual(await readAll(ctx, 'd/empty.raw'), view);
  assert.equal((await imgCheck(ctx, 'd/top.qcow2')).result?.corruptions, 0);
});

test('backing loops, missing files and wrong formats are StorageErrors naming the problem', async () => {
  const { ctx } = setup();
  await imgCreate(ctx, 'a.qcow2', { format: 'qcow2', size: 1 << 20 });
  await imgCreate(ctx, 'b.qcow2', { format: 'qcow2', backingFile: 'a.qcow2' });
  await imgRebase(ctx, 'a.qcow2', { backingFile: 'b.qcow2', unsafe: true });
  await assert.rejects(
    imgInfo(ctx, 'b.qcow2', { backingChain: true }),
    (e: unknown) => e instanceof StorageError && e.code === 'backing-loop',
  );
  // Without --backing-chain the chain is not followed, so the image itself can still be inspected.
  assert.equal((await imgInfo(ctx, 'b.qcow2'))[0]!.backingFilename, 'a.qcow2');
  await assert.rejects(imgInfo(ctx, 'nope'), (e: unknown) => e instanceof StorageError && e.code === 'not-found');
  await assert.rejects(imgInfo(ctx, 'a.qcow2', { format: 'vmdk' }), /image is qcow2, not vmdk/);
  await assert.rejects(imgInfo(ctx, 'a.qcow2', { format: 'nosuch' }), /unknown image format 'nosuch'/);
  await assert.rejects(imgConvert(ctx, [], 'x', {}), /at least one source/);
});

test('commit -b commits every layer above the chosen base into it', async () => {
  const { ctx } = setup();
  await imgCreate(ctx, 'base.qcow2', { format: 'qcow2', size: 1 << 20 });
  await write(ctx, 'base.qcow2', 0, fill(1 << 20, 1));
  await imgCreate(ctx, 'mid.qcow2', { format: 'qcow2', backingFile: 'base.qcow2' });
  await write(ctx, 'mid.qcow2', 65536, fill(65536, 2));
  await imgCreate(ctx, 'top.qcow2', { format: 'qcow2', backingFile: 'mid.qcow2' });
  await write(ctx, 'top.qcow2', 3 * 65536, fill(100, 3));
  // A zero run in the top layer hides base data: the base must read zeros there afterwards.
  const img = await openChain(ctx, 'top.qcow2', { readOnly: false });
  await img.backend.writeZeroes(8 * 65536, 65536);
  await img.close();
  const view = await readAll(ctx, 'top.qcow2');
  await assert.rejects(imgCommit(ctx, 'top.qcow2', { base: 'elsewhere.qcow2' }), /not in the backing chain/);
  const r = await imgCommit(ctx, 'top.qcow2', { base: 'base.qcow2' });
  assert.equal(r.base, 'base.qcow2');
  assert.deepEqual(await readAll(ctx, 'base.qcow2'), view);
  assert.deepEqual(await readAll(ctx, 'top.qcow2'), view);
});
