/**
 * The zstd frames of qcow2's zstd compression type: our encoder's frames decode (by fzstd here;
 * by qemu-img in tests/img/wild.test.ts) to the input, and damaged frames give StorageErrors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRng } from '../contract/block-backend-contract.ts';
import { StorageError } from '../types.ts';
import { zstdCompressCluster, zstdDecompressCluster, zstdFrameLength } from './zstd.ts';

function samples(size: number): [string, Uint8Array][] {
  const rng = makeRng(size);
  const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog; '.repeat(50));
  const words = new Uint8Array(size).map((_, i) => text[(i * 7 + (i >> 9)) % text.length]!);
  const small = new Uint8Array(size).map(() => rng(4));
  const mixed = new Uint8Array(size).map((_, i) => (i % 4096 < 1024 ? rng(256) : i % 97));
  const runs = new Uint8Array(size).fill(9, size >> 1);
  return [
    ['text', words],
    ['2-bit noise', small],
    ['mixed', mixed],
    ['runs', runs],
  ];
}

describe('qcow2 zstd', () => {
  for (const size of [512, 4096, 65536, 256 * 1024, 2 * 1024 * 1024]) {
    it(`round-trips ${size}-byte clusters, smaller than they were`, () => {
      for (const [name, data] of samples(size)) {
        const c = zstdCompressCluster(data);
        if (name === 'mixed' && size === 512) continue; // all noise at this size
        assert.ok(c, `${name}: not compressed`);
        assert.ok(c.length < data.length);
        // Read back with whatever follows it in the file (the next frame, or padding).
        const withTail = new Uint8Array(c.length + 700).fill(0x28);
        withTail.set(c);
        assert.equal(zstdFrameLength(withTail), c.length);
        assert.deepEqual(zstdDecompressCluster(withTail, size, name), data, name);
      }
    });
  }

  it('leaves incompressible clusters alone', () => {
    const rng = makeRng(5);
    assert.equal(zstdCompressCluster(new Uint8Array(65536).map(() => rng(256))), undefined);
  });

  it('damaged frames are StorageErrors, and never decode past one cluster', () => {
    const data = samples(65536)[2]![1];
    const c = zstdCompressCluster(data)!;
    const rng = makeRng(77);
    const cases: Uint8Array[] = [c.subarray(0, 4), c.subarray(0, c.length - 10), new Uint8Array(64)];
    for (let i = 0; i < 200; i++) {
      const d = c.slice();
      for (let k = 0; k < 3; k++) d[rng(d.length)] = rng(256);
      cases.push(d);
    }
    for (const d of cases) {
      try {
        const out = zstdDecompressCluster(d, 65536, 'test');
        assert.equal(out.length, 65536);
      } catch (e) {
        assert.ok(e instanceof StorageError, String(e));
      }
    }
    // A frame for a larger cluster does not fit a smaller one.
    assert.throws(() => zstdDecompressCluster(c, 4096, 'small'), StorageError);
  });
});
