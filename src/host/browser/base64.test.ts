import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Base64Error, decodeBase64, encodeBase64 } from './base64.ts';

test('matches Node Buffer base64 for every length around the chunk boundaries', () => {
  for (const n of [0, 1, 2, 3, 4, 5, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 1, 3 * 8192 + 2, 100_003]) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 131 + (i >> 8)) & 0xff);
    const want = Buffer.from(bytes).toString('base64');
    assert.equal(encodeBase64(bytes), want, `encode ${n}`);
    assert.deepEqual(decodeBase64(want), bytes, `decode ${n}`);
  }
});

test('refuses malformed text with a Base64Error', () => {
  for (const bad of ['abc', 'ab=c', 'a===', '====', 'ab\u00e9d', 'ab!d', 'AA==AAAA'])
    assert.throws(() => decodeBase64(bad), Base64Error, bad);
});
