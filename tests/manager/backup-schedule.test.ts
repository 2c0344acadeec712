/**
 * Backup schedules through a real daemon, with a stopped VM (no guest boots: its backups are
 * taken offline, always full): the schedule is validated, runs on its own, survives a daemon
 * restart (it is in the database), prunes to `keep`, shows in GET, events and the
 * virtkit_backup_duration_seconds histogram, and through the CLI.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, TestDaemon, until } from './harness.ts';

const d = new TestDaemon();
before(() => d.start());
after(() => d.cleanup());

const finished = (dest: string) => {
  try {
    return readdirSync(dest).filter((n) => readdirSync(join(dest, n)).includes('manifest.json'));
  } catch {
    return [];
  }
};

test('a schedule runs, survives a daemon restart and keeps the newest backups', async () => {
  const dest = join(d.root, 'sched');
  const c = await d.req('POST', '/v1/vms', { name: 'sv', memory: 64, disks: [{ size: 4 }] });
  assert.equal(c.status, 201, c.text);
  // Bad schedules: 400 with the API's error shape.
  for (const body of [
    { every: 'often', keep: 2, dest },
    { every: 2, keep: 2, dest },
    { every: 60, keep: 0, dest },
    { every: 60, keep: 2, dest: 'relative' },
    { every: 60, keep: 2, dest, extra: 1 },
  ]) {
    const r = await d.req('PUT', '/v1/vms/sv/backup-schedule', body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(typeof r.body.error.message, 'string');
  }
  assert.equal((await d.req('GET', '/v1/vms/sv/backup-schedule')).status, 404);
  const paths = Object.keys((await d.req('GET', '/openapi.json')).body.paths as object);
  for (const p of ['/v1/vms/{name}/backups', '/v1/vms/restore', '/v1/vms/{name}/backup-schedule'])
    assert.ok(paths.includes(p), `${p} in /openapi.json`);
  assert.equal((await d.req('PUT', '/v1/vms/nope/backup-schedule', { every: 60, keep: 1, dest })).status, 404);

  const put = await d.req('PUT', '/v1/vms/sv/backup-schedule', { every: '5s', keep: 2, dest });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.every, 5);
  await until('the first scheduled backup', () => finished(dest).length >= 1, 60_000);

  // The schedule is in the database: a new daemon goes on with it.
  await d.stop();
  await d.start();
  const got = await d.req('GET', '/v1/vms/sv/backup-schedule');
  assert.equal(got.status, 200, got.text);
  assert.match(got.body.lastResult, /^ok: full /);
  await until('four scheduled runs', async () => {
    const ev = (await d.req('GET', '/v1/vms/sv/events?limit=9999')).body as { reason: string }[];
    return ev.filter((e) => /backup .* finished/.test(e.reason)).length >= 4;
  }, 120_000);
  // Backups of a stopped VM are full: each is its own chain, and only the newest 2 stay.
  await until('pruning to 2', () => finished(dest).length === 2, 30_000);
  const ev = (await d.req('GET', '/v1/vms/sv/events?limit=9999')).body as { reason: string }[];
  assert.ok(ev.some((e) => /backup schedule pruned/.test(e.reason)));
  for (const b of finished(dest)) execFileSync('qemu-img', ['check', join(dest, b, 'disk0.qcow2')]);

  const metrics = (await d.req('GET', '/metrics')).text;
  assert.match(metrics, /virtkit_backup_duration_seconds_count\{kind="full",result="ok"\} [1-9]/);

  // The CLI: show, change, remove.
  const cli = (...a: string[]) =>
    execFileSync(process.execPath, [BIN, 'vm', ...a, '--state-dir', d.stateDir], { encoding: 'utf8' });
  assert.match(cli('backup-schedule', 'sv'), /every 5 s into .*sched, keep 2/);
  assert.match(cli('backup-schedule', 'sv', '--every', '1h', '--keep', '3', '--dest', dest), /every 3600 s/);
  assert.match(cli('backup-schedule', 'sv', '--remove'), /removed/);
  assert.equal((await d.req('GET', '/v1/vms/sv/backup-schedule')).status, 404);

  // A manual backup of the stopped VM and a restore into a new VM, through the CLI.
  const out = cli('backup', 'sv', join(d.root, 'manual'));
  assert.match(out, /backup .* \(full: no previous backup of this VM in dest\) done/);
  const dir = /backup (\S+) /.exec(out)![1]!;
  assert.match(cli('restore', dir, '--name', 'sv2'), /restored sv2 .*: stopped/);
  // The offline backup point's snapshot is gone from the VM's disk again.
  assert.doesNotMatch(execFileSync('qemu-img', ['snapshot', '-l', c.body.disks[0].path], { encoding: 'utf8' }), /backup-/);
});
