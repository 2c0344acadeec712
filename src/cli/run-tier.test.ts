import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTierFlag } from './run-linux.ts';

test('--tier takes interp, js or wasm and names the choices otherwise', () => {
  assert.equal(parseTierFlag(undefined), undefined);
  assert.equal(parseTierFlag('wasm'), 'wasm');
  assert.equal(parseTierFlag('interp'), 'interp');
  assert.throws(() => parseTierFlag('jit'), /--tier: expected interp, js, wasm, not 'jit'/);
});
