/**
 * Snapshots of a running VM (QMP x-virtkit-savevm: disks and RAM) through a real daemon: the
 * snapshot is taken while the guest runs, the guest changes a shell variable and a file on its
 * disk, and a revert brings both back (the VM restarts from the saved RAM). Then a linked clone
 * of the stopped VM boots. One VM at a time (a 2-core machine).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';
import { TestDaemon } from './harness.ts';
import { pidAlive } from '../../src/manager/state-dir.ts';

const d = new TestDaemon();
before(() => d.start());
after(() => d.cleanup());

/** The guest shell asks for the cursor position (ESC[6n) after its prompt; nobody answers here. */
const stripQueries = (s: string) => s.split('\u001b[6n').join('');

async function until(what: string, fn: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 240_000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Opens a typing console, waits for the prompt, runs `cmd` and waits for `answer`. */
async function shell(name: string, cmd: string, answer: RegExp): Promise<string> {
  const ws = new WebSocket(`ws+unix://${d.socket}:/v1/vms/${name}/console?mode=type`);
  let text = '';
  ws.on('message', (m: Buffer) => (text += stripQueries(m.toString('latin1'))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  try {
    // A console that has printed its prompt already replays it; a silent one gets an Enter.
    ws.send(Buffer.from('\n'));
    await until('a shell prompt', () => /# $/m.test(text));
    const mark = text.length;
    ws.send(Buffer.from(`${cmd}\n`));
    await until(`${answer}`, () => answer.test(text.slice(mark)));
    return text.slice(mark);
  } finally {
    ws.close();
  }
}

test('a running VM: snapshot with RAM, change things, revert: the guest is back where it was', async () => {
  const c = await d.req('POST', '/v1/vms', { name: 'live', memory: 128, disks: [{ size: 16 }] });
  assert.equal(c.status, 201, c.text);
  const s = await d.req('POST', '/v1/vms/live/start');
  assert.equal(s.status, 200, s.text);
  const disk = c.body.disks[0].path as string;
  const fill = (ch: string) =>
    `head -c 512 /dev/zero | tr '\\0' ${ch} | dd of=/dev/vda bs=512 count=1 conv=fsync 2>/dev/null; echo wrote-$((1+1))`;
  await shell('live', fill('A'), /wrote-2/);
  await shell('live', 'X=before-snap; echo set-$((2+3))', /set-5/);

  const snap = await d.req('POST', '/v1/vms/live/snapshots', { name: 'warm' });
  assert.equal(snap.status, 201, snap.text);
  assert.equal(snap.body.vmState, true);
  assert.equal((await d.req('GET', '/v1/vms/live')).body.state, 'running');
  // Deleting a snapshot rewrites the disks' snapshot tables: not while the VM runs.
  assert.equal((await d.req('DELETE', '/v1/vms/live/snapshots/warm')).status, 409);

  await shell('live', fill('B'), /wrote-2/);
  await shell('live', 'X=after-snap; echo changed-$((3+4))', /changed-7/);
  const oldPid = (await d.req('GET', '/v1/vms/live')).body.pid as number;
  const r = await d.req('POST', '/v1/vms/live/snapshots/warm/revert');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.state, 'running');
  assert.notEqual(r.body.pid, oldPid);
  assert.ok(!pidAlive(oldPid));
  const out = await shell('live', 'echo "X=$X"', /X=[a-z]+-snap/);
  assert.match(out, /X=before-snap/);

  const stop = await d.req('POST', '/v1/vms/live/stop');
  assert.equal(stop.body.state, 'stopped');
  // The disk went back too: what the guest wrote after the snapshot ('B') is gone.
  const io = execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0x41 0 512', disk], { encoding: 'utf8' });
  assert.doesNotMatch(io, /verification failed/);
  assert.equal((await d.req('DELETE', '/v1/vms/live/snapshots/warm')).status, 204);
});

test('a linked clone of a stopped VM boots', async () => {
  const clone = await d.req('POST', '/v1/vms/live/clone', { name: 'live-clone', mode: 'linked' });
  assert.equal(clone.status, 201, clone.text);
  const s = await d.req('POST', '/v1/vms/live-clone/start');
  assert.equal(s.status, 200, s.text);
  await shell('live-clone', 'echo clone-$((4*4)); cat /proc/partitions | grep -c vda', /clone-16/);
  assert.equal((await d.req('DELETE', '/v1/vms/live-clone?force=true')).status, 204);
  assert.equal((await d.req('DELETE', '/v1/vms/live')).status, 204);
});
