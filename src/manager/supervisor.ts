/**
 * The supervisor: starts each VM as its own `virtkit run` process, controls it over QMP, and
 * notices when it ends.
 *
 * A VM process is spawned detached (its own session: a signal to the daemon's process group
 * never reaches it), stdin/stdout on /dev/null and stderr appended to vms/<id>/vm.stderr, and
 * unref'd, so the daemon can exit (or be killed) while VMs run. Exit detection:
 *   - while this daemon is the parent: the child's 'exit' gives the status or the signal;
 *   - after a re-attach (the VM was started by an earlier daemon): its QMP socket closes, then
 *     its pid is watched until it is gone. Without an exit status, a VM that sent QMP SHUTDOWN
 *     (guest power-off, or quit) stopped; one that vanished without it crashed.
 * A VM that exits 0, or ends after the manager asked it to (stop, shutdown, delete), is stopped;
 * otherwise (a signal, a nonzero status without a request) it crashed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ManagerDb, VmRow, VmState } from './db.ts';
import type { EventBus } from './events.ts';
import type { QmpConnector, QmpEvent, QmpLink } from './qmp-link.ts';
import { runArgs, vmFiles } from './vm-def.ts';
import { pidAlive, processArgs, type StateDir } from './state-dir.ts';
import { ApiError, unusable, wrongState } from './api-error.ts';

/** How long `stop` waits after QMP quit before SIGKILL. */
export const STOP_GRACE_MS = 5000;
/** Power button presses while the guest cannot take them yet, and after it took one (see shutdown). */
export const PRESS_RETRY_MS = 1000;
export const PRESS_REPEAT_MS = 5000;
/** How long a starting VM may take to open its QMP socket (the first start may fetch the guest). */
export const START_TIMEOUT_MS = 300_000;
/** vm.stderr is rotated to vm.stderr.1 at each start and exit once it is larger than this. */
export const STDERR_MAX = 1 << 20;

type Intent = 'stop' | 'shutdown' | 'delete' | 'move';

interface Runtime {
  vmId: string;
  pid: number;
  child?: ChildProcess;
  qmp?: QmpLink;
  intent?: Intent;
  /** Why the manager ended it (a kill after a timeout), for the stopped event. */
  intentReason?: string;
  sawShutdown: boolean;
  /** intent 'move': the state file x-virtkit-save-and-quit writes (whole once it exists: tmp + rename). */
  moveFile?: string;
  /** Settles once the exit has been recorded. */
  exited: Promise<void>;
  markExited: () => void;
  done: boolean;
  timers: NodeJS.Timeout[];
}

/** bin/virtkit of this package: it picks the bundle or the sources (tsx) itself. */
export function virtkitEntry(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'virtkit') return join(dir, 'bin', 'virtkit');
    } catch {
      // keep walking up
    }
    dir = dirname(dir);
  }
  throw new Error('cannot find the virtkit package root (bin/virtkit) above ' + fileURLToPath(import.meta.url));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function removeQuietly(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    // not there
  }
}

/** The last non-empty line of a VM's stderr (why it failed to start), at most 300 characters. */
export function stderrTail(file: string): string | undefined {
  try {
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    try {
      const n = Math.min(size, 4096);
      const buf = Buffer.alloc(n);
      readSync(fd, buf, 0, n, size - n);
      const lines = buf
        .toString('utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      return lines.at(-1)?.slice(0, 300);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

function rotateStderr(file: string): void {
  try {
    if (statSync(file).size > STDERR_MAX) renameSync(file, `${file}.1`);
  } catch {
    // no file yet
  }
}

/**
 * The environment of a VM process. A fixed glibc mmap threshold makes every large allocation its
 * own mapping, returned to the system when freed: with glibc's default sliding threshold the
 * kernel and initrd read at boot (tens of MiB) land in the brk heap and stay resident after the
 * VM drops them. Measured by bench/density: ~125 -> ~80 MiB per VM beyond guest RAM.
 */
const VM_PROCESS_ENV: NodeJS.ProcessEnv = { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' };

export class Supervisor {
  private readonly runtimes = new Map<string, Runtime>();
  private readonly entry = virtkitEntry();
  private closing = false;

  constructor(
    private readonly dir: StateDir,
    private readonly db: ManagerDb,
    private readonly bus: EventBus,
    private readonly connectQmp: QmpConnector,
  ) {}

  /** Records a state change and its event; false when the VM was not in `from`. */
  setState(
    vm: VmRow,
    from: readonly VmState[],
    to: VmState,
    reason?: string,
    extra: Parameters<ManagerDb['transition']>[3] = {},
  ): boolean {
    const previous = this.db.transition(vm.id, from, to, { ...extra, ...(reason !== undefined ? { reason } : {}) });
    if (previous === undefined) return false;
    this.bus.publish(
      this.db.addEvent({
        vm: vm.name,
        vmId: vm.id,
        state: to,
        previous,
        ...(reason !== undefined ? { reason } : {}),
        time: new Date().toISOString(),
      }),
    );
    return true;
  }

  /** An event that is not a state change (a reboot), stored and pushed like the others. */
  note(vm: VmRow, reason: string): void {
    this.bus.publish(
      this.db.addEvent({
        vm: vm.name,
        vmId: vm.id,
        state: vm.state,
        previous: vm.state,
        reason,
        time: new Date().toISOString(),
      }),
    );
  }

  isActive(id: string): boolean {
    return this.runtimes.has(id);
  }

  qmp(vm: VmRow): QmpLink {
    const rt = this.runtimes.get(vm.id);
    if (!rt?.qmp) throw wrongState(vm.name, vm.state, 'control');
    return rt.qmp;
  }

  /** Starts a stopped or crashed VM; resolves once its QMP socket answers. `restore`: a snapshot state file. */
  async start(vm: VmRow, restore?: string, from: readonly VmState[] = ['stopped', 'crashed']): Promise<void> {
    if (this.closing) throw new ApiError(500, 'shutting-down', 'the daemon is shutting down');
    if (!this.setState(vm, from, 'starting', undefined, { reason: null }))
      throw wrongState(vm.name, this.db.getVmById(vm.id)?.state ?? vm.state, 'start');
    const vmDir = this.dir.vmDir(vm.id);
    const f = vmFiles(vmDir);
    let rt: Runtime | undefined;
    try {
      mkdirSync(vmDir, { recursive: true, mode: 0o700 });
      for (const p of [f.qmp, f.console, f.pid]) removeQuietly(p);
      rotateStderr(f.stderr);
      const errFd = openSync(f.stderr, 'a', 0o600);
      let child: ChildProcess;
      try {
        child = spawn(process.execPath, [this.entry, 'run', ...runArgs(vm, vmDir, restore)], {
          detached: true,
          stdio: ['ignore', 'ignore', errFd],
          cwd: vmDir,
          env: VM_PROCESS_ENV,
        });
      } finally {
        closeSync(errFd);
      }
      child.unref();
      const spawned = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid!));
        child.once('error', reject);
      });
      rt = this.track(vm, spawned, child);
      const exitedEarly = rt.exited.then(() => 'exited' as const);
      const link = await Promise.race([this.waitForQmp(f.qmp, rt), exitedEarly]);
      if (link === 'exited') {
        const why = this.db.getVmById(vm.id)?.reason ?? 'the VM process exited';
        throw unusable(`VM '${vm.name}' did not start: ${why}`);
      }
      this.attachQmp(rt, link);
      const to = await settledState(link, rt);
      if (!to) {
        await rt.exited;
        const why = this.db.getVmById(vm.id)?.reason ?? 'the VM process exited';
        throw unusable(`VM '${vm.name}' did not start: ${why}`);
      }
      this.setState(vm, ['starting'], to, restore ? 'restored from a snapshot' : undefined, {
        pid: spawned,
        startedAt: new Date().toISOString(),
      });
    } catch (e) {
      if (rt && !rt.done) {
        rt.intent = undefined;
        try {
          process.kill(rt.pid, 'SIGKILL');
        } catch {
          // gone already
        }
        await rt.exited;
      } else if (!rt) {
        this.setState(vm, ['starting'], 'crashed', `cannot start the VM process: ${(e as Error).message}`, {
          pid: null,
        });
      }
      if (e instanceof ApiError) throw e;
      throw unusable(`VM '${vm.name}' did not start: ${(e as Error).message}`);
    }
  }

  private track(vm: VmRow, pid: number, child?: ChildProcess): Runtime {
    let markExited!: () => void;
    const rt: Runtime = {
      vmId: vm.id,
      pid,
      sawShutdown: false,
      exited: new Promise<void>((r) => (markExited = r)),
      markExited: () => markExited(),
      done: false,
      timers: [],
      ...(child ? { child } : {}),
    };
    this.runtimes.set(vm.id, rt);
    if (child) {
      this.db.transition(vm.id, ['starting'], 'starting', { pid });
      child.once('exit', (code, signal) => this.exitedWith(rt, code, signal));
    }
    return rt;
  }

  /** Polls for the QMP socket and connects; fails when the VM exits or START_TIMEOUT_MS passes. */
  private async waitForQmp(path: string, rt: Runtime): Promise<QmpLink> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last: unknown;
    while (!rt.done && Date.now() < deadline) {
      if (existsSync(path)) {
        try {
          return await this.connectQmp(path, 5000);
        } catch (e) {
          last = e;
        }
      }
      await sleep(100);
    }
    if (rt.done) throw new Error('the VM process exited');
    throw new Error(
      `its QMP socket did not answer within ${START_TIMEOUT_MS / 1000} s${last ? ` (${(last as Error).message})` : ''}`,
    );
  }

  private attachQmp(rt: Runtime, link: QmpLink): void {
    rt.qmp = link;
    link.onEvent((e) => this.qmpEvent(rt, e));
    link.onClose(() => {
      if (rt.qmp === link) rt.qmp = undefined;
      // The parent learns the exit status from 'exit'; a re-attached daemon watches the pid.
      if (!rt.child && !rt.done && !this.closing) void this.watchPid(rt);
    });
  }

  private qmpEvent(rt: Runtime, e: QmpEvent): void {
    const vm = this.db.getVmById(rt.vmId);
    if (!vm) return;
    if (e.event === 'SHUTDOWN') rt.sawShutdown = true;
    else if (e.event === 'STOP') this.setState(vm, ['running'], 'paused');
    else if (e.event === 'RESUME') this.setState(vm, ['paused'], 'running');
    else if (e.event === 'RESET' && e.data?.['guest'] === true) this.note(vm, 'the guest rebooted');
  }

  private async watchPid(rt: Runtime): Promise<void> {
    while (!rt.done && !this.closing && pidAlive(rt.pid)) await sleep(200);
    if (!rt.done && !this.closing) this.exitedWith(rt, null, null);
  }

  /** Records the end of a VM process: stopped or crashed, sockets removed. */
  private exitedWith(rt: Runtime, code: number | null, signal: NodeJS.Signals | null): void {
    if (rt.done) return;
    rt.done = true;
    for (const t of rt.timers) clearTimeout(t);
    rt.qmp?.close();
    this.runtimes.delete(rt.vmId);
    const vm = this.db.getVmById(rt.vmId);
    if (vm) {
      const dir = this.dir.vmDir(vm.id);
      const f = vmFiles(dir);
      const asked = rt.intent !== undefined;
      const known = code !== null || signal !== null;
      const clean = asked || code === 0 || (!known && rt.sawShutdown);
      // A move to a browser tab: the state file is complete once it exists, and the VM lives on there.
      const moved = rt.intent === 'move' && rt.moveFile !== undefined && existsSync(rt.moveFile);
      let reason: string;
      if (moved) reason = 'moved to a browser tab';
      else if (asked) reason = rt.intentReason ?? (rt.intent === 'shutdown' ? 'the guest powered off' : 'stopped');
      else if (code === 0) reason = 'the guest powered off';
      else if (!known)
        reason = clean
          ? 'the VM process ended after a QMP SHUTDOWN'
          : 'the VM process ended without a QMP SHUTDOWN (exit status unknown: an earlier daemon started it)';
      else {
        const tail = stderrTail(f.stderr);
        reason = signal ? `killed by ${signal}` : `exit status ${code}`;
        if (tail && !signal) reason += `: ${tail}`;
      }
      const to: VmState = moved ? 'in-browser' : clean ? 'stopped' : 'crashed';
      this.setState(vm, ['starting', 'running', 'paused', 'stopping'], to, reason, { pid: null });
      for (const p of [f.qmp, f.console, f.pid]) removeQuietly(p);
      rotateStderr(f.stderr);
    }
    rt.markExited();
  }

  private kill(rt: Runtime, signal: NodeJS.Signals): void {
    try {
      process.kill(rt.pid, signal);
    } catch {
      // already gone
    }
  }

  /** Power off now: QMP quit, SIGKILL after STOP_GRACE_MS. Resolves once the process is gone. */
  async stop(vm: VmRow, intent: Intent = 'stop'): Promise<void> {
    const rt = this.runtimes.get(vm.id);
    if (!rt || !['starting', 'running', 'paused', 'stopping'].includes(vm.state))
      throw wrongState(vm.name, vm.state, 'stop');
    rt.intent = rt.intent === 'shutdown' && intent === 'stop' ? 'stop' : intent;
    rt.intentReason = intent === 'delete' ? 'deleted' : 'stopped';
    this.setState(vm, ['starting', 'running', 'paused'], 'stopping', 'stop requested');
    rt.timers.push(
      setTimeout(() => {
        rt.intentReason = `killed: it did not quit within ${STOP_GRACE_MS / 1000} s`;
        this.kill(rt, 'SIGKILL');
      }, STOP_GRACE_MS),
    );
    // The reply to quit may never come (the process is gone first): the exit is what counts.
    if (rt.qmp) await Promise.race([rt.qmp.execute('quit').catch(() => undefined), rt.exited]);
    else this.kill(rt, 'SIGTERM');
    await rt.exited;
  }

  /**
   * Moves a running or paused VM out of its process (to a browser tab): QMP
   * x-virtkit-save-and-quit writes RAM and device state to `stateFile` with the guest paused and
   * its disks flushed, then the process quits and releases its disks. Resolves once it is gone,
   * the VM `in-browser`; a failed save leaves the VM running as it was (422).
   */
  async moveOut(vm: VmRow, stateFile: string): Promise<void> {
    const rt = this.runtimes.get(vm.id);
    if (!rt?.qmp || (vm.state !== 'running' && vm.state !== 'paused') || rt.intent !== undefined)
      throw wrongState(vm.name, vm.state, 'move');
    removeQuietly(stateFile);
    rt.intent = 'move';
    rt.moveFile = stateFile;
    try {
      await Promise.race([rt.qmp.execute('x-virtkit-save-and-quit', { 'state-file': stateFile }), rt.exited]);
    } catch (e) {
      if (!rt.done) {
        rt.intent = undefined;
        rt.moveFile = undefined;
      }
      throw unusable(`VM '${vm.name}' could not be saved for the move (it runs on): ${(e as Error).message}`);
    }
    // The process quits by itself once the file is written; one that hangs is killed.
    rt.timers.push(setTimeout(() => this.kill(rt, 'SIGKILL'), STOP_GRACE_MS));
    await rt.exited;
    const now = this.db.getVmById(vm.id);
    if (now?.state !== 'in-browser')
      throw unusable(`VM '${vm.name}' did not move: ${now?.reason ?? 'its process ended without its state file'}`);
  }

  /**
   * Presses the power button; after `timeoutS` the VM is stopped as by stop(). Resolves at once.
   * A guest early in its boot loses a press: before its driver for the button is loaded the VM
   * refuses system_powerdown (where QEMU would queue an ACPI event), and between the driver and
   * the daemon that acts on the key (acpid, logind) the key goes unheard. So the press is repeated
   * until the VM ends: every PRESS_RETRY_MS while refused, every PRESS_REPEAT_MS once taken (a
   * guest already powering off ignores it).
   */
  async shutdown(vm: VmRow, timeoutS: number): Promise<void> {
    const rt = this.runtimes.get(vm.id);
    if (!rt?.qmp || vm.state !== 'running') throw wrongState(vm.name, vm.state, 'shut down');
    rt.intent = 'shutdown';
    rt.intentReason = 'the guest powered off';
    const press = () =>
      rt.qmp
        ? rt.qmp.execute('system_powerdown').then(
            () => true,
            () => false,
          )
        : Promise.resolve(false);
    const pressed = await press();
    this.setState(
      vm,
      ['running'],
      'stopping',
      pressed ? 'power button pressed' : 'power button pressed (the guest has no driver for it yet: pressing again)',
    );
    const again = (taken: boolean) => {
      if (rt.done) return;
      rt.timers.push(setTimeout(() => void press().then(again), taken ? PRESS_REPEAT_MS : PRESS_RETRY_MS));
    };
    again(pressed);
    rt.timers.push(
      setTimeout(() => {
        if (rt.done) return;
        rt.intentReason = `killed: the guest did not power off within ${timeoutS} s`;
        rt.timers.push(setTimeout(() => this.kill(rt, 'SIGKILL'), STOP_GRACE_MS));
        if (rt.qmp) void rt.qmp.execute('quit').catch(() => undefined);
        else this.kill(rt, 'SIGKILL');
      }, timeoutS * 1000),
    );
  }

  async pause(vm: VmRow): Promise<void> {
    if (vm.state !== 'running') throw wrongState(vm.name, vm.state, 'pause');
    await this.qmp(vm).execute('stop');
    this.setState(vm, ['running'], 'paused');
  }

  async resume(vm: VmRow): Promise<void> {
    if (vm.state !== 'paused') throw wrongState(vm.name, vm.state, 'resume');
    await this.qmp(vm).execute('cont');
    this.setState(vm, ['paused'], 'running');
  }

  async reboot(vm: VmRow): Promise<void> {
    if (vm.state !== 'running' && vm.state !== 'paused') throw wrongState(vm.name, vm.state, 'reboot');
    await this.qmp(vm).execute('system_reset');
    this.note(vm, 'reboot requested');
  }

  /**
   * Re-attaches to the VMs an earlier daemon left running: a live pid whose command line is this
   * VM's `virtkit run` gets its QMP socket reconnected and its true state from query-status;
   * anything else is recorded as crashed (or stopped, if it was being stopped).
   */
  async reattach(): Promise<void> {
    for (const vm of this.db.listVms()) {
      if (vm.state === 'in-browser') {
        // Its disks were served by the daemon that ended: the tab's VM lost them (browser-move.ts).
        this.setState(
          vm,
          ['in-browser'],
          'stopped',
          'the daemon restarted while the VM ran in a browser tab: the tab lost its disks; they hold what it wrote (as after a power cut)',
        );
        continue;
      }
      if (!['starting', 'running', 'paused', 'stopping'].includes(vm.state)) continue;
      const f = vmFiles(this.dir.vmDir(vm.id));
      const ours = vm.pid !== undefined && pidAlive(vm.pid) && isVmProcess(vm.pid, f.pid);
      if (!ours) {
        const stopping = vm.state === 'stopping';
        this.setState(
          vm,
          [vm.state],
          stopping ? 'stopped' : 'crashed',
          stopping ? 'stopped while no daemon watched it' : 'the VM process ended while no daemon watched it',
          { pid: null },
        );
        for (const p of [f.qmp, f.console, f.pid]) removeQuietly(p);
        continue;
      }
      const rt = this.track(vm, vm.pid!);
      try {
        const link = await this.connectQmp(f.qmp, 5000);
        this.attachQmp(rt, link);
        const status = (await settledState(link, rt)) ?? 'stopping';
        const truth: VmState = vm.state === 'stopping' ? 'stopping' : status;
        if (truth !== vm.state) this.setState(vm, [vm.state], truth, 're-attached');
        else this.note(vm, 're-attached');
        if (vm.state === 'stopping') {
          // The earlier daemon was stopping it: finish the job.
          const now = this.db.getVmById(vm.id)!;
          void this.stop(now).catch(() => undefined);
        }
      } catch (e) {
        // Alive but not answering QMP: it cannot be controlled. Watch it until it ends.
        this.note(vm, `re-attached without control: its QMP socket does not answer (${(e as Error).message})`);
        void this.watchPid(rt);
      }
    }
  }

  /** Waits for a VM's process to end (used by delete with force). */
  exited(id: string): Promise<void> {
    return this.runtimes.get(id)?.exited ?? Promise.resolve();
  }

  /** Daemon shutdown: forget the VMs (they keep running) and close their QMP connections. */
  detachAll(): void {
    this.closing = true;
    for (const rt of this.runtimes.values()) {
      for (const t of rt.timers) clearTimeout(t);
      rt.qmp?.close();
      rt.child?.removeAllListeners('exit');
    }
    this.runtimes.clear();
  }

  /** pids of running VM processes (for tests and diagnostics). */
  pids(): number[] {
    return [...this.runtimes.values()].map((r) => r.pid);
  }
}

/**
 * The VM's run state from QMP query-status, once it is past 'prelaunch' (the VM process answers
 * QMP before its CPUs start): running, paused (also while a snapshot is being saved), or
 * undefined when the guest is ending (shutdown, guest-panicked, internal-error) or the process
 * exited.
 */
async function settledState(link: QmpLink, rt: Runtime): Promise<'running' | 'paused' | undefined> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!rt.done && Date.now() < deadline) {
    const { status } = (await link.execute('query-status')) as { status?: string };
    if (status === 'running') return 'running';
    if (status === 'paused' || status === 'save-vm') return 'paused';
    if (status !== 'prelaunch') return undefined;
    await sleep(50);
  }
  return undefined;
}

/** True when pid's command line is `virtkit run ... --pidfile PIDFILE` (the VM of that directory). */
export function isVmProcess(pid: number, pidFile: string): boolean {
  const args = processArgs(pid);
  if (!args) return false;
  const i = args.indexOf('--pidfile');
  return i > 0 && args[i + 1] === pidFile && args.includes('run');
}
