/**
 * A VM's metrics over the last hour, from polling GET /v1/vms/{name}/stats. The API gives a
 * moment's figures (host CPU % and MIPS since the previous request, RSS, cumulative disk and NIC
 * byte counters); this keeps the samples and turns the counters into rates. The history lives in
 * the page only: the daemon keeps none. No DOM types (tested under Node).
 */

/** One sample; null where the VM was not running (a gap in the charts). */
export interface StatsPoint {
  /** Seconds since the epoch (uPlot's time axis). */
  t: number;
  state: string;
  cpu: number | null;
  mips: number | null;
  /** Resident memory of the VM process, MiB. */
  rss: number | null;
  /** Bytes per second, all disks / all NICs together. */
  diskRd: number | null;
  diskWr: number | null;
  netRx: number | null;
  netTx: number | null;
}

export const SERIES = ['cpu', 'mips', 'rss', 'diskRd', 'diskWr', 'netRx', 'netTx'] as const;
export type Series = (typeof SERIES)[number];

interface Counters {
  uptimeMs: number;
  diskRd: number;
  diskWr: number;
  netRx: number;
  netTx: number;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function sum(list: unknown, key: string): number {
  if (!Array.isArray(list)) return 0;
  let n = 0;
  for (const x of list) n += num((x as Record<string, unknown>)[key]) ?? 0;
  return n;
}

export class StatsHistory {
  private readonly points: StatsPoint[] = [];
  private last: Counters | undefined;

  constructor(readonly windowS = 3600) {}

  /** Records the stats answer received at `nowMs`; returns the point added. */
  add(nowMs: number, stats: Record<string, unknown>): StatsPoint {
    const t = nowMs / 1000;
    const state = typeof stats.state === 'string' ? stats.state : 'unknown';
    const uptimeMs = num(stats['uptime-ms']);
    const host = (stats.host ?? {}) as Record<string, unknown>;
    let p: StatsPoint = {
      t,
      state,
      cpu: null,
      mips: null,
      rss: null,
      diskRd: null,
      diskWr: null,
      netRx: null,
      netTx: null,
    };
    if (uptimeMs === null) {
      this.last = undefined; // not running: the next run starts its counters again
    } else {
      const c: Counters = {
        uptimeMs,
        diskRd: sum(stats.disks, 'rd-bytes'),
        diskWr: sum(stats.disks, 'wr-bytes'),
        netRx: sum(stats.nics, 'rx-bytes'),
        netTx: sum(stats.nics, 'tx-bytes'),
      };
      const prev = this.last;
      // Rates need an earlier sample of the same process (uptime grows; a restart resets it).
      const dt = prev && uptimeMs > prev.uptimeMs ? (uptimeMs - prev.uptimeMs) / 1000 : 0;
      const rate = (k: keyof Counters) => (dt > 0 && c[k] >= prev![k] ? (c[k] - prev![k]) / dt : null);
      const rss = num(host.rss);
      p = {
        ...p,
        // The daemon's first figure of a process runs from its start, whose CPU (loading, the
        // first compilations) over a short uptime can read above 100 % a core: skip it.
        cpu: prev ? num(host['cpu-percent']) : null,
        mips: num(stats.mips),
        rss: rss === null ? null : rss / 1048576,
        diskRd: rate('diskRd'),
        diskWr: rate('diskWr'),
        netRx: rate('netRx'),
        netTx: rate('netTx'),
      };
      this.last = c;
    }
    this.points.push(p);
    while (this.points.length && this.points[0]!.t < t - this.windowS) this.points.shift();
    return p;
  }

  get latest(): StatsPoint | undefined {
    return this.points[this.points.length - 1];
  }

  get length(): number {
    return this.points.length;
  }

  /** [times, series...] as uPlot takes its data. */
  columns(series: readonly Series[]): [number[], ...(number | null)[][]] {
    return [this.points.map((p) => p.t), ...series.map((s) => this.points.map((p) => p[s]))];
  }
}

/** 1536 -> "1.5 KiB"; rates add "/s" at the caller. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}
