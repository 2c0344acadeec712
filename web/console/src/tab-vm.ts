/**
 * A VM moved from the daemon into this tab (docs/web-console.md, "A VM in this tab"): the daemon
 * saves and stops its process (POST /v1/vms/{name}/browser), the tab fetches the snapshot and
 * continues it in a Web Worker (`virtkit web`'s worker, /assets/worker.js) whose disks are read
 * and written through the daemon's block protocol. "Send back" pauses the worker, takes its
 * snapshot and uploads it (POST .../browser/return); the daemon resumes the VM in a new process.
 *
 * While the VM is here the tab calls .../browser/heartbeat every HEARTBEAT_MS, so the daemon can
 * tell a closed tab (no request for its lease) from a quiet guest. If the worker cannot continue
 * the VM, the daemon's own snapshot goes straight back (the disks are untouched): nothing is lost.
 */
import type { UiMessage, WorkerMessage } from '../../../src/host/browser/protocol.ts';
import type { RemoteVm } from '../../../src/host/browser/daemon-vm.ts';
import { ApiFailure, type Api } from './api.ts';

const HEARTBEAT_MS = 10_000;
/** Output kept for a VM page opened again while the VM runs here (its terminal starts empty). */
const RECENT_MAX = 64 * 1024;

/** POST /v1/vms/{name}/browser's answer (src/manager/browser-move.ts MoveAnswer). */
interface MoveAnswer {
  session: string;
  lease: number;
  disks: RemoteVm['disks'];
  paused: boolean;
}

export interface TabVmView {
  output(bytes: Uint8Array, done: () => void): void;
  /** The worker's phase ('running', 'paused', ...). */
  phase(text: string): void;
  /** The VM ended here (the guest powered off, or the daemon took it back). */
  ended(reason: string): void;
  error(message: string): void;
}

async function failure(res: Response): Promise<ApiFailure> {
  const text = await res.text().catch(() => '');
  try {
    const e = (JSON.parse(text) as { error: { code: string; message: string } }).error;
    return new ApiFailure(res.status, e.code, e.message);
  } catch {
    return new ApiFailure(res.status, 'http', `HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
}

export class TabVm {
  private readonly worker: Worker;
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly recent: Uint8Array[] = [];
  private recentBytes = 0;
  private view: TabVmView | undefined;
  private waiting: { ok: (m: WorkerMessage) => void; ko: (e: Error) => void; want: WorkerMessage['t'] } | undefined;
  private closed = false;
  /** A send-back is under way: the daemon ending the session is then expected, not news. */
  private leaving = false;
  phaseText = 'restoring';
  /** The worker's last figures (instructions so far, MIPS), for the page and tests. */
  stats = { instret: 0, mips: 0 };

  private constructor(
    readonly name: string,
    private readonly base: string,
    private readonly headers: Record<string, string>,
  ) {
    this.worker = new Worker('/assets/worker.js');
    this.worker.onmessage = (ev: MessageEvent<WorkerMessage>) => this.message(ev.data);
    this.worker.onerror = (ev) => this.fail(new Error(`the VM worker failed: ${ev.message}`));
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
  }

  /**
   * Moves VM `name` into this tab; resolves once it runs here. On failure after the move, the
   * daemon's snapshot is sent back unchanged, so the VM resumes there (the error says so).
   */
  static async open(api: Api, token: string, name: string, view: TabVmView): Promise<TabVm> {
    const enc = encodeURIComponent(name);
    const move = await api.call<MoveAnswer>('POST', `/v1/vms/${enc}/browser`);
    const base = `${location.origin}/v1/vms/${enc}/browser`;
    const headers = { authorization: `Bearer ${token}`, 'x-virtkit-session': move.session };
    const res = await fetch(`${base}/snapshot`, { headers });
    if (!res.ok) {
      const f = await failure(res);
      await api.call('DELETE', `/v1/vms/${enc}/browser`).catch(() => undefined);
      throw f;
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    const vm = new TabVm(name, base, headers);
    vm.view = view;
    const remote: RemoteVm = { base, token, session: move.session, disks: move.disks };
    try {
      // A copy goes to the worker: the original goes back if the worker cannot continue it.
      const copy = bytes.slice();
      const running = vm.expect('phase');
      vm.post({ t: 'adopt', bytes: copy, remote }, [copy.buffer]);
      await running;
      if (move.paused) vm.post({ t: 'pause' });
      return vm;
    } catch (e) {
      vm.terminate();
      try {
        await vm.upload(bytes, move.paused);
      } catch (back) {
        throw new Error(`${(e as Error).message}; sending it back failed too: ${(back as Error).message}`);
      }
      throw new Error(`${(e as Error).message}: the VM went back to the daemon unchanged`);
    }
  }

  /** A (new) VM page shows this VM: it gets the recent output first. */
  attach(view: TabVmView | undefined): void {
    this.view = view;
    if (!view) return;
    for (const b of this.recent) view.output(b, () => {});
  }

  input(bytes: Uint8Array): void {
    this.post({ t: 'input', data: bytes });
  }

  /** Pauses the VM here, uploads its snapshot; the daemon resumes it. On a refusal the VM runs on here. */
  async sendBack(): Promise<void> {
    const left = this.expect('leave');
    this.post({ t: 'send-back' });
    const m = (await left) as Extract<WorkerMessage, { t: 'leave' }>;
    this.leaving = true;
    try {
      await this.upload(m.bytes, !m.wasRunning);
    } catch (e) {
      this.leaving = false;
      if (m.wasRunning) this.post({ t: 'resume' });
      throw e;
    }
    this.terminate();
  }

  /** `paused`: the VM was paused here, and stays paused on the daemon. */
  private async upload(bytes: Uint8Array, paused = false): Promise<void> {
    const res = await fetch(`${this.base}/return${paused ? '?paused=true' : ''}`, {
      method: 'POST',
      headers: { ...this.headers, 'content-type': 'application/octet-stream' },
      body: bytes as Uint8Array<ArrayBuffer>,
    });
    if (!res.ok) throw await failure(res);
  }

  /** The tab is closing: the daemon takes the VM back now (its disks as written) rather than after the lease. */
  abandonOnUnload(): void {
    if (this.closed) return;
    void fetch(this.base, {
      method: 'DELETE',
      headers: { authorization: this.headers['authorization']! },
      keepalive: true,
    });
  }

  private async beat(): Promise<void> {
    try {
      const res = await fetch(`${this.base}/heartbeat`, { method: 'POST', headers: this.headers });
      // A beat answered after the VM went back (or while it goes) is not the daemon taking it.
      if (res.status === 409 && !this.closed && !this.leaving) {
        const f = await failure(res);
        this.terminate();
        this.view?.ended(`the daemon took the VM back: ${f.message}`);
      }
    } catch {
      // the daemon is unreachable for now: the lease gives the next beats time
    }
  }

  private expect(want: WorkerMessage['t']): Promise<WorkerMessage> {
    return new Promise((ok, ko) => (this.waiting = { ok, ko, want }));
  }

  private fail(e: Error): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (w) w.ko(e);
    else this.view?.error(e.message);
  }

  private message(m: WorkerMessage): void {
    switch (m.t) {
      case 'output': {
        this.recent.push(m.data);
        this.recentBytes += m.data.length;
        while (this.recentBytes > RECENT_MAX && this.recent.length > 1) this.recentBytes -= this.recent.shift()!.length;
        const ack = () => this.post({ t: 'output-ack', bytes: m.data.length });
        if (this.view) this.view.output(m.data, ack);
        else ack();
        break;
      }
      case 'phase':
        this.phaseText = m.phase;
        this.view?.phase(m.phase);
        if (m.phase === 'running' && this.waiting?.want === 'phase') {
          const w = this.waiting;
          this.waiting = undefined;
          w.ok(m);
        }
        break;
      case 'stats':
        this.stats = { instret: m.instret, mips: m.mips };
        break;
      case 'leave':
        if (this.waiting?.want === 'leave') {
          const w = this.waiting;
          this.waiting = undefined;
          w.ok(m);
        }
        break;
      case 'error':
        this.fail(new Error(m.message));
        break;
      case 'stopped':
        this.view?.ended(m.reason);
        break;
      default:
        break;
    }
  }

  private post(m: UiMessage, transfer: Transferable[] = []): void {
    if (!this.closed) this.worker.postMessage(m, transfer);
  }

  get live(): boolean {
    return !this.closed;
  }

  private terminate(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    this.worker.terminate();
  }
}
