/**
 * A VM restored from a snapshot reboots from the boot files it was started with: they are read
 * again from their paths and checked against the size and SHA-256 the snapshot recorded. A file
 * that is gone or changed, or a snapshot from before the record existed, powers the VM off with
 * one line on stderr and exit status 3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGuest, GUEST_PROMPT, KERNEL_BANNER, virtkit, VirtkitSession } from '../support/virtkit.ts';
import { EXIT_CANNOT_REBOOT } from '../../src/cli/run-linux.ts';

/** Rewrites the JSON state of a VKSNAP v1 file (offset 12: u32 length, then the JSON at 16). */
function rewriteState(bytes: Uint8Array, edit: (state: { meta: { config: Record<string, unknown> } }) => void) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = dv.getUint32(12, true);
  const state = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + len)));
  edit(state);
  const json = new TextEncoder().encode(JSON.stringify(state));
  const out = new Uint8Array(16 + json.length + bytes.length - 16 - len);
  out.set(bytes.subarray(0, 16));
  new DataView(out.buffer).setUint32(12, json.length, true);
  out.set(json, 16);
  out.set(bytes.subarray(16 + len), 16 + json.length);
  return out;
}

/** Restores `snap`, asks the guest to reboot, and returns how the process ended. */
async function rebootAfterRestore(snap: string) {
  const s = new VirtkitSession(['run', '--restore', snap]);
  s.send('reboot -f\n');
  return s.end();
}

function assertCannotReboot(r: { code: number | null; stderr: string }, why: RegExp) {
  assert.equal(r.code, EXIT_CANNOT_REBOOT, `exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, why);
  assert.match(r.stderr, /the guest asked to reboot, but .*: powering off/);
  assert.equal(r.stderr.trim().split('\n').length, 1, `more than one line:\n${r.stderr}`);
}

test(
  'reboot after --restore reloads the boot files; gone or changed files stop it cleanly',
  { timeout: 900_000 },
  async () => {
    ensureGuest();
    const { loadGuest } = await import('../../src/host/node/guest/debian-guest.ts');
    const g = (await loadGuest())!;
    const dir = mkdtempSync(join(tmpdir(), 'virtkit-reboot-'));
    try {
      // Private copies, so the test can change and delete them.
      const kernel = join(dir, 'Image');
      const initrd = join(dir, 'initramfs.cpio');
      copyFileSync(g.kernel, kernel);
      copyFileSync(g.initrd, initrd);
      const snap = join(dir, 'vm.snap');
      const first = await virtkit(
        ['run', '--kernel', kernel, '--initrd', initrd, '--memory', '256M', '--save-on-exit', snap],
        'echo kept > /tmp/mark\n',
      );
      assert.equal(first.code, 0, `first run exit ${first.code}\n${first.stderr}\n${first.stdout.slice(-2000)}`);
      assert.match(first.stderr, /snapshot saved/);

      // The restored guest reboots into a fresh boot of the same files and carries on.
      const s = new VirtkitSession(['run', '--restore', snap]);
      s.send('echo "@@R $(cat /tmp/mark)"\n');
      let at = await s.waitFor(/@@R kept/);
      s.send('reboot -f\n');
      at = await s.waitFor(/Linux version \d/, at);
      at = await s.waitFor(GUEST_PROMPT, at);
      s.send('[ -e /tmp/mark ] && echo "@@S still" || echo "@@S fresh"\n');
      await s.waitFor(/@@S (still|fresh)\b/, at);
      s.send('poweroff -f\n');
      const second = await s.end();
      assert.equal(
        second.code,
        0,
        `exit ${second.code} ${second.signal}\n${second.stderr}\n${second.stdout.slice(-2000)}`,
      );
      assert.equal(second.stdout.match(KERNEL_BANNER)?.length, 1, 'only the reboot prints a banner');
      assert.match(second.stdout, /@@S fresh/, 'the reboot starts from a new initramfs');

      // A snapshot of a virtkit before boot records cannot reboot.
      const bytes = new Uint8Array(readFileSync(snap));
      const old = join(dir, 'old.snap');
      writeFileSync(
        old,
        rewriteState(bytes, (st) => {
          delete st.meta.config.boot;
          delete st.meta.config.version;
        }),
      );
      assertCannotReboot(await rebootAfterRestore(old), /records no boot files \(saved by an older virtkit/);

      // A configuration from a newer virtkit is refused up front.
      const future = join(dir, 'future.snap');
      writeFileSync(
        future,
        rewriteState(bytes, (st) => (st.meta.config.version = 99)),
      );
      const r = await virtkit(['run', '--restore', future], '', 60_000);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /snapshot configuration version 99 is not supported/);

      // Same size, other contents: the hash tells.
      const changed = new Uint8Array(readFileSync(initrd));
      changed[changed.length - 1]! ^= 0xff;
      writeFileSync(initrd, changed);
      assertCannotReboot(
        await rebootAfterRestore(snap),
        /the initrd .*initramfs\.cpio has changed since the snapshot was saved \(different contents\)/,
      );

      unlinkSync(kernel);
      assertCannotReboot(await rebootAfterRestore(snap), /the kernel .*Image is gone/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
