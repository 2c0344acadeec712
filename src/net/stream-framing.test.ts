import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameReader, frameRecord, FramingError } from './stream-framing.ts';

test('frames survive arbitrary stream splits; oversized lengths are a protocol error', () => {
  const frames = [new Uint8Array(60).fill(1), new Uint8Array(1514).fill(2), new Uint8Array(14).fill(3)];
  const stream = new Uint8Array(frames.reduce((n, f) => n + 4 + f.length, 0));
  let o = 0;
  for (const f of frames) {
    stream.set(frameRecord(f), o);
    o += 4 + f.length;
  }
  for (const step of [1, 3, 7, 100, stream.length]) {
    const got: number[][] = [];
    const r = new FrameReader((f) => got.push([f.length, f[0]!]));
    for (let i = 0; i < stream.length; i += step) r.push(stream.subarray(i, i + step));
    assert.deepEqual(got, [
      [60, 1],
      [1514, 2],
      [14, 3],
    ]);
  }
  const r = new FrameReader(() => {}, 2000);
  assert.throws(() => r.push(new Uint8Array([0, 1, 0, 0])), FramingError);
});
