import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  configureScript,
  CORE_PACKAGES,
  stage2Script,
  STAGE_DIR,
  systemFiles,
  type SystemConfig,
} from './debian-system-scripts.ts';

const config: SystemConfig = {
  hostname: 'box',
  rootUuid: '0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0',
  user: 'alice',
  sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyKeyKey alice@host'],
};
const base = [
  'base-passwd_3.6.7_riscv64.deb',
  'base-files_13.8_riscv64.deb',
  'dpkg_1.22_riscv64.deb',
  'libc6_2.41_riscv64.deb',
  'mawk_1.3_riscv64.deb',
  'coreutils_9.7_riscv64.deb',
];
const rest = ['openssh-server_1%3a10.0_riscv64.deb', 'systemd_257_riscv64.deb'];

/** dash -n: the script parses (what the guest's /bin/sh will run). */
function parses(script: string): void {
  const r = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

test('the configure script parses, installs the core in debootstrap order, then the rest', () => {
  const s = configureScript(config, base, rest);
  parses(s);
  const order = CORE_PACKAGES.map((p) => s.indexOf(`$D/${p}_`)).filter((i) => i >= 0);
  assert.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
    'core packages in order',
  );
  assert.ok(s.indexOf('$D/coreutils_') > s.indexOf('phase unpack-required'));
  assert.ok(s.indexOf('$D/systemd_') > s.indexOf('unpack-rest'));
  assert.match(s, /# perl-base: not in this release/);
  assert.match(s, /useradd --create-home --shell \/bin\/bash --groups sudo 'alice'/);
  assert.match(s, /ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyKeyKey alice@host/);
  assert.match(s, /shred -u \/virtkit-stage2\/credentials/);
  // Each VM gets its own identity: no machine id, no SSH host keys in the image.
  assert.match(s, /rm -f \/etc\/ssh\/ssh_host_\*/);
  assert.match(s, /: > \/etc\/machine-id/);
});

test('no SSH keys: nothing written to authorized_keys', () => {
  const s = configureScript({ ...config, sshKeys: [] }, base, rest);
  parses(s);
  assert.doesNotMatch(s, /authorized_keys/);
});

test('the stage-2 script parses and reports its status last', () => {
  const s = stage2Script();
  parses(s);
  assert.match(s, new RegExp(`chroot \\$R /bin/sh /${STAGE_DIR}/configure.sh`));
  assert.match(s.trim().split('\n').at(-1)!, /VIRTKIT_STAGE2_RESULT rc=\$rc/);
});

test('system files: fstab and extlinux name the root by UUID, no device tree from the disk', () => {
  const f = systemFiles(config);
  assert.match(f['etc/fstab']!, /^UUID=0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\t\/\text4/m);
  assert.match(f['etc/default/u-boot']!, /U_BOOT_ROOT="root=UUID=0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"/);
  assert.match(f['etc/default/u-boot']!, /console=ttyS0/);
  assert.match(f['etc/hostname']!, /^box\n$/);
  assert.match(f['etc/systemd/network/80-dhcp.network']!, /DHCP=yes/);
  // No file carries a password.
  for (const text of Object.values(f)) assert.doesNotMatch(text, /password/i);
});
