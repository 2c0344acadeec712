/**
 * The worker side of the page: boots or restores a Vm from UI messages, streams its console
 * out, reports progress and speed, and turns every failure into an 'error' message the page
 * shows. The CPU loop runs here only. No DOM: the worker entry (web/src/worker.ts) just wires
 * postMessage to this class, and tests drive it under Node.
 */
import { fingerprintDisk, identityMismatch, readDiskIdentity } from '../../vmm/disk-identity.ts';
import { StateError, StateReader } from '../../memory/state.ts';
import { buildSavedConfig, readSavedConfig, type SavedConfig, type SavedConfigRecord } from '../../vmm/saved-config.ts';
import type { StopReason } from '../../vmm/vm.ts';
import { VmSession } from '../../vmm/session.ts';
import { VM_SPEC_VERSION, VmSpecError, type VmSpecDisk } from '../../vmm/vm-spec.ts';
import { BoardConfigError, type VirtDisk } from '../../machine/virt.ts';
import { openImage } from '../../storage/open.ts';
import { HttpStore, type FetchLike } from '../../storage/http-store.ts';
import type { ByteStore } from '../../storage/types.ts';
import { BlobStore } from './blob-store.ts';
import { download, type DownloadFetch } from './download.ts';
import { OverlayStore } from './overlay-store.ts';
import { decodeOverlayRecord, encodeOverlayRecord, type OverlayRecord } from './overlay-snapshot.ts';
import { checkValidator, decodeValidator, validatorOf, type DiskValidator } from './disk-validator.ts';
import type { BootConfig } from './guest-config.ts';
import type { FileDisk, UiMessage, VmPhase, WorkerMessage } from './protocol.ts';
import { createWorkerHost, type WorkerVmHost } from './worker-host.ts';
import { wasmStats } from '../../riscv/wasm/wasm-tier.ts';
import { adoptAttachments, sendBackConfig, type DaemonRecord, type RemoteVm } from './daemon-vm.ts';
import type { RemoteFetch } from './remote-disk.ts';

/**
 * The translation tiers run in the page's worker too: the WebAssembly tier (src/riscv/wasm/) where
 * the page allows run-time compilation, else the JavaScript tier (jit.ts). With the wasm tier the
 * default guest boots within 1.05-1.12x of Node's time in headless Chromium 156 (bench/browser,
 * 2026-12-07, BENCHMARKS.md "Browser").
 */
const TRANSLATE = true;

/** The disks as the snapshot records them. */
export interface SavedDiskRef {
  kind: 'url' | 'file';
  /** URL, or the file's name. */
  name: string;
  size?: number;
  format?: string;
  writable: boolean;
  /** A URL disk's ETag / Last-Modified when it was opened (absent in older snapshots, or if the server gave none). */
  validator?: DiskValidator;
  /** A writable disk's changes made in the tab (absent in snapshots from before they were kept). */
  overlay?: OverlayRecord;
  /** From a `virtkit run` snapshot (config version 3): the disk's recorded identity (vmm/disk-identity.ts). */
  identity?: unknown;
}
/** The snapshot's configuration part as the page writes it (vmm/saved-config.ts builds and reads it). */
export type SnapshotConfig = SavedConfigRecord<SavedDiskRef>;

/** What the page's next snapshot records: the kernel command line and the disks' records. */
interface PageConfig {
  append: string;
  disks: SavedDiskRef[];
}

/** A disk as the controller opened it: what the board gets, and its in-memory overlay if writable. */
interface OpenedDisk {
  disk: VirtDisk;
  overlay: OverlayStore | undefined;
  /** A URL disk's size and version as the server gave them, for the snapshot's record. */
  source?: { size: number; validator: DiskValidator | undefined };
}

/** What a snapshot says a URL disk was: checked against the server before anything is loaded. */
interface ExpectedSource {
  size: number | undefined;
  validator: unknown;
}

/**
 * Output posted to the page and not yet shown by its terminal (acknowledged with 'output-ack').
 * Past this the VM's console devices are held (the guest waits) until the page catches up to
 * half of it, so a guest printing without end never piles messages up in the page.
 */
export const OUTPUT_WINDOW = 256 * 1024;

export interface ControllerOptions {
  fetch?: DownloadFetch & FetchLike;
  statsIntervalMs?: number;
}

export class VmController {
  private vm: VmSession | undefined;
  private host: WorkerVmHost | undefined;
  private config: PageConfig | undefined;
  /** Parallel to the board's disks. */
  private overlays: (OverlayStore | undefined)[] = [];
  private busy = false;
  private generation = 0;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  /** Output bytes posted and not yet acknowledged by the page, and whether that held the VM. */
  private unacked = 0;
  private outputHeld = false;
  /** Set while the VM is one `virtkit daemon` moved here (adopt): what its send-back records. */
  private daemon: DaemonRecord | undefined;

  constructor(
    private readonly post: (msg: WorkerMessage, transfer?: ArrayBuffer[]) => void,
    private readonly opts: ControllerOptions = {},
  ) {}

  /** The running VM, for tests and the benchmark. */
  get currentVm(): VmSession | undefined {
    return this.vm;
  }

  handle(msg: UiMessage): void {
    switch (msg.t) {
      case 'boot':
        void this.guard(() => this.boot(msg.config, msg.files));
        break;
      case 'restore':
        void this.guard(() => this.restore(msg.bytes, msg.name, msg.files));
        break;
      case 'adopt':
        void this.guard(() => this.adopt(msg.bytes, msg.remote));
        break;
      case 'send-back':
        void this.sendBack();
        break;
      case 'input':
        this.vm?.input(msg.data);
        break;
      case 'output-ack':
        if (typeof msg.bytes === 'number' && msg.bytes > 0) this.outputShown(msg.bytes);
        break;
      case 'pause':
        // Mid-save the VM is held paused already: it then stays paused afterwards.
        if (this.vm?.pause()) this.phase('paused');
        break;
      case 'resume':
        if (this.vm?.resume()) this.phase('running');
        break;
      case 'save':
        void this.save();
        break;
      case 'power-button':
        if (!this.vm?.pressPowerButton())
          this.error(new Error('nothing pressed: no running guest has a driver for the power button (yet)'));
        break;
    }
  }

  private outputShown(bytes: number): void {
    this.unacked = Math.max(0, this.unacked - bytes);
    if (this.outputHeld && this.unacked <= OUTPUT_WINDOW / 2) {
      this.outputHeld = false;
      this.vm?.releaseOutput();
    }
  }

  private phase(phase: VmPhase, detail?: string): void {
    this.post(detail === undefined ? { t: 'phase', phase } : { t: 'phase', phase, detail });
  }

  private error(e: unknown): void {
    this.post({ t: 'error', message: e instanceof Error ? e.message : String(e) });
  }

  /** One boot or restore at a time; failures become visible errors, never unhandled rejections. */
  private async guard(fn: () => Promise<void>): Promise<void> {
    if (this.busy) {
      this.error(new Error('a boot or restore is already in progress'));
      return;
    }
    this.busy = true;
    try {
      await fn();
    } catch (e) {
      this.phase('stopped');
      this.error(e);
    } finally {
      this.busy = false;
    }
  }

  private get fetchFn(): DownloadFetch & FetchLike {
    // Called as a plain function: a worker's fetch throws "Illegal invocation" with another `this`.
    const g = globalThis as unknown as { fetch: DownloadFetch & FetchLike };
    return (
      this.opts.fetch ??
      (((url: string, init?: Parameters<FetchLike>[1]) => g.fetch(url, init!)) as DownloadFetch & FetchLike)
    );
  }

  /** HTTP errors as errors: HttpStore would otherwise report a 404 as "no range support". */
  private rangeFetch(): FetchLike {
    return async (url, init) => {
      const res = await this.fetchFn(url, init);
      if (res.status >= 400 && res.status !== 416)
        throw new Error(res.status === 404 ? 'not found (HTTP 404)' : `HTTP ${res.status}`);
      return res;
    };
  }

  /**
   * A writable disk is an overlay over the read-only store; `saved` (a snapshot's overlay record)
   * is loaded into it before the image format reads its headers, which the guest may have changed.
   */
  private async openStore(
    store: ByteStore,
    format: string | undefined,
    writable: boolean,
    saved?: unknown,
  ): Promise<OpenedDisk> {
    try {
      if (saved !== undefined && !writable) throw new Error('the snapshot holds changes for a read-only disk');
      const overlay = writable ? await OverlayStore.open(store) : undefined;
      if (overlay && saved !== undefined) overlay.importContents(decodeOverlayRecord(saved, 'this disk'));
      const backend = await openImage(overlay ?? store, { format, readOnly: !writable });
      return { disk: { backend, readOnly: !writable }, overlay };
    } catch (e) {
      await store.close().catch(() => {});
      throw e;
    }
  }

  /**
   * The first response (HttpStore's length probe) gives the file's version. Later responses that
   * name another ETag mean the file was replaced while the guest uses it: they fail as I/O errors
   * rather than hand the guest blocks of two different files.
   */
  private versionedFetch(): { fetch: FetchLike; opened: () => DiskValidator | undefined } {
    const inner = this.rangeFetch();
    let first: { v: DiskValidator | undefined } | undefined;
    const fetch: FetchLike = async (url, init) => {
      const res = await inner(url, init);
      const v = validatorOf(res.headers);
      if (!first) first = { v };
      else if (first.v?.etag !== undefined && v?.etag !== undefined) checkValidator(first.v, v, 'the file', 'opened');
      return res;
    };
    return { fetch, opened: () => first?.v };
  }

  private async openUrlDisk(
    url: string,
    format: string | undefined,
    writable: boolean,
    saved?: unknown,
    expected?: ExpectedSource,
  ): Promise<OpenedDisk> {
    try {
      const versioned = this.versionedFetch();
      const store = await HttpStore.open(url, { fetch: versioned.fetch });
      const source = { size: await store.size(), validator: versioned.opened() };
      if (expected) {
        try {
          // Before the overlay and the image format touch it: a different file is refused outright.
          if (expected.size !== undefined && expected.size !== source.size)
            throw new Error(`it is ${source.size} bytes, the snapshot's was ${expected.size}`);
          checkValidator(decodeValidator(expected.validator, 'this disk'), source.validator, 'the file');
        } catch (e) {
          await store.close().catch(() => {});
          throw e;
        }
      }
      return { ...(await this.openStore(store, format, writable, saved)), source };
    } catch (e) {
      const m = (e as Error).message;
      throw new Error(`disk ${url}: ${m.startsWith(url) ? m.slice(url.length).replace(/^:\s*/, '') : m}`);
    }
  }

  private async openFileDisk(f: FileDisk, saved?: unknown): Promise<OpenedDisk> {
    try {
      return await this.openStore(new BlobStore(f.file.name, f.file), f.format, f.writable, saved);
    } catch (e) {
      throw new Error(`disk file ${f.file.name}: ${(e as Error).message}`);
    }
  }

  private async closeDisks(disks: OpenedDisk[]): Promise<void> {
    for (const d of disks) await d.disk.backend.close().catch(() => {});
  }

  /** The VM's disks (named as the snapshot records them), keeping their overlays for saving. */
  private attach(opened: OpenedDisk[], refs: SavedDiskRef[]): VmSpecDisk[] {
    this.overlays = opened.map((o) => o.overlay);
    return opened.map((o, i) => ({
      backend: o.disk.backend,
      readOnly: Boolean(o.disk.readOnly),
      source: refs[i]!.name,
      ...(refs[i]!.format ? { format: refs[i]!.format } : {}),
    }));
  }

  private async boot(cfg: BootConfig, files: FileDisk[]): Promise<void> {
    this.teardown();
    this.phase('downloading');
    const progress = (what: string) => (p: { loaded: number; total: number | undefined }) =>
      this.post({ t: 'progress', what, loaded: p.loaded, total: p.total });
    const kernel = await download(cfg.kernel, 'kernel', { onProgress: progress('kernel'), fetch: this.fetchFn });
    const initrd = cfg.initrd
      ? await download(cfg.initrd, 'initrd', { onProgress: progress('initrd'), fetch: this.fetchFn })
      : undefined;
    this.phase('opening disks');
    const opened: OpenedDisk[] = [];
    const refs: SavedDiskRef[] = [];
    try {
      for (const d of cfg.disks) {
        const o = await this.openUrlDisk(d.url, d.format, d.writable);
        opened.push(o);
        refs.push({
          kind: 'url',
          name: d.url,
          writable: d.writable,
          ...(d.format ? { format: d.format } : {}),
          ...urlSource(o),
        });
      }
      for (const f of files) {
        opened.push(await this.openFileDisk(f));
        refs.push({
          kind: 'file',
          name: f.file.name,
          size: f.file.size,
          writable: f.writable,
          ...(f.format ? { format: f.format } : {}),
        });
      }
    } catch (e) {
      await this.closeDisks(opened);
      throw e;
    }
    const disks = this.attach(opened, refs);
    this.config = { append: cfg.append, disks: refs };
    this.phase('booting');
    const host = createWorkerHost();
    let vm: VmSession;
    try {
      vm = VmSession.boot(
        {
          version: VM_SPEC_VERSION,
          memoryBytes: cfg.memoryMiB * 1024 * 1024,
          cpus: cfg.cpus,
          boot: { kernel, ...(initrd ? { initrd } : {}) },
          append: cfg.append,
          disks,
          nics: [],
          translate: TRANSLATE,
        },
        host,
        this.events(),
      );
    } catch (e) {
      host.close();
      await this.closeDisks(opened);
      if (e instanceof BoardConfigError || e instanceof VmSpecError) throw new Error(`cannot boot: ${e.message}`);
      throw e;
    }
    this.launch(vm, host);
  }

  /**
   * Finds the disks a snapshot was saved with among the files the user added (and by URL), with
   * their saved in-tab changes. Returns them with the configuration a later save of this VM
   * records (the page's form, whether the snapshot came from a page or from `virtkit run`).
   */
  private async reopenDisks(
    config: SavedConfig,
    files: FileDisk[],
  ): Promise<{ disks: VmSpecDisk[]; config: PageConfig }> {
    const opened: OpenedDisk[] = [];
    const byName = (name: string) => files.find((f) => f.file.name === name);
    const web = (config.web as { disks?: unknown } | undefined)?.disks;
    // The page's records are checked one by one below (isDiskRef).
    const refs: SavedDiskRef[] = Array.isArray(web)
      ? (web as SavedDiskRef[])
      : config.disks.map((d) => ({
          kind: 'file' as const,
          name: d.path.split(/[\\/]/).pop() ?? d.path,
          writable: !d.readOnly,
          ...(d.format ? { format: d.format } : {}),
          ...(d.identity !== undefined ? { identity: d.identity } : {}),
        }));
    try {
      for (const r of refs) {
        if (!isDiskRef(r)) throw new Error('the snapshot lists a disk it does not describe');
        if (r.kind === 'url') {
          opened.push(
            await this.openUrlDisk(r.name, r.format, r.writable, r.overlay, { size: r.size, validator: r.validator }),
          );
          continue;
        }
        const f = byName(r.name);
        if (!f)
          throw new Error(
            `this snapshot was saved with the disk file '${r.name}' attached: add that file as a disk, then restore again`,
          );
        if (r.size !== undefined && f.file.size !== r.size)
          throw new Error(`disk file ${r.name} is ${f.file.size} bytes, the snapshot's was ${r.size}`);
        const o = await this.openFileDisk(
          { ...f, writable: r.writable, ...(r.format ? { format: r.format } : {}) },
          r.overlay,
        );
        opened.push(o);
        // A `virtkit run` snapshot records what its disk was: the picked file must be that disk.
        if (r.identity !== undefined) {
          const saved = readDiskIdentity(new StateReader('snapshot', r.identity, undefined, `disk ${r.name}`));
          const why = identityMismatch(saved, await fingerprintDisk(o.disk.backend));
          if (why) throw new Error(`disk file ${r.name} is not the snapshot's disk: ${why}`);
        }
      }
    } catch (e) {
      await this.closeDisks(opened);
      throw e;
    }
    // A URL disk is recorded as the server has it now, for a later save of this VM.
    const kept = refs.map(({ overlay: _, validator: __, identity: ___, ...r }, i) =>
      r.kind === 'url' ? { ...r, ...urlSource(opened[i]!) } : r,
    );
    return {
      disks: this.attach(opened, refs),
      config: { append: config.append, disks: kept },
    };
  }

  private async restore(bytes: Uint8Array, name: string, files: FileDisk[]): Promise<void> {
    this.teardown();
    this.phase('restoring', name);
    const host = createWorkerHost();
    let config: PageConfig | undefined;
    try {
      const vm = await VmSession.restore(
        bytes,
        async (saved) => {
          const c = saved as { disks?: unknown; web?: { disks?: unknown } } | undefined;
          if (!c || typeof c !== 'object' || !(Array.isArray(c.disks) || Array.isArray(c.web?.disks)))
            throw new Error('the snapshot holds no virtkit VM configuration');
          const cfg = readConfig(saved);
          const reopened = await this.reopenDisks(cfg, files);
          config = reopened.config;
          return { disks: reopened.disks, nics: [], append: cfg.append, translate: TRANSLATE };
        },
        host,
        this.events(),
      );
      this.config = config;
      this.launch(vm, host);
    } catch (e) {
      host.close();
      throw new Error(`cannot restore ${name}: ${(e as Error).message}`);
    }
  }

  /**
   * Continues a VM the daemon moved here: its disks stay on the daemon's side (RemoteDisk), each
   * checked against the snapshot's record of it before the guest runs.
   */
  private async adopt(bytes: Uint8Array, remote: RemoteVm): Promise<void> {
    this.teardown();
    this.phase('restoring', 'from the daemon');
    const host = createWorkerHost();
    let record: DaemonRecord | undefined;
    try {
      const vm = await VmSession.restore(
        bytes,
        async (saved) => {
          const got = await adoptAttachments(saved, remote, this.fetchFn as unknown as RemoteFetch, TRANSLATE);
          record = got.record;
          return got.attachments;
        },
        host,
        this.events(),
      );
      this.daemon = record;
      this.config = undefined;
      this.launch(vm, host);
    } catch (e) {
      host.close();
      throw new Error(`cannot continue the VM from the daemon: ${(e as Error).message}`);
    }
  }

  /**
   * Pauses the adopted VM (for good, unless the daemon refuses its snapshot and the page resumes
   * it) and answers its snapshot in `virtkit run`'s form, disks flushed to the daemon first.
   */
  private async sendBack(): Promise<void> {
    const vm = this.vm;
    const record = this.daemon;
    if (!vm || vm.stopped || !record) {
      this.error(new Error('nothing to send back: no VM from the daemon runs here'));
      return;
    }
    const wasRunning = vm.running;
    vm.pause();
    this.phase('paused');
    try {
      const bytes = await vm.save(() => sendBackConfig(record, vm.disks));
      this.post({ t: 'leave', bytes, wasRunning }, [bytes.buffer as ArrayBuffer]);
    } catch (e) {
      this.error(new Error(`cannot send the VM back: ${(e as Error).message}`));
    }
  }

  /** Events of one VM; a replaced VM's late events are dropped. */
  private events() {
    const gen = ++this.generation;
    return {
      firstPrompt: (at: { ms: number; instret: number }) => {
        if (gen === this.generation)
          this.post({ t: 'prompt', ms: at.ms, instret: at.instret, wasmPages: wasmStats.windows });
      },
      output: (data: Uint8Array) => {
        if (gen !== this.generation) return;
        const n = data.length;
        this.post({ t: 'output', data }, [data.buffer as ArrayBuffer]);
        this.unacked += n;
        if (!this.outputHeld && this.unacked >= OUTPUT_WINDOW && this.vm) {
          this.outputHeld = true;
          this.vm.holdOutput();
        }
      },
      stopped: (r: StopReason, text: string) => {
        if (gen !== this.generation) return;
        this.stopStats();
        this.phase('stopped');
        // A restored VM that cannot reboot: the page boots afresh from its form.
        this.post({ t: 'stopped', reason: r.kind === 'reboot' ? `${text}: press Boot` : text });
      },
    };
  }

  private launch(vm: VmSession, host: WorkerVmHost): void {
    this.vm = vm;
    this.host = host;
    this.unacked = 0;
    this.outputHeld = false;
    this.phase('running');
    const every = this.opts.statsIntervalMs ?? 1000;
    this.statsTimer = setInterval(() => this.stats(), every);
    vm.start();
  }

  private stats(): void {
    const s = this.vm?.stats();
    if (s) this.post({ t: 'stats', instret: s.instret, mips: s.mips, seconds: s.seconds });
  }

  private stopStats(): void {
    if (this.statsTimer !== undefined) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
  }

  /**
   * The VM is paused and its disk I/O settled before the overlays are read, so RAM, devices and
   * disk changes in the snapshot are from the same instant; it runs again afterwards unless the
   * user paused it meanwhile.
   */
  private async save(): Promise<void> {
    const vm = this.vm;
    const config = this.config;
    if (!vm || vm.stopped || !config) {
      this.error(new Error('nothing to save: no VM is running'));
      return;
    }
    if (vm.isSaving) {
      this.error(new Error('a snapshot is already being saved'));
      return;
    }
    try {
      // The session drains disk I/O and flushes writable disks first: the overlays must have it all.
      const bytes = await vm.save(() => this.withOverlays(config));
      this.post({ t: 'snapshot', bytes }, [bytes.buffer as ArrayBuffer]);
    } catch (e) {
      this.error(new Error(`cannot save a snapshot: ${(e as Error).message}`));
    }
  }

  /** The configuration a snapshot records, each writable disk with its in-tab changes. */
  private withOverlays(config: PageConfig): SnapshotConfig {
    return buildSavedConfig({
      append: config.append,
      webDisks: config.disks.map((r, i) => {
        const o = this.overlays[i];
        const what = r.kind === 'url' ? `disk ${r.name}` : `disk file ${r.name}`;
        return o ? { ...r, overlay: encodeOverlayRecord(o.exportContents(), what) } : r;
      }),
    });
  }

  /** Ends the current VM (a new boot or restore replaces it). */
  teardown(): void {
    this.stopStats();
    const vm = this.vm;
    this.vm = undefined;
    if (vm) {
      this.generation++;
      if (!vm.stopped) vm.stop({ kind: 'quit' });
      void vm.closeDisks(false);
    }
    this.host?.close();
    this.host = undefined;
    this.overlays = [];
    this.daemon = undefined;
  }
}

/** A snapshot's configuration read as `virtkit run` reads it (a malformed field named), with the page's disk records. */
function readConfig(saved: unknown): SavedConfig {
  try {
    return readSavedConfig(new StateReader('snapshot', saved, undefined, 'meta.config'), { page: true });
  } catch (e) {
    if (e instanceof StateError) throw new Error(e.message);
    throw e;
  }
}

/** A URL disk's size and version for its snapshot record (no validator field if the server gave none). */
function urlSource(o: OpenedDisk): Pick<SavedDiskRef, 'size' | 'validator'> {
  if (!o.source) return {};
  return { size: o.source.size, ...(o.source.validator ? { validator: o.source.validator } : {}) };
}

function isDiskRef(r: unknown): r is SavedDiskRef {
  const d = r as Partial<SavedDiskRef> | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    (d.kind === 'url' || d.kind === 'file') &&
    typeof d.name === 'string' &&
    typeof d.writable === 'boolean' &&
    (d.size === undefined || typeof d.size === 'number') &&
    (d.format === undefined || typeof d.format === 'string')
  );
}
