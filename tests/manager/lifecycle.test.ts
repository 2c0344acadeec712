/**
 * VM lifecycle through a real daemon and real VM processes (the default guest): racing starts,
 * the console over WebSocket (one typist, many watchers), pause (the instruction count stops
 * moving) and resume, stats, the event stream, kill -9 of one VM process (crashed; the other VM
 * and the daemon unaffected), kill -9 of the daemon and re-attach by a new one, stop, and delete
 * leaving no process, socket or file behind. Two small VMs at most (a 2-core machine).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import WebSocket from 'ws';
import { TestDaemon } from './harness.ts';
import { pidAlive } from '../../src/manager/state-dir.ts';

const d = new TestDaemon();
before(() => d.start());
after(() => d.cleanup());

const WAIT_MS = 240_000;

/** The guest shell asks for the cursor position (ESC[6n) after its prompt; nobody answers here. */
const stripQueries = (s: string) => s.split('\u001b[6n').join('');

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const state = async (name: string) => (await d.req('GET', `/v1/vms/${name}`)).body.state as string;

/** A console client over the unix socket; collects output as text. */
class Console {
  readonly ws: WebSocket;
  text = '';
  closed: Promise<{ code: number; reason: string }>;
  constructor(name: string, mode: 'watch' | 'type') {
    this.ws = new WebSocket(`ws+unix://${d.socket}:/v1/vms/${name}/console?mode=${mode}`);
    this.ws.on('message', (m: Buffer) => (this.text += stripQueries(m.toString('latin1'))));
    this.closed = new Promise((r) => this.ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  }
  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }
  send(s: string) {
    this.ws.send(Buffer.from(s));
  }
  async waitFor(re: RegExp) {
    await until(`console output ${re}`, () => re.test(this.text));
  }
}

/** The server-sent events of /v1/events, parsed. */
function subscribe(): { events: Array<{ vm: string; state: string; reason: string | null }>; close: () => void } {
  const events: Array<{ vm: string; state: string; reason: string | null }> = [];
  let buf = '';
  const req = request({ socketPath: d.socket, path: '/v1/events' }, (res) => {
    res.on('data', (c: Buffer) => {
      buf += c.toString();
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = /^data: (.*)$/m.exec(block);
        if (/^event: state$/m.test(block) && data) events.push(JSON.parse(data[1]!));
      }
    });
  });
  req.on('error', () => {});
  req.end();
  return { events, close: () => req.destroy() };
}

const instructions = async (name: string) => {
  const s = await d.req('GET', `/v1/vms/${name}/stats`);
  assert.equal(s.status, 200, s.text);
  return s.body.instructions as number;
};

test('lifecycle of default-guest VMs: race, console, pause/resume, crash, daemon kill -9 and re-attach, delete', async () => {
  const sse = subscribe();
  for (const name of ['alpha', 'beta']) {
    const c = await d.req('POST', '/v1/vms', { name, memory: 128 });
    assert.equal(c.status, 201, c.text);
  }

  // Two clients race to start alpha: exactly one wins.
  const [r1, r2] = await Promise.all([d.req('POST', '/v1/vms/alpha/start'), d.req('POST', '/v1/vms/alpha/start')]);
  const statuses = [r1.status, r2.status].sort();
  assert.deepEqual(statuses, [200, 409], `${r1.text} / ${r2.text}`);
  const loser = r1.status === 409 ? r1 : r2;
  assert.match(loser.body.error.message, /VM 'alpha' is (starting|running): cannot start it/);
  const winner = r1.status === 200 ? r1 : r2;
  assert.equal(winner.body.state, 'running');
  const alphaPid = winner.body.pid as number;
  assert.ok(pidAlive(alphaPid));

  const beta = await d.req('POST', '/v1/vms/beta/start');
  assert.equal(beta.status, 200, beta.text);
  const betaPid = beta.body.pid as number;

  // The console: type a command, read the answer; a watcher sees it too; a second typist is refused.
  const typist = new Console('alpha', 'type');
  await typist.opened();
  const watcher = new Console('alpha', 'watch');
  await watcher.opened();
  await typist.waitFor(/# $/m);
  const second = new Console('alpha', 'type');
  assert.equal((await second.closed).code, 4409);
  watcher.send('echo ignored-from-watcher\n'); // watchers cannot type
  typist.send('echo vk-$((6*7))\n');
  await typist.waitFor(/vk-42/);
  await watcher.waitFor(/vk-42/);
  assert.doesNotMatch(typist.text, /ignored-from-watcher/);

  // Pause: the instruction count stops moving; resume: it moves again.
  assert.equal((await d.req('POST', '/v1/vms/alpha/pause')).body.state, 'paused');
  const p1 = await instructions('alpha');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await instructions('alpha'), p1);
  assert.equal((await d.req('POST', '/v1/vms/alpha/resume')).body.state, 'running');
  await until('instructions to move after resume', async () => (await instructions('alpha')) > p1);

  // kill -9 of beta's process: crashed; alpha and the daemon unaffected.
  process.kill(betaPid, 'SIGKILL');
  await until('beta crashed', async () => (await state('beta')) === 'crashed');
  const betaNow = (await d.req('GET', '/v1/vms/beta')).body;
  assert.match(betaNow.reason, /killed by SIGKILL/);
  assert.equal(betaNow.pid, undefined);
  assert.equal(await state('alpha'), 'running');
  assert.ok(pidAlive(alphaPid));
  await until(
    'SSE events',
    () =>
      sse.events.some((e) => e.vm === 'beta' && e.state === 'crashed') &&
      sse.events.some((e) => e.vm === 'alpha' && e.state === 'paused'),
  );
  sse.close();
  const stored = (await d.req('GET', '/v1/vms/beta/events')).body as Array<{ state: string }>;
  assert.deepEqual(
    stored.map((e) => e.state).filter((s, i, a) => s !== a[i - 1]),
    ['stopped', 'starting', 'running', 'crashed'],
  );

  // kill -9 of the daemon: alpha keeps running; a new daemon re-attaches and controls it.
  typist.ws.close();
  watcher.ws.close();
  await d.stop('SIGKILL');
  assert.ok(pidAlive(alphaPid));
  await d.start();
  const again = (await d.req('GET', '/v1/vms/alpha')).body;
  assert.equal(again.state, 'running');
  assert.equal(again.pid, alphaPid);
  assert.equal((await d.req('POST', '/v1/vms/alpha/pause')).body.state, 'paused');
  assert.equal((await d.req('POST', '/v1/vms/alpha/resume')).body.state, 'running');
  const c2 = new Console('alpha', 'type');
  await c2.opened();
  c2.send('echo again-$((7*6))\n');
  await c2.waitFor(/again-42/);
  c2.ws.close();

  // Delete while running: 409 unless forced; forced, nothing is left behind.
  assert.equal((await d.req('DELETE', '/v1/vms/alpha')).status, 409);
  assert.equal((await d.req('DELETE', '/v1/vms/alpha?force=true')).status, 204);
  assert.equal((await d.req('DELETE', '/v1/vms/beta')).status, 204);
  await until('alpha process gone', () => !pidAlive(alphaPid));
  assert.ok(!pidAlive(betaPid));
  assert.deepEqual(readdirSync(join(d.stateDir, 'vms')), []);
  assert.deepEqual((await d.req('GET', '/v1/vms')).body, []);
  assert.ok(existsSync(d.socket));
});

test('shutdown (power button) and stop; stats of a stopped VM are its state only', async () => {
  assert.equal((await d.req('POST', '/v1/vms', { name: 'gamma', memory: 128 })).status, 201);
  const s = await d.req('POST', '/v1/vms/gamma/start');
  assert.equal(s.status, 200, s.text);
  const pid = s.body.pid as number;
  const stats = await d.req('GET', '/v1/vms/gamma/stats');
  assert.equal(stats.body.state, 'running');
  assert.equal(typeof stats.body['uptime-ms'], 'number');
  assert.equal(typeof stats.body.host['cpu-percent'], 'number');
  assert.ok(stats.body.host.rss > 0);
  // Graceful: the power button; the default guest's acpid powers off, the VM process exits 0.
  const con = new Console('gamma', 'watch');
  await con.opened();
  await con.waitFor(/# $/m);
  con.ws.close();
  const sd = await d.req('POST', '/v1/vms/gamma/shutdown', { timeout: 120 });
  assert.equal(sd.status, 200, sd.text);
  assert.equal(sd.body.state, 'stopping');
  await until('gamma powered off', async () => (await state('gamma')) === 'stopped');
  assert.equal((await d.req('GET', '/v1/vms/gamma')).body.reason, 'the guest powered off');
  assert.ok(!pidAlive(pid));

  // Power off now: stop answers once the process is gone.
  const again = await d.req('POST', '/v1/vms/gamma/start');
  assert.equal(again.status, 200, again.text);
  const pid2 = again.body.pid as number;
  const stopped = await d.req('POST', '/v1/vms/gamma/stop');
  assert.equal(stopped.status, 200, stopped.text);
  assert.equal(stopped.body.state, 'stopped');
  assert.ok(!pidAlive(pid2));
  assert.deepEqual((await d.req('GET', '/v1/vms/gamma/stats')).body, { state: 'stopped' });
  const dir = join(d.stateDir, 'vms', stopped.body.id);
  for (const f of ['qmp.sock', 'console.sock', 'vm.pid']) assert.ok(!existsSync(join(dir, f)), f);
  assert.ok(existsSync(join(dir, 'console.log')));
  assert.equal((await d.req('DELETE', '/v1/vms/gamma')).status, 204);
});
