import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEvery, toPrune } from './backup-schedule.ts';
import type { Manifest } from './backup-manifest.ts';

const b = (id: string, chain: string[]) => ({ id, chain }) as unknown as Manifest;

test('every: seconds or a number with a unit, within bounds', () => {
  assert.equal(parseEvery(60), 60);
  assert.equal(parseEvery('90s'), 90);
  assert.equal(parseEvery('15m'), 900);
  assert.equal(parseEvery('1h'), 3600);
  assert.equal(parseEvery('2d'), 172800);
  assert.throws(() => parseEvery('1 hour'), /give seconds/);
  assert.throws(() => parseEvery(1), /outside/);
  assert.throws(() => parseEvery('400d'), /outside/);
});

test('pruning keeps the newest N and every backup their chains need', () => {
  const all = [
    b('f1', ['f1']),
    b('i1', ['f1', 'i1']),
    b('i2', ['f1', 'i1', 'i2']),
    b('f2', ['f2']),
    b('j1', ['f2', 'j1']),
  ];
  assert.deepEqual(toPrune(all, 2).map((x) => x.id), ['f1', 'i1', 'i2']);
  // Keeping 3 reaches into the old chain (i2), which needs all of it.
  assert.deepEqual(toPrune(all, 3).map((x) => x.id), []);
  assert.deepEqual(toPrune(all, 1).map((x) => x.id), ['f1', 'i1', 'i2']);
  assert.deepEqual(toPrune([b('a', ['a']), b('b', ['b']), b('c', ['c'])], 1).map((x) => x.id), ['a', 'b']);
});
