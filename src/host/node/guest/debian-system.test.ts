import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { checkSystemOptions, hostStageScript } from './debian-system.ts';
import { GuestFetchError } from './errors.ts';
import { checkPackageNames } from './debian-system-packages.ts';

test('bad build options are refused with the option named', () => {
  const bad: [Parameters<typeof checkSystemOptions>[0], RegExp][] = [
    [{ user: 'Root' }, /--user 'Root'/],
    [{ user: 'root' }, /--user 'root'/],
    [{ user: 'a b' }, /--user/],
    [{ hostname: 'bad_host' }, /--hostname/],
    [{ password: '' }, /--password/],
    [{ rootPassword: 'two\nlines' }, /--root-password/],
    [{ sshKeys: ['not a key'] }, /not an SSH public key/],
    [{ diskSize: 1024 * 1024 * 1024 }, /between 2 GiB/],
  ];
  for (const [opts, re] of bad)
    assert.throws(
      () => checkSystemOptions(opts),
      (e: Error) => e instanceof GuestFetchError && re.test(e.message),
    );
  checkSystemOptions({ user: 'dev-1', hostname: 'box-1', password: 'p:a s$s', sshKeys: ['ssh-ed25519 AAAA x@y'] });
});

test('package names that are not Debian names never reach apt', () => {
  assert.throws(() => checkPackageNames(['-o=Dir::Etc=/']), /not a Debian package name/);
  assert.throws(() => checkPackageNames(['foo;rm']), /not a Debian package name/);
  checkPackageNames(['tree', 'libc6', 'g++-14', '?priority(required)']);
});

test('the host stage script quotes paths and parses', () => {
  const s = hostStageScript({
    rootfs: "/tmp/it's/rootfs",
    staging: '/tmp/st',
    debs: ['/c/a b.deb'],
    raw: '/tmp/disk.raw',
    offset: 1048576,
    sizeKiB: 4096,
    uuid: '0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0',
  });
  assert.match(s, /'\/tmp\/it'\\''s\/rootfs'/);
  assert.match(s, /mke2fs .* -E offset=1048576,root_owner=0:0 -d /);
  assert.equal(spawnSync('sh', ['-n'], { input: s }).status, 0);
});
