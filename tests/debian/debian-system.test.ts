/**
 * The Debian system guest end to end, as a user runs it: `virtkit guest fetch debian` builds it
 * (once; cached between runs and shared with bench/debian), `virtkit run --disk` boots an overlay
 * on it through OpenSBI, U-Boot and extlinux.conf, and on the serial console the test logs in,
 * asks systemd whether the boot went well, writes a file that must survive a reboot, runs a
 * command over SSH through hostfwd with a key, installs a package with apt through the user-mode
 * NAT, saves a snapshot and restores it in a new process to a usable shell, and powers off.
 *
 * This is the slow part of CI (the build's in-guest configuration and each systemd boot take
 * minutes); every step has a bound, none a timing assertion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureGuest, virtkit, VirtkitSession } from '../support/virtkit.ts';
import { ensureTestDebian, expectWithin, freePort, loginRoot, ROOT_PROMPT, type TestDebian } from '../support/debian.ts';

const run = promisify(execFile);
/** Bounds: a boot step (firmware to systemd, or to the login prompt) and a shell command. */
const BOOT_MS = 30 * 60_000;
const STEP_MS = 20 * 60_000;

let seq = 0;
/** Runs a shell command on the console and returns what it printed (between two markers). */
async function sh(s: VirtkitSession, from: number, cmd: string, ms = STEP_MS): Promise<{ out: string; at: number }> {
  const tag = `vk${++seq}`;
  // The markers are built by the shell, so the echoed command line never matches them.
  s.send(`echo "@@${tag}""-begin"; ${cmd}; echo "@@${tag}-rc=$?"\n`);
  const start = await expectWithin(s, new RegExp(`@@${tag}-begin\\r?\\n`), from, 60_000);
  const end = await expectWithin(s, new RegExp(`@@${tag}-rc=\\d+`), start, ms);
  const text = s.stdout.slice(start, end);
  const rc = /@@\w+-rc=(\d+)$/.exec(text)![1];
  const out = text.replace(/@@\w+-rc=\d+$/, '').replace(/\r/g, '');
  assert.equal(rc, '0', `'${cmd}' failed (status ${rc}):\n${out}`);
  return { out, at: await expectWithin(s, ROOT_PROMPT, end, 60_000) };
}

test(
  'Debian system: boot from disk, login, systemd, reboot, ssh, apt, snapshot restore, poweroff',
  { timeout: 180 * 60_000 },
  async () => {
    ensureGuest();
    const deb: TestDebian = ensureTestDebian();
    const dir = mkdtempSync(join(tmpdir(), 'virtkit-debian-'));
    try {
      const disk = join(dir, 'vm.qcow2');
      const made = await virtkit(
        ['img', 'create', '-f', 'qcow2', '-b', deb.base, '-F', 'qcow2', disk],
        '',
        60_000,
        deb.env,
      );
      assert.equal(made.code, 0, made.stderr);
      const port = await freePort();
      const snap = join(dir, 'booted.snap');
      // The console goes to a log beside the test cache as it arrives: a CI run that stalls
      // leaves the place it stalled in a file (and the test's steps marked among it).
      const log = join(deb.cache, 'e2e-console.log');
      writeFileSync(log, '');
      console.log(`# console log: ${log}`);
      const s = new VirtkitSession(
        [
          'run',
          '--disk',
          disk,
          '--memory',
          '1G',
          '--net',
          `user,hostfwd=tcp:127.0.0.1:${port}-:22`,
          '--save-on-exit',
          snap,
        ],
        BOOT_MS * 3,
        log,
      );
      // The whole chain as a board boots: firmware, boot loader, the disk's kernel, systemd.
      let at = await expectWithin(s, /OpenSBI v\d/, 0, STEP_MS);
      at = await expectWithin(s, /U-Boot \d{4}\.\d+/, at, STEP_MS);
      at = await expectWithin(s, /extlinux\.conf/, at, STEP_MS);
      at = await expectWithin(s, /Linux version \d/, at, STEP_MS);
      at = await expectWithin(s, /systemd\[1\]|Welcome to Debian/, at, STEP_MS);
      s.mark('boot reached systemd; logging in');
      at = await loginRoot(s, at);
      s.mark('logged in');

      let r = await sh(s, at, 'systemctl is-system-running --wait || systemctl --failed --no-legend --plain');
      at = r.at;
      assert.match(r.out, /^running\s*$/m, `systemd did not reach 'running':\n${r.out}`);

      r = await sh(s, at, 'echo virtkit-persist-$((6*7)) > /root/persist.txt && sync && cat /root/persist.txt');
      at = r.at;
      assert.match(r.out, /virtkit-persist-42/);

      s.mark('ssh through hostfwd');
      // SSH from the host through hostfwd, with the key the image was built with.
      const ssh = await run(
        'ssh',
        [
          '-i',
          deb.key,
          '-p',
          String(port),
          '-o',
          'StrictHostKeyChecking=no',
          '-o',
          'UserKnownHostsFile=/dev/null',
          '-o',
          'BatchMode=yes',
          '-o',
          'ConnectTimeout=120',
          'root@127.0.0.1',
          'cat /root/persist.txt; id -un',
        ],
        { timeout: 10 * 60_000 },
      );
      assert.match(ssh.stdout, /virtkit-persist-42\nroot/);

      s.mark('apt');
      // apt through the user-mode NAT (DHCP from networkd, DNS from resolved).
      r = await sh(s, at, 'apt-get update -q >/dev/null && apt-get install -y -q tree >/dev/null && tree --version');
      at = r.at;
      assert.match(r.out, /tree v\d/);

      // The disk keeps what was written across a reboot.
      s.mark('reboot');
      s.send('reboot\n');
      at = await expectWithin(s, /reboot: Restarting system|U-Boot \d{4}/, at, STEP_MS);
      at = await loginRoot(s, at);
      r = await sh(s, at, 'cat /root/persist.txt; tree --version');
      at = r.at;
      assert.match(r.out, /virtkit-persist-42/);

      // A snapshot of the booted system (written on SIGTERM) restores in a new process.
      s.mark('SIGTERM: save the snapshot');
      s.kill('SIGTERM');
      const saved = await s.result;
      assert.equal(saved.code, 0, saved.stderr);
      const t0 = Date.now();
      const restored = new VirtkitSession(['run', '--restore', snap, '--disk', disk, '--net', 'user'], BOOT_MS, log);
      restored.mark('restored');
      restored.send('\necho restored-$((6*7))\n');
      const answered = await expectWithin(restored, /restored-42/, 0, STEP_MS);
      console.log(`# restore to a usable shell: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      await expectWithin(restored, ROOT_PROMPT, answered, 60_000);
      restored.send('poweroff\n');
      const off = await restored.result;
      assert.equal(off.code, 0, `poweroff: exit ${off.code}\n${off.stderr}`);
      assert.match(off.stdout, /reboot: Power down/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
