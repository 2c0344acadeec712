import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BouncePool } from './bounce-pool.ts';

test('buffers come in power-of-two sizes from 4 KiB and are reused up to the pool cap', () => {
  assert.equal(BouncePool.capacity(1), 4096);
  assert.equal(BouncePool.capacity(4096), 4096);
  assert.equal(BouncePool.capacity(4097), 8192);
  assert.equal(BouncePool.capacity(1 << 20), 1 << 20);
  const pool = new BouncePool(3 * 8192);
  const a = pool.take(5000);
  assert.equal(a.length, 8192);
  pool.give(a);
  assert.equal(pool.pooled, 8192);
  assert.equal(pool.take(8000), a);
  assert.equal(pool.pooled, 0);
  const bufs = [pool.take(8192), pool.take(8192), pool.take(8192), pool.take(8192)];
  for (const b of bufs) pool.give(b);
  assert.equal(pool.pooled, 3 * 8192, 'never more than the cap is kept');
});
