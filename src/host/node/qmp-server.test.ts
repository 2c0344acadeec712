/** QmpServer and QmpClient over real unix sockets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpMonitor } from '../../vmm/qmp/monitor.ts';
import { registerStandardCommands } from '../../vmm/qmp/commands.ts';
import { qmpVersion, type QmpRunState, type QmpTarget } from '../../vmm/qmp/target.ts';
import { QmpServer } from './qmp-server.ts';
import { QmpClient, QmpClientError, QmpCommandError } from './qmp-client.ts';
import { SocketPathError, UnixServer } from './unix-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'vk-qmp-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const sockPath = () => join(dir, `q${n++}.sock`);

function target(): QmpTarget & { state: QmpRunState; quits: number } {
  return {
    version: qmpVersion('0.1.0', 'virtkit 0.1.0'),
    state: 'running' as QmpRunState,
    quits: 0,
    status() {
      return this.state;
    },
    stop() {
      const was = this.state === 'running';
      this.state = 'paused';
      return was;
    },
    cont() {
      const was = this.state !== 'running';
      this.state = 'running';
      return was;
    },
    pressPowerButton: () => false,
    reset: () => true,
    quit() {
      this.quits++;
    },
  };
}

async function serve(maxQueued?: number) {
  const t = target();
  const m = new QmpMonitor(t);
  registerStandardCommands(m);
  const path = sockPath();
  const server = await QmpServer.listen(path, m, maxQueued);
  return { t, m, path, server };
}

const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
};

test('several clients: greeting, commands with ids, events to every negotiated client', async () => {
  const { path, server, t } = await serve();
  const a = await QmpClient.connect(path);
  const b = await QmpClient.connect(path);
  assert.deepEqual(a.greeting, {
    version: { qemu: { major: 0, minor: 1, micro: 0 }, package: 'virtkit 0.1.0' },
    capabilities: [],
  });
  assert.equal(server.clientCount, 2);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const stopSeen = b.waitEvent('STOP');
  assert.deepEqual(await a.execute('stop'), {});
  const ev = await stopSeen;
  assert.equal(typeof ev.timestamp.seconds, 'number');
  assert.deepEqual(await b.execute('query-status'), { status: 'paused', singlestep: false, running: false });
  await assert.rejects(
    a.execute('nope'),
    (e: unknown) => e instanceof QmpCommandError && e.errorClass === 'CommandNotFound',
  );
  await assert.rejects(
    a.execute('stop', { x: 1 }),
    (e: unknown) => e instanceof QmpCommandError && e.desc === "Parameter 'x' is unexpected",
  );
  // Concurrent commands are matched to their answers by id.
  const [s1, v1] = await Promise.all([a.execute('query-status'), a.execute('query-version')]);
  assert.equal((s1 as { status: string }).status, 'paused');
  assert.equal((v1 as { package: string }).package, 'virtkit 0.1.0');
  const closedB = new Promise<string>((r) => b.onClose(r));
  await a.execute('quit');
  await until(() => t.quits === 1);
  await server.close();
  assert.match(await closedB, /closed/);
  assert.equal(existsSync(path), false);
  a.close();
});

test('a client that never reads is dropped past its output bound; the others carry on', async () => {
  const { path, server, m } = await serve(64 * 1024);
  const good = await QmpClient.connect(path);
  const slow = createConnection(path);
  await new Promise((r) => slow.once('data', r)); // the greeting
  slow.write('{"execute":"qmp_capabilities"}\n');
  await new Promise((r) => slow.once('data', r));
  slow.pause(); // and never reads again
  let events = 0;
  good.onEvent(() => events++);
  let sent = 0;
  while (server.clientCount === 2 && sent < 200_000) {
    for (let i = 0; i < 100; i++) m.emit('X-PADDING', { pad: 'x'.repeat(200) });
    sent += 100;
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(server.clientCount, 1, `still 2 clients after ${sent} events`);
  await until(() => events === sent);
  assert.deepEqual(await good.execute('query-name'), {});
  slow.destroy();
  good.close();
  await server.close();
});

test('an oversized request is answered with an error and the client cut off', async () => {
  const { path, server } = await serve();
  const s = createConnection(path);
  let got = '';
  s.on('data', (b) => (got += b.toString()));
  const closed = new Promise((r) => s.on('close', r));
  s.on('error', () => {});
  const chunk = Buffer.alloc(256 * 1024, 'x');
  s.write('{"execute":"');
  for (let i = 0; i < 8 && !s.destroyed; i++) s.write(chunk);
  await closed;
  assert.match(got, /"class":"GenericError","desc":"JSON value size limit exceeded/);
  await server.close();
});

test('socket paths: a stale file is replaced, a live one or a non-socket refused, a long path refused', async () => {
  const { path, server } = await serve();
  await assert.rejects(serve0(path), (e: unknown) => e instanceof SocketPathError && /already in use/.test(e.message));
  // A VM killed with -9 leaves its socket file behind.
  const stale = sockPath();
  staleSocket(stale);
  assert.ok(existsSync(stale));
  const m = new QmpMonitor(target());
  registerStandardCommands(m);
  const again = await QmpServer.listen(stale, m);
  const c = await QmpClient.connect(stale);
  assert.deepEqual(await c.execute('query-name'), {});
  c.close();
  await again.close();
  const file = join(dir, 'plain');
  writeFileSync(file, 'x');
  await assert.rejects(serve0(file), /exists and is not a socket/);
  await assert.rejects(serve0(join(dir, 'x'.repeat(120))), /at most 107 bytes/);
  await server.close();
});

/** A socket file nobody listens on, as a process killed with -9 leaves it (bound, then gone). */
function staleSocket(path: string): void {
  const r = spawnSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]);
  assert.equal(r.status, 0, String(r.stderr));
}

function serve0(path: string) {
  return UnixServer.listen(path, { connected() {}, data() {}, gone() {} }, 1024);
}

test('client errors: no socket, nobody listening, not QMP, silent peer, timeout, closed with commands outstanding', async () => {
  await assert.rejects(
    QmpClient.connect(join(dir, 'none.sock')),
    (e: unknown) => e instanceof QmpClientError && /cannot connect: no such file/.test(e.message),
  );
  const refused = sockPath();
  staleSocket(refused);
  await assert.rejects(QmpClient.connect(refused), /cannot connect: connection refused/);

  const peer = async (onConn: (s: import('node:net').Socket) => void) => {
    const p = sockPath();
    const s = createServer(onConn).listen(p);
    await new Promise((r) => s.once('listening', r));
    return { p, s };
  };
  const http = await peer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await assert.rejects(QmpClient.connect(http.p), /not a QMP server/);
  const json = await peer((s) => s.write('{"hello": 1}\n'));
  await assert.rejects(QmpClient.connect(json.p), /not a QMP server \(it sent \{"hello":1\}\)/);
  const silent = await peer(() => {});
  await assert.rejects(QmpClient.connect(silent.p, { timeoutMs: 200 }), /no QMP greeting within 200 ms/);
  const hangup = await peer((s) => s.end());
  await assert.rejects(QmpClient.connect(hangup.p), /closed the connection before its greeting/);

  // A QMP peer that negotiates, then never answers, then goes away.
  const mute = await peer((s) => {
    s.write('{"QMP":{"version":{"qemu":{"major":9,"minor":0,"micro":0},"package":""},"capabilities":[]}}\r\n');
    s.once('data', () => {
      s.write('{"return":{},"id":1}\r\n');
      s.once('data', () => setTimeout(() => s.destroy(), 50));
    });
  });
  const c = await QmpClient.connect(mute.p);
  await assert.rejects(c.execute('query-status', undefined, { timeoutMs: 20 }), /query-status: no answer within 20 ms/);
  await assert.rejects(c.execute('stop'), /stop: the connection closed/);
  for (const x of [http, json, silent, hangup, mute]) x.s.close();
});
