/**
 * CPU benchmark: builds the bare-metal programs in bench/cpu (int.c: sorting, CRC, hash table of
 * linked lists, bytecode interpreter, integer matrices; fp.c: n-body, double matrices, Newton
 * iterations) with riscv64-linux-gnu-gcc -O2, runs each on virtkit's bare-metal board in this
 * process and on `qemu-system-riscv64 -M virt -bios none -nographic -kernel` in the same run, and
 * prints guest instructions, wall seconds, MIPS and the wall-time ratio virtkit / QEMU.
 *
 *   node --import tsx bench/cpu/run.ts [--scale N] [--only int|fp] [--no-qemu] [--tier interp,js,wasm]
 *
 * --tier runs each program once per listed tier (`Hart.tier`; default: the default tier), in
 * this process, in the order given (earlier runs leave V8's interpreter loop optimized).
 *
 * virtkit time covers guest execution only (not Node start-up or ELF loading). QEMU's time is
 * the whole process; its start-up cost (an empty program, measured here too) is subtracted for
 * the "compute" ratio and shown separately.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BareMetalMachine } from '../../src/machine/baremetal.ts';
import { TIERS, type Tier } from '../../src/riscv/tier.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const GCC = 'riscv64-linux-gnu-gcc';
const QEMU = 'qemu-system-riscv64';
const CFLAGS = [
  '-O2',
  '-march=rv64gc',
  '-mabi=lp64d',
  '-mcmodel=medany',
  '-ffreestanding',
  '-fno-builtin',
  '-fno-math-errno',
  '-nostdlib',
  '-nostartfiles',
  '-static',
  '-fno-pie',
  '-no-pie',
  '-Wl,--build-id=none',
  '-Wl,--no-warn-rwx-segments',
];

interface Program {
  name: string;
  source: string;
  /** Work per unit of --scale (passed as -DROUNDS). */
  rounds: number;
}
// int: 24 rounds (~367 M instructions, ~1.5 s): with 8 (~122 M, ~0.5 s of guest time) the figure
// mostly measured V8's one-off optimization of the interpreter loop (~0.5 s of compiler-thread
// CPU), and swung by 50% with whether the machine's other core was free (BENCHMARKS.md, "CPU").
const PROGRAMS: Program[] = [
  { name: 'int', source: 'int.c', rounds: 24 },
  { name: 'fp', source: 'fp.c', rounds: 3 },
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function fail(msg: string): never {
  console.error(`bench/cpu: ${msg}`);
  process.exit(2);
}

function build(dir: string, name: string, sources: string[], defines: string[]): string {
  const out = join(dir, `${name}.elf`);
  const r = spawnSync(
    GCC,
    [...CFLAGS, ...defines, '-T', join(here, 'link.ld'), '-o', out, ...sources.map((s) => join(here, s))],
    { encoding: 'utf8' },
  );
  if (r.error) fail(`${GCC} not found: install gcc-riscv64-linux-gnu`);
  if (r.status !== 0) fail(`building ${name} failed:\n${r.stderr}`);
  return out;
}

function runVirtkit(
  elf: string,
  tier: Tier | undefined,
): { seconds: number; cpuSeconds: number; instructions: number } {
  const m = new BareMetalMachine({ memory: 64 << 20 });
  if (tier !== undefined) m.hart.tier = tier;
  m.load(new Uint8Array(readFileSync(elf)));
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = m.run({ maxInstructions: 50e9 });
  const seconds = (performance.now() - t0) / 1000;
  // CPU time of the whole process (includes V8's compiler threads): on a shared machine it moves
  // far less than wall time with other users' load.
  const c = process.cpuUsage(c0);
  const cpuSeconds = (c.user + c.system) / 1e6;
  if (r.kind !== 'pass') fail(`${elf} did not pass on virtkit: ${JSON.stringify(r, (_k, v) => String(v))}`);
  return { seconds, cpuSeconds, instructions: m.instructions };
}

function runQemu(elf: string): number {
  const t0 = performance.now();
  const r = spawnSync(QEMU, ['-M', 'virt', '-bios', 'none', '-nographic', '-kernel', elf], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 600_000,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (r.error) fail(`${QEMU} could not run: ${r.error.message}`);
  if (r.status !== 0) fail(`${elf} did not pass on QEMU (exit ${r.status})`);
  return seconds;
}

const scale = Number(arg('--scale') ?? '1');
if (!Number.isFinite(scale) || scale <= 0) fail('--scale must be a positive number');
const only = arg('--only');
const withQemu = !process.argv.includes('--no-qemu');
const tierArg = arg('--tier');
const tiers: (Tier | undefined)[] = tierArg === undefined ? [undefined] : (tierArg.split(',') as Tier[]);
for (const t of tiers)
  if (t !== undefined && !TIERS.includes(t)) fail(`--tier: unknown tier '${t}' (${TIERS.join(', ')})`);
const dir = mkdtempSync(join(tmpdir(), 'virtkit-bench-cpu-'));
try {
  let qemuStartup = 0;
  if (withQemu) {
    // An empty program (main returns 0 at once): QEMU's process start-up and teardown.
    const empty = build(dir, 'empty', ['start.S', 'lib.c', 'empty.c'], []);
    qemuStartup = Math.min(runQemu(empty), runQemu(empty));
    console.log(`QEMU start-up (empty program): ${qemuStartup.toFixed(3)} s`);
  }
  console.log(
    `${'program'.padEnd(12)} ${'instructions'.padStart(13)} ${'virtkit s'.padStart(10)} ${'MIPS'.padStart(7)}` +
      ` ${'cpu s'.padStart(7)} ${'cpu MIPS'.padStart(9)}` +
      (withQemu ? ` ${'qemu s'.padStart(8)} ${'ratio'.padStart(8)} ${'compute ratio'.padStart(14)}` : ''),
  );
  for (const p of PROGRAMS) {
    if (only && p.name !== only) continue;
    const rounds = Math.max(1, Math.round(p.rounds * scale));
    const elf = build(dir, p.name, ['start.S', p.source, 'lib.c'], [`-DROUNDS=${rounds}`]);
    const q = withQemu ? runQemu(elf) : 0;
    for (const tier of tiers) {
      const v = runVirtkit(elf, tier);
      const name = tier ? `${p.name}/${tier}` : p.name;
      let line =
        `${name.padEnd(12)} ${String(v.instructions).padStart(13)} ${v.seconds.toFixed(2).padStart(10)} ` +
        `${(v.instructions / v.seconds / 1e6).toFixed(1).padStart(7)} ` +
        `${v.cpuSeconds.toFixed(2).padStart(7)} ${(v.instructions / v.cpuSeconds / 1e6).toFixed(1).padStart(9)}`;
      if (withQemu) {
        const compute = Math.max(q - qemuStartup, 0.001);
        line += ` ${q.toFixed(3).padStart(8)} ${(v.seconds / q).toFixed(1).padStart(8)} ${(v.seconds / compute).toFixed(1).padStart(14)}`;
      }
      console.log(line);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
