/**
 * `virtkit vm` verbs that need no running VM, through bin/virtkit against a real daemon:
 * create with disks and NICs, info, OVA export and import, full and linked clones, disk
 * snapshots of a stopped VM, the daemon's refusals as one-line errors with their statuses,
 * and delete.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, TestDaemon } from './harness.ts';

const d = new TestDaemon();
before(() => d.start());
after(() => d.cleanup());

function vm(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'vm', '--state-dir', d.stateDir, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await vm(...args);
  assert.equal(r.status, 0, `vm ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('create, export, import, clone, snapshot and delete stopped VMs through the CLI', async () => {
  assert.match(
    await ok(
      'create',
      'base',
      '--cpus',
      '2',
      '--memory',
      '256M',
      '--disk',
      'size=16M',
      '--net',
      'user,hostfwd=tcp::18422-:22',
    ),
    /^created base \([0-9a-f]+\): 2 CPU, 256 MiB/,
  );
  const info = JSON.parse(await ok('info', 'base', '-o', 'json'));
  assert.equal(info.state, 'stopped');
  assert.equal(info.disks.length, 1);
  assert.equal(info.disks[0].owned, true);
  assert.deepEqual(info.nics, [{ hostfwd: ['tcp::18422-:22'] }]);
  assert.match(await ok('info', 'base'), /^ {2}0: user, hostfwd tcp::18422-:22$/m);

  // The daemon's refusals: a taken name (409, exit 1), a missing file (422, exit 2), no such VM (404, exit 2).
  const taken = await vm('create', 'base');
  assert.equal(taken.status, 1);
  assert.equal(taken.stderr.trim().split('\n').length, 1);
  assert.match(taken.stderr, /^virtkit vm: .*base/);
  const missing = await vm('create', 'other', '--disk', join(d.root, 'no-such.img'));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no-such\.img/);
  const none = await vm('start', 'nosuch');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /nosuch/);

  // OVA export and import.
  const ova = join(d.root, 'base.ova');
  assert.match(await ok('export', 'base', ova), new RegExp(`^exported base to ${ova} \\(.+\\)\\n$`));
  assert.ok(statSync(ova).size > 0);
  const again = await vm('export', 'base', ova);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /never overwrites/);
  assert.match(await ok('import', ova, '--name', 'imported'), /^imported .* as imported: 2 CPU, 256 MiB, 1 disk\(s\)/);

  // Clones: full (a copy) and linked (an overlay whose backing file is base's disk).
  await ok('clone', 'base', 'full-copy', '--full');
  await ok('clone', 'base', 'linked-copy');
  const linked = JSON.parse(await ok('info', 'linked-copy', '-o', 'json'));
  assert.equal(linked.disks[0].backing, info.disks[0].path);
  const full = JSON.parse(await ok('info', 'full-copy', '-o', 'json'));
  assert.equal(full.disks[0].backing, undefined);

  // Disk snapshots of a stopped VM.
  assert.equal(await ok('snapshot', 'create', 'full-copy', 's0'), 'full-copy: snapshot s0 created\n');
  assert.match(await ok('snapshot', 'list', 'full-copy'), /^NAME +CREATED +RAM\ns0 +\S+ +no\n$/);
  assert.equal(await ok('snapshot', 'revert', 'full-copy', 's0'), 'full-copy: reverted to s0, stopped\n');
  assert.equal(await ok('snapshot', 'delete', 'full-copy', 's0'), 'full-copy: snapshot s0 deleted\n');
  assert.deepEqual(JSON.parse(await ok('snapshot', 'list', 'full-copy', '-o', 'json')), []);

  // A VM with linked clones cannot go first; in order, everything goes, owned disks too.
  const early = await vm('delete', 'base');
  assert.equal(early.status, 1);
  assert.match(early.stderr, /linked clones \(linked-copy\)/);
  assert.equal(
    await ok('delete', 'linked-copy', 'base', 'full-copy', 'imported'),
    'deleted linked-copy\ndeleted base\ndeleted full-copy\ndeleted imported\n',
  );
  assert.ok(!existsSync(info.disks[0].path));
  assert.deepEqual(JSON.parse(await ok('list', '-o', 'json')), []);
});

test('over TCP (--url): no token is 401 with where to find it; --token and $VIRTKIT_TOKEN work', async () => {
  const t = new TestDaemon();
  try {
    await t.start(['--listen', '127.0.0.1:0']);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(t.log)![1]!;
    const run = (args: string[], env: Record<string, string> = {}) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, 'vm', ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, VIRTKIT_TOKEN: '', ...env },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c));
        child.stderr.on('data', (c: Buffer) => (stderr += c));
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    const anon = await run(['list', '--url', url]);
    assert.equal(anon.status, 1);
    assert.equal(anon.stderr.trim().split('\n').length, 1);
    assert.match(anon.stderr, /--token or \$VIRTKIT_TOKEN: it is in STATE_DIR\/token/);
    const wrong = await run(['list', '--url', url, '--token', 'not-the-token']);
    assert.equal(wrong.status, 1);
    const byFlag = await run(['create', 'tcp-vm', '--url', url, '--token', t.token()]);
    assert.equal(byFlag.status, 0, byFlag.stderr);
    const byEnv = await run(['list', '--url', url, '-o', 'json'], { VIRTKIT_TOKEN: t.token() });
    assert.equal(byEnv.status, 0, byEnv.stderr);
    assert.deepEqual(
      JSON.parse(byEnv.stdout).map((v: { name: string }) => v.name),
      ['tcp-vm'],
    );
  } finally {
    await t.cleanup();
  }
});
