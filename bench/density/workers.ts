/**
 * The alternative process model of issue 12, measured: N VMs of the default guest as worker
 * threads of one Node.js process (one V8 isolate and heap per VM, but one process, one copy of
 * Node's own memory and one set of libraries), against one process per VM (bench/density/run.ts).
 * The worker code is bundled first with esbuild, as the shipped CLI is, so module loading costs
 * what it costs an installed virtkit.
 *
 *   node --import tsx bench/density/workers.ts [--vms 10] [--memory 128] [--idle 30]
 */
import { build } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { loadGuest } from '../../src/host/node/guest/debian-guest.ts';
import { processCpuTicks, processMemoryOfVms, ticksPerSecond } from './proc.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const vms = Number(opt('--vms', '10'));
const memoryMiB = Number(opt('--memory', '128'));
const idleSeconds = Number(opt('--idle', '30'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const guest = await loadGuest();
if (!guest) throw new Error("the default guest is not cached: run 'virtkit guest fetch'");
const dir = mkdtempSync(join(tmpdir(), 'vk-workers-'));
const entry = join(dir, 'vm-worker.mjs');
await build({
  entryPoints: [fileURLToPath(new URL('./vm-worker.ts', import.meta.url))],
  bundle: true,
  platform: 'node',
  format: 'esm',
  outfile: entry,
  logLevel: 'warning',
});
const kernel = new Uint8Array(readFileSync(guest.kernel));
const initrd = new Uint8Array(readFileSync(guest.initrd));
const base = processMemoryOfVms(process.pid, memoryMiB * 1024, 0).pssKiB;

const t0 = performance.now();
const workers: Worker[] = [];
await Promise.all(
  Array.from({ length: vms }, () => {
    const w = new Worker(entry, { workerData: { kernel, initrd, memoryMiB } });
    workers.push(w);
    return new Promise<void>((resolve, reject) => {
      w.on('message', (m: { prompt?: number; stopped?: string }) => {
        if (m.prompt !== undefined) resolve();
        if (m.stopped) reject(new Error(`a VM stopped: ${m.stopped}`));
      });
      w.once('error', reject);
    });
  }),
);
const boot = (performance.now() - t0) / 1000;
await sleep(5000);
const a = processCpuTicks(process.pid);
const t1 = performance.now();
await sleep(idleSeconds * 1000);
const cores = (processCpuTicks(process.pid) - a) / ticksPerSecond() / ((performance.now() - t1) / 1000);
const mem = processMemoryOfVms(process.pid, memoryMiB * 1024, vms);
const ramKiB = mem.guestRamRssKiB.reduce((s, x) => s + x, 0);
const perVm = (mem.pssKiB - base - ramKiB) / vms / 1024;
console.log(
  `workers  ${vms} VMs x ${memoryMiB} MiB in one process: all at prompt in ${boot.toFixed(1)} s (${(vms / boot).toFixed(2)} VMs/s); ` +
    `host MiB per VM beyond touched guest RAM: ${perVm.toFixed(1)} (process before the VMs: ${(base / 1024).toFixed(1)} MiB, not counted); ` +
    `guest RAM touched mean ${(ramKiB / vms / 1024).toFixed(1)} MiB; idle CPU of all ${vms}: ${cores.toFixed(3)} cores`,
);
for (const w of workers) await w.terminate();
rmSync(dir, { recursive: true, force: true });
