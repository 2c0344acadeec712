/**
 * Runs a bare-metal ELF (e.g. one built by bench/cpu/run.ts, or a riscv-tests program) several
 * times in one process and prints CPU-time MIPS per run. The first run includes V8's tier-up of
 * the interpreter loop; later runs show the steady state. CPU time (process.cpuUsage) is less
 * sensitive than wall time to other jobs on a shared machine.
 *
 *   node --import tsx bench/cpu-repr/elf-mips.ts program.elf [runs]
 */
import { readFileSync } from 'node:fs';
import { BareMetalMachine } from '../../src/machine/baremetal.ts';

const path = process.argv[2];
if (!path) {
  console.error('usage: elf-mips.ts program.elf [runs]');
  process.exit(2);
}
const elf = readFileSync(path);
const runs = Number(process.argv[3] ?? 3);
for (let k = 0; k < runs; k++) {
  const m = new BareMetalMachine({ memory: 64 << 20 });
  m.load(elf);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = m.run({ maxInstructions: 4e9 });
  const c = process.cpuUsage(c0);
  const cpuMs = (c.user + c.system) / 1000;
  const n = m.hart.instret;
  console.log(
    `run ${k + 1}: ${r.kind}, ${n} instructions, ${(n / cpuMs / 1000).toFixed(1)} MIPS (CPU), ` +
      `${(n / (performance.now() - t0) / 1000).toFixed(1)} MIPS (wall)`,
  );
}
