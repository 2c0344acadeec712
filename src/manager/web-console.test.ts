import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bearerFromProtocols, selectProtocol } from './web-console.ts';

test('the token subprotocol is read from the offer, and never selected', () => {
  assert.equal(bearerFromProtocols('virtkit.console, virtkit.bearer.abc123'), 'abc123');
  assert.equal(bearerFromProtocols(['virtkit.console', 'virtkit.bearer.abc123']), 'abc123');
  assert.equal(bearerFromProtocols('virtkit.console'), undefined);
  assert.equal(bearerFromProtocols('virtkit.bearer.'), undefined);
  assert.equal(bearerFromProtocols(undefined), undefined);
  assert.equal(selectProtocol(new Set(['virtkit.bearer.abc', 'virtkit.console'])), 'virtkit.console');
  assert.equal(selectProtocol(new Set(['virtkit.bearer.abc'])), false);
});
