/**
 * `GET /metrics`: the daemon and its VMs in the Prometheus text format (docs/manager.md,
 * "Monitoring"), through prom-client.
 *
 * Two kinds of metric:
 *   - the daemon's own, kept between scrapes in a long-lived registry: its process (prom-client's
 *     default metrics, prefixed `virtkit_daemon_`) and histograms of operations it times
 *     (snapshots, backups);
 *   - the VMs', sampled at each scrape: every running or paused VM is asked for
 *     x-virtkit-query-stats (all at once, each with a deadline, so one VM that does not answer
 *     costs its own series only) and the answers become a registry built for this scrape. The
 *     VM process keeps its counters and its virtio-blk latency histograms (fixed buckets); the
 *     daemon only relays them, so nothing is lost between scrapes and a daemon restart resets
 *     nothing.
 * Counters of a VM process start again from zero when the process is restarted, which
 * Prometheus's rate() takes as a counter reset.
 */
import { Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { Manager } from './manager.ts';
import { VM_STATES, type VmRow } from './db.ts';

/** How long a scrape waits for one VM's stats. */
export const SCRAPE_VM_TIMEOUT_MS = 5000;

/** Bounds of the daemon's operation histograms, in seconds: 50 ms .. 10 min. */
const OPERATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** The daemon's long-lived metrics (one set per process: prom-client's process collectors are global). */
class DaemonMetrics {
  readonly registry = new Registry();
  readonly snapshotSeconds = new Histogram({
    name: 'virtkit_snapshot_duration_seconds',
    help: 'Time to take a VM snapshot; kind "live" (a running VM, RAM included) or "disk" (a stopped VM)',
    labelNames: ['kind', 'result'] as const,
    buckets: OPERATION_BUCKETS,
    registers: [this.registry],
  });
  readonly backupSeconds = new Histogram({
    name: 'virtkit_backup_duration_seconds',
    help: 'Time to back up a VM, kind "full" or "incremental"',
    labelNames: ['kind', 'result'] as const,
    buckets: OPERATION_BUCKETS,
    registers: [this.registry],
  });
  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'virtkit_daemon_' });
  }
}

let daemon: DaemonMetrics | undefined;
export function daemonMetrics(): DaemonMetrics {
  daemon ??= new DaemonMetrics();
  return daemon;
}

/** Times `fn` into `h` with labels, result "ok" or "error". */
export async function timed<T>(h: Histogram<'kind' | 'result'>, kind: string, fn: () => Promise<T>): Promise<T> {
  const end = h.startTimer({ kind });
  try {
    const r = await fn();
    end({ result: 'ok' });
    return r;
  } catch (e) {
    end({ result: 'error' });
    throw e;
  }
}

type Labels = Record<string, string>;
interface Sample {
  labels: Labels;
  value: number;
  metricName?: string;
}

/**
 * A metric whose values were computed for one scrape. prom-client's registry formats (and
 * escapes) any object with its metric shape; its own classes cannot take a histogram whose
 * buckets were counted elsewhere (the VM process's), so scrape-time values are given this way.
 */
class Sampled {
  readonly aggregator = 'sum';
  readonly values: Sample[] = [];
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter' | 'histogram',
  ) {}
  get() {
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.values,
    });
  }
}

/** x-virtkit-query-stats's answer, as far as the metrics read it (docs/manager.md). */
interface Latency {
  'bounds-us': number[];
  counts: number[];
  'sum-us': number;
}
interface VmStats {
  'uptime-ms'?: number;
  instructions?: number;
  host?: { 'cpu-ms'?: number; rss?: number };
  disks?: Array<{
    id: string;
    'rd-bytes': number;
    'wr-bytes': number;
    'rd-ops': number;
    'wr-ops': number;
    'rd-latency'?: Latency;
    'wr-latency'?: Latency;
  }>;
  nics?: Array<{ id: string; 'rx-bytes': number; 'tx-bytes': number; 'rx-packets': number; 'tx-packets': number }>;
}

async function sampleVm(mgr: Manager, vm: VmRow): Promise<VmStats | undefined> {
  if (vm.state !== 'running' && vm.state !== 'paused') return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const ask = mgr.supervisor.qmp(vm).execute('x-virtkit-query-stats') as Promise<VmStats>;
    const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), SCRAPE_VM_TIMEOUT_MS)));
    return await Promise.race([ask, late]);
  } catch {
    return undefined; // stopping right now, or its QMP link is gone: state only
  } finally {
    clearTimeout(timer);
  }
}

/** A histogram's samples from per-bucket (not cumulative) counts with bounds in microseconds. */
function histogramSamples(m: Sampled, labels: Labels, h: Latency): void {
  let acc = 0;
  h['bounds-us'].forEach((b, i) => {
    acc += h.counts[i] ?? 0;
    m.values.push({ metricName: `${m.name}_bucket`, labels: { ...labels, le: String(b / 1e6) }, value: acc });
  });
  acc += h.counts[h['bounds-us'].length] ?? 0;
  m.values.push({ metricName: `${m.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: acc });
  m.values.push({ metricName: `${m.name}_sum`, labels, value: h['sum-us'] / 1e6 });
  m.values.push({ metricName: `${m.name}_count`, labels, value: acc });
}

/** The VMs' metrics, sampled now. */
export async function vmRegistry(mgr: Manager): Promise<Registry> {
  const vms = mgr.db.listVms();
  const stats = await Promise.all(vms.map((vm) => sampleVm(mgr, vm)));
  const reg = new Registry();
  const metric = (name: string, help: string, type: Sampled['type'] = 'gauge') => {
    const m = new Sampled(name, help, type);
    reg.registerMetric(m as unknown as Metric);
    return m;
  };
  const byState = metric('virtkit_vms', 'VMs defined in the daemon, by state');
  const state = metric('virtkit_vm_state', 'The VM state: 1 for the state the VM is in, 0 for the others');
  const memory = metric('virtkit_vm_memory_bytes', 'Guest RAM the VM is configured with');
  const vcpus = metric('virtkit_vm_vcpus', 'Virtual CPUs the VM is configured with');
  const uptime = metric('virtkit_vm_uptime_seconds', 'Time since the VM process started its guest');
  const cpu = metric('virtkit_vm_host_cpu_seconds_total', 'Host CPU time (user + system) of the VM process', 'counter');
  const rss = metric('virtkit_vm_resident_memory_bytes', 'Resident set size of the VM process');
  const instr = metric(
    'virtkit_vm_guest_instructions_total',
    'Guest instructions retired (since the VM process started or the guest last rebooted)',
    'counter',
  );
  const disk = (what: string, help: string) => metric(`virtkit_vm_disk_${what}_total`, help, 'counter');
  const rdBytes = disk('read_bytes', 'Bytes the guest read from the disk');
  const wrBytes = disk('written_bytes', 'Bytes the guest wrote to the disk');
  const rdOps = disk('read_ops', 'Read requests of the guest');
  const wrOps = disk('write_ops', 'Write requests of the guest');
  const rdLat = metric(
    'virtkit_vm_disk_read_latency_seconds',
    'Latency of guest read requests, from submission to the image to completion',
    'histogram',
  );
  const wrLat = metric(
    'virtkit_vm_disk_write_latency_seconds',
    'Latency of guest write requests, from submission to the image to completion',
    'histogram',
  );
  const net = (what: string, help: string) => metric(`virtkit_vm_network_${what}_total`, help, 'counter');
  const rxBytes = net('receive_bytes', 'Bytes the NIC delivered to the guest');
  const txBytes = net('transmit_bytes', 'Bytes the guest sent through the NIC');
  const rxPackets = net('receive_packets', 'Frames the NIC delivered to the guest');
  const txPackets = net('transmit_packets', 'Frames the guest sent through the NIC');

  for (const s of VM_STATES)
    byState.values.push({ labels: { state: s }, value: vms.filter((v) => v.state === s).length });
  vms.forEach((vm, i) => {
    const l = { vm: vm.name, id: vm.id };
    for (const s of VM_STATES) state.values.push({ labels: { ...l, state: s }, value: vm.state === s ? 1 : 0 });
    memory.values.push({ labels: l, value: vm.memory * 1024 * 1024 });
    vcpus.values.push({ labels: l, value: vm.cpus });
    const st = stats[i];
    if (!st) return;
    if (typeof st['uptime-ms'] === 'number') uptime.values.push({ labels: l, value: st['uptime-ms'] / 1000 });
    if (typeof st.host?.['cpu-ms'] === 'number') cpu.values.push({ labels: l, value: st.host['cpu-ms'] / 1000 });
    if (typeof st.host?.rss === 'number') rss.values.push({ labels: l, value: st.host.rss });
    if (typeof st.instructions === 'number') instr.values.push({ labels: l, value: st.instructions });
    for (const d of st.disks ?? []) {
      const dl = { ...l, disk: d.id };
      rdBytes.values.push({ labels: dl, value: d['rd-bytes'] });
      wrBytes.values.push({ labels: dl, value: d['wr-bytes'] });
      rdOps.values.push({ labels: dl, value: d['rd-ops'] });
      wrOps.values.push({ labels: dl, value: d['wr-ops'] });
      if (d['rd-latency']) histogramSamples(rdLat, dl, d['rd-latency']);
      if (d['wr-latency']) histogramSamples(wrLat, dl, d['wr-latency']);
    }
    for (const n of st.nics ?? []) {
      const nl = { ...l, nic: n.id };
      rxBytes.values.push({ labels: nl, value: n['rx-bytes'] });
      txBytes.values.push({ labels: nl, value: n['tx-bytes'] });
      rxPackets.values.push({ labels: nl, value: n['rx-packets'] });
      txPackets.values.push({ labels: nl, value: n['tx-packets'] });
    }
  });
  return reg;
}

/** The whole exposition: the daemon's metrics, then the VMs'. */
export async function renderMetrics(mgr: Manager): Promise<{ contentType: string; body: string }> {
  const merged = Registry.merge([daemonMetrics().registry, await vmRegistry(mgr)]);
  return { contentType: merged.contentType, body: await merged.metrics() };
}

/** GET /metrics (behind the same bearer token as the rest of the API on TCP). */
export async function registerMetricsRoute(app: FastifyInstance, mgr: Manager): Promise<void> {
  app.get(
    '/metrics',
    {
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        description:
          'The daemon and its VMs in the Prometheus text exposition format 0.0.4 (metric names in docs/manager.md, "Monitoring")',
        produces: ['text/plain'],
        response: {
          200: {
            description: 'Prometheus text format',
            content: { 'text/plain; version=0.0.4; charset=utf-8': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (_req, reply) => {
      const m = await renderMetrics(mgr);
      return reply.type(m.contentType).send(m.body);
    },
  );
}
