/**
 * The QmpTarget of a VmSession, and the events the VM itself causes: the front end that owns
 * the session (the CLI's `virtkit run`) forwards the session's stopped/rebooted events here,
 * and they become QMP's SHUTDOWN and RESET events.
 */
import type { StopReason } from '../vm.ts';
import type { VmSession } from '../session.ts';
import { QmpMonitor } from './monitor.ts';
import { registerStandardCommands, shutdownEvent, type ShutdownReason } from './commands.ts';
import type { QmpRunState, QmpTarget, QmpVersion } from './target.ts';
import { LATENCY_BOUNDS_US, type LatencyHistogram } from '../../virtio/latency.ts';

export interface SessionTargetOptions {
  version: QmpVersion;
  name?: string;
  /** `quit`: stop the VM and end the process (the host flushes disks as on any exit). */
  quit(): void;
  /** The host process's CPU time (user + system) in ms and resident set size in bytes. */
  hostStats(): { cpuMs: number; rss: number };
}

/** x-virtkit-query-stats's answer (docs/manager.md). */
export interface VmStatsReply {
  'uptime-ms': number;
  instructions: number;
  mips: number;
  host: { 'cpu-ms': number; rss: number };
  disks: {
    id: string;
    'rd-bytes': number;
    'wr-bytes': number;
    'rd-ops': number;
    'wr-ops': number;
    'rd-latency': LatencyReply;
    'wr-latency': LatencyReply;
  }[];
  nics: { id: string; 'rx-bytes': number; 'tx-bytes': number; 'rx-packets': number; 'tx-packets': number }[];
}

/**
 * A request latency histogram: `counts[i]` requests took at most `bounds-us[i]` microseconds
 * (and more than the bound before); the last count, one more than the bounds, is the slower rest.
 */
export interface LatencyReply {
  'bounds-us': readonly number[];
  counts: number[];
  'sum-us': number;
}

const latencyReply = (h: LatencyHistogram): LatencyReply => ({
  'bounds-us': LATENCY_BOUNDS_US,
  counts: [...h.counts],
  'sum-us': Math.round(h.sumUs),
});

/** Which guest-caused stops are the guest's doing, and QEMU's word for each. */
function stopCause(r: StopReason): { guest: boolean; reason: ShutdownReason } {
  switch (r.kind) {
    case 'poweroff':
    case 'fail':
    case 'no-boot':
      return { guest: true, reason: 'guest-shutdown' };
    case 'reboot':
      return { guest: true, reason: 'guest-reset' };
    case 'panic':
      return { guest: true, reason: 'guest-panic' };
    case 'quit':
      return { guest: false, reason: 'host-ui' };
    case 'error':
      return { guest: false, reason: 'host-error' };
  }
}

export class SessionQmpTarget implements QmpTarget {
  readonly version: QmpVersion;
  readonly name?: string;
  readonly monitor: QmpMonitor;
  private stoppedBy: StopReason | undefined;
  /** A reset asked for by QMP is under way: its rebuild is not the guest's reboot. */
  private hostResets = 0;
  /** The previous stats query, for `mips` over the interval since (the first: since start). */
  private lastQuery = { ms: 0, instret: 0 };

  constructor(
    private readonly session: () => VmSession,
    private readonly opts: SessionTargetOptions,
    micros?: () => number,
  ) {
    this.version = opts.version;
    if (opts.name !== undefined) this.name = opts.name;
    this.monitor = new QmpMonitor(this, micros);
    registerStandardCommands(this.monitor);
    this.monitor.register('x-virtkit-query-stats', { run: () => this.queryStats() });
  }

  queryStats(): VmStatsReply {
    const s = this.session();
    const ms = s.uptimeMs;
    const n = s.instructions;
    // A reboot builds a new board whose count starts again from zero.
    const ran = n >= this.lastQuery.instret ? n - this.lastQuery.instret : n;
    const dt = ms - this.lastQuery.ms;
    this.lastQuery = { ms, instret: n };
    const host = this.opts.hostStats();
    const dev = s.deviceStats();
    return {
      'uptime-ms': Math.round(ms),
      instructions: n,
      mips: dt > 0 ? Math.round((ran / dt / 1e3) * 10) / 10 : 0,
      host: { 'cpu-ms': Math.round(host.cpuMs), rss: host.rss },
      // Ids as the guest names them: disk serials virtkit0.. (/dev/disk/by-id/virtio-virtkit0), NICs net0...
      disks: dev.disks.map((d, i) => ({
        id: s.diskSerial(i),
        'rd-bytes': d.rdBytes,
        'wr-bytes': d.wrBytes,
        'rd-ops': d.rdOps,
        'wr-ops': d.wrOps,
        'rd-latency': latencyReply(d.rdLatency),
        'wr-latency': latencyReply(d.wrLatency),
      })),
      nics: dev.nics.map((c, i) => ({
        id: `net${i}`,
        'rx-bytes': c.rxBytes,
        'tx-bytes': c.txBytes,
        'rx-packets': c.rxFrames,
        'tx-packets': c.txFrames,
      })),
    };
  }

  status(): QmpRunState {
    const s = this.session();
    switch (s.phase) {
      case 'created':
        return 'prelaunch';
      case 'running':
        return 'running';
      case 'paused':
        return s.isSaving ? 'save-vm' : 'paused';
      case 'stopped':
        if (this.stoppedBy?.kind === 'panic') return 'guest-panicked';
        if (this.stoppedBy?.kind === 'error') return 'internal-error';
        return 'shutdown';
    }
  }

  stop(): boolean {
    return this.session().pause();
  }

  cont(): boolean {
    const s = this.session();
    if (s.phase === 'created') {
      s.start();
      return true;
    }
    return s.resume();
  }

  pressPowerButton(): boolean {
    return this.session().pressPowerButton();
  }

  reset(): boolean {
    this.hostResets++;
    if (this.session().reset()) return true;
    this.hostResets--;
    return false;
  }

  quit(): void {
    this.opts.quit();
  }

  /** The host is quitting for its own reason (a signal): say so before the VM stops. */
  announceShutdown(reason: ShutdownReason): void {
    this.monitor.emit('SHUTDOWN', shutdownEvent(false, reason));
  }

  /** Forward SessionEvents.stopped here. */
  vmStopped(r: StopReason): void {
    this.stoppedBy = r;
    const { guest, reason } = stopCause(r);
    this.monitor.emit('SHUTDOWN', shutdownEvent(guest, reason));
  }

  /** Forward SessionEvents.rebooted here. */
  vmRebooted(): void {
    if (this.hostResets > 0) {
      this.hostResets--;
      return;
    }
    this.monitor.emit('RESET', shutdownEvent(true, 'guest-reset'));
  }
}
