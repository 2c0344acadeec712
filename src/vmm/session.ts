/**
 * A VM session: the one way front ends (the CLI, the browser worker, the manager daemon) drive a
 * VM. It wraps a Vm (vm.ts) built from a validated VmSpec (vm-spec.ts) or a snapshot, and adds
 * what every front end needs and each used to compute for itself from the board's internals:
 * whether the console sits at a shell prompt (prompt.ts), whether the guest is idle, instruction
 * counts and speed, saving a consistent snapshot while the user may pause or resume, and
 * flushing and closing the disks. Stop reasons are reported with their one text (stop-reason.ts).
 *
 * Host code opens files, disks and sockets and hands them in; nothing here touches the host.
 */
import type { GuestProfiler } from './guest-profile.ts';
import { Vm, type BootReloader, type DeviceStats, type StopReason, type VmEvents, type VmHost } from './vm.ts';
import { PromptWatch } from './prompt.ts';
import { describeStop } from './stop-reason.ts';
import { validateAttachments, validateVmSpec, type VmAttachments, type VmSpec, type VmSpecDisk } from './vm-spec.ts';

export interface SessionEvents {
  /** Guest console output (see VmEvents.output); hold with session.holdOutput() when behind. */
  output(bytes: Uint8Array): void;
  /** The VM stopped; `text` is the reason in one line (describeStop). */
  stopped(reason: StopReason, text: string): void;
  /** The guest rebooted and a fresh board boots. */
  rebooted?(): void;
  /** The console showed a shell prompt for the first time in this session. */
  firstPrompt?(at: { ms: number; instret: number }): void;
}

export interface SessionStats {
  /** Instructions retired since the board was built (all harts). */
  instret: number;
  /** Since start(). */
  seconds: number;
  /** Millions of instructions per second since the previous stats() call (or start()). */
  mips: number;
}

/** What a restore hands in for the snapshot's configuration; `reloadBoot` lets the guest reboot. */
export type RestoreAttachments = VmAttachments & { reloadBoot?: BootReloader };

/** The disks' serial numbers, in order, as the guest sees them (/dev/disk/by-id/virtio-virtkit0...). */
const serialOf = (i: number) => `virtkit${i}`;

export class VmSession {
  private readonly prompt = new PromptWatch();
  private promptSeen = false;
  private startedAt = 0;
  private lastOutputAt: number;
  private lastStats = { at: 0, instret: 0 };
  /** While a snapshot is taken the VM is held paused; this is whether it runs again afterwards. */
  private saving: { resume: boolean } | undefined;
  private vm!: Vm;

  private constructor(
    private readonly host: VmHost,
    private readonly events: SessionEvents,
    readonly disks: readonly VmSpecDisk[],
  ) {
    this.lastOutputAt = host.nowMs();
  }

  /** Builds a VM from a spec (checked first: a VmSpecError names a bad field); call start() to run it. */
  static boot(spec: VmSpec, host: VmHost, events: SessionEvents): VmSession {
    const s = validateVmSpec(spec);
    const session = new VmSession(host, events, s.disks);
    session.vm = new Vm(
      {
        memoryBytes: s.memoryBytes,
        cpus: s.cpus,
        ...(s.cpu !== undefined ? { cpu: s.cpu } : {}),
        ...s.boot,
        append: s.append,
        disks: s.disks.map((d, i) => ({ backend: d.backend, readOnly: d.readOnly, serial: serialOf(i) })),
        nics: s.nics.map((n) => ({ backend: n.backend, ...(n.mac ? { mac: n.mac } : {}) })),
        ...(s.translate !== undefined ? { translate: s.translate } : {}),
        ...(s.tier !== undefined ? { tier: s.tier } : {}),
        ...(s.reloadBoot ? { reloadBoot: s.reloadBoot, releaseBootFiles: true } : {}),
      },
      host,
      session.vmEvents(),
    );
    return session;
  }

  /**
   * Builds a VM from a snapshot file. `attach` receives the snapshot's meta.config (untrusted)
   * and returns the disks and NICs the host opened for it; the VM starts paused: call start().
   */
  static async restore(
    bytes: Uint8Array,
    attach: (config: unknown) => Promise<RestoreAttachments>,
    host: VmHost,
    events: SessionEvents,
  ): Promise<VmSession> {
    let session: VmSession | undefined;
    const vm = await Vm.restore(
      bytes,
      async (config) => {
        const got = await attach(config);
        const a = validateAttachments(got);
        session = new VmSession(host, events, a.disks);
        return {
          disks: a.disks.map((d, i) => ({ backend: d.backend, readOnly: d.readOnly, serial: serialOf(i) })),
          nics: a.nics.map((n) => ({ backend: n.backend, ...(n.mac ? { mac: n.mac } : {}) })),
          ...(a.translate !== undefined ? { translate: a.translate } : {}),
          ...(a.tier !== undefined ? { tier: a.tier } : {}),
          ...(a.append !== undefined ? { append: a.append } : {}),
          ...(got.reloadBoot ? { reloadBoot: got.reloadBoot } : {}),
        };
      },
      host,
      {
        output: (b) => session?.onOutput(b),
        stopped: (r) => session?.onStopped(r),
        rebooted: () => session?.onRebooted(),
      },
    );
    session!.vm = vm;
    // A restored guest is where it was saved, usually at its prompt: the first prompt seen counts.
    return session!;
  }

  private vmEvents(): VmEvents {
    return {
      output: (b) => this.onOutput(b),
      stopped: (r) => this.onStopped(r),
      rebooted: () => this.onRebooted(),
    };
  }

  private onOutput(bytes: Uint8Array): void {
    this.lastOutputAt = this.host.nowMs();
    if (this.prompt.feed(bytes) && !this.promptSeen) {
      this.promptSeen = true;
      this.events.firstPrompt?.({ ms: this.lastOutputAt - this.startedAt, instret: this.instructions });
    }
    this.events.output(bytes);
  }

  private onStopped(r: StopReason): void {
    this.events.stopped(r, describeStop(r));
  }

  private onRebooted(): void {
    this.prompt.reset();
    this.events.rebooted?.();
  }

  start(): void {
    this.startedAt = this.host.nowMs();
    this.lastStats = { at: this.startedAt, instret: this.instructions };
    this.vm.start();
  }

  /**
   * Pauses the guest (mid-save: it stays paused once the snapshot is taken). Returns whether the
   * VM was running or being saved, i.e. whether the front end should now show it paused.
   */
  pause(): boolean {
    if (this.saving) {
      this.saving.resume = false;
      return true;
    }
    if (!this.vm.running) return false;
    this.vm.pause();
    return true;
  }

  /** Resumes a paused guest (mid-save: it runs again once the snapshot is taken). Returns whether it will run. */
  resume(): boolean {
    if (this.saving) {
      this.saving.resume = true;
      return true;
    }
    if (this.vm.running || this.vm.stopped) return false;
    this.vm.resume();
    return true;
  }

  stop(reason: StopReason = { kind: 'quit' }): void {
    this.vm.stop(reason);
  }

  get running(): boolean {
    return this.vm.running;
  }

  /** created (never started), running, paused or stopped. */
  get phase(): 'created' | 'running' | 'paused' | 'stopped' {
    return this.vm.phase;
  }

  /** Resets the machine (QMP system_reset): as a guest reboot; see Vm.reset. */
  reset(): boolean {
    return this.vm.reset();
  }

  get stopped(): boolean {
    return this.vm.stopped;
  }

  /**
   * Presses the guest's power button (QMP system_powerdown, `virtkit run`'s Ctrl-A p). True when
   * pressed; false when the VM has stopped, is rebooting or its guest has no driver for the button
   * yet (see Vm.pressPowerButton). A guest that obeys stops with the power-off reason.
   */
  pressPowerButton(): boolean {
    return this.vm.pressPowerButton();
  }

  /** Console input; returns the bytes accepted (see Vm.input). */
  input(bytes: Uint8Array): number {
    return this.vm.input(bytes);
  }

  get pendingInputBytes(): number {
    return this.vm.pendingInputBytes;
  }

  holdOutput(): void {
    this.vm.holdOutput();
  }

  releaseOutput(): void {
    this.vm.releaseOutput();
  }

  get outputHeld(): boolean {
    return this.vm.outputHeld;
  }

  /** Host I/O for the guest arrived (a network frame): end a WFI sleep now. */
  wake(): void {
    this.vm.wake();
  }

  /** The console output ends in a shell prompt (prompt.ts). */
  get atPrompt(): boolean {
    return this.prompt.atPrompt;
  }

  /** Milliseconds since the guest last printed (or since the session was made). */
  get msSinceOutput(): number {
    return this.host.nowMs() - this.lastOutputAt;
  }

  /** Every hart waits for an interrupt and the guest has taken every typed byte. */
  get idle(): boolean {
    return !this.vm.stopped && this.vm.pendingInputBytes === 0 && this.vm.allHartsWaiting;
  }

  /** Milliseconds since start() (0 before). */
  get uptimeMs(): number {
    return this.vm.phase === 'created' ? 0 : this.host.nowMs() - this.startedAt;
  }

  /** Disk i's serial number, as the guest sees it (its id in x-virtkit-query-stats). */
  diskSerial(i: number): string {
    return serialOf(i);
  }

  /** Disk and NIC I/O counters (Vm.deviceStats). */
  deviceStats(): DeviceStats {
    return this.vm.deviceStats();
  }

  /** Instructions retired since the current board was built. */
  get instructions(): number {
    return this.vm.instructions;
  }

  /** Guest RAM in bytes (what reloaded boot files must fit in). */
  get memoryBytes(): number {
    return this.vm.memoryBytes;
  }

  stats(): SessionStats {
    const now = this.host.nowMs();
    const n = this.instructions;
    const dt = (now - this.lastStats.at) / 1000;
    // A reboot builds a new board whose count starts again from zero.
    const ran = n >= this.lastStats.instret ? n - this.lastStats.instret : n;
    const mips = dt > 0 ? ran / dt / 1e6 : 0;
    this.lastStats = { at: now, instret: n };
    return { instret: n, seconds: (now - this.startedAt) / 1000, mips };
  }

  /** Profiles the VM from now on (guest-profile.ts): `virtkit run --profile`. */
  profileWith(profiler: GuestProfiler): void {
    this.vm.profileWith(profiler);
  }

  /** One diagnostic line per NIC (counters, queue state). */
  describeNics(): string[] {
    return this.vm.describeNics();
  }

  /**
   * Takes a snapshot: pauses the guest, lets its disk I/O settle and flushes writable disks (image
   * formats may hold metadata back until a flush), then asks `config` for the snapshot's
   * meta.config at that instant (it may read the disks, e.g. fingerprint them) and saves. The VM
   * runs again afterwards unless it was paused, or pause() was called meanwhile.
   */
  async save(config: () => unknown): Promise<Uint8Array> {
    return this.quiesce(async () => this.vm.snapshot({ config: await config() }));
  }

  /**
   * Runs `fn` with the VM paused, its disk I/O drained and its writable disks flushed, then
   * resumes it if it was running (a backup point: internal disk snapshots without RAM state).
   */
  async quiesce<T>(fn: () => Promise<T>): Promise<T> {
    if (this.vm.stopped) throw new Error('nothing to save: the VM has stopped');
    if (this.saving) throw new Error('a snapshot is already being saved');
    const saving = { resume: this.vm.running };
    this.saving = saving;
    this.vm.pause();
    try {
      await this.vm.drainIo();
      for (const d of this.disks) if (!d.readOnly) await d.backend.flush();
      return await fn();
    } finally {
      this.saving = undefined;
      if (saving.resume) this.vm.resume();
    }
  }

  /** Whether a save is under way. */
  get isSaving(): boolean {
    return this.saving !== undefined;
  }

  /**
   * Flushes (with `flush`) and closes every disk, so what the guest wrote is on the host; returns
   * the first failure (the others are still closed).
   */
  async closeDisks(flush: boolean): Promise<Error | undefined> {
    let failed: Error | undefined;
    for (const d of this.disks) {
      try {
        if (flush) await d.backend.flush();
        await d.backend.close();
      } catch (e) {
        failed ??= e instanceof Error ? e : new Error(String(e));
      }
    }
    return failed;
  }
}
