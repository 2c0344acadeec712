/**
 * Issue 12's end-to-end test, through the public CLI: `bin/virtkit vm ...` against a real
 * `virtkit daemon` on a temporary state directory, with real VM processes of the default guest
 * (128 MiB each). Three VMs are created and started, each console is typed into and answers;
 * one is paused (its instruction count stops moving) and resumed; one is snapshotted and
 * reverted (its RAM goes back); one is shut down gracefully (its guest obeys the power button),
 * cloned (linked) and the clone booted; one VM
 * process is killed with SIGKILL (crashed, the rest unaffected); the daemon is killed with
 * SIGKILL and a new one re-attaches (running VMs still running and controllable); everything is
 * deleted (no process, socket or file left). Every process is killed in after() even when a step
 * fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, TestDaemon } from './harness.ts';
import { pidAlive } from '../../src/manager/state-dir.ts';

const d = new TestDaemon();
const children = new Set<ChildProcess>();
/** Every VM pid seen, to prove at the end that none is left. */
const vmPidsSeen = new Set<number>();

before(() => d.start());
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const pid of vmPidsSeen)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  await d.cleanup();
});

const WAIT_MS = 300_000;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `virtkit vm ARGS` against the test's daemon (asynchronously: several may run at once). */
function vm(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'vm', ...args], {
      env: { ...process.env, VIRTKIT_SOCKET: d.socket },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('latin1')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('latin1')));
    // A console that never sees its answer must not hang the suite: kill it and fail below.
    const guard = setTimeout(() => child.kill('SIGKILL'), WAIT_MS);
    child.on('close', (status) => {
      clearTimeout(guard);
      children.delete(child);
      resolve({ status, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/** `vm ARGS` that must succeed; its stdout. */
async function ok(...args: string[]): Promise<string> {
  const r = await vm(args);
  assert.equal(r.status, 0, `virtkit vm ${args.join(' ')}: ${r.stderr}\ndaemon log:\n${d.log.slice(-2000)}`);
  return r.stdout;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (...args: string[]): Promise<any> => JSON.parse(await ok(...args, '--output', 'json'));

/** Types `line` on NAME's console through `vm console` (piped) and returns what it printed. */
async function type(name: string, line: string): Promise<string> {
  const r = await vm(['console', name], `${line}\n`);
  assert.equal(r.status, 0, `vm console ${name}: ${r.stderr}\n${r.stdout.slice(-2000)}`);
  return r.stdout;
}

/** Asks NAME's shell to compute something only a live shell can: the answer proves a round trip. */
async function answers(name: string, tag: string): Promise<void> {
  const out = await type(name, `echo ${tag}-$((6*7))`);
  assert.match(out, new RegExp(`^${tag}-42\\r?$`, 'm'), `${name}'s console:\n${out.slice(-2000)}`);
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const info = (name: string) => json('info', name);
const instructions = async (name: string): Promise<number> => (await json('stats', name)).instructions;

/** Processes whose command line mentions the state directory (VMs, daemons). */
function processesUsing(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(dir)) out.push(Number(p));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

test('three VMs through virtkit vm: consoles, pause, snapshot, linked clone, crash, daemon kill -9, delete', async () => {
  // Create three VMs from the default guest; alpha has a disk of its own (snapshotted with its RAM).
  assert.match(await ok('create', 'alpha', '--memory', '128M', '--disk', 'size=16M'), /^created alpha \(/);
  await ok('create', 'bravo', '--memory', '128');
  await ok('create', 'charlie', '--memory', '128M');
  const listed = await ok('list');
  assert.match(listed, /^NAME +STATE +CPUS +MEMORY/);
  for (const n of ['alpha', 'bravo', 'charlie']) assert.match(listed, new RegExp(`^${n} +stopped +1 +128 MiB`, 'm'));

  // Start them (one command, three VMs), each its own process.
  const started = await ok('start', 'alpha', 'bravo', 'charlie');
  assert.match(started, /^alpha: running \(pid \d+\)\nbravo: running \(pid \d+\)\ncharlie: running \(pid \d+\)\n$/);
  const pid: Record<string, number> = {};
  for (const n of ['alpha', 'bravo', 'charlie']) {
    const v = await info(n);
    assert.equal(v.state, 'running');
    pid[n] = v.pid;
    vmPidsSeen.add(v.pid);
  }
  assert.equal(new Set(Object.values(pid)).size, 3);

  // Type into each console and read the answers (the consoles wait for each shell's prompt).
  await Promise.all(['alpha', 'bravo', 'charlie'].map((n) => answers(n, `hello-${n}`)));

  // Pause bravo: its instruction count stops moving; resume: it moves again.
  assert.equal(await ok('pause', 'bravo'), `bravo: paused (pid ${pid.bravo})\n`);
  const frozen = await instructions('bravo');
  assert.equal((await json('stats', 'bravo')).state, 'paused');
  await answers('alpha', 'while-bravo-sleeps'); // other VMs work meanwhile
  assert.equal(await instructions('bravo'), frozen);
  await ok('resume', 'bravo');
  await until('bravo to run again', async () => (await instructions('bravo')) > frozen);
  await answers('bravo', 'awake');

  // Snapshot alpha (disk + RAM), change its RAM, revert: the change is gone.
  await type('alpha', 'echo before-snapshot > /tmp/mark');
  assert.equal(await ok('snapshot', 'create', 'alpha', 's1'), 'alpha: snapshot s1 created\n');
  const snaps = await json('snapshot', 'list', 'alpha');
  assert.deepEqual(
    snaps.map((s: { name: string; vmState: boolean }) => [s.name, s.vmState]),
    [['s1', true]],
  );
  await type('alpha', 'echo after-snapshot > /tmp/mark');
  assert.match(await ok('snapshot', 'revert', 'alpha', 's1'), /^alpha: reverted to s1, running\n$/);
  const reverted = await info('alpha');
  vmPidsSeen.add(reverted.pid);
  const out = await type('alpha', 'cat /tmp/mark');
  assert.match(out, /^before-snapshot\r?$/m, out.slice(-1000));
  assert.doesNotMatch(out.slice(out.lastIndexOf('cat /tmp/mark')), /after-snapshot/);

  // Shut charlie down gracefully (the power button: the guest powers itself off), clone it
  // (linked) and boot the clone.
  const down = await ok('shutdown', 'charlie', '--timeout', '240', '--wait');
  assert.match(down, /^charlie: stopped \(the guest powered off\)\n$/);
  const events = await json('events', 'charlie');
  const last = events.at(-1);
  assert.equal(last.state, 'stopped');
  assert.doesNotMatch(String(last.reason), /killed/);
  assert.ok(!pidAlive(pid.charlie!));
  assert.match(await ok('clone', 'charlie', 'charlie-2', '--linked'), /^cloned charlie as charlie-2 \(linked\)/);
  await ok('start', 'charlie-2');
  const clone = await info('charlie-2');
  vmPidsSeen.add(clone.pid);
  await answers('charlie-2', 'clone');

  // kill -9 bravo's process: crashed; the other VMs and the daemon are unaffected.
  process.kill(pid.bravo!, 'SIGKILL');
  await until('bravo crashed', async () => (await info('bravo')).state === 'crashed');
  assert.match((await info('bravo')).reason, /SIGKILL/);
  assert.match(await ok('list'), /^bravo +crashed /m);
  assert.ok(d.proc && d.proc.exitCode === null);
  await answers('alpha', 'still-here');
  await answers('charlie-2', 'still-here');
  assert.match(await ok('events', 'bravo'), /bravo +running -> crashed/);

  // kill -9 the daemon: the VMs keep running; the CLI says no daemon; a new daemon re-attaches.
  await d.stop('SIGKILL');
  assert.ok(pidAlive(reverted.pid) && pidAlive(clone.pid));
  const none = await vm(['list']);
  assert.equal(none.status, 3);
  assert.match(none.stderr, /^virtkit vm: no daemon reachable at .*: start one with 'virtkit daemon --state-dir /);
  await d.start();
  const after = await json('list');
  const state = Object.fromEntries(after.map((v: { name: string; state: string }) => [v.name, v.state]));
  assert.deepEqual(state, { alpha: 'running', bravo: 'crashed', charlie: 'stopped', 'charlie-2': 'running' });
  assert.equal((await info('alpha')).pid, reverted.pid);
  await ok('pause', 'charlie-2');
  await ok('resume', 'charlie-2');
  await answers('charlie-2', 'reattached');
  await answers('alpha', 'reattached');

  // Delete all (the clone before the VM it is linked to): nothing is left behind.
  const deleted = await ok('delete', '--force', 'alpha', 'bravo', 'charlie-2', 'charlie');
  assert.equal(deleted, 'deleted alpha\ndeleted bravo\ndeleted charlie-2\ndeleted charlie\n');
  assert.equal(await ok('list'), "no VMs (create one with 'virtkit vm create NAME')\n");
  for (const p of vmPidsSeen) await until(`VM process ${p} to end`, async () => !pidAlive(p));
  assert.deepEqual(readdirSync(join(d.stateDir, 'vms')), []);
  await d.stop('SIGTERM');
  assert.ok(!existsSync(d.socket));
  assert.ok(!existsSync(join(d.stateDir, 'daemon.pid')));
  assert.deepEqual(processesUsing(d.stateDir), []);
});
