/**
 * The cloud-init NoCloud seed through a real daemon: `virtkit vm create --template T --hostname
 * --ssh-key --password` gives the VM a read-only raw disk with a FAT file system labelled CIDATA
 * (fsck.vfat from dosfstools finds no fault), and the default guest mounts it (vfat) and reads
 * meta-data (instance-id = the VM's id, local-hostname) and user-data (#cloud-config). The default
 * guest has no cloud-init: that a cloud image configures itself from it is not shown here.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, TestDaemon, guestShell } from './harness.ts';

const d = new TestDaemon();
before(() => d.start());
after(() => d.cleanup());

test('vm create --template with --hostname/--ssh-key/--password attaches a CIDATA seed the guest can read', async () => {
  assert.equal((await d.req('POST', '/v1/vms', { name: 'base', memory: 128, disks: [{ size: 4 }] })).status, 201);
  assert.equal((await d.req('POST', '/v1/templates', { name: 'tpl', from: 'base' })).status, 201);
  const key = join(d.root, 'id.pub');
  writeFileSync(key, '# a comment\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBackupTestKey user@host\n');
  const cli = (...a: string[]) =>
    execFileSync(process.execPath, [BIN, 'vm', ...a, '--state-dir', d.stateDir], { encoding: 'utf8' });
  cli('create', 'ci', '--template', 'tpl', '--hostname', 'web-1', '--ssh-key', key, '--password', 'pw 1', '--memory', '128');
  const vm = (await d.req('GET', '/v1/vms/ci')).body;
  const seed = vm.disks.at(-1);
  assert.equal(vm.disks.length, 2);
  assert.deepEqual({ format: seed.format, readonly: seed.readonly, owned: seed.owned }, { format: 'raw', readonly: true, owned: true });
  const fsck = execFileSync('fsck.vfat', ['-n', '-l', seed.path], { encoding: 'utf8' });
  assert.match(fsck, /\/meta-data/);
  assert.match(fsck, /\/user-data/);
  assert.equal(execFileSync('fatlabel', [seed.path], { encoding: 'utf8' }).trim(), 'CIDATA');

  // Bad values are 400 before anything is made.
  for (const extra of [{ hostname: 'bad_host!' }, { sshKeys: ['not a\nkey'] }, { password: '' }]) {
    const r = await d.req('POST', '/v1/vms', { name: 'nope', template: 'tpl', ...extra });
    assert.equal(r.status, 400, `${JSON.stringify(extra)}: ${r.text}`);
  }

  assert.equal((await d.req('POST', '/v1/vms/ci/start')).status, 200);
  const out = await guestShell(
    d,
    'ci',
    // The guest may name the disks in either order; cloud-init looks for the label, not a name.
    'for v in /dev/vd?; do mount -t vfat -o ro $v /mnt 2>/dev/null && echo "seed=$v" && break; done; cat /mnt/meta-data /mnt/user-data; echo done-$((8*8))',
    /done-64/,
  );
  assert.match(out, /seed=\/dev\/vd[ab]/);
  assert.match(out, new RegExp(`instance-id: "${vm.id}"`));
  assert.match(out, /local-hostname: "web-1"/);
  assert.match(out, /#cloud-config/);
  assert.match(out, /- "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBackupTestKey user@host"/);
  assert.match(out, /password: "pw 1"/);
  assert.equal((await d.req('POST', '/v1/vms/ci/stop')).body.state, 'stopped');
});
