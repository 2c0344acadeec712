import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyStop, describeStop } from './stop-reason.ts';

test('every stop reason has one text and one class', () => {
  assert.equal(describeStop({ kind: 'poweroff' }), 'the guest powered off');
  assert.equal(describeStop({ kind: 'quit' }), 'stopped');
  assert.equal(describeStop({ kind: 'panic' }), 'guest kernel panic');
  assert.equal(describeStop({ kind: 'fail', code: 3 }), 'the guest reported failure (code 3)');
  assert.equal(describeStop({ kind: 'error', message: 'boom' }), 'internal error: boom');
  assert.equal(
    describeStop({ kind: 'reboot', why: 'kernel /k changed' }),
    'the guest asked to reboot, but kernel /k changed',
  );
  assert.equal(classifyStop({ kind: 'poweroff' }), 'clean');
  assert.equal(classifyStop({ kind: 'quit' }), 'clean');
  assert.equal(classifyStop({ kind: 'panic' }), 'guest-failed');
  assert.equal(classifyStop({ kind: 'fail', code: 1 }), 'guest-failed');
  assert.equal(classifyStop({ kind: 'reboot', why: 'x' }), 'cannot-reboot');
  assert.equal(classifyStop({ kind: 'error', message: 'x' }), 'internal-error');
});
