/**
 * Backups of a running VM through a real daemon (docs/manager.md "Backups"): the guest writes
 * known patterns to its raw data disk /dev/vda, a full backup is taken, the guest overwrites part
 * of it at once (after the point), then an incremental one the same way. On the host: qemu-img
 * check and the backing chain of the backup files, the incremental copied only what changed, and
 * restores into new VMs hold exactly the data of each backup point (qemu-img compare with the
 * expected bytes). Then a backup with RAM: the restored VM resumes with the guest's shell state.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon, guestShell, until, type Answer } from './harness.ts';

const d = new TestDaemon();
before(() => d.start());
after(() => d.cleanup());

const KiB = 1024;
const MiB = 1024 * KiB;
const DISK = 16 * MiB;

/** Writes `len` bytes of `ch` at `off` of /dev/vda (dd with fsync), as one shell line. */
const fill = (ch: string, off: number, len: number, mark: string) =>
  `head -c ${len} /dev/zero | tr '\\0' ${ch} | dd of=/dev/vda bs=${64 * KiB} seek=${off / (64 * KiB)} conv=fsync,notrunc 2>/dev/null; echo ${mark}-$((6*7))`;

/** A raw image of the expected disk: zeros with the given runs of characters. */
function expected(name: string, runs: [string, number, number][]): string {
  const b = Buffer.alloc(DISK);
  for (const [ch, off, len] of runs) b.fill(ch.charCodeAt(0), off, off + len);
  const p = join(d.root, name);
  writeFileSync(p, b);
  return p;
}

const qemuImg = (...args: string[]) => execFileSync('qemu-img', args, { encoding: 'utf8' });

/** A backup job as GET /v1/vms/{name}/backups shows it. */
interface Job {
  id: string;
  path: string;
  state: string;
  progress: { bytes: number; total: number };
}

/** The full backup of the first test and its expected contents, for a restore in place later. */
let firstBackup: { path: string; expected: string; disk: string } | undefined;

async function finished(vm: string, id: string): Promise<Job> {
  let job: Job | undefined;
  await until(`backup ${id}`, async () => {
    const r: Answer = await d.req('GET', `/v1/vms/${vm}/backups`);
    job = (r.body as Job[]).find((j) => j.id === id);
    return job !== undefined && job.state !== 'copying';
  });
  return job!;
}

test('full and incremental backups of a running VM restore exactly the data at each point', async (t) => {
  const dest = join(d.root, 'backups');
  const c = await d.req('POST', '/v1/vms', { name: 'bk', memory: 128, disks: [{ size: 16 }] });
  assert.equal(c.status, 201, c.text);
  assert.equal((await d.req('POST', '/v1/vms/bk/start')).status, 200);
  await guestShell(d, 'bk', fill('A', 0, MiB, 'a'), /a-42/);

  let t0 = performance.now();
  const b1 = await d.req('POST', '/v1/vms/bk/backups', { dest });
  t.diagnostic(`full backup: point taken and answered in ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(b1.status, 202, b1.text);
  assert.equal(b1.body.kind, 'full');
  // After the point: must not be in the full backup.
  await guestShell(d, 'bk', fill('B', 0, 512 * KiB, 'b'), /b-42/);
  const j1 = await finished('bk', b1.body.id);
  assert.equal(j1.state, 'done', JSON.stringify(j1));

  await guestShell(d, 'bk', fill('C', 4 * MiB, 64 * KiB, 'c'), /c-42/);
  t0 = performance.now();
  const b2 = await d.req('POST', '/v1/vms/bk/backups', { dest });
  t.diagnostic(`incremental backup: point taken and answered in ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(b2.status, 202, b2.text);
  assert.equal(b2.body.kind, 'incremental', JSON.stringify(b2.body));
  await guestShell(d, 'bk', fill('D', 4 * MiB, 128 * KiB, 'd'), /d-42/);
  const j2 = await finished('bk', b2.body.id);
  assert.equal(j2.state, 'done', JSON.stringify(j2));
  // Only the clusters written since the full backup: B's 512 KiB and C's 64 KiB.
  assert.equal(j2.progress.total, 576 * KiB, JSON.stringify(j2));
  t.diagnostic(`full backup copied ${j1.progress.bytes} bytes, the incremental ${j2.progress.bytes}`);

  const full = join(j1.path, 'disk0.qcow2');
  const incr = join(j2.path, 'disk0.qcow2');
  for (const f of [full, incr]) qemuImg('check', f); // exit status 0: no errors, no leaks
  const chain = JSON.parse(qemuImg('info', '--backing-chain', '--output=json', incr)) as { filename: string }[];
  assert.deepEqual(
    chain.map((x) => x.filename),
    [incr, `${j2.path}/../${j1.id}/disk0.qcow2`], // the header's relative backing name, as written
  );
  const m2 = JSON.parse(execFileSync('cat', [join(j2.path, 'manifest.json')], { encoding: 'utf8' }));
  assert.deepEqual(m2.chain, [j1.id, j2.id]);
  assert.equal(m2.parent, j1.id);

  const at1 = expected('at1.raw', [['A', 0, MiB]]);
  const at2 = expected('at2.raw', [
    ['A', 0, MiB],
    ['B', 0, 512 * KiB],
    ['C', 4 * MiB, 64 * KiB],
  ]);
  qemuImg('compare', '-f', 'qcow2', '-F', 'raw', full, at1);
  firstBackup = { path: j1.path, expected: at1, disk: c.body.disks[0].path as string };
  qemuImg('compare', '-f', 'qcow2', '-F', 'raw', incr, at2);

  // Restores into new VMs: flattened owned disks with those contents.
  const r1 = await d.req('POST', '/v1/vms/restore', { path: j1.path, name: 'bk-full' });
  assert.equal(r1.status, 201, r1.text);
  qemuImg('compare', '-f', 'qcow2', '-F', 'raw', r1.body.disks[0].path, at1);
  const r2 = await d.req('POST', '/v1/vms/restore', { path: j2.path, name: 'bk-incr' });
  assert.equal(r2.status, 201, r2.text);
  qemuImg('compare', '-f', 'qcow2', '-F', 'raw', r2.body.disks[0].path, at2);
  assert.equal(r2.body.state, 'stopped');
  assert.equal((await d.req('POST', '/v1/vms/restore', { path: j2.path, name: 'bk' })).status, 409);
  assert.equal((await d.req('POST', '/v1/vms/restore', { path: d.root })).status, 422);
  // The backup points' internal snapshots were removed from the VM's disk again.
  assert.doesNotMatch(qemuImg('snapshot', '-U', '-l', c.body.disks[0].path), /backup-/);
});

test('a backup with RAM restores into a VM that resumes where the guest was', async () => {
  const dest = join(d.root, 'ram');
  await guestShell(d, 'bk', 'X=at-point; echo set-$((5*5))', /set-25/);
  const b = await d.req('POST', '/v1/vms/bk/backups', { dest, ram: true });
  assert.equal(b.status, 202, b.text);
  assert.equal(b.body.kind, 'full');
  assert.equal(b.body.fullBecause, 'no previous backup of this VM in dest');
  await guestShell(d, 'bk', 'X=later; echo set-$((6*6))', /set-36/);
  const j = await finished('bk', b.body.id);
  assert.equal(j.state, 'done', JSON.stringify(j));
  assert.equal((await d.req('POST', '/v1/vms/bk/stop')).body.state, 'stopped');
  // In place: the stopped VM's disk gets the first backup's contents back.
  assert.ok(firstBackup);
  const inPlace = await d.req('POST', '/v1/vms/restore', { path: firstBackup.path, name: 'bk' });
  assert.equal(inPlace.status, 201, inPlace.text);
  assert.equal(inPlace.body.disks[0].path, firstBackup.disk);
  qemuImg('compare', '-f', 'qcow2', '-F', 'raw', firstBackup.disk, firstBackup.expected);
  const r = await d.req('POST', '/v1/vms/restore', { path: j.path, name: 'bk-ram' });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.state, 'running');
  const out = await guestShell(d, 'bk-ram', 'echo "X=$X"', /X=[a-z-]+\r?\n/);
  assert.match(out, /X=at-point/);
  assert.equal((await d.req('POST', '/v1/vms/bk-ram/stop')).body.state, 'stopped');
});
