/**
 * The virtio fuzzer: episodes of random guest and host actions on the fuzz board, each step
 * one macrotask, with the invariants checked after every step and a reset + sane request per
 * device after every episode. Platform-neutral: the host supplies the event loop (VmHost and
 * a way to wait one macrotask), memory figures, and optionally the user-mode NAT.
 *
 * What is asserted (deterministic quantities only, never wall time):
 * - no exception reaches the host (the caller reports its unhandledRejection/uncaughtException
 *   listeners through hostError(); actions run inside try/catch) and the Vm never stops;
 * - per step (one macrotask of device work): console output, frames and bytes each NIC sends,
 *   stay under LIMITS (the proxy for "the event loop is never blocked for long");
 * - device-side bounds: virtio-blk requests in flight and virtio-net held rx chains never exceed
 *   the queue's QueueNumMax, the net backlog stays within its cap;
 * - no device writes guest RAM after it was reset (DMA canary over virtio-blk's buffers);
 * - after every episode, a fresh init and one ordinary request per device works;
 * - host memory (heap and RSS) grows less than LIMITS over the run.
 */
import type { VmHost } from '../../src/vmm/vm.ts';
import type { NetBackend } from '../../src/net/types.ts';
import type { VirtioBlk } from '../../src/virtio/blk.ts';
import type { VirtioNet } from '../../src/virtio/net.ts';
import { MAX_PENDING_EVENTS } from '../../src/virtio/input.ts';
import { randomAction } from './actions.ts';
import { FuzzBoard, type Target } from './board.ts';
import { Prng } from './prng.ts';
import { quiesceAndCheckDma, saneRequests, type Problem } from './sane.ts';

const MiB = 1024 * 1024;

/** The bounds asserted; each is generous against legitimate use and far below the bugs it catches. */
export const LIMITS = {
  /** Console bytes out per step (one notify): 4x the 16 MiB board's RAM; a 5-way alias of RAM is 80 MiB. */
  consoleBytesPerStep: 64 * MiB,
  /** Frames one NIC sends per step: a few 64 KiB TSO sends at the smallest real MSS (88) are < 4000; gso_size 1 makes 65k. */
  netFramesPerStep: 16384,
  /** Bytes one NIC sends per step. */
  netBytesPerStep: 64 * MiB,
  /** Heap growth over the whole run. */
  heapGrowth: 256 * MiB,
  /** RSS growth over the whole run (the board's RAM is allocated before the baseline). */
  rssGrowth: 1024 * MiB,
} as const;

export interface FuzzHost {
  vmHost: VmHost;
  /** Resolves after one macrotask (pending I/O callbacks and promise reactions have run). */
  macrotask(): Promise<void>;
  memory?(): { rss: number; heapUsed: number };
  nat?: { backend: NetBackend; advance(ms: number): void };
  log?(line: string): void;
}

export interface FuzzOptions {
  seed: number;
  episodes: number;
  /** Steps per episode: uniform in [min, max]. */
  stepsMin?: number;
  stepsMax?: number;
  /** Guest RAM in MiB (default 16). */
  ramMiB?: number;
  /** Keep going after a failure (first failure of each check is kept); default: stop at the first. */
  keepGoing?: boolean;
}

export interface FuzzFailure {
  check: string;
  seed: number;
  episode: number;
  step: number;
  device: string;
  message: string;
  /** The last actions before the failure. */
  tail: string[];
}

export interface FuzzStats {
  steps: number;
  episodes: number;
  maxConsoleBytesPerStep: number;
  maxNetFramesPerStep: number;
  maxNetBytesPerStep: number;
  maxBlkInflight: number;
  maxNetHeld: number;
  maxNetBacklog: number;
  maxDiskPending: number;
  deviceErrors: number;
  heapGrowth: number;
  rssGrowth: number;
  /** Wall time of the slowest step and what it did (printed for people, never asserted). */
  slowestStepMs: number;
  slowestStep: string;
}

const TAIL = 30;

export class VirtioFuzzer {
  readonly failures: FuzzFailure[] = [];
  readonly stats: FuzzStats = {
    steps: 0,
    episodes: 0,
    maxConsoleBytesPerStep: 0,
    maxNetFramesPerStep: 0,
    maxNetBytesPerStep: 0,
    maxBlkInflight: 0,
    maxNetHeld: 0,
    maxNetBacklog: 0,
    maxDiskPending: 0,
    deviceErrors: 0,
    heapGrowth: 0,
    rssGrowth: 0,
    slowestStepMs: 0,
    slowestStep: '',
  };
  private readonly log: string[] = [];
  private readonly hostErrors: string[] = [];
  private episode = 0;
  private step = 0;
  private device = '-';
  private board: FuzzBoard | undefined;

  constructor(
    readonly opts: FuzzOptions,
    readonly host: FuzzHost,
  ) {}

  /** An exception that reached the host (from the caller's process-level listeners). */
  hostError(where: string, e: unknown): void {
    this.hostErrors.push(`${where}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }

  private note(line: string): void {
    this.log.push(line);
    if (this.log.length > TAIL) this.log.shift();
  }

  private fail(p: Problem): void {
    if (this.opts.keepGoing && this.failures.some((f) => f.check === p.check)) return;
    this.failures.push({
      check: p.check,
      seed: this.opts.seed,
      episode: this.episode,
      step: this.step,
      device: this.device,
      message: p.message,
      tail: [...this.log],
    });
    this.host.log?.(`FAIL ${p.check} (seed ${this.opts.seed} episode ${this.episode} step ${this.step}): ${p.message}`);
  }

  /** Runs the episodes; resolves with the failures (empty when every check held). */
  async run(): Promise<FuzzFailure[]> {
    const root = new Prng(this.opts.seed);
    const board = new FuzzBoard({
      ramMiB: this.opts.ramMiB ?? 16,
      host: this.host.vmHost,
      nat: this.host.nat,
      seed: this.opts.seed,
    });
    this.board = board;
    const m0 = this.host.memory?.();
    try {
      for (this.episode = 0; this.episode < this.opts.episodes; this.episode++) {
        const rng = root.fork();
        const ok = await this.runEpisode(board, rng);
        this.stats.episodes++;
        if (m0) {
          const m = this.host.memory!();
          this.stats.heapGrowth = Math.max(this.stats.heapGrowth, m.heapUsed - m0.heapUsed);
          this.stats.rssGrowth = Math.max(this.stats.rssGrowth, m.rss - m0.rss);
          if (m.heapUsed - m0.heapUsed > LIMITS.heapGrowth || m.rss - m0.rss > LIMITS.rssGrowth) {
            this.fail({
              check: 'host-memory',
              message: `heap +${mib(m.heapUsed - m0.heapUsed)} MiB, rss +${mib(m.rss - m0.rss)} MiB since the start`,
            });
          }
        }
        if (!ok && !this.opts.keepGoing) break;
        if (this.failures.length && !this.opts.keepGoing) break;
      }
    } finally {
      this.stats.deviceErrors = board.machine.deviceErrors.length;
      board.stop();
    }
    return this.failures;
  }

  /** One episode; false if it failed (the board is then reset and the next episode can run). */
  private async runEpisode(board: FuzzBoard, rng: Prng): Promise<boolean> {
    const steps = rng.range(this.opts.stepsMin ?? 10, this.opts.stepsMax ?? 40);
    const before = this.failures.length;
    const weights = board.targets.map((t) => ({ blk: 25, net: 14, console: 15, rng: 10, input: 8, empty: 1 })[t.kind]);
    const total = weights.reduce((a, b) => a + b, 0);
    for (this.step = 0; this.step < steps; this.step++) {
      let r = rng.next() * total;
      let t = board.targets[0]!;
      for (let i = 0; i < weights.length; i++) {
        r -= weights[i]!;
        if (r < 0) {
          t = board.targets[i]!;
          break;
        }
      }
      this.device = t.name;
      const snap = this.snapshot(board);
      const t0 = this.host.vmHost.nowMs();
      try {
        this.note(`${this.episode}.${this.step} ${t.name}: ${randomAction(rng, t, board)}`);
      } catch (e) {
        this.note(`${this.episode}.${this.step} ${t.name}: (threw)`);
        this.hostError(`action on ${t.name}`, e);
      }
      board.disk.pump(rng, 0.3);
      await this.host.macrotask();
      board.flushOutput();
      const ms = this.host.vmHost.nowMs() - t0;
      if (ms > this.stats.slowestStepMs) {
        this.stats.slowestStepMs = ms;
        this.stats.slowestStep = this.log[this.log.length - 1] ?? '';
      }
      this.stats.steps++;
      for (const p of this.checkStep(board, snap)) this.fail(p);
      if (this.failures.length > before) break;
    }
    // Reset, DMA canary, then a sane request per device.
    this.device = 'all';
    this.step = -1;
    const problems: Problem[] = [];
    if (this.failures.length === before) {
      try {
        problems.push(...(await quiesceAndCheckDma(board, () => this.host.macrotask())));
        this.note(`${this.episode} end: reset all, canary checked`);
        if (!problems.length) problems.push(...(await saneRequests(board, rng, () => this.host.macrotask())));
        this.note(`${this.episode} end: sane requests done`);
      } catch (e) {
        this.hostError('sane phase', e);
      }
      problems.push(...this.hostProblems(board));
      for (const p of problems) this.fail(p);
    }
    if (this.failures.length > before) {
      // Leave a clean board for the next episode (keepGoing).
      for (const t of board.targets) t.dev.reset();
      board.disk.completeAll();
      await this.host.macrotask();
      this.hostErrors.length = 0;
      return false;
    }
    return true;
  }

  private snapshot(board: FuzzBoard): { console: number; frames: number[]; bytes: number[] } {
    const nets = board.targets.filter((t) => t.counters);
    return {
      console: board.consoleBytes,
      frames: nets.map((t) => t.counters!.framesOut),
      bytes: nets.map((t) => t.counters!.bytesOut),
    };
  }

  private hostProblems(board: FuzzBoard): Problem[] {
    const out: Problem[] = [];
    if (this.hostErrors.length) out.push({ check: 'host-exception', message: this.hostErrors.splice(0).join('\n') });
    if (board.stopped) out.push({ check: 'vm-stopped', message: JSON.stringify(board.stopped) });
    return out;
  }

  private checkStep(board: FuzzBoard, snap: { console: number; frames: number[]; bytes: number[] }): Problem[] {
    const out = this.hostProblems(board);
    const s = this.stats;
    const consoleStep = board.consoleBytes - snap.console;
    s.maxConsoleBytesPerStep = Math.max(s.maxConsoleBytesPerStep, consoleStep);
    if (consoleStep > LIMITS.consoleBytesPerStep) {
      out.push({
        check: 'console-output-per-step',
        message: `virtio-console emitted ${mib(consoleStep)} MiB in one step (limit ${mib(LIMITS.consoleBytesPerStep)} MiB)`,
      });
    }
    board.targets
      .filter((t) => t.counters)
      .forEach((t, i) => {
        const frames = t.counters!.framesOut - snap.frames[i]!;
        const bytes = t.counters!.bytesOut - snap.bytes[i]!;
        s.maxNetFramesPerStep = Math.max(s.maxNetFramesPerStep, frames);
        s.maxNetBytesPerStep = Math.max(s.maxNetBytesPerStep, bytes);
        if (frames > LIMITS.netFramesPerStep || bytes > LIMITS.netBytesPerStep) {
          out.push({
            check: 'net-tx-per-step',
            message: `${t.name} sent ${frames} frames / ${mib(bytes)} MiB in one step (limits ${LIMITS.netFramesPerStep} frames, ${mib(LIMITS.netBytesPerStep)} MiB)`,
          });
        }
      });
    for (const t of board.targets) {
      if (t.kind === 'blk') {
        const blk = t.mmio!.device as VirtioBlk;
        const max = t.mmio!.queues[0]!.maxSize;
        s.maxBlkInflight = Math.max(s.maxBlkInflight, blk.inflightCount);
        if (blk.inflightCount > max) {
          out.push({
            check: 'blk-inflight',
            message: `${t.name}: ${blk.inflightCount} requests in flight on a queue of at most ${max}`,
          });
        }
      } else if (t.kind === 'net') {
        const nic = t.mmio!.device as VirtioNet;
        const max = t.mmio!.queues[0]!.maxSize;
        const held = netHeld(nic);
        s.maxNetHeld = Math.max(s.maxNetHeld, held);
        s.maxNetBacklog = Math.max(s.maxNetBacklog, nic.backlogLength);
        if (held > max) {
          out.push({ check: 'net-held-rx', message: `${t.name}: ${held} rx chains held on a queue of at most ${max}` });
        }
        if (nic.backlogLength > 512) {
          out.push({ check: 'net-backlog', message: `${t.name}: backlog of ${nic.backlogLength} frames` });
        }
      }
    }
    const pending = board.machine.powerButton.pendingEvents;
    if (pending > MAX_PENDING_EVENTS)
      out.push({
        check: 'input-pending',
        message: `power button: ${pending} events pending (at most ${MAX_PENDING_EVENTS})`,
      });
    s.maxDiskPending = Math.max(s.maxDiskPending, board.disk.pendingCount);
    return out;
  }

  /** The board (for targeted tests). */
  get currentBoard(): FuzzBoard | undefined {
    return this.board;
  }
}

/**
 * Rx chains virtio-net holds for a frame that does not fit yet. Read from describe() until the
 * device exposes a counter (wished: VirtioNet.heldChains); -1 if neither is there.
 */
export function netHeld(nic: VirtioNet): number {
  const direct = (nic as unknown as { heldChains?: unknown }).heldChains;
  if (typeof direct === 'number') return direct;
  const m = /held=(\d+)/.exec(nic.describe());
  return m ? Number(m[1]) : -1;
}

function mib(n: number): string {
  return (n / MiB).toFixed(1);
}

/** A failure as the test prints it: what, where, how to replay, and the last actions. */
export function formatFailure(f: FuzzFailure): string {
  return [
    `[${f.check}] seed=${f.seed} episode=${f.episode} step=${f.step} device=${f.device}`,
    `  ${f.message}`,
    `  replay: FUZZ_SEED=${f.seed} node --import tsx --test tests/virtio-fuzz/fuzz.test.ts`,
    '  last actions:',
    ...f.tail.map((l) => `    ${l}`),
  ].join('\n');
}

export type { Target };
