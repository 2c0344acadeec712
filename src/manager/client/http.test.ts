/**
 * The REST client against real HTTP servers standing in for the daemon's answers: on a unix
 * socket and on TCP with a bearer token. Errors become ApiError / DaemonUnreachable / ClientError
 * with one-line messages; answers are bounded; the event stream is parsed across chunk borders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { ApiClient, MAX_ANSWER } from './http.ts';
import { ApiError, ClientError, DaemonUnreachable } from './errors.ts';
import { VmApi } from './vms.ts';
import type { SseEvent } from './sse.ts';

const dir = mkdtempSync(join(tmpdir(), 'vk-client-'));
const servers: Server[] = [];
test.after(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function serve(where: string | 0, handler: Handler): Promise<Server> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => handler(req, body, res));
  });
  servers.push(server);
  server.listen(where);
  await once(server, 'listening');
  return server;
}

const json = (res: ServerResponse, status: number, value: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
};

test('over a unix socket: JSON in and out, names URL-encoded, 204 is no answer', async () => {
  const sock = join(dir, 'ok.sock');
  const seen: string[] = [];
  await serve(sock, (req, body, res) => {
    seen.push(`${req.method} ${req.url} ${body}`);
    if (req.method === 'DELETE') {
      res.writeHead(204);
      res.end();
    } else json(res, req.method === 'POST' ? 201 : 200, { name: 'a b', state: 'stopped' });
  });
  const api = new VmApi(new ApiClient({ kind: 'unix', socketPath: sock }));
  assert.deepEqual(await api.get('a b'), { name: 'a b', state: 'stopped' });
  await api.create({ name: 'n', memory: 128 });
  assert.equal(await api.remove('x/y', true), undefined);
  await api.shutdown('n', 5);
  await api.clone('n', 'm', 'linked');
  assert.deepEqual(seen, [
    'GET /v1/vms/a%20b ',
    'POST /v1/vms {"name":"n","memory":128}',
    'DELETE /v1/vms/x%2Fy?force=true ',
    'POST /v1/vms/n/shutdown {"timeout":5}',
    'POST /v1/vms/n/clone {"name":"m","mode":"linked"}',
  ]);
});

test("the daemon's JSON errors, and other error answers, become one-line ApiErrors", async () => {
  const sock = join(dir, 'err.sock');
  await serve(sock, (req, _body, res) => {
    if (req.url === '/v1/vms/none') json(res, 404, { error: { code: 'not_found', message: "no VM named 'none'" } });
    else if (req.url === '/v1/vms/a/start')
      json(res, 409, { error: { code: 'conflict', message: 'a is running\n  already' } });
    else if (req.url === '/v1/vms/fastify')
      json(res, 400, { statusCode: 400, error: 'Bad Request', message: 'body/name must match' });
    else {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad\ngateway</html>');
    }
  });
  const api = new VmApi(new ApiClient({ kind: 'unix', socketPath: sock }));
  await assert.rejects(api.get('none'), (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 404);
    assert.equal(e.code, 'not_found');
    assert.equal(e.message, "no VM named 'none'");
    return true;
  });
  await assert.rejects(api.power('a', 'start'), { name: 'ApiError', status: 409, message: 'a is running already' });
  await assert.rejects(api.get('fastify'), { status: 400, message: 'body/name must match' });
  await assert.rejects(api.list(), { status: 502, message: 'HTTP 502: <html>Bad gateway</html>' });
});

test('no daemon: a missing socket file and a dead socket are DaemonUnreachable', async () => {
  const missing = new ApiClient({ kind: 'unix', socketPath: join(dir, 'missing.sock') });
  await assert.rejects(missing.request('GET', '/v1/vms'), (e: unknown) => {
    assert.ok(e instanceof DaemonUnreachable);
    assert.equal(e.message, `no daemon reachable at ${join(dir, 'missing.sock')} (no such socket)`);
    return true;
  });
  // A daemon killed with SIGKILL leaves its socket file behind: connecting is refused.
  const stale = join(dir, 'stale.sock');
  const child = spawn(
    process.execPath,
    ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await once(child.stdout!, 'data');
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.ok(existsSync(stale));
  await assert.rejects(new ApiClient({ kind: 'unix', socketPath: stale }).request('GET', '/v1/vms'), {
    name: 'DaemonUnreachable',
    message: `no daemon reachable at ${stale} (connection refused)`,
  });
});

test('over TCP the bearer token is sent; a 401 is an ApiError', async () => {
  const server = await serve(0, (req, _body, res) => {
    if (req.headers.authorization === 'Bearer s3cret') json(res, 200, { version: '0.1.0' });
    else json(res, 401, { error: { code: 'unauthorized', message: 'missing or bad bearer token' } });
  });
  const port = (server.address() as { port: number }).port;
  const url = new URL(`http://127.0.0.1:${port}`);
  assert.deepEqual(await new VmApi(new ApiClient({ kind: 'tcp', url, token: 's3cret' })).version(), {
    version: '0.1.0',
  });
  await assert.rejects(new VmApi(new ApiClient({ kind: 'tcp', url })).version(), {
    status: 401,
    message: 'missing or bad bearer token',
  });
  await assert.rejects(new ApiClient({ kind: 'tcp', url: new URL('http://127.0.0.1:1') }).request('GET', '/'), {
    name: 'DaemonUnreachable',
    message: 'no daemon reachable at http://127.0.0.1:1 (connection refused)',
  });
});

test('an answer larger than MAX_ANSWER, a non-JSON answer and a dropped connection are ClientErrors', async () => {
  const sock = join(dir, 'big.sock');
  await serve(sock, (req, _body, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1 << 20, 0x20);
      let sent = 0;
      const more = () => {
        while (sent <= MAX_ANSWER && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      res.on('error', () => {});
      more();
    } else if (req.url === '/text') {
      res.writeHead(200);
      res.end('hello');
    } else req.socket.destroy();
  });
  const c = new ApiClient({ kind: 'unix', socketPath: sock });
  await assert.rejects(
    c.request('GET', '/big'),
    (e: unknown) => e instanceof ClientError && /larger than 16 MiB/.test(e.message),
  );
  await assert.rejects(c.request('GET', '/text'), /sent an answer that is not JSON \(HTTP 200\)/);
  await assert.rejects(c.request('GET', '/drop'), /closed the connection without an answer/);
});

test('the event stream: events split across chunks, comments and CRLF, until the server ends it', async () => {
  const sock = join(dir, 'sse.sock');
  await serve(sock, (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const parts = [
      ': keep-alive\r\n\r',
      '\nevent: state\r\ndata: {"vm":"a",',
      '"state":"running"}\r\n\r\n',
      'event: state\ndata: {"vm":"b","state":"paused"}\n\n',
    ];
    let i = 0;
    const next = () => (i < parts.length ? res.write(parts[i++]!, () => setImmediate(next)) : res.end());
    next();
  });
  const got: SseEvent[] = [];
  const s = new ApiClient({ kind: 'unix', socketPath: sock }).stream('/v1/events', (e) => got.push(e));
  await s.done;
  assert.deepEqual(got, [
    { event: 'state', data: '{"vm":"a","state":"running"}' },
    { event: 'state', data: '{"vm":"b","state":"paused"}' },
  ]);
});
