import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describeError } from './errno-words.ts';

test('host error codes are said in words, with the fix', () => {
  let e: unknown;
  try {
    readFileSync('/nonexistent/virtkit-test');
  } catch (x) {
    e = x;
  }
  assert.equal(describeError(e), 'no such file or directory');
  assert.match(
    describeError(Object.assign(new Error('x'), { code: 'EACCES' })),
    /permission denied: check the file's owner and mode/,
  );
  assert.match(describeError(Object.assign(new Error('x'), { code: 'EADDRINUSE' })), /address already in use/);
  assert.equal(describeError(new Error('plain')), 'plain');
  assert.equal(describeError(Object.assign(new Error('odd'), { code: 'EWEIRD' })), 'odd');
});
