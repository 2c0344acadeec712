/**
 * Interactive guest sessions for the network integration tests: boots the default guest through
 * bin/virtkit with --net options, types commands once the shell is up, and waits for markers.
 *
 * The guest boots under OpenSBI (as qemu-system-riscv64 -kernel does). Its init script asks for
 * a DHCP lease on each NIC before the shell starts (src/host/node/guest/debian-guest.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { ensureGuest, ROOT, VIRTKIT } from '../support/virtkit.ts';

export const OPENSBI = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin';

/** The default guest's kernel and initramfs (fetched if missing). */
export async function guestFiles(): Promise<{ kernel: string; initrd: string }> {
  ensureGuest();
  const { loadGuest } = await import('../../src/host/node/guest/debian-guest.ts');
  const g = (await loadGuest())!;
  return { kernel: g.kernel, initrd: g.initrd };
}

export class GuestSession {
  readonly child: ChildProcess;
  out = '';
  err = '';
  private seq = 0;
  readonly exited: Promise<number | null>;

  constructor(args: string[], files: { kernel: string; initrd: string }) {
    if (!existsSync(OPENSBI)) throw new Error(`${OPENSBI} is missing: apt-get install opensbi`);
    const full = ['run', '--firmware', OPENSBI, '--kernel', files.kernel, '--initrd', files.initrd, '--memory', '256M'];
    this.child = spawn(process.execPath, [VIRTKIT, ...full, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    // VIRTKIT_NET_LOG=FILE copies the console to FILE as it arrives (to see where a stuck test is).
    const log = process.env.VIRTKIT_NET_LOG;
    this.child.stdout!.on('data', (d) => {
      this.out += d;
      if (log) appendFileSync(log, d);
    });
    this.child.stderr!.on('data', (d) => (this.err += d));
    this.child.stdin!.on('error', () => {});
    this.exited = new Promise((r) => this.child.on('close', (code) => r(code)));
  }

  /** Waits until `re` matches the output (after `from`); returns the match. */
  async waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.out.slice(from));
      if (m) return m;
      if (this.child.exitCode !== null)
        throw new Error(`virtkit exited (${this.child.exitCode}) waiting for ${re}\n${this.tail()}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Types a command and returns its output (up to a marker the shell prints when it is done). */
  async run(cmd: string, timeoutMs = 300_000): Promise<string> {
    const n = ++this.seq;
    const from = this.out.length;
    // The marker is computed by the shell, so the echoed command line does not match it.
    this.child.stdin!.write(`${cmd}; echo "@@END$((${n}*1))@@"\n`);
    const m = await this.waitFor(new RegExp(`@@END${n}@@`), timeoutMs, from);
    return this.out.slice(from, from + m.index);
  }

  tail(): string {
    return `--- stderr\n${this.err.slice(-2000)}\n--- stdout\n${this.out.slice(-4000)}`;
  }

  async poweroff(): Promise<number | null> {
    this.child.stdin!.write('poweroff -f\n');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 120_000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
