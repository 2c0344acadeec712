import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isZeroFast } from './img-host.ts';

test('isZeroFast finds one non-zero byte anywhere, in views at any offset and of any length', () => {
  const backing = new Uint8Array(3 * 1024 * 1024 + 37);
  for (const [start, len] of [
    [0, 0],
    [0, 1],
    [5, 15],
    [3, 16],
    [1, 17],
    [7, 4096],
    [0, backing.length],
    [33, 2 * 1024 * 1024 + 3],
  ] as const) {
    const view = backing.subarray(start, start + len);
    assert.equal(isZeroFast(view), true, `zeros ${start}+${len}`);
    for (const at of [0, 1, 15, 16, 17, len >> 1, len - 17, len - 16, len - 1]) {
      if (at < 0 || at >= len) continue;
      view[at] = 0x80;
      assert.equal(isZeroFast(view), false, `byte ${at} of ${start}+${len}`);
      view[at] = 0;
    }
    // Bytes just outside the view do not count.
    if (start > 0) backing[start - 1] = 1;
    if (start + len < backing.length) backing[start + len] = 1;
    assert.equal(isZeroFast(view), true, `neighbours of ${start}+${len}`);
    backing.fill(0);
  }
});
