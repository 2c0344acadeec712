/** Where the client looks for the daemon: flags, then environment, then the state directory. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultStateDir, resolveEndpoint } from './endpoint.ts';

test('the socket: --socket, then $VIRTKIT_SOCKET, then STATE_DIR/virtkit.sock', () => {
  const env = { VIRTKIT_SOCKET: '/run/vk.sock', XDG_DATA_HOME: '/data' };
  assert.deepEqual(resolveEndpoint({ socket: 'x.sock' }, env), { kind: 'unix', socketPath: resolve('x.sock') });
  assert.deepEqual(resolveEndpoint({}, env), { kind: 'unix', socketPath: '/run/vk.sock' });
  assert.deepEqual(resolveEndpoint({}, { XDG_DATA_HOME: '/data' }), {
    kind: 'unix',
    socketPath: '/data/virtkit/virtkit.sock',
    stateDir: '/data/virtkit',
  });
  assert.deepEqual(resolveEndpoint({ stateDir: '/s' }, env), {
    kind: 'unix',
    socketPath: '/s/virtkit.sock',
    stateDir: '/s',
  });
  assert.equal(defaultStateDir({}), join(homedir(), '.local', 'share', 'virtkit'));
  assert.equal(defaultStateDir({ XDG_DATA_HOME: '' }), join(homedir(), '.local', 'share', 'virtkit'));
});

test('--url with --token or $VIRTKIT_TOKEN; bad combinations are refused', () => {
  const e = resolveEndpoint({ url: 'http://127.0.0.1:7070' }, { VIRTKIT_TOKEN: 'tok' });
  assert.equal(e.kind, 'tcp');
  assert.equal(e.kind === 'tcp' && e.token, 'tok');
  const f = resolveEndpoint({ url: 'http://[::1]:7070/', token: 'flag' }, { VIRTKIT_TOKEN: 'env' });
  assert.equal(f.kind === 'tcp' && f.token, 'flag');
  assert.throws(
    () => resolveEndpoint({ url: 'https://h:1' }, {}),
    /invalid --url 'https:\/\/h:1' \(expected http:\/\/HOST:PORT\)/,
  );
  assert.throws(() => resolveEndpoint({ url: 'http://h' }, {}), /invalid --url/);
  assert.throws(() => resolveEndpoint({ url: 'nonsense' }, {}), /invalid --url/);
  assert.throws(() => resolveEndpoint({ url: 'http://h:1', socket: 's' }, {}), /--socket or --url, not both/);
  assert.throws(() => resolveEndpoint({ token: 't' }, {}), /--token is for --url/);
  assert.throws(() => resolveEndpoint({ stateDir: `/${'d'.repeat(120)}` }, {}), /longer than a unix socket allows/);
});
