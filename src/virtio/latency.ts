/**
 * Request latency histograms for device statistics (virtio-blk's, in x-virtkit-query-stats).
 * Fixed bucket bounds, so a histogram is a few numbers whatever the VM does and two of them
 * (the boards before and after a guest reboot) add bucket by bucket. Bounds are microseconds,
 * from 50 us (a cached read) to 2.5 s (a host disk under heavy load); slower requests land in
 * the last, unbounded bucket.
 */

/** Upper bounds (inclusive) of the buckets, in microseconds; one more bucket holds the rest. */
export const LATENCY_BOUNDS_US: readonly number[] = [
  50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
];

export interface LatencyHistogram {
  /** Requests per bucket, not cumulative: counts[i] for bound i, the last for slower ones. */
  counts: number[];
  /** Sum of all latencies in microseconds. */
  sumUs: number;
}

export function newLatencyHistogram(): LatencyHistogram {
  return { counts: new Array<number>(LATENCY_BOUNDS_US.length + 1).fill(0), sumUs: 0 };
}

/** Records one request of `us` microseconds (a negative clock step counts as 0). */
export function observeLatency(h: LatencyHistogram, us: number): void {
  const v = us > 0 ? us : 0;
  let i = 0;
  while (i < LATENCY_BOUNDS_US.length && v > LATENCY_BOUNDS_US[i]!) i++;
  h.counts[i]!++;
  h.sumUs += v;
}

/** a + b, bucket by bucket (a new object). */
export function addLatency(a: LatencyHistogram, b: LatencyHistogram): LatencyHistogram {
  return { counts: a.counts.map((c, i) => c + (b.counts[i] ?? 0)), sumUs: a.sumUs + b.sumUs };
}

export function copyLatency(h: LatencyHistogram): LatencyHistogram {
  return { counts: [...h.counts], sumUs: h.sumUs };
}
