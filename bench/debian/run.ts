/**
 * Debian system benchmark: the full Debian guest (systemd) booted from its disk through Debian's
 * OpenSBI fw_jump.bin and U-Boot (S-mode), virtkit against qemu-system-riscv64 -M virt (TCG) on
 * the same image with the same firmware, in the same run on the same machine. Each boots a fresh
 * qcow2 overlay on the cached base image; the time is from spawn to the serial console's login
 * prompt. Also: the restore of a snapshot of the booted system to a usable shell, and the load
 * average and process CPU time (steadier than wall time on a shared machine).
 *
 *   node --import tsx bench/debian/run.ts [--runs N] [--memory 1G] [--skip-restore] [--image BASE.qcow2]
 *
 * Uses the test suite's Debian build (tests/support/debian.ts: built on first use, tens of
 * minutes) so the root password is known for the restore check; `--image` boots another
 * `guest fetch debian` base image instead (the restore check is then skipped).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTestDebian, loginRoot, SERIAL_LOGIN } from '../../tests/support/debian.ts';
import { ensureGuest, virtkit, VirtkitSession } from '../../tests/support/virtkit.ts';

const VIRTKIT = fileURLToPath(new URL('../../bin/virtkit', import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const runs = Number(opt('--runs', '1'));
const memory = opt('--memory', '1G');

interface Timing {
  login: number;
  /** User+system CPU seconds of the emulator process up to the login prompt (/proc/PID/stat). */
  cpu: number;
}

/** Spawns cmd, waits for the login prompt, then kills it; times from spawn. */
function timeToLogin(cmd: string, argv: string[], env: NodeJS.ProcessEnv): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    let login = 0;
    let cpu = NaN;
    child.stdout.on('data', (d) => {
      out = (out + d).slice(-100_000);
      if (!login && SERIAL_LOGIN.test(out)) {
        login = performance.now() - t0;
        cpu = cpuSeconds(child.pid!);
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (d) => (err = (err + d).slice(-20_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60 * 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (!login) reject(new Error(`${cmd} exited (${code}) before the login prompt:\n${err}\n${out.slice(-3000)}`));
      else resolve({ login, cpu });
    });
  });
}

/** utime + stime of a process in seconds (Linux: fields 14 and 15 of /proc/PID/stat, 100 ticks/s). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Boots, logs in, saves a snapshot on SIGTERM, then times the restore to a shell answering. */
async function restoreTime(disk: string, snap: string): Promise<number> {
  const boot = new VirtkitSession(['run', '--disk', disk, '--memory', memory, '--save-on-exit', snap], 60 * 60_000);
  await loginRoot(boot, 0);
  boot.kill('SIGTERM');
  const saved = await boot.result;
  if (saved.code !== 0) throw new Error(`save failed (${saved.code}): ${saved.stderr}`);
  const t0 = performance.now();
  const restored = new VirtkitSession(['run', '--restore', snap, '--disk', disk], 10 * 60_000);
  restored.send('\necho restored-$((6*7))\n');
  await restored.waitFor(/restored-42/);
  const ms = performance.now() - t0;
  restored.kill('SIGTERM');
  await restored.result;
  return ms;
}

ensureGuest();
const image = opt('--image', '');
const deb = image
  ? { base: image, cache: process.env.VIRTKIT_CACHE ?? join(process.env.HOME ?? '/', '.cache', 'virtkit'), env: {} }
  : ensureTestDebian();
const env = { ...process.env, ...deb.env };
const { loadFirmware, fetchFirmware } = await import('../../src/host/node/guest/firmware.ts');
process.env.VIRTKIT_CACHE = deb.cache;
const fw = (await loadFirmware()) ?? (await fetchFirmware({ progress: (m) => console.error(m) }));
const dir = mkdtempSync(join(tmpdir(), 'virtkit-bench-debian-'));
const s = (ms: number) => (ms / 1000).toFixed(1);
try {
  for (let r = 0; r < runs; r++) {
    const overlay = async (name: string) => {
      const p = join(dir, `${name}-${r}.qcow2`);
      const made = await virtkit(
        ['img', 'create', '-f', 'qcow2', '-b', deb.base, '-F', 'qcow2', p],
        '',
        60_000,
        deb.env,
      );
      if (made.code !== 0) throw new Error(made.stderr);
      return p;
    };
    const load0 = loadavg()[0]!.toFixed(2);
    const q = await timeToLogin(
      'qemu-system-riscv64',
      [
        '-M',
        'virt',
        '-m',
        memory,
        '-nographic',
        '-monitor',
        'none',
        '-serial',
        'stdio',
        '-bios',
        fw.fwJump,
        '-kernel',
        fw.uboot,
        '-drive',
        `file=${await overlay('qemu')},format=qcow2,if=virtio`,
      ],
      env,
    );
    const v = await timeToLogin(
      process.execPath,
      [VIRTKIT, 'run', '--memory', memory, '--disk', await overlay('virtkit')],
      env,
    );
    console.log(
      `run ${r + 1}: boot to login  virtkit ${s(v.login)} s (CPU ${v.cpu.toFixed(0)} s)  qemu ${s(q.login)} s (CPU ${q.cpu.toFixed(0)} s)  ratio ${(v.login / q.login).toFixed(2)} (CPU ratio ${(v.cpu / q.cpu).toFixed(2)})  load ${load0}`,
    );
  }
  if (!args.includes('--skip-restore') && !image) {
    const disk = join(dir, 'restore.qcow2');
    await virtkit(['img', 'create', '-f', 'qcow2', '-b', deb.base, '-F', 'qcow2', disk], '', 60_000, deb.env);
    const ms = await restoreTime(disk, join(dir, 'booted.snap'));
    console.log(`restore of a booted Debian snapshot to a usable shell: ${s(ms)} s`);
  }
  const info = JSON.parse(readFileSync(join(dirname(deb.base), 'system.json'), 'utf8'));
  console.log(
    `last build (guest fetch debian): download ${info.seconds.download.toFixed(0)} s, host unpack+mke2fs ${info.seconds.unpack.toFixed(0)} s, in-guest configuration ${info.seconds.configure.toFixed(0)} s (${(info.configureInstructions / 1e9).toFixed(0)} billion instructions), qcow2 ${info.seconds.convert.toFixed(0)} s`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
