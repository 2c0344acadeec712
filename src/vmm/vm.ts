/**
 * A running VM: drives a VirtMachine in budgeted slices on the host's event loop.
 *
 * Each turn runs the harts for a few milliseconds of wall time (never awaiting inside a slice),
 * then yields so host I/O (console input, disk promises, timers) can run. When every hart waits
 * in WFI the VM sleeps until the next timer deadline or until input arrives. Platform-neutral:
 * the host supplies the clock and the two ways to schedule (yield now, sleep for a while).
 *
 * Invariants: no slice runs while paused, rebooting or after stop; console input the UART cannot
 * take yet is queued here (at most MAX_PENDING_INPUT bytes) and retried every turn; a guest can
 * never make this loop throw: errors from the board end the VM with an 'error' stop reason.
 *
 * Console output flows in bounded chunks: each turn hands the host at most the board's output
 * budget (OUTPUT_TURN_BUDGET, one `output` event per turn at most), and a turn whose budget is
 * spent ends early so the next one can go on at once. A host whose console is behind calls
 * holdOutput(): the console devices then stop consuming (the guest waits, its output stays in
 * guest memory) until releaseOutput().
 *
 * Reboot: the board is rebuilt from the boot files (kernel, initrd, firmware) it was given. A VM
 * restored from a snapshot has none in memory: it asks the host's `reloadBoot` for them (the host
 * knows where they came from and checks they are unchanged) and stops with a 'reboot' reason
 * saying why when they cannot be had.
 */
import {
  BoardConfigError,
  VirtMachine,
  readMachineHeader,
  type PowerEvent,
  type VirtOptions,
} from '../machine/virt.ts';
import { StateError, StateReader } from '../memory/state.ts';
import { SnapshotError, decodeSnapshot, encodeSnapshot } from './snapshot-file.ts';
import { PanicWatch } from './panic-watch.ts';
import { BootWatch } from './boot-watch.ts';
import type { VirtioBlkStats } from '../virtio/blk.ts';
import { addLatency, copyLatency } from '../virtio/latency.ts';
import type { GuestProfiler } from './guest-profile.ts';
import { GuestTime } from './guest-time.ts';

/** A NIC's traffic counters (virtio-net stats), for x-virtkit-query-stats. */
export interface NicCounters {
  rxBytes: number;
  txBytes: number;
  rxFrames: number;
  txFrames: number;
}

/** Per-device I/O counters over the VM's life (every board since it was built or restored). */
export interface DeviceStats {
  disks: VirtioBlkStats[];
  nics: NicCounters[];
}

export interface VmHost {
  nowMs(): number;
  /** Runs fn soon, after pending I/O callbacks (setImmediate / MessageChannel). */
  yieldTo(fn: () => void): void;
  /** Runs fn after ms milliseconds; returns a canceller. */
  sleep(fn: () => void, ms: number): () => void;
}

export type StopReason =
  | PowerEvent
  /** The guest asked to reboot and the VM could not boot again; `why` is one line for the user. */
  | { kind: 'reboot'; why: string }
  | { kind: 'panic' }
  /** The firmware (U-Boot) tried every boot target and gave up at its prompt; `why` is one clause. */
  | { kind: 'no-boot'; why: string }
  | { kind: 'quit' }
  | { kind: 'error'; message: string };

/** What a reboot loads again (append stays as the VM was configured unless given). */
export interface BootFiles {
  kernel?: Uint8Array;
  initrd?: Uint8Array;
  firmware?: Uint8Array;
  append?: string;
}

/**
 * Supplies the boot files of a restored VM when its guest reboots. Rejects with an Error whose
 * message says, in one line, why the VM cannot reboot (files gone, changed, never recorded).
 */
export type BootReloader = () => Promise<BootFiles>;

/**
 * Board options a Vm is built from, plus how to reload boot files after a restore.
 * `releaseBootFiles` (with a `reloadBoot`): drop the boot files once loaded into guest RAM and
 * reload them for each reboot, as a restored VM does, instead of holding them for the VM's life.
 */
export type VmOptions = Omit<VirtOptions, 'onOutput' | 'nowMs'> & {
  reloadBoot?: BootReloader;
  releaseBootFiles?: boolean;
};

/** Why a restored VM without a reloader cannot reboot. */
export const NO_BOOT_FILES = 'the VM was restored from a snapshot and has no boot files to reboot from';

export interface VmEvents {
  /**
   * Guest console output, at most the board's per-turn budget per call; the array is the
   * host's to keep. A host that cannot keep up calls vm.holdOutput(), then vm.releaseOutput().
   */
  output(bytes: Uint8Array): void;
  stopped(reason: StopReason): void;
  /** The guest rebooted and a fresh board now boots (the host may, e.g., hold typed input until its shell is up). */
  rebooted?(): void;
}

/** Instructions per hart between timer checks. */
const SLICE_BUDGET = 20_000;
/**
 * Longest WFI sleep without a timer deadline: host events that do not wake the VM directly
 * (wake(): input, frames, device interrupts) are still seen this soon.
 */
const MAX_IDLE_SLEEP_MS = 50;
/** Wall time per event-loop turn before yielding. */
const TURN_MS = 8;
/**
 * Console input accepted but not yet taken by the guest. Typing and pasting stay far below it;
 * hosts that feed input from a pipe pause the pipe well before (src/host/node/console.ts).
 */
export const MAX_PENDING_INPUT = 4 * 1024 * 1024;

export interface VmSnapshotMeta {
  /** Anything the caller needs to rebuild the same configuration (disk paths, kernel args...). */
  config: unknown;
}

export class Vm {
  private board: VirtMachine;
  private opts: Omit<VirtOptions, 'onOutput' | 'nowMs'>;
  private readonly reloadBoot: BootReloader | undefined;
  /** Drop the boot files after each build (the host can reload them): see VmOptions. */
  private readonly releaseBootFiles: boolean;
  /** Set while a restored VM's boot files are being reloaded for a reboot. */
  private rebooting: Promise<void> | undefined;
  private state: 'created' | 'running' | 'paused' | 'stopped' = 'created';
  private pendingInput: Uint8Array[] = [];
  private pendingInputLen = 0;
  /** The host's console is behind (holdOutput): kept across reboots, which build a new board. */
  private heldByHost = false;
  private cancelSleep: (() => void) | undefined;
  private scheduled = false;
  /** Watches for a kernel panic across chunk boundaries without keeping the whole log. */
  private readonly panicWatch = new PanicWatch();
  /** Watches each board's firmware for giving up on the boot (a new one per board: a reboot boots afresh). */
  private bootWatch = new BootWatch();
  /** Set when the boot watch saw the firmware give up: the turn stops the VM with it. */
  private noBoot: string | undefined;
  /** Set by input(); lets a turn about to sleep see input its own output handler just typed. */
  private freshInput = false;

  constructor(
    options: VmOptions,
    private readonly host: VmHost,
    private readonly events: VmEvents,
  ) {
    const { reloadBoot, releaseBootFiles, ...opts } = options;
    this.time = new GuestTime(() => host.nowMs());
    this.opts = opts;
    this.reloadBoot = reloadBoot;
    this.releaseBootFiles = Boolean(releaseBootFiles && reloadBoot);
    this.board = this.build();
  }

  /** Counters of the boards a reboot replaced (a new board's devices count from zero). */
  private readonly carried: DeviceStats = { disks: [], nics: [] };

  /** `diskIoAfter`: the previous board's shutdown() on a reboot (its writes land first). */
  private build(diskIoAfter?: Promise<unknown>): VirtMachine {
    if (this.board) this.carried.disks = this.deviceStats().disks;
    if (this.board) this.carried.nics = this.deviceStats().nics;
    const board = new VirtMachine({
      ...this.opts,
      diskIoAfter,
      nowMs: () => this.host.nowMs(),
      timeMs: () => this.time.now(),
      onOutput: (b) => this.onOutput(b),
      onDeviceInterrupt: () => this.wake(),
    });
    this.bootWatch = new BootWatch();
    board.holdOutput(this.heldByHost);
    this.profiler?.attach(board);
    if (this.releaseBootFiles) {
      const { kernel: _k, initrd: _i, firmware: _f, ...rest } = this.opts;
      this.opts = rest;
    }
    return board;
  }

  /*
   * What a front end (through VmSession) may ask of the board, by name: the board itself stays
   * private, so no front end reaches into it (tests and the virtio fuzzer use boardOf() from
   * vmm/testing.ts, which lint keeps out of front ends).
   */

  /** Every hart of the current board waits for an interrupt (WFI). */
  get allHartsWaiting(): boolean {
    return this.board.allWaiting();
  }

  /** Instructions retired since the current board was built (a reboot starts again from 0). */
  get instructions(): number {
    return this.board.instret;
  }

  /** Guest RAM in bytes. */
  get memoryBytes(): number {
    return this.board.bus.ram.length;
  }

  /** One diagnostic line per NIC (counters, queue state). */
  describeNics(): string[] {
    return this.board.nics.map((n) => n.describe());
  }

  /** Resolves when the board's device I/O in flight (disk requests) has settled. */
  drainIo(): Promise<void> {
    return this.board.drainIo();
  }

  /** Disk and NIC counters since the VM was built (integer sums; nothing is counted per instruction). */
  deviceStats(): DeviceStats {
    const c = this.carried;
    const disks = this.board.blks.map((b, i) => {
      const p = c.disks[i];
      const s = b.stats;
      return p
        ? {
            rdBytes: p.rdBytes + s.rdBytes,
            wrBytes: p.wrBytes + s.wrBytes,
            rdOps: p.rdOps + s.rdOps,
            wrOps: p.wrOps + s.wrOps,
            rdLatency: addLatency(p.rdLatency, s.rdLatency),
            wrLatency: addLatency(p.wrLatency, s.wrLatency),
          }
        : { ...s, rdLatency: copyLatency(s.rdLatency), wrLatency: copyLatency(s.wrLatency) };
    });
    const nics = this.board.nics.map((n, i) => {
      const p = c.nics[i] ?? { rxBytes: 0, txBytes: 0, rxFrames: 0, txFrames: 0 };
      const s = n.stats;
      return {
        rxBytes: p.rxBytes + s.rxBytes,
        txBytes: p.txBytes + s.txBytes,
        rxFrames: p.rxFrames + s.rxFrames,
        txFrames: p.txFrames + s.txFrames,
      };
    });
    return { disks, nics };
  }

  /** Whether the boot files are in memory, so a reboot can rebuild the board at once. */
  private get hasBootFiles(): boolean {
    return Boolean(this.opts.kernel || this.opts.firmware) && !this.opts.restoring;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  get stopped(): boolean {
    return this.state === 'stopped';
  }

  /** created (never started), running, paused or stopped. */
  get phase(): 'created' | 'running' | 'paused' | 'stopped' {
    return this.state;
  }

  /**
   * A host-requested reset (QMP system_reset), as a guest reboot does it: the board is rebuilt
   * from the boot files (a restored VM reloads them first), disks and NICs stay. A paused VM
   * stays paused. Returns false when the VM has stopped or is already rebooting.
   */
  reset(): boolean {
    if (this.state === 'stopped' || this.rebooting) return false;
    // Called between turns (never from inside one): the old board is done with at once.
    if (this.hasBootFiles) {
      this.board = this.build(this.board.shutdown());
      this.events.rebooted?.();
      if (this.state === 'running') this.wake();
    } else this.rebootWithReloadedFiles();
    return true;
  }

  start(): void {
    if (this.state !== 'created' && this.state !== 'paused') return;
    this.state = 'running';
    this.schedule();
  }

  pause(): void {
    if (this.state !== 'running') return;
    this.state = 'paused';
    this.time.hold();
    this.cancelSleep?.();
    this.cancelSleep = undefined;
  }

  resume(): void {
    if (this.state === 'paused') this.start();
  }

  stop(reason: StopReason = { kind: 'quit' }): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.cancelSleep?.();
    // (Stopped from the output handler itself, the board's buffer is already empty.)
    this.board.flushOutput();
    this.events.stopped(reason);
  }

  /** The host's console is behind: the guest's console devices stop consuming output. */
  holdOutput(): void {
    this.heldByHost = true;
    this.board.holdOutput(true);
  }

  /** Whether holdOutput() is in force. */
  get outputHeld(): boolean {
    return this.heldByHost;
  }

  /** The host's console caught up: output flows again from the next turn on. */
  releaseOutput(): void {
    if (!this.heldByHost) return;
    this.heldByHost = false;
    this.board.holdOutput(false);
    this.wake();
  }

  /**
   * Presses the guest's power button (a virtio-input KEY_POWER press; the guest decides what it
   * means, usually a clean shutdown). Returns whether it was pressed: false once the VM stopped,
   * while it reboots, or while no guest driver runs the button (early boot, a guest without one).
   */
  pressPowerButton(): boolean {
    if (this.state === 'stopped' || this.rebooting) return false;
    const pressed = this.board.pressPowerButton();
    this.wake();
    return pressed;
  }

  /** Console input accepted from the host but not yet taken by the guest's UART. */
  get pendingInputBytes(): number {
    return this.pendingInputLen;
  }

  /**
   * Console input from the user; delivered as fast as the guest's UART FIFO drains. Returns how
   * many bytes were accepted: input beyond MAX_PENDING_INPUT waiting bytes is dropped.
   */
  input(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, MAX_PENDING_INPUT - this.pendingInputLen);
    if (n <= 0) return 0;
    this.pendingInput.push(bytes.slice(0, n));
    this.pendingInputLen += n;
    this.freshInput = true;
    // Mid-reboot the old board's UART is gone: the new board takes the bytes once it runs.
    if (!this.rebooting) this.deliverInput();
    this.wake();
    return n;
  }

  /** Ends a WFI sleep now: host I/O (input, a network frame, a disk completion) raised an interrupt. */
  wake(): void {
    if (this.state === 'running' && this.cancelSleep) {
      this.cancelSleep();
      this.cancelSleep = undefined;
      this.schedule();
    }
  }

  private deliverInput(): void {
    while (this.pendingInput.length) {
      const head = this.pendingInput[0]!;
      const n = this.board.input(head);
      this.pendingInputLen -= Math.min(n, head.length);
      if (n >= head.length) this.pendingInput.shift();
      else {
        this.pendingInput[0] = head.subarray(n);
        return;
      }
    }
  }

  private onOutput(bytes: Uint8Array): void {
    if (this.panicWatch.feed(bytes)) this.sawPanic = true;
    const why = this.bootWatch.feed(bytes);
    if (why !== undefined) this.noBoot = why;
    this.events.output(bytes);
  }

  private sawPanic = false;
  /** The guest's clock: host time without the stretches the host did not run the VM (guest-time.ts). */
  private readonly time: GuestTime;
  private profiler: GuestProfiler | undefined;

  /** Profiles the VM from now on (guest-profile.ts), across reboots; report with profiler.report(). */
  profileWith(profiler: GuestProfiler): void {
    this.profiler = profiler;
    profiler.attach(this.board);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.host.yieldTo(() => {
      this.scheduled = false;
      this.turn();
    });
  }

  private turn(): void {
    if (this.state !== 'running' || this.rebooting) return;
    const m = this.board;
    const turnStart = this.host.nowMs();
    const deadline = turnStart + TURN_MS;
    this.time.beginTurn();
    const prof = this.profiler;
    try {
      m.beginTurn();
      for (;;) {
        m.updateTimers();
        if (this.pendingInput.length) this.deliverInput();
        m.pollDevices();
        if (prof === undefined) m.runSlice(SLICE_BUDGET);
        else {
          const t = this.host.nowMs();
          const retired = m.runSlice(SLICE_BUDGET);
          prof.afterSlice(m, this.host.nowMs() - t, retired);
        }
        if (m.power || this.sawPanic || this.noBoot !== undefined) break;
        // This turn's output budget is spent with output waiting: hand it over, go on next turn.
        if (m.outputBudgetSpent) break;
        if (m.allWaiting()) {
          m.updateTimers();
          if (!m.allWaiting()) continue;
          // A NIC with transmit work left: keep turning (yielding at the deadline), don't sleep.
          if (m.devicesBusy) {
            if (this.host.nowMs() >= deadline) break;
            continue;
          }
          this.freshInput = false;
          m.flushOutput();
          // The output handler may have typed (the next piped line at a prompt): run it, don't sleep.
          if (this.freshInput) continue;
          const wake = m.nextTimerDeadline();
          const ms = wake === Infinity ? MAX_IDLE_SLEEP_MS : Math.min(MAX_IDLE_SLEEP_MS, m.clock.msUntil(wake));
          prof?.afterTurn(this.host.nowMs() - turnStart);
          this.time.endTurn(true);
          this.cancelSleep = this.host.sleep(() => {
            this.cancelSleep = undefined;
            this.turn();
          }, ms);
          return;
        }
        if (this.host.nowMs() >= deadline) break;
      }
    } catch (e) {
      this.stop({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
      return;
    }
    m.flushOutput();
    prof?.afterTurn(this.host.nowMs() - turnStart);
    this.time.endTurn(false);
    // The output handler may have stopped or paused the VM: a reboot then waits (or never happens).
    if (this.state !== 'running') return;
    if (this.sawPanic) {
      this.stop({ kind: 'panic' });
      return;
    }
    if (this.noBoot !== undefined) {
      this.stop({ kind: 'no-boot', why: this.noBoot });
      return;
    }
    if (m.power?.kind === 'reboot' && this.hasBootFiles) {
      // Disks and network backends stay open; every device and hart starts afresh, RAM is new.
      this.board = this.build(m.shutdown());
      this.events.rebooted?.();
    } else if (m.power?.kind === 'reboot') {
      this.rebootWithReloadedFiles();
      return;
    } else if (m.power) {
      this.stop(m.power);
      return;
    }
    this.schedule();
  }

  /**
   * A restored VM's guest rebooted: fetch the boot files from the host, then rebuild the board
   * as a fresh boot. Turns wait meanwhile (input stays queued); failure stops the VM with why.
   */
  private rebootWithReloadedFiles(): void {
    const settled = this.board.shutdown();
    const reload = this.reloadBoot ?? (() => Promise.reject(new Error(NO_BOOT_FILES)));
    let pending: Promise<BootFiles>;
    try {
      pending = reload();
    } catch (e) {
      pending = Promise.reject(e);
    }
    this.rebooting = pending.then(
      (files) => {
        this.rebooting = undefined;
        if (this.state === 'stopped') return;
        try {
          this.opts = { ...this.opts, ...files, restoring: false };
          this.board = this.build(settled);
        } catch (e) {
          this.stop({ kind: 'reboot', why: e instanceof Error ? e.message : String(e) });
          return;
        }
        this.events.rebooted?.();
        if (this.state === 'running') this.schedule();
      },
      (e: unknown) => {
        this.rebooting = undefined;
        this.stop({ kind: 'reboot', why: e instanceof Error ? e.message : String(e) });
      },
    );
  }

  /** Pauses, waits for disk I/O to settle, and returns a snapshot file (see snapshot-file.ts). */
  async snapshot(meta: VmSnapshotMeta): Promise<Uint8Array> {
    // Mid-reboot the old board is finished: save the new one (or fail if the VM stopped).
    if (this.rebooting) {
      await this.rebooting;
      if (this.state === 'stopped') throw new Error('the VM stopped while rebooting: nothing to save');
    }
    const wasRunning = this.state === 'running';
    this.pause();
    await this.board.drainIo();
    const bytes = encodeSnapshot({ meta, machine: this.board.saveState() }, this.board.bus.ram);
    if (wasRunning) this.resume();
    return bytes;
  }

  /**
   * Builds a VM from a snapshot file. `rebuild` receives the saved meta.config and returns the
   * board options (disks reopened etc.) and, to let the guest reboot, a `reloadBoot`; the VM
   * starts paused: call start().
   */
  static async restore(
    bytes: Uint8Array,
    rebuild: (config: unknown) => Promise<Omit<VmOptions, 'memoryBytes' | 'cpus'>>,
    host: VmHost,
    events: VmEvents,
  ): Promise<Vm> {
    const snap = decodeSnapshot(bytes);
    // The file is untrusted: its sizes are checked before anything is opened or allocated, and
    // every malformed field is a SnapshotError naming its path ("snapshot: machine.cpus: ...").
    const root = new StateReader('snapshot', snap.state);
    const machine = asSnapshotError(() => root.field('machine'));
    const head = asSnapshotError(() => {
      const h = readMachineHeader(machine);
      if (h.memoryBytes !== snap.ramSize)
        machine.fail(`${h.memoryBytes}, but the file's RAM image holds ${snap.ramSize} bytes`, 'memoryBytes');
      return h;
    });
    const meta =
      snap.state !== null && typeof snap.state === 'object' ? (snap.state as { meta?: unknown }).meta : undefined;
    const config = meta !== null && typeof meta === 'object' ? (meta as { config?: unknown }).config : undefined;
    const base = await rebuild(config);
    try {
      const vm = new Vm(
        {
          ...base,
          memoryBytes: head.memoryBytes,
          cpus: head.cpus,
          cpu: head.cpu,
          builtinSbi: head.builtinSbi,
          restoring: true,
        },
        host,
        events,
      );
      snap.restoreRam(vm.board.bus.ram);
      asSnapshotError(() => vm.board.loadState(machine));
      return vm;
    } catch (e) {
      // Nothing ran: give back what rebuild opened (a failed restore must not hold the disks).
      for (const d of base.disks ?? []) await d.backend.close().catch(() => {});
      if (e instanceof BoardConfigError) throw new SnapshotError(`snapshot: ${e.message}`);
      throw e;
    }
  }
}

/** Runs fn, turning a StateError (a malformed field) into the SnapshotError restore callers expect. */
function asSnapshotError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof StateError) throw new SnapshotError(e.message);
    throw e;
  }
}
