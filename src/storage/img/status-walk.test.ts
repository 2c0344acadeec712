import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLength } from './status-walk.ts';

const st = (offset: number, length: number) => ({ offset, length, data: true, zero: false, depth: 0 });

test('runLength: to the end of the run, at most max, at least one byte', () => {
  assert.equal(runLength(st(100, 50), 100, 1000), 50);
  assert.equal(runLength(st(100, 50), 120, 1000), 30); // the answer started before pos
  assert.equal(runLength(st(100, 5000), 100, 1000), 1000);
  assert.equal(runLength(st(100, 0), 100, 1000), 1); // a run that ends at pos still moves on
  assert.equal(runLength(st(0, 10), 100, 1000), 1);
});
