/**
 * Boot benchmark: wall time from process start to the first shell prompt and to power-off, for
 * virtkit and for qemu-system-riscv64 -M virt (TCG) booting the same kernel and initramfs in the
 * same run, on the same machine. Prints both and the ratio virtkit/QEMU, plus virtkit's guest
 * instruction count, MIPS and peak RSS.
 *
 *   node --import tsx bench/boot/run.ts [--runs N] [--memory 512M] [--cpus 1] [--tier js,wasm]
 *
 * --tier boots virtkit once per listed tier (`virtkit run --tier`) in each run, after QEMU.
 * Process CPU time of each virtkit boot (user + system, children included) is printed too.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadGuest, fetchDefaultGuest } from '../../src/host/node/guest/debian-guest.ts';

const VIRTKIT = fileURLToPath(new URL('../../bin/virtkit', import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const runs = Number(opt('--runs', '1'));
const memory = opt('--memory', '512M');
const cpus = opt('--cpus', '1');
const tiers = args.includes('--tier') ? opt('--tier', '').split(',') : [undefined];
const PROMPT = /virtkit:\/# /;

interface Timing {
  prompt: number;
  exit: number;
  stderr: string;
}

/** Starts cmd, waits for the prompt, types poweroff, waits for exit; times both from spawn. */
function timeBoot(cmd: string, argv: string[]): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let prompt = 0;
    child.stdout.on('data', (d) => {
      out += d;
      if (!prompt && PROMPT.test(out)) {
        prompt = performance.now() - t0;
        child.stdin.write('poweroff -f\n');
      }
    });
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 1_800_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (!prompt) reject(new Error(`${cmd} exited (${code}) before a prompt:\n${err}\n${out.slice(-2000)}`));
      else resolve({ prompt, exit: performance.now() - t0, stderr: err });
    });
  });
}

/**
 * CPU seconds of this process's waited-for children (cutime + cstime of /proc/self/stat, in clock
 * ticks of 1/100 s on Linux): QEMU's boots and virtkit's, told apart by differences.
 */
function childCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return NaN;
  }
}

const g = (await loadGuest()) ?? (await fetchDefaultGuest({ progress: (m) => console.error(m) }));
const append = 'console=ttyS0';
let childCpu0 = childCpuSeconds();
for (let r = 0; r < runs; r++) {
  const q = await timeBoot('qemu-system-riscv64', [
    '-M',
    'virt',
    '-m',
    memory,
    '-smp',
    cpus,
    '-nographic',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-kernel',
    g.kernel,
    '-initrd',
    g.initrd,
    '-append',
    append,
  ]);
  childCpu0 = childCpuSeconds(); // QEMU's CPU is not virtkit's
  for (const tier of tiers) {
    const v = await timeBoot(process.execPath, [
      VIRTKIT,
      'run',
      ...(tier ? ['--tier', tier] : []),
      '--memory',
      memory,
      '--cpus',
      cpus,
      '--kernel',
      g.kernel,
      '--initrd',
      g.initrd,
      '--append',
      append,
      '--stats',
    ]);
    const cpu = childCpuSeconds() - childCpu0;
    childCpu0 += cpu;
    const tag = tier ? ` [${tier}]` : '';
    const stats = /(\d+) instructions in ([\d.]+) s \(([\d.]+) MIPS\), peak RSS (\d+) MiB/.exec(v.stderr);
    const s = (ms: number) => (ms / 1000).toFixed(2);
    console.log(
      `run ${r + 1}${tag}: boot to prompt  virtkit ${s(v.prompt)} s  qemu ${s(q.prompt)} s  ratio ${(v.prompt / q.prompt).toFixed(1)}  virtkit CPU ${cpu.toFixed(2)} s  load average ${loadavg()[0]!.toFixed(2)}`,
    );
    console.log(
      `run ${r + 1}${tag}: to power-off    virtkit ${s(v.exit)} s  qemu ${s(q.exit)} s  ratio ${(v.exit / q.exit).toFixed(1)}`,
    );
    const wasm = /wasm tier: .*/.exec(v.stderr);
    if (wasm) console.log(`run ${r + 1}${tag}: virtkit ${wasm[0]}`);
    if (stats)
      console.log(
        `run ${r + 1}${tag}: virtkit guest instructions ${stats[1]}, ${stats[3]} MIPS, peak RSS ${stats[4]} MiB (--memory ${memory})`,
      );
  }
}
