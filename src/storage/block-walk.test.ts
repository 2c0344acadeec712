import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockWalk, inBlockLength, writeZeroPieces } from './block-walk.ts';

type Piece = [index: number, inBlock: number, done: number, length: number, pos: number];

function walk(bs: number, offset: number, total: number): Piece[] {
  const out: Piece[] = [];
  for (const w = new BlockWalk(bs, offset, total); w.next(); ) out.push([w.index, w.inBlock, w.done, w.length, w.pos]);
  return out;
}

test('pieces never cross a block boundary and are clamped to the request', () => {
  assert.deepEqual(walk(512, 100, 1000), [
    [0, 100, 0, 412, 100],
    [1, 0, 412, 512, 512],
    [2, 0, 924, 76, 1024],
  ]);
  assert.deepEqual(walk(512, 1024, 512), [[2, 0, 0, 512, 1024]]);
  assert.deepEqual(walk(512, 10, 5), [[0, 10, 0, 5, 10]]);
  assert.deepEqual(walk(512, 10, 0), []);
});

test('the pieces tile the range exactly, for any block size (not only powers of two)', () => {
  for (const bs of [1, 3, 512, 1000, 65536]) {
    for (const [offset, total] of [
      [0, 1],
      [7, 9999],
      [2 ** 40 - 5, 70_000],
      [2 ** 52 + 1, 3 * bs],
    ] as const) {
      let expect = offset;
      for (const [index, inBlock, done, length, pos] of walk(bs, offset, total)) {
        assert.equal(pos, expect);
        assert.equal(done, pos - offset);
        assert.equal(index * bs + inBlock, pos);
        assert.ok(inBlock >= 0 && inBlock < bs && length > 0 && inBlock + length <= bs);
        expect += length;
      }
      assert.equal(expect, offset + total);
    }
  }
});

test('take() lets a caller consume several blocks, or fewer bytes, and the walk goes on after them', () => {
  const w = new BlockWalk(100, 50, 500);
  const seen: number[] = [];
  while (w.next()) {
    seen.push(w.pos);
    if (w.pos === 50) w.take(250); // three blocks' worth at once
    else if (w.pos === 300) w.take(10); // stops short
  }
  assert.deepEqual(seen, [50, 300, 310, 400, 500]);
  assert.equal(w.left, 0);
});

test('whole(): a full block, or the tail of the last one up to the disk size', () => {
  const cases: [number, number, number, boolean[]][] = [
    // offset, total, size, whole per piece
    [0, 300, 300, [true, true, true]],
    [0, 250, 250, [true, true, true]], // the last block ends at the disk size
    [0, 250, 300, [true, true, false]],
    [10, 190, 300, [false, true]],
  ];
  for (const [offset, total, size, expected] of cases) {
    const got: boolean[] = [];
    for (const w = new BlockWalk(100, offset, total); w.next(); ) got.push(w.whole(size));
    assert.deepEqual(got, expected, `${offset}+${total} of ${size}`);
  }
});

test('inBlockLength stops at the block end or the request end', () => {
  assert.equal(inBlockLength(100, 1000, 512), 412);
  assert.equal(inBlockLength(100, 10, 512), 10);
  assert.equal(inBlockLength(1024, 1000, 512), 512);
});

test('writeZeroPieces writes the range once, in bounded pieces of zeros', async () => {
  const writes: [number, number][] = [];
  await writeZeroPieces(
    async (o, d) => {
      assert.ok(d.every((b) => b === 0));
      writes.push([o, d.length]);
    },
    7,
    2500,
    1000,
  );
  assert.deepEqual(writes, [
    [7, 1000],
    [1007, 1000],
    [2007, 500],
  ]);
  writes.length = 0;
  await writeZeroPieces(async (o, d) => void writes.push([o, d.length]), 0, 0);
  assert.deepEqual(writes, []);
});
