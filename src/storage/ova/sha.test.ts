import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Sha1, Sha256 } from './sha.ts';

describe('sha', () => {
  it('matches known vectors', () => {
    const abc = new TextEncoder().encode('abc');
    let h: Sha1 | Sha256 = new Sha1();
    h.update(abc);
    assert.equal(h.hex(), 'a9993e364706816aba3e25717850c26c9cd0d89d');
    h = new Sha256();
    h.update(abc);
    assert.equal(h.hex(), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
  it('agrees with node:crypto on every length around the block boundaries, fed in pieces', () => {
    for (let n = 0; n < 300; n += n < 140 ? 1 : 37) {
      const data = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
      for (const [Cls, alg] of [
        [Sha1, 'sha1'],
        [Sha256, 'sha256'],
      ] as const) {
        const h = new Cls();
        h.update(data.subarray(0, n >> 1));
        h.update(data.subarray(n >> 1));
        assert.equal(h.hex(), createHash(alg).update(data).digest('hex'), `${alg} of ${n} bytes`);
      }
    }
  });
});
