import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZero, sameBytes, splitZeroRuns } from './zero.ts';

test('isZero finds a single non-zero byte anywhere, at any alignment', () => {
  const buf = new Uint8Array(1000);
  assert.ok(isZero(buf));
  for (const at of [0, 1, 3, 4, 31, 32, 500, 998, 999]) {
    buf[at] = 1;
    assert.equal(isZero(buf), false, `byte ${at}`);
    assert.equal(isZero(buf.subarray(1)), at === 0, `subarray, byte ${at}`);
    assert.ok(isZero(buf, at + 1));
    buf[at] = 0;
  }
});

test('splitZeroRuns merges neighbours and aligns blocks to the image offset', () => {
  const buf = new Uint8Array(16384);
  buf[5000] = 1; // block 1 (4096..8191)
  buf[16383] = 2; // block 3
  assert.deepEqual(splitZeroRuns(buf, 4096), [
    { start: 0, length: 4096, zero: true },
    { start: 4096, length: 4096, zero: false },
    { start: 8192, length: 4096, zero: true },
    { start: 12288, length: 4096, zero: false },
  ]);
  // The buffer starts 1024 bytes into a 4 KiB block: the first block is short.
  const runs = splitZeroRuns(buf, 4096, 1024);
  assert.deepEqual(runs[0], { start: 0, length: 3072, zero: true });
  assert.deepEqual(runs[1], { start: 3072, length: 4096, zero: false });
  assert.equal(
    runs.reduce((n, r) => n + r.length, 0),
    buf.length,
  );
  // Granularity 0: no zero detection at all.
  assert.deepEqual(splitZeroRuns(new Uint8Array(10), 0), [{ start: 0, length: 10, zero: false }]);
  assert.deepEqual(splitZeroRuns(new Uint8Array(0), 4096), []);
});

test('sameBytes finds a difference at any position and alignment', () => {
  const a = new Uint8Array(600).map((_, i) => i & 0xff);
  const b = a.slice();
  assert.ok(sameBytes(a, b));
  for (const at of [0, 1, 2, 3, 4, 255, 511, 599]) {
    b[at] ^= 1;
    assert.equal(sameBytes(a, b), false, `byte ${at}`);
    assert.equal(sameBytes(a.subarray(1), b.subarray(1)), at === 0, `offset views, byte ${at}`);
    assert.equal(sameBytes(a, b, at + 1, 600), true);
    b[at] ^= 1;
  }
  // Views with different alignments fall back to bytes.
  assert.ok(sameBytes(a.subarray(1, 101), a.slice(1, 101)));
});
