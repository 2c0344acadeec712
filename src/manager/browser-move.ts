/**
 * A running VM moves between the daemon and a browser tab (docs/manager.md "Moving a VM into a
 * browser tab").
 *
 * Out: the VM process saves RAM and device state with the guest paused and its disks flushed
 * (QMP x-virtkit-save-and-quit) and quits; the daemon then opens the VM's disks itself (with the
 * same image locks a VM process takes, so nothing else can open them) and serves them to the tab
 * as a block protocol: reads and writes at guest-visible offsets, through the image format here
 * (qcow2 chains stay the daemon's business; the tab sees plain bytes). The VM is `in-browser`.
 *
 * Back: the tab uploads its snapshot; it is an untrusted file, so it is decoded and checked
 * (format, RAM size, CPUs, disk and NIC counts, each disk's identity against the disk as it is
 * now) before the daemon gives up the disks and starts `virtkit run --restore` on it, which
 * checks the rest.
 *
 * A tab that goes away without sending the VM back: a session with no request for the lease
 * (60 s) ends as a power cut does: the disks are flushed and closed with what the tab wrote, the
 * RAM is lost, and the VM is `stopped` (it boots afresh). DELETE ends a session at once.
 */
import { constants as bufferConstants } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlockBackend } from '../storage/types.ts';
import { decodeSnapshot, SnapshotError } from '../vmm/snapshot-file.ts';
import { StateError, StateReader } from '../memory/state.ts';
import { readMachineHeader } from '../machine/virt.ts';
import { readSavedConfig } from '../vmm/saved-config.ts';
import { fingerprintDisk, identityMismatch } from '../vmm/disk-identity.ts';
import { openImageFile } from '../host/node/open-image.ts';
import { ApiError, badRequest, conflict, unusable, wrongState } from './api-error.ts';
import type { VmRow } from './db.ts';
import type { Manager } from './manager.ts';

/** A session with no request for this long ends (the tab is gone). */
export const DEFAULT_LEASE_MS = 60_000;
/** The largest read or write of one block request. */
export const BLOCK_MAX = 1 << 20;
/** The largest zero/discard range of one request (the tab splits larger ones). */
export const ZERO_MAX = 1 << 30;
/**
 * An uploaded snapshot may be at most the VM's RAM plus this: the RAM image is deflated (never
 * much larger than RAM, and zero pages are not stored), the rest is JSON and a bitmap.
 */
export const UPLOAD_SLACK = 16 << 20;
const BUFFER_MAX = bufferConstants.MAX_LENGTH;

export interface BrowserDisk {
  index: number;
  size: number;
  format: string;
  readonly: boolean;
}

/** What POST /v1/vms/{name}/browser answers: the tab's key to the VM. */
export interface MoveAnswer {
  session: string;
  /** Seconds without a request after which the daemon takes the VM back (stopped). */
  lease: number;
  snapshot: { size: number };
  disks: BrowserDisk[];
  memory: number;
  cpus: number;
  nics: number;
  /** The VM was paused: the tab keeps it paused. */
  paused: boolean;
}

interface Session {
  id: string;
  vmId: string;
  name: string;
  disks: { backend: BlockBackend; readOnly: boolean; path: string }[];
  stateFile: string;
  lastContact: number;
  timer: NodeJS.Timeout;
  /** Set while the VM is being taken back (return or abandon): later requests are refused. */
  ending: boolean;
  /** Uploads (and checks) of the tab's snapshot under way: the lease waits for them, however slow. */
  pinned: number;
}

const sessionRe = /^[0-9a-f]{32}$/;
/** The long operations (Manager.exclusive) of a move. */
const MOVING_OUT = 'a move into a browser tab';
const MOVING_BACK = 'the return from a browser tab';

export class BrowserMoves {
  private readonly sessions = new Map<string, Session>();
  readonly leaseMs: number;

  constructor(private readonly mgr: Manager) {
    const s = Number(process.env['VIRTKIT_BROWSER_LEASE_S']);
    this.leaseMs = Number.isFinite(s) && s >= 1 ? s * 1000 : DEFAULT_LEASE_MS;
  }

  /** The most a snapshot upload for `vm` may be. */
  uploadLimit(vm: VmRow): number {
    // Held whole in one Buffer to be decoded: never past what a Buffer can be.
    return Math.min(vm.memory * 1024 * 1024 + UPLOAD_SLACK, BUFFER_MAX);
  }

  /** Out: the VM process saves and quits, the daemon opens its disks for the tab. */
  async moveOut(name: string): Promise<MoveAnswer> {
    const vm = this.mgr.vm(name);
    if (vm.state !== 'running' && vm.state !== 'paused')
      throw wrongState(name, vm.state, 'move (only a running or paused VM moves into a browser tab)');
    return this.mgr.exclusive(vm, MOVING_OUT, async () => {
      const stateFile = join(this.mgr.dir.vmDir(vm.id), 'browser-move.state');
      await this.mgr.supervisor.moveOut(this.mgr.vm(name), stateFile);
      const disks: Session['disks'] = [];
      try {
        for (const d of vm.disks)
          disks.push({
            backend: await openImageFile(d.path, { format: d.format, readOnly: d.readonly }),
            readOnly: d.readonly,
            path: d.path,
          });
      } catch (e) {
        for (const d of disks) await d.backend.close().catch(() => {});
        this.mgr.supervisor.setState(
          this.mgr.vm(name),
          ['in-browser'],
          'stopped',
          `its disks could not be opened for the tab: ${(e as Error).message}`,
        );
        throw unusable(`VM '${name}' did not move: its disks could not be opened (${(e as Error).message})`);
      }
      const size = (await stat(stateFile)).size;
      const s: Session = {
        id: randomBytes(16).toString('hex'),
        vmId: vm.id,
        name,
        disks,
        stateFile,
        lastContact: Date.now(),
        timer: setInterval(() => this.checkLease(s), Math.min(5000, this.leaseMs / 4)),
        ending: false,
        pinned: 0,
      };
      s.timer.unref();
      this.sessions.set(vm.id, s);
      return {
        session: s.id,
        lease: this.leaseMs / 1000,
        snapshot: { size },
        disks: disks.map((d, index) => ({
          index,
          size: d.backend.size,
          format: d.backend.format,
          readonly: d.readOnly,
        })),
        memory: vm.memory,
        cpus: vm.cpus,
        nics: vm.nics.length,
        paused: vm.state === 'paused',
      };
    });
  }

  private checkLease(s: Session): void {
    if (s.ending || s.pinned > 0 || Date.now() - s.lastContact <= this.leaseMs) return;
    void this.end(
      s,
      `the browser tab went away (no request for ${this.leaseMs / 1000} s): its RAM is lost; the disks hold what it wrote, as after a power cut`,
    ).catch(() => undefined);
  }

  /** The session of VM `name` that `id` names; every request through it counts as contact. */
  private session(name: string, id: string | undefined): Session {
    const vm = this.mgr.vm(name);
    const s = this.sessions.get(vm.id);
    if (vm.state !== 'in-browser' || !s || s.ending)
      throw new ApiError(409, 'wrong-state', `VM '${name}' is ${vm.state}: it is not in a browser tab`);
    if (id === undefined || !sessionRe.test(id))
      throw badRequest('the X-Virtkit-Session header must carry the session id the move answered (32 hex digits)');
    if (id !== s.id) throw conflict(`VM '${name}' is in another browser tab (another session)`);
    s.lastContact = Date.now();
    return s;
  }

  private disk(s: Session, index: number) {
    const d = s.disks[index];
    if (!d) throw badRequest(`disk ${index}: the VM has ${s.disks.length} disk(s) (0..${s.disks.length - 1})`);
    return d;
  }

  private range(d: Session['disks'][number], index: number, offset: number, length: number, max: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0) throw badRequest(`offset ${offset}: not a byte offset`);
    if (!Number.isSafeInteger(length) || length < 1 || length > max)
      throw badRequest(`length ${length}: 1..${max} bytes per request`);
    if (offset + length > d.backend.size)
      throw badRequest(
        `offset ${offset} + length ${length} is past the end of disk ${index} (${d.backend.size} bytes)`,
      );
  }

  snapshotFile(name: string, id: string | undefined): Promise<Buffer> {
    return readFile(this.session(name, id).stateFile);
  }

  touch(name: string, id: string | undefined): void {
    this.session(name, id);
  }

  /**
   * Runs `fn` (an upload) with the session's lease held; contact counts from its end. One upload
   * at a time per VM: each buffers up to uploadLimit() bytes, so parallel ones would multiply that.
   */
  async pinned<T>(name: string, id: string | undefined, fn: () => Promise<T>): Promise<T> {
    const s = this.session(name, id);
    if (s.pinned > 0) throw conflict(`VM '${name}' is being sent back by its tab right now: one upload at a time`);
    s.pinned++;
    try {
      return await fn();
    } finally {
      s.pinned--;
      s.lastContact = Date.now();
    }
  }

  async read(name: string, id: string | undefined, index: number, offset: number, length: number): Promise<Buffer> {
    const s = this.session(name, id);
    const d = this.disk(s, index);
    this.range(d, index, offset, length, BLOCK_MAX);
    const buf = Buffer.alloc(length);
    await d.backend.read(offset, buf);
    return buf;
  }

  async write(name: string, id: string | undefined, index: number, offset: number, data: Uint8Array): Promise<void> {
    const s = this.session(name, id);
    const d = this.disk(s, index);
    if (d.readOnly) throw new ApiError(409, 'read-only', `disk ${index} of VM '${name}' is read-only`);
    this.range(d, index, offset, data.length, BLOCK_MAX);
    await d.backend.write(offset, data);
  }

  async zero(
    name: string,
    id: string | undefined,
    index: number,
    offset: number,
    length: number,
    discard: boolean,
  ): Promise<void> {
    const s = this.session(name, id);
    const d = this.disk(s, index);
    if (d.readOnly) throw new ApiError(409, 'read-only', `disk ${index} of VM '${name}' is read-only`);
    this.range(d, index, offset, length, ZERO_MAX);
    if (discard) await d.backend.discard(offset, length);
    else await d.backend.writeZeroes(offset, length);
  }

  async flush(name: string, id: string | undefined, index: number): Promise<void> {
    const s = this.session(name, id);
    await this.disk(s, index).backend.flush();
  }

  /**
   * Back: checks the tab's snapshot against this VM and its disks as they are now, then hands
   * the disks back and restores the VM in a new VM process. A refused file leaves the VM in the
   * tab (400); a VM process that then fails to restore leaves the VM crashed (422).
   */
  async returnFrom(name: string, id: string | undefined, bytes: Uint8Array, paused = false): Promise<void> {
    const s = this.session(name, id);
    const vm = this.mgr.vm(name);
    await this.mgr.exclusive(vm, MOVING_BACK, async () => {
      if (bytes.length > this.uploadLimit(vm))
        throw badRequest(
          `the snapshot is ${bytes.length} bytes: at most ${this.uploadLimit(vm)} for a VM of ${vm.memory} MiB`,
        );
      await this.check(vm, s, bytes);
      const file = join(this.mgr.dir.vmDir(vm.id), 'browser-return.state');
      await writeFile(`${file}.tmp`, bytes, { mode: 0o600 });
      await rename(`${file}.tmp`, file);
      s.ending = true;
      await this.release(s);
      await this.mgr.supervisor.start(this.mgr.vm(name), file, ['in-browser']);
      this.mgr.supervisor.note(this.mgr.vm(name), 'back from a browser tab');
      // Paused in the tab: paused here (the restored process starts running).
      if (paused) await this.mgr.supervisor.pause(this.mgr.vm(name));
      // The VM process has read both by now (it restores before its QMP socket answers).
      await unlink(s.stateFile).catch(() => {});
      await unlink(file).catch(() => {});
    });
  }

  /** The checks a snapshot from a tab passes before the daemon gives up the disks (400 otherwise). */
  private async check(vm: VmRow, s: Session, bytes: Uint8Array): Promise<void> {
    const bad = (why: string) => badRequest(`the uploaded snapshot is refused: ${why}`);
    let snap;
    try {
      snap = decodeSnapshot(bytes);
    } catch (e) {
      if (e instanceof SnapshotError) throw bad(e.message);
      throw e;
    }
    try {
      const root = new StateReader('snapshot', snap.state);
      const head = readMachineHeader(root.field('machine'));
      if (head.memoryBytes !== snap.ramSize)
        throw bad(`its machine has ${head.memoryBytes} bytes of RAM, its RAM image ${snap.ramSize}`);
      if (head.memoryBytes !== vm.memory * 1024 * 1024)
        throw bad(`its machine has ${head.memoryBytes / 1048576} MiB of RAM, VM '${vm.name}' has ${vm.memory} MiB`);
      if (head.cpus !== vm.cpus) throw bad(`its machine has ${head.cpus} CPU(s), VM '${vm.name}' has ${vm.cpus}`);
      const cfg = readSavedConfig(root.field('meta').field('config'));
      if (cfg.disks.length !== s.disks.length)
        throw bad(`it was saved with ${cfg.disks.length} disk(s), VM '${vm.name}' has ${s.disks.length}`);
      if (cfg.nets.length !== vm.nics.length)
        throw bad(`it was saved with ${cfg.nets.length} NIC(s), VM '${vm.name}' has ${vm.nics.length}`);
      for (const [i, d] of cfg.disks.entries()) {
        const mine = s.disks[i]!;
        if (d.readOnly !== mine.readOnly)
          throw bad(`its disk ${i} is ${d.readOnly ? 'read-only' : 'writable'}, the VM's is not`);
        if (!d.identity) throw bad(`its disk ${i} has no identity record`);
        const why = identityMismatch(d.identity, await fingerprintDisk(mine.backend));
        if (why) throw bad(`disk ${i} (${mine.path}) is not the disk it was saved with: ${why}`);
      }
    } catch (e) {
      if (e instanceof StateError || e instanceof SnapshotError) throw bad(e.message);
      throw e;
    }
  }

  /** Flushes and closes a session's disks (the image locks go with them). */
  private async release(s: Session): Promise<void> {
    clearInterval(s.timer);
    this.sessions.delete(s.vmId);
    for (const d of s.disks) {
      try {
        if (!d.readOnly) await d.backend.flush();
      } finally {
        await d.backend.close().catch(() => {});
      }
    }
  }

  /** Ends a session without the tab's state: the VM is stopped, its disks as the tab left them. */
  private async end(s: Session, reason: string): Promise<void> {
    s.ending = true;
    let failed: unknown;
    await this.release(s).catch((e: unknown) => (failed = e));
    const vm = this.mgr.db.getVmById(s.vmId);
    if (vm) {
      this.mgr.supervisor.setState(
        vm,
        ['in-browser'],
        'stopped',
        failed ? `${reason} (flushing its disks failed: ${(failed as Error).message})` : reason,
      );
    }
    await unlink(s.stateFile).catch(() => {});
  }

  /** DELETE /v1/vms/{name}/browser: takes the VM back without its RAM (any token holder may). */
  async abandon(name: string): Promise<void> {
    const vm = this.mgr.vm(name);
    const s = this.sessions.get(vm.id);
    if (vm.state !== 'in-browser') throw wrongState(name, vm.state, 'take back from a browser tab');
    if (s && s.pinned > 0) throw conflict(`VM '${name}' is being sent back by its tab right now`);
    const busy = this.mgr.busyWith(vm);
    if (busy === MOVING_OUT || busy === MOVING_BACK) throw conflict(`VM '${name}' is busy: ${busy} is in progress`);
    if (!s || s.ending) {
      // A session already ended (its disks closed): only the record is left to fix.
      this.mgr.supervisor.setState(vm, ['in-browser'], 'stopped', 'taken back from a browser tab');
      return;
    }
    await this.end(s, 'taken back from the browser tab without its RAM (its disks hold what the tab wrote)');
  }

  /** The daemon stops: every tab loses its disks; the VMs are stopped with what was written. */
  async closeAll(): Promise<void> {
    for (const s of [...this.sessions.values()])
      await this.end(
        s,
        'the daemon stopped while the VM ran in a browser tab: its disks hold what the tab wrote',
      ).catch(() => undefined);
  }
}
