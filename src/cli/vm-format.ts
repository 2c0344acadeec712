/**
 * Human output of `virtkit vm`: aligned tables, sizes in binary units, durations, and the
 * per-verb views of the API's JSON (list, info, stats, snapshots, events). Pure functions of
 * their input, so tests hold them to exact text.
 */
import type { Snapshot, Vm, VmEvent, VmStats } from '../manager/client/types.ts';

/**
 * Columns padded to their widest cell, two spaces apart; a column whose header is in `right`
 * is right-aligned (numbers). Trailing blanks are trimmed.
 */
export function table(header: string[], rows: string[][], right: string[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.includes(header[i]!) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Bytes as 512 B, 1.5 KiB, 128 MiB, 2 GiB: three significant digits at most, trailing .0 dropped. */
export function humanBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '-';
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const text = u === 0 || v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${text.replace(/\.0+$|(\.\d*?)0+$/, '$1')} ${UNITS[u]}`;
}

/** A count as 950, 12.3K, 4.56M, 7.89G (instructions, packets). */
export function humanCount(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '-';
  const units = ['', 'K', 'M', 'G', 'T', 'P'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  const text = u === 0 || v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${text.replace(/\.0+$|(\.\d*?)0+$/, '$1')}${units[u]}`;
}

/** Milliseconds as 45s, 3m12s, 5h03m, 2d04h. */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** How long a VM has been up, from its startedAt, while it is up. */
function uptime(vm: Vm, now: number): string {
  if (!vm.startedAt || !['running', 'paused', 'starting', 'stopping'].includes(vm.state)) return '-';
  const t = Date.parse(vm.startedAt);
  return Number.isFinite(t) ? humanDuration(now - t) : '-';
}

function source(vm: Vm): string {
  const s = vm.source;
  if (!s) return '-';
  if (s.type === 'default') return 'default guest';
  if (s.type === 'image') return `image ${s.path}${s.format ? ` (${s.format})` : ''}`;
  return `kernel ${s.kernel}${s.initrd ? `, initrd ${s.initrd}` : ''}`;
}

const MiB = 1024 * 1024;

export function vmList(vms: Vm[], now = Date.now()): string {
  if (vms.length === 0) return "no VMs (create one with 'virtkit vm create NAME')";
  const rows = [...vms]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((v) => [
      v.name,
      v.state,
      String(v.cpus),
      humanBytes(v.memory * MiB),
      String(v.disks?.length ?? 0),
      uptime(v, now),
      v.pid !== undefined ? String(v.pid) : '-',
      v.id,
    ]);
  return table(['NAME', 'STATE', 'CPUS', 'MEMORY', 'DISKS', 'UPTIME', 'PID', 'ID'], rows, [
    'CPUS',
    'MEMORY',
    'DISKS',
    'PID',
  ]);
}

export function vmInfo(vm: Vm, now = Date.now()): string {
  const lines: [string, string][] = [
    ['name', vm.name],
    ['id', vm.id],
    ['state', vm.reason ? `${vm.state} (${vm.reason})` : vm.state],
    ['cpus', String(vm.cpus)],
    ['memory', humanBytes(vm.memory * MiB)],
    ['source', source(vm)],
    ...(vm.append !== undefined || (vm.source?.type === 'kernel' && vm.source.append !== undefined)
      ? [['append', vm.append ?? (vm.source as { append: string }).append] as [string, string]]
      : []),
    ['created', vm.created],
  ];
  if (vm.startedAt) lines.push(['started', vm.startedAt], ['uptime', uptime(vm, now)]);
  if (vm.pid !== undefined) lines.push(['pid', String(vm.pid)]);
  const width = Math.max(...lines.map(([k]) => k.length)) + 1;
  const out = lines.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`);
  out.push('disks:');
  if (!vm.disks?.length) out.push('  (none)');
  else
    out.push(
      ...table(
        ['PATH', 'FORMAT', 'OWNED', 'MODE', 'BACKING'],
        vm.disks.map((d) => [d.path, d.format, d.owned ? 'yes' : 'no', d.readonly ? 'ro' : 'rw', d.backing ?? '']),
      )
        .split('\n')
        .map((l) => `  ${l}`),
    );
  out.push('nics:');
  if (!vm.nics?.length) out.push('  (none)');
  vm.nics?.forEach((n, i) => out.push(`  ${i}: user${n.hostfwd?.length ? `, hostfwd ${n.hostfwd.join(' ')}` : ''}`));
  for (const w of vm.warnings ?? []) out.push(`warning: ${w}`);
  return out.join('\n');
}

/** CPU use between two samples, as % of one host core; from the start when there is no previous sample. */
export function cpuPercent(cur: VmStats, prev?: VmStats): number | undefined {
  const c = cur.host?.['cpu-ms'];
  if (c === undefined) return undefined;
  if (prev?.host && prev['uptime-ms'] < cur['uptime-ms'])
    return ((c - prev.host['cpu-ms']) / (cur['uptime-ms'] - prev['uptime-ms'])) * 100;
  return cur['uptime-ms'] > 0 ? (c / cur['uptime-ms']) * 100 : undefined;
}

function sum<T>(items: T[] | undefined, f: (t: T) => number): number {
  return (items ?? []).reduce((a, t) => a + f(t), 0);
}

/** One row per VM: state, uptime, instructions, MIPS, host CPU and RSS, disk and network totals. */
export function statsTable(samples: { name: string; stats: VmStats; prev?: VmStats }[]): string {
  const rows = samples.map(({ name, stats: s, prev }) => {
    const cpu = cpuPercent(s, prev);
    const up = s.state === 'running' || s.state === 'paused';
    return [
      name,
      s.state,
      up ? humanDuration(s['uptime-ms']) : '-',
      s.instructions !== undefined ? humanCount(s.instructions) : '-',
      s.mips !== undefined ? s.mips.toFixed(1) : '-',
      cpu !== undefined ? `${cpu.toFixed(1)}%` : '-',
      s.host ? humanBytes(s.host.rss) : '-',
      s.disks
        ? `${humanBytes(sum(s.disks, (d) => d['rd-bytes']))}/${humanBytes(sum(s.disks, (d) => d['wr-bytes']))}`
        : '-',
      s.nics
        ? `${humanBytes(sum(s.nics, (n) => n['rx-bytes']))}/${humanBytes(sum(s.nics, (n) => n['tx-bytes']))}`
        : '-',
    ];
  });
  return table(['NAME', 'STATE', 'UPTIME', 'INSTRUCTIONS', 'MIPS', 'CPU', 'RSS', 'DISK R/W', 'NET RX/TX'], rows, [
    'UPTIME',
    'INSTRUCTIONS',
    'MIPS',
    'CPU',
    'RSS',
  ]);
}

export function snapshotList(name: string, snaps: Snapshot[]): string {
  if (snaps.length === 0) return `${name} has no snapshots`;
  return table(
    ['NAME', 'CREATED', 'RAM'],
    snaps.map((s) => [s.name, s.created, s.vmState ? 'yes' : 'no']),
  );
}

/** An event as one line: time, VM, previous -> state, reason. */
export function eventLine(e: VmEvent): string {
  const change = e.previous && e.previous !== e.state ? `${e.previous} -> ${e.state}` : e.state;
  return `${e.time}  ${e.vm}  ${change}${e.reason ? `  (${e.reason})` : ''}`;
}
