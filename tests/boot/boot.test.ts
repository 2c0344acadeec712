/**
 * The default Debian guest boots to a shell through the public CLI, answers piped commands,
 * reads a disk the test wrote and writes one the test reads, and powers off with status 0.
 * The same kernel boots under OpenSBI (Debian's fw_jump) with two harts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGuest, virtkit } from '../support/virtkit.ts';

const OPENSBI = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin';

test('default guest: uname, cpuinfo, virtio-blk both ways, poweroff exits 0', { timeout: 900_000 }, async () => {
  ensureGuest();
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-boot-'));
  try {
    const disk = join(dir, 'disk.raw');
    const img = new Uint8Array(8 * 1024 * 1024);
    img.set(new TextEncoder().encode('HOST-WROTE-THIS-SECTOR'), 0);
    writeFileSync(disk, img);
    const script = [
      'echo "@@M $(uname -m)"',
      'echo "@@C $(grep -c ^processor /proc/cpuinfo)"',
      // U-mode reads the time CSR (the vDSO's clock_gettime): needs scounteren as firmware leaves it.
      'echo "@@T $( (time true) 2>&1 | grep -c real)"',
      'echo "@@D $(head -c 22 /dev/vda)"',
      'printf GUEST-WROTE-THIS > /tmp/g && dd if=/tmp/g of=/dev/vda bs=512 seek=8 conv=fsync 2>/dev/null && echo "@@W done"',
      'poweroff -f',
      '',
    ].join('\n');
    const r = await virtkit(['run', '--disk', `${disk},format=raw`, '--memory', '256M'], script);
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal}\n${r.stderr}\n${r.stdout.slice(-3000)}`);
    assert.match(r.stdout, /@@M riscv64/);
    assert.match(r.stdout, /@@C 1\b/);
    assert.match(r.stdout, /@@T 1\b/);
    assert.match(r.stdout, /@@D HOST-WROTE-THIS-SECTOR/);
    assert.match(r.stdout, /@@W done/);
    assert.doesNotMatch(r.stdout, /udhcpc|DHCP/, 'no NIC: the boot does not try DHCP');
    const back = readFileSync(disk);
    assert.equal(back.subarray(4096, 4096 + 16).toString(), 'GUEST-WROTE-THIS');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the same kernel boots under OpenSBI fw_jump with --cpus 2', { timeout: 900_000 }, async () => {
  ensureGuest();
  assert.ok(existsSync(OPENSBI), `${OPENSBI} is missing: apt-get install opensbi`);
  const { loadGuest } = await import('../../src/host/node/guest/debian-guest.ts');
  const g = (await loadGuest())!;
  // The output loop keeps UART interrupts pending while the harts exchange IPIs through OpenSBI:
  // that once latched SEIP in mip (csrs read back the PLIC level) and hung the guest at poweroff.
  const script = [
    'echo "@@C $(grep -c ^processor /proc/cpuinfo)"',
    'i=0; while [ $i -lt 600 ]; do echo "line $i"; i=$((i+1)); done; echo "@@L $i"',
    'poweroff -f',
    '',
  ].join('\n');
  const r = await virtkit(
    ['run', '--firmware', OPENSBI, '--kernel', g.kernel, '--initrd', g.initrd, '--cpus', '2', '--memory', '256M'],
    script,
  );
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal}\n${r.stderr}\n${r.stdout.slice(-3000)}`);
  assert.match(r.stdout, /OpenSBI/);
  assert.match(r.stdout, /@@C 2\b/);
  assert.match(r.stdout, /@@L 600\b/);
});
