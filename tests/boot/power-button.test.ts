/**
 * The power button with the default guest: a press (virtio-input KEY_POWER) reaches busybox
 * acpid through Linux's virtio_input and evdev drivers, and the guest shuts down cleanly: the
 * shell is hung up, /init stops what runs, syncs and unmounts, and the kernel powers off.
 *
 * Once in process through VmSession (the API the manager's QMP system_powerdown calls), checking
 * the stop reason, and once through `virtkit run` on a terminal (a pty made by util-linux's
 * `script`), where Ctrl-A p presses the button and the process exits 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { GUEST_PROMPT, ROOT, VIRTKIT, ensureGuest } from '../support/virtkit.ts';
import { loadGuest } from '../../src/host/node/guest/debian-guest.ts';
import { VmSession } from '../../src/vmm/session.ts';
import { VM_SPEC_VERSION } from '../../src/vmm/vm-spec.ts';
import type { StopReason, VmHost } from '../../src/vmm/vm.ts';
import { nodeVmHost } from '../../src/host/node/vm-host.ts';

const host: VmHost = nodeVmHost;

/** What the guest prints on the way down, in order. */
const SHUTDOWN = [
  /virtkit guest: power button pressed: shutting down/,
  /shell exited: powering off/,
  /reboot: Power down/,
];

function inOrder(text: string, patterns: RegExp[]): void {
  let at = 0;
  for (const p of patterns) {
    const m = p.exec(text.slice(at));
    assert.ok(m, `${p} missing (in order) in:\n${text.slice(-2000)}`);
    at += m.index + m[0].length;
  }
}

test(
  'VmSession: the default guest powers off cleanly when its power button is pressed',
  { timeout: 900_000 },
  async () => {
    ensureGuest();
    const g = await loadGuest();
    assert.ok(g, 'the default guest is cached');
    const kernel = new Uint8Array(await readFile(g.kernel));
    const initrd = new Uint8Array(await readFile(g.initrd));
    let out = '';
    let finish!: (r: StopReason) => void;
    const stopped = new Promise<StopReason>((r) => (finish = r));
    let marker = -1;
    const s = VmSession.boot(
      {
        version: VM_SPEC_VERSION,
        memoryBytes: 256 << 20,
        cpus: 1,
        boot: { kernel, initrd },
        append: 'console=ttyS0',
        disks: [],
        nics: [],
      },
      host,
      {
        output: (b) => {
          out += new TextDecoder().decode(b);
          // The answer to the check below is in: press the button.
          if (marker < 0 && /@@ acpid (\d+) @@/.test(out)) {
            marker = out.length;
            assert.equal(s.pressPowerButton(), true);
          }
        },
        stopped: (r) => finish(r),
        firstPrompt: () => {
          // acpid runs and holds the button's event device open.
          s.input(new TextEncoder().encode('echo "@@ acpid $(pidof acpid) @@"; cat /sys/class/input/input0/name\n'));
        },
      },
    );
    s.start();
    const reason = await stopped;
    assert.deepEqual(reason, { kind: 'poweroff' }, out.slice(-2000));
    assert.ok(marker > 0, `the guest never answered at its prompt:\n${out.slice(-2000)}`);
    assert.match(out, /virtkit power button/);
    inOrder(out.slice(marker), SHUTDOWN);
    assert.doesNotMatch(out, /Kernel panic/);
    assert.equal(s.pressPowerButton(), false, 'a stopped VM has no button to press');
  },
);

test(
  'virtkit run: Ctrl-A p on the terminal powers the default guest off; the exit status is 0',
  { timeout: 900_000 },
  async () => {
    ensureGuest();
    // `script` gives virtkit a pty (Ctrl-A escapes are read only from a terminal) and passes our
    // pipe's bytes to it; -e returns virtkit's exit status.
    const cmd = `'${process.execPath}' '${VIRTKIT}' run --memory 256M`;
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    const kill = setTimeout(() => child.kill('SIGKILL'), 840_000);
    let out = '';
    let pressed = -1;
    child.stdout.on('data', (d) => {
      out += d;
      if (pressed < 0 && GUEST_PROMPT.test(out)) {
        pressed = out.length;
        child.stdin.write('\x01p');
      }
    });
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    clearTimeout(kill);
    assert.ok(pressed > 0, `no prompt:\n${out.slice(-2000)}`);
    assert.equal(code, 0, `exit ${code}\n${out.slice(-2000)}`);
    inOrder(out.slice(pressed), SHUTDOWN);
    assert.doesNotMatch(out, /virtkit: the guest has no driver/);
  },
);
