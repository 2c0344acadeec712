/**
 * Density benchmark (issue 12): N VMs of the default guest under one virtkit daemon on this
 * machine, against N qemu-system-riscv64 (TCG) processes booting the same kernel and initramfs
 * with the same RAM, in the same run.
 *
 * Reports, for each side:
 *   start rate     VMs per second from the first start request until every guest is at its prompt
 *   host MiB/VM    what a VM process costs beyond the guest RAM it has touched: the process's
 *                  proportional set size (shared pages of the node/qemu binary split between
 *                  the processes) minus the resident size of the guest-RAM mapping
 *   idle CPU       the host CPU all N idle guests use together, in cores, over --idle seconds
 *
 *   node --import tsx bench/density/run.ts [--vms 50] [--memory 128] [--idle 30] [--no-qemu]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGuest } from '../../src/host/node/guest/debian-guest.ts';
import { ApiClient } from '../../src/manager/client/http.ts';
import { VmApi } from '../../src/manager/client/vms.ts';
import { pageSizeKiB, processCpuTicks, processMemory, ticksPerSecond } from './proc.ts';

const VIRTKIT = fileURLToPath(new URL('../../bin/virtkit', import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const vms = Number(opt('--vms', '50'));
const memoryMiB = Number(opt('--memory', '128'));
const idleSeconds = Number(opt('--idle', '30'));
const withQemu = !args.includes('--no-qemu');
const PROMPT = 'virtkit:/# ';

interface SideResult {
  side: string;
  bootSeconds: number;
  startRate: number;
  hostMiBPerVm: number[];
  guestTouchedMiB: number[];
  idleCores: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Waits until every log file holds the guest prompt; returns seconds since t0. */
async function waitForPrompts(logs: string[], t0: number, limitMs: number): Promise<number> {
  const done = new Set<number>();
  while (done.size < logs.length) {
    if (performance.now() - t0 > limitMs) throw new Error(`only ${done.size}/${logs.length} guests reached their prompt`);
    for (let i = 0; i < logs.length; i++) {
      if (done.has(i) || !existsSync(logs[i]!)) continue;
      if (readFileSync(logs[i]!, 'latin1').includes(PROMPT)) done.add(i);
    }
    await sleep(250);
  }
  return (performance.now() - t0) / 1000;
}

/** CPU all pids use over `seconds`, in cores. */
async function idleCores(pids: number[], seconds: number): Promise<number> {
  const sum = () => pids.reduce((s, p) => s + processCpuTicks(p), 0);
  const a = sum();
  const t = performance.now();
  await sleep(seconds * 1000);
  return (sum() - a) / ticksPerSecond() / ((performance.now() - t) / 1000);
}

function measure(side: string, pids: number[], bootSeconds: number, cores: number): SideResult {
  const mem = pids.map((p) => processMemory(p, memoryMiB * 1024));
  return {
    side,
    bootSeconds,
    startRate: pids.length / bootSeconds,
    hostMiBPerVm: mem.map((m) => (m.pssKiB - m.guestRamRssKiB) / 1024),
    guestTouchedMiB: mem.map((m) => m.guestRamRssKiB / 1024),
    idleCores: cores,
  };
}

async function runVirtkit(): Promise<SideResult> {
  const state = mkdtempSync(join(tmpdir(), 'vk-density-'));
  const daemon = spawn(process.execPath, [VIRTKIT, 'daemon', '--state-dir', state], { stdio: ['ignore', 'ignore', 'inherit'] });
  const api = new VmApi(new ApiClient({ kind: 'unix', socketPath: join(state, 'virtkit.sock') }));
  try {
    for (let i = 0; i < 100 && !existsSync(join(state, 'virtkit.sock')); i++) await sleep(100);
    const names = Array.from({ length: vms }, (_, i) => `d${i}`);
    for (const name of names) await api.create({ name, memory: memoryMiB });
    const t0 = performance.now();
    const started = await Promise.all(names.map((n) => api.power(n, 'start')));
    const logs = started.map((vm) => join(state, 'vms', vm.id, 'console.log'));
    const boot = await waitForPrompts(logs, t0, 3_600_000);
    await sleep(5000); // let the guests settle into idle
    const pids = (await Promise.all(names.map((n) => api.get(n)))).map((v) => v.pid!);
    const cores = await idleCores(pids, idleSeconds);
    const r = measure('virtkit', pids, boot, cores);
    for (const n of names) await api.remove(n, true);
    return r;
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    rmSync(state, { recursive: true, force: true });
  }
}

async function runQemu(): Promise<SideResult> {
  const guest = await loadGuest();
  if (!guest) throw new Error("the default guest is not cached: run 'virtkit guest fetch'");
  const dir = mkdtempSync(join(tmpdir(), 'qemu-density-'));
  const children: ChildProcess[] = [];
  try {
    const logs = Array.from({ length: vms }, (_, i) => join(dir, `q${i}.log`));
    const t0 = performance.now();
    for (const log of logs) {
      children.push(
        spawn(
          'qemu-system-riscv64',
          ['-M', 'virt', '-m', `${memoryMiB}M`, '-display', 'none', '-monitor', 'none', '-serial', `file:${log}`,
            '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', 'console=ttyS0'],
          { stdio: 'ignore' },
        ),
      );
    }
    const boot = await waitForPrompts(logs, t0, 3_600_000);
    await sleep(5000);
    const pids = children.map((c) => c.pid!);
    const cores = await idleCores(pids, idleSeconds);
    return measure('qemu', pids, boot, cores);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await sleep(500);
    rmSync(dir, { recursive: true, force: true });
  }
}

function print(r: SideResult): void {
  const f = (x: number) => x.toFixed(1);
  console.log(
    `${r.side.padEnd(8)} ${vms} VMs x ${memoryMiB} MiB: all at prompt in ${f(r.bootSeconds)} s (${r.startRate.toFixed(2)} VMs/s); ` +
      `host MiB per VM beyond touched guest RAM: median ${f(median(r.hostMiBPerVm))} (min ${f(Math.min(...r.hostMiBPerVm))}, max ${f(Math.max(...r.hostMiBPerVm))}); ` +
      `guest RAM touched median ${f(median(r.guestTouchedMiB))} MiB; idle CPU of all ${vms}: ${r.idleCores.toFixed(3)} cores`,
  );
}

console.log(`page size ${pageSizeKiB()} KiB, ${ticksPerSecond()} ticks/s, load average before: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
const results = [await runVirtkit()];
print(results[0]!);
if (withQemu) {
  results.push(await runQemu());
  print(results[1]!);
  const [v, q] = results as [SideResult, SideResult];
  console.log(
    `ratios virtkit/QEMU: boot time ${(v.bootSeconds / q.bootSeconds).toFixed(2)}, host MiB per VM ${(median(v.hostMiBPerVm) / median(q.hostMiBPerVm)).toFixed(2)}, idle CPU ${(v.idleCores / q.idleCores).toFixed(2)}`,
  );
}
