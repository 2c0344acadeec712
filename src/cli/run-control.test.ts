import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { parseConsoleSpec, parseQmpSpec } from './run-control.ts';
import { UsageError } from './errors.ts';

test("--qmp takes QEMU's spellings of a listening, non-waiting unix socket", () => {
  for (const t of ['unix:/tmp/q.sock', 'unix:/tmp/q.sock,server=on,wait=off', 'unix:/tmp/q.sock,server,nowait'])
    assert.equal(parseQmpSpec(t), '/tmp/q.sock');
  assert.equal(parseQmpSpec('unix:q.sock,server=on'), resolve('q.sock'));
});

test('--qmp refuses wait=on, server=off, tcp: and unknown options with a clear message', () => {
  const bad = (t: string, re: RegExp) =>
    assert.throws(
      () => parseQmpSpec(t),
      (e: unknown) => e instanceof UsageError && re.test(e.message),
    );
  bad('unix:/tmp/q,server=on,wait=on', /wait=on is not supported/);
  bad('unix:/tmp/q,server,wait', /wait=on is not supported/);
  bad('unix:/tmp/q,server=off', /server=off is not supported/);
  bad('tcp:localhost:4444,server,nowait', /only unix:PATH sockets/);
  bad('unix:/tmp/q,foo=1', /unknown option 'foo=1'/);
  bad('unix:', /missing socket path/);
  bad('/tmp/q.sock', /expected unix:PATH/);
  bad(`unix:/tmp/${'x'.repeat(120)}`, /at most 107 bytes/);
});

test('--console takes unix:PATH', () => {
  assert.equal(parseConsoleSpec('unix:/tmp/c.sock'), '/tmp/c.sock');
  assert.equal(parseConsoleSpec('unix:/tmp/c.sock,server=on,wait=off'), '/tmp/c.sock');
  assert.throws(() => parseConsoleSpec('tcp::4000'), /only unix:PATH/);
  assert.throws(() => parseConsoleSpec('unix:/tmp/c,mux=on'), /unknown option 'mux=on'/);
});
