import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PIPE_COLUMNS, consoleEnvironment } from './console-env.ts';

test('piped output gets the widest COLUMNS busybox takes; a terminal its size at boot', () => {
  assert.equal(consoleEnvironment({}), ` COLUMNS=${PIPE_COLUMNS}`);
  assert.equal(consoleEnvironment({ isTTY: false, columns: 100 }), ' COLUMNS=29999');
  assert.equal(consoleEnvironment({ isTTY: true, columns: 132, rows: 43 }), ' COLUMNS=132 LINES=43');
  // A terminal that reports no (or a nonsense) size leaves the guest's default.
  assert.equal(consoleEnvironment({ isTTY: true }), '');
  assert.equal(consoleEnvironment({ isTTY: true, columns: 0, rows: 40000 }), '');
});
