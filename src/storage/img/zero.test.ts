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

/** The definition: each granularity-aligned block (clipped to the buffer) is zero or not, neighbours merged. */
function referenceRuns(buf: Uint8Array, g: number, base: number) {
  const runs: { start: number; length: number; zero: boolean }[] = [];
  for (let i = 0; i < buf.length;) {
    const end = Math.min(buf.length, (Math.floor((base + i) / g) + 1) * g - base);
    const zero = buf.subarray(i, end).every((x) => x === 0);
    const last = runs[runs.length - 1];
    if (last && last.zero === zero) last.length += end - i;
    else runs.push({ start: i, length: end - i, zero });
    i = end;
  }
  return runs;
}

test('splitZeroRuns matches the block-by-block definition, including blocks its probes misjudge', () => {
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  for (let round = 0; round < 300; round++) {
    const g = [512, 1024, 4096][rnd(3)]!;
    const buf = new Uint8Array(rnd(12 * g) + 1);
    const base = rnd(3 * g);
    for (let k = rnd(6); k > 0; k--) {
      // Data that the three-byte probe misses (a byte just off the block's first, middle and
      // last byte), plain data, or a run of data.
      const at = rnd(buf.length);
      if (rnd(2)) buf[at] = 1 + rnd(255);
      else buf.fill(9, at, Math.min(buf.length, at + rnd(3 * g)));
    }
    assert.deepEqual(splitZeroRuns(buf, g, base), referenceRuns(buf, g, base), `round ${round}`);
  }
});

test('splitZeroRuns tests a long zero stretch inside data with one call, not one per block', () => {
  const buf = new Uint8Array(1 << 20).fill(5);
  buf.fill(0, 4096, 4096 + 512 * 1024);
  let calls = 0;
  const runs = splitZeroRuns(buf, 4096, 0, (b) => {
    calls++;
    return b.every((x) => x === 0);
  });
  assert.deepEqual(
    runs.map((r) => r.zero),
    [false, true, false],
  );
  assert.ok(calls <= 2, `${calls} zero tests`);
});
