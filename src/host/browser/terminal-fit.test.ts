import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TERMINAL_LIMITS, fitTerminal } from './terminal-fit.ts';

test('whole cells that fit the box, less the reserved width', () => {
  assert.deepEqual(fitTerminal({ width: 1000, height: 600, cellWidth: 8.4, cellHeight: 17 }), { cols: 119, rows: 35 });
  assert.deepEqual(fitTerminal({ width: 1000, height: 600, cellWidth: 8.4, cellHeight: 17, reserveWidth: 14 }), {
    cols: 117,
    rows: 35,
  });
  // Exactly n cells is n, not n-1.
  assert.deepEqual(fitTerminal({ width: 800, height: 340, cellWidth: 8, cellHeight: 17 }), { cols: 100, rows: 20 });
});

test('tiny and huge boxes are clamped to a usable terminal', () => {
  const L = TERMINAL_LIMITS;
  assert.deepEqual(fitTerminal({ width: 30, height: 10, cellWidth: 8, cellHeight: 17 }), {
    cols: L.minCols,
    rows: L.minRows,
  });
  assert.deepEqual(fitTerminal({ width: 1e6, height: 1e6, cellWidth: 8, cellHeight: 17 }), {
    cols: L.maxCols,
    rows: L.maxRows,
  });
  assert.deepEqual(fitTerminal({ width: 100, height: 100, cellWidth: 8, cellHeight: 17, reserveWidth: 500 }), {
    cols: L.minCols,
    rows: L.minRows,
  });
});

test('no size from unusable measurements (hidden or not yet rendered)', () => {
  for (const bad of [0, -3, NaN, Infinity]) {
    assert.equal(fitTerminal({ width: 800, height: 600, cellWidth: bad, cellHeight: 17 }), undefined);
    assert.equal(fitTerminal({ width: 800, height: 600, cellWidth: 8, cellHeight: bad }), undefined);
    assert.equal(fitTerminal({ width: bad, height: 600, cellWidth: 8, cellHeight: 17 }), undefined);
    assert.equal(fitTerminal({ width: 800, height: bad, cellWidth: 8, cellHeight: 17 }), undefined);
  }
});
