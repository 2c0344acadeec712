/**
 * The web console's server side on a real daemon (no VM started): the page and its bundles are
 * the only things reachable without the token; the API and the console WebSocket refuse (401)
 * a request without it, with a wrong one, or with the token in the URL; a WebSocket offering the
 * token as its subprotocol passes authentication. The unix socket serves no page.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { TestDaemon, httpRequest } from './harness.ts';

const d = new TestDaemon();
let tcp: { host: string; port: number };
before(async () => {
  await d.start(['--listen', '127.0.0.1:0']);
  tcp = { host: '127.0.0.1', port: Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(d.log)![1]) };
});
after(() => d.cleanup());

/** Opens a WebSocket; resolves to the HTTP status of a refused handshake, or 101 and the selected protocol. */
function wsHandshake(path: string, protocols: string[] = [], headers: Record<string, string> = {}) {
  return new Promise<{ status: number; protocol?: string; body?: string }>((resolve) => {
    const ws = new WebSocket(`ws://${tcp.host}:${tcp.port}${path}`, protocols, { headers });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('open', () => {
      resolve({ status: 101, protocol: ws.protocol });
      ws.close();
    });
    ws.on('error', () => {});
  });
}

test('the page and its bundles are public, with a strict CSP; everything else needs the token', async () => {
  const page = await httpRequest(tcp, 'GET', '/');
  assert.equal(page.status, 200);
  assert.match(page.text, /<form id="login-form"/);
  const js = await httpRequest(tcp, 'GET', '/assets/console.js');
  assert.equal(js.status, 200);
  assert.ok(js.text.length > 10_000, 'the console bundle');
  assert.equal((await httpRequest(tcp, 'GET', '/assets/console.css')).status, 200);
  assert.equal((await httpRequest(tcp, 'GET', '/assets/style.css')).status, 200);
  // The VM worker (a VM moved into the tab) may compile guest code; the page may not.
  const worker = await new Promise<{ status: number; csp: string }>((resolve, reject) => {
    import('node:http').then(({ get }) =>
      get({ ...tcp, path: '/assets/worker.js' }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, csp: String(res.headers['content-security-policy']) });
      }).on('error', reject),
    );
  });
  assert.equal(worker.status, 200);
  assert.equal(worker.csp, "default-src 'none'; script-src 'self' 'unsafe-eval'; connect-src 'self'");
  const head = await new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
    import('node:http').then(({ get }) =>
      get({ ...tcp, path: '/' }, (res) => {
        res.resume();
        resolve(res.headers);
      }).on('error', reject),
    );
  });
  assert.match(String(head['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/);
  assert.doesNotMatch(String(head['content-security-policy']), /unsafe-eval/);
  assert.equal(head['x-content-type-options'], 'nosniff');
  for (const path of ['/v1/vms', '/v1/version', '/openapi.json', '/assets/other.js', '/v1/events'])
    assert.equal((await httpRequest(tcp, 'GET', path)).status, 401, path);
  const token = d.token();
  assert.equal((await httpRequest(tcp, 'GET', `/v1/vms?token=${token}`)).status, 401, 'never a token in the URL');
  // Not on the unix socket: the page is for browsers, which come over TCP.
  assert.equal((await d.req('GET', '/')).status, 404);
});

test('the console WebSocket: 401 without the token, with a wrong one or one in the URL; the subprotocol token authenticates', async () => {
  const token = d.token();
  assert.equal((await d.req('POST', '/v1/vms', { name: 'ws1', memory: 64 })).status, 201);
  const path = '/v1/vms/ws1/console?mode=type';
  assert.equal((await wsHandshake(path)).status, 401);
  assert.equal((await wsHandshake(path, ['virtkit.console', `virtkit.bearer.${'0'.repeat(64)}`])).status, 401);
  assert.equal(
    (await wsHandshake(`/v1/vms/ws1/console?token=${token}`, ['virtkit.console'])).status,
    401,
    'no token in the URL',
  );
  assert.equal((await wsHandshake(path, ['virtkit.console'])).status, 401);
  // Authenticated: the route itself answers (the VM is stopped: 409 before the upgrade).
  const viaProtocol = await wsHandshake(path, ['virtkit.console', `virtkit.bearer.${token}`]);
  assert.equal(viaProtocol.status, 409, viaProtocol.body);
  assert.match(viaProtocol.body!, /stopped/);
  const viaHeader = await wsHandshake(path, [], { authorization: `Bearer ${token}` });
  assert.equal(viaHeader.status, 409);
  // The subprotocol carries the token only on WebSocket upgrades, not on plain requests.
  const plain = await httpRequest(tcp, 'GET', '/v1/vms', undefined, {
    'sec-websocket-protocol': `virtkit.bearer.${token}`,
  });
  assert.equal(plain.status, 401);
});
