/**
 * `virtkit run --qmp --console --console-log --pidfile`: a VM process as the manager runs it,
 * through bin/virtkit with tiny kernels (src/vmm/testing.ts), real sockets and files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoKernel, floodKernel } from '../vmm/testing.ts';
import { QmpClient } from '../host/node/qmp-client.ts';
import { CONSOLE_LOG_MAX } from '../host/node/console-log.ts';

const BIN = fileURLToPath(new URL('../../bin/virtkit', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vk-headless-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const echo = join(dir, 'echo.img');
writeFileSync(echo, echoKernel('hello\n'));
const flood = join(dir, 'flood.img');
writeFileSync(flood, floodKernel());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, what: string) {
  for (let i = 0; !cond(); i++) {
    if (i > 3000) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function start(kernel: string, tag: string, extra: string[] = []) {
  const p = {
    qmp: join(dir, `${tag}-q.sock`),
    con: join(dir, `${tag}-c.sock`),
    log: join(dir, `${tag}.log`),
    pid: join(dir, `${tag}.pid`),
  };
  const args = ['run', '--kernel', kernel, '--memory', '16M', '--qmp', `unix:${p.qmp},server=on,wait=off`];
  args.push('--console', `unix:${p.con}`, '--console-log', p.log, '--pidfile', p.pid, ...extra);
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { p, child, exited, out: () => stdout, err: () => stderr };
}

function consoleClient(path: string) {
  const s = createConnection(path);
  const c = { s, got: '' };
  s.on('data', (b: Buffer) => (c.got += b.toString()));
  s.on('error', () => {});
  return c;
}

test('headless VM: pidfile, console ring then live output, typing, QMP stop/cont/quit, exit 0, all cleaned up', async () => {
  const disk = join(dir, 'a.raw');
  writeFileSync(disk, new Uint8Array(1 << 20));
  const vm = start(echo, 'a', ['--disk', `${disk},format=raw`, '--net', 'user']);
  await until(() => existsSync(vm.p.pid), 'the pidfile');
  assert.equal(readFileSync(vm.p.pid, 'utf8'), `${vm.child.pid}\n`);
  const qmp = await QmpClient.connect(vm.p.qmp);
  assert.equal((qmp.greeting.version as { package: string }).package.startsWith('virtkit '), true);
  const a = consoleClient(vm.p.con);
  await until(() => a.got === 'hello\n', 'the banner from the ring');
  a.s.write('abc');
  await until(() => a.got === 'hello\nabc', 'the echo');
  const b = consoleClient(vm.p.con); // a later viewer sees the past output first
  await until(() => b.got === 'hello\nabc', 'the ring on a second client');
  b.s.write('d');
  await until(() => a.got === 'hello\nabcd' && b.got === 'hello\nabcd', 'input from either client');

  assert.deepEqual(await qmp.execute('query-status'), { status: 'running', singlestep: false, running: true });
  const stats = (await qmp.execute('x-virtkit-query-stats')) as Record<string, unknown>;
  assert.ok((stats.instructions as number) > 0 && (stats['uptime-ms'] as number) > 0 && (stats.mips as number) > 0);
  const host = stats.host as { 'cpu-ms': number; rss: number };
  assert.ok(host['cpu-ms'] > 0 && host.rss > 1 << 20);
  const disks = stats.disks as Array<Record<string, unknown>>;
  const { 'rd-latency': rdLat, 'wr-latency': wrLat, ...counts } = disks[0]!;
  assert.equal(disks.length, 1);
  assert.deepEqual(counts, { id: 'virtkit0', 'rd-bytes': 0, 'wr-bytes': 0, 'rd-ops': 0, 'wr-ops': 0 });
  for (const h of [rdLat, wrLat] as Array<{ 'bounds-us': number[]; counts: number[]; 'sum-us': number }>) {
    assert.equal(h.counts.length, h['bounds-us'].length + 1);
    assert.ok(h.counts.every((c) => c === 0) && h['sum-us'] === 0);
  }
  assert.deepEqual(stats.nics, [{ id: 'net0', 'rx-bytes': 0, 'tx-bytes': 0, 'rx-packets': 0, 'tx-packets': 0 }]);
  const stopped = qmp.waitEvent('STOP');
  await qmp.execute('stop');
  await stopped;
  a.s.write('e'); // queued while paused: echoed once running again
  await sleep(100);
  assert.equal(a.got, 'hello\nabcd');
  const resumed = qmp.waitEvent('RESUME');
  await qmp.execute('cont');
  await resumed;
  await until(() => a.got === 'hello\nabcde', 'the echo after cont');
  await assert.rejects(
    qmp.execute('system_powerdown'),
    /GenericError: the guest has no driver running for the power button/,
  );

  const shutdown = qmp.waitEvent('SHUTDOWN');
  await qmp.execute('quit');
  assert.deepEqual((await shutdown).data, { guest: false, reason: 'host-qmp-quit' });
  assert.equal(await vm.exited, 0, vm.err());
  assert.equal(vm.out(), ''); // the terminal is never touched
  assert.equal(readFileSync(vm.p.log, 'utf8'), 'hello\nabcde');
  for (const f of [vm.p.pid, vm.p.qmp, vm.p.con]) assert.equal(existsSync(f), false, f);
  qmp.close();
});

test('a flooding guest: a console client that never reads is dropped, a reader is not; the log rotates; SIGTERM is SHUTDOWN host-signal', async () => {
  const vm = start(flood, 'b');
  await until(() => existsSync(vm.p.pid), 'the pidfile');
  const qmp = await QmpClient.connect(vm.p.qmp);
  const stuck: Socket = createConnection(vm.p.con);
  stuck.on('error', () => {});
  stuck.pause(); // reads nothing for now
  const reader = consoleClient(vm.p.con);
  let n = 0;
  reader.s.removeAllListeners('data');
  reader.s.on('data', (b: Buffer) => (n += b.length));
  await until(() => n > 16 * 1024 * 1024, '16 MiB of output to the reading client');
  // The client that did not read was dropped: it finds its connection ended after far less.
  let stuckGot = 0;
  stuck.on('data', (b: Buffer) => (stuckGot += b.length));
  const stuckClosed = new Promise((r) => stuck.on('close', r));
  stuck.resume();
  await stuckClosed;
  assert.ok(stuckGot < 4 * 1024 * 1024, `the stuck client got ${stuckGot} bytes`);
  await until(() => existsSync(`${vm.p.log}.1`), 'the log rotation');
  assert.ok(statSync(`${vm.p.log}.1`).size >= CONSOLE_LOG_MAX);
  const shutdown = qmp.waitEvent('SHUTDOWN');
  vm.child.kill('SIGTERM');
  assert.deepEqual((await shutdown).data, { guest: false, reason: 'host-signal' });
  assert.equal(await vm.exited, 0, vm.err());
  assert.ok(statSync(vm.p.log).size < CONSOLE_LOG_MAX + 64 * 1024);
  reader.s.destroy();
  qmp.close();
});

test('bad --qmp/--console values are exit 2; a socket another VM listens on is exit 1', async () => {
  const run = (...a: string[]) =>
    spawnSync(process.execPath, [BIN, 'run', '--kernel', echo, '--memory', '16M', ...a], { encoding: 'utf8' });
  let r = run('--qmp', 'tcp:localhost:4444,server,nowait');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--qmp 'tcp:localhost:4444,server,nowait': only unix:PATH sockets/);
  r = run('--qmp', 'unix:/tmp/x.sock,wait=on');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /wait=on is not supported/);
  r = run('--console', `unix:${join(dir, 'nodir', 'c.sock')}`);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /c\.sock: the directory .*nodir does not exist/);
  const vm = start(echo, 'c');
  await until(() => existsSync(vm.p.pid), 'the pidfile');
  r = run('--qmp', `unix:${vm.p.qmp}`);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /is already in use by another process/);
  vm.child.kill('SIGTERM');
  assert.equal(await vm.exited, 0);
});

test('x-virtkit-savevm: refused naming a writable non-qcow2 disk; with qcow2 disks it snapshots each writable one and writes the state', async () => {
  const img = (...a: string[]) => spawnSync(process.execPath, [BIN, 'img', ...a], { encoding: 'utf8' });
  const raw = join(dir, 'd.raw');
  writeFileSync(raw, new Uint8Array(1 << 20));
  const q1 = join(dir, 'd1.qcow2');
  const q2 = join(dir, 'd2.qcow2');
  for (const q of [q1, q2]) assert.equal(img('create', '-f', 'qcow2', q, '1M').status, 0);
  const state = join(dir, 'state.snap');

  let vm = start(echo, 'd', ['--disk', `${q1}`, '--disk', `${raw},format=raw`]);
  await until(() => existsSync(vm.p.pid), 'the pidfile');
  let qmp = await QmpClient.connect(vm.p.qmp);
  await assert.rejects(
    qmp.execute('x-virtkit-savevm', { tag: 's1', 'state-file': state }),
    new RegExp(`GenericError: disk ${raw.replace(/[.]/g, '\\.')} is raw, not qcow2`),
  );
  await assert.rejects(qmp.execute('x-virtkit-savevm', { tag: 's1' }), /Parameter 'state-file' is missing/);
  await assert.rejects(
    qmp.execute('x-virtkit-savevm', { tag: 1, 'state-file': state }),
    /Invalid parameter type for 'tag', expected: string/,
  );
  assert.equal(existsSync(state), false);
  assert.equal(img('snapshot', '-U', '-l', q1).stdout.includes('s1'), false); // nothing half-done
  await qmp.execute('quit');
  assert.equal(await vm.exited, 0, vm.err());
  qmp.close();

  vm = start(echo, 'e', ['--disk', q1, '--disk', `${raw},format=raw,readonly`, '--disk', q2]);
  await until(() => existsSync(vm.p.pid), 'the pidfile');
  qmp = await QmpClient.connect(vm.p.qmp);
  assert.deepEqual(await qmp.execute('x-virtkit-savevm', { tag: 's1', 'state-file': state }), {});
  assert.ok(statSync(state).size > 1000);
  assert.equal(((await qmp.execute('query-status')) as { status: string }).status, 'running');
  await assert.rejects(
    qmp.execute('x-virtkit-savevm', { tag: 's1', 'state-file': state }),
    /already has a snapshot named 's1'/,
  );
  await qmp.execute('stop');
  await qmp.execute('x-virtkit-savevm', { tag: 's2', 'state-file': state });
  assert.equal(((await qmp.execute('query-status')) as { status: string }).status, 'paused'); // not resumed
  await qmp.execute('quit');
  assert.equal(await vm.exited, 0, vm.err());
  qmp.close();
  for (const q of [q1, q2]) assert.match(img('snapshot', '-l', q).stdout, /s1[\s\S]*s2/);
});
