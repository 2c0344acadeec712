/**
 * The manager: VM definitions (create, list, get, update, delete) on the database, lifecycle
 * through the supervisor, and the answer shapes of the REST API. Routes (server.ts) validate
 * requests and call these methods; everything here throws ApiError for a refusal.
 */
import { mkdirSync, rmSync } from 'node:fs';
import type { EventRow, ManagerDb, VmRow } from './db.ts';
import type { StateDir } from './state-dir.ts';
import { Supervisor } from './supervisor.ts';
import { conflict, notFound, wrongState, type ApiError } from './api-error.ts';
import { DEVICE_SLOTS, buildVm, checkNics, newVmId, type CreateVmBody, type PatchVmBody } from './vm-def.ts';
import type { EventBus } from './events.ts';
import type { QmpConnector } from './qmp-link.ts';
import { DEFAULT_POOL, admit, checkStart, pool } from './pools.ts';
import { buildFromTemplate } from './templates.ts';
import { attachSeed, wantsSeed } from './cloud-init.ts';
import { BrowserMoves } from './browser-move.ts';

/** The VM as the API shows it (docs/manager.md `VM`). */
export function vmJson(vm: VmRow) {
  return {
    name: vm.name,
    id: vm.id,
    state: vm.state,
    memory: vm.memory,
    cpus: vm.cpus,
    source: vm.source,
    ...(vm.append !== undefined ? { append: vm.append } : {}),
    disks: vm.disks.map((d) => ({
      path: d.path,
      format: d.format,
      owned: d.owned,
      readonly: d.readonly,
      ...(d.backing !== undefined ? { backing: d.backing } : {}),
    })),
    nics: vm.nics.map((n) => ({ hostfwd: n.hostfwd })),
    created: vm.created,
    ...(vm.startedAt !== undefined && vm.state !== 'stopped' && vm.state !== 'crashed'
      ? { startedAt: vm.startedAt }
      : {}),
    ...(vm.pid !== undefined ? { pid: vm.pid } : {}),
    ...(vm.reason !== undefined ? { reason: vm.reason } : {}),
    pool: vm.pool,
  };
}
export type VmJson = ReturnType<typeof vmJson>;

export class Manager {
  readonly supervisor: Supervisor;
  /** VMs moved into browser tabs (browser-move.ts). */
  readonly browser: BrowserMoves;
  /** Names being created right now: a second create of the same name is 409 before any file is made. */
  private readonly creating = new Set<string>();
  /** VMs with a long operation running (snapshot, clone, export, delete): a second one is 409. */
  private readonly busy = new Map<string, string>();

  constructor(
    readonly dir: StateDir,
    readonly db: ManagerDb,
    readonly bus: EventBus,
    connectQmp: QmpConnector,
  ) {
    this.supervisor = new Supervisor(dir, db, bus, connectQmp);
    this.browser = new BrowserMoves(this);
  }

  vm(name: string): VmRow {
    const vm = this.db.getVm(name);
    if (!vm) throw notFound(`VM '${name}'`);
    return vm;
  }

  list(): VmJson[] {
    return this.db.listVms().map(vmJson);
  }

  get(name: string): VmJson {
    return vmJson(this.vm(name));
  }

  /** The long operation running on the VM (exclusive()), if any. */
  busyWith(vm: VmRow): string | undefined {
    return this.busy.get(vm.id);
  }

  /** Runs `fn` as the one long operation on a VM; a second concurrent one is refused (409). */
  async exclusive<T>(vm: VmRow, what: string, fn: () => Promise<T>): Promise<T> {
    const running = this.busy.get(vm.id);
    if (running) throw conflict(`VM '${vm.name}' is busy: ${running} is in progress`);
    this.busy.set(vm.id, what);
    try {
      return await fn();
    } finally {
      this.busy.delete(vm.id);
    }
  }

  async create(body: CreateVmBody): Promise<VmJson> {
    if (this.creating.has(body.name) || this.db.getVm(body.name)) throw conflict(`a VM named '${body.name}' exists`);
    pool(this, body.pool ?? DEFAULT_POOL);
    this.creating.add(body.name);
    const id = newVmId();
    const dir = this.dir.vmDir(id);
    try {
      mkdirSync(dir, { mode: 0o700 });
      const vm =
        body.template !== undefined ? await buildFromTemplate(this, id, dir, body) : await buildVm(id, dir, body);
      if (wantsSeed(body)) attachSeed(vm, dir, body, DEVICE_SLOTS);
      if (!(await admit(this, vm, () => this.db.insertVm(vm)))) throw conflict(`a VM named '${body.name}' exists`);
      this.supervisor.note(vm, 'created');
      return vmJson(vm);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    } finally {
      this.creating.delete(body.name);
    }
  }

  /** Stopped (or crashed) VMs only: memory, cpus, NICs, kernel command line. */
  update(name: string, body: PatchVmBody): VmJson {
    const vm = this.vm(name);
    if (vm.state !== 'stopped' && vm.state !== 'crashed') throw wrongState(name, vm.state, 'change');
    const nics = body.nics !== undefined ? checkNics(body.nics, vm.disks.length) : vm.nics;
    const def = {
      memory: body.memory ?? vm.memory,
      cpus: body.cpus ?? vm.cpus,
      nics,
      disks: vm.disks,
      ...(body.append !== undefined ? { append: body.append } : vm.append !== undefined ? { append: vm.append } : {}),
    };
    if (!this.db.updateDefinition(vm.id, ['stopped', 'crashed'], def))
      throw wrongState(name, this.db.getVmById(vm.id)?.state ?? 'busy', 'change');
    return vmJson(this.vm(name));
  }

  /** Deletes a VM and its directory (owned disks, snapshots, logs). Running: 409 unless force. */
  async delete(name: string, force: boolean): Promise<void> {
    const vm = this.vm(name);
    const dependents = this.linkedClonesOf(vm, true);
    if (dependents.length)
      throw conflict(
        `VM '${name}' has linked clones (${dependents.join(', ')}) whose disks are overlays on its disks: delete them first`,
      );
    await this.exclusive(vm, 'delete', async () => {
      const cur = this.vm(name);
      if (cur.state !== 'stopped' && cur.state !== 'crashed') {
        if (!force) throw wrongState(name, cur.state, 'delete (stop it first, or delete with force=true)');
        if (cur.state === 'in-browser') await this.browser.abandon(name);
        else if (this.supervisor.isActive(cur.id)) await this.supervisor.stop(cur, 'delete');
      }
      const last = this.db.getVmById(vm.id)?.state ?? 'stopped';
      this.db.deleteVm(vm.id);
      rmSync(this.dir.vmDir(vm.id), { recursive: true, force: true });
      this.bus.publish({
        id: 0,
        vm: vm.name,
        vmId: vm.id,
        state: 'deleted',
        previous: last,
        reason: 'deleted',
        time: new Date().toISOString(),
      });
    });
  }

  /** Names of VMs with a disk whose backing file is one of `vm`'s (writable, or owned) disks. */
  linkedClonesOf(vm: VmRow, ownedOnly = false): string[] {
    const mine = new Set(vm.disks.filter((d) => (ownedOnly ? d.owned : !d.readonly)).map((d) => d.path));
    return this.db
      .listVms()
      .filter((o) => o.id !== vm.id && o.disks.some((d) => d.backing !== undefined && mine.has(d.backing)))
      .map((o) => o.name);
  }

  async start(name: string): Promise<VmJson> {
    const vm = this.vm(name);
    const clones = this.linkedClonesOf(vm);
    if (clones.length)
      throw conflict(
        `VM '${name}' cannot start: its disks are the base of linked clone(s) ${clones.join(', ')}, and writing them would corrupt the clones (delete the clones, or make full clones)`,
      );
    if (this.busy.has(vm.id)) throw conflict(`VM '${name}' is busy: ${this.busy.get(vm.id)} is in progress`);
    // No await between the quota check and the supervisor's move to 'starting' (pools.ts).
    checkStart(this, vm);
    await this.supervisor.start(vm);
    return this.get(name);
  }

  async stop(name: string): Promise<VmJson> {
    const vm = this.vm(name);
    await this.supervisor.stop(vm);
    return this.get(name);
  }

  async shutdown(name: string, timeoutS: number): Promise<VmJson> {
    await this.supervisor.shutdown(this.vm(name), timeoutS);
    return this.get(name);
  }

  async pause(name: string): Promise<VmJson> {
    await this.supervisor.pause(this.vm(name));
    return this.get(name);
  }

  async resume(name: string): Promise<VmJson> {
    await this.supervisor.resume(this.vm(name));
    return this.get(name);
  }

  async reboot(name: string): Promise<VmJson> {
    await this.supervisor.reboot(this.vm(name));
    return this.get(name);
  }

  events(name: string, limit: number): EventRow[] {
    return this.db.events(this.vm(name).id, limit);
  }

  /** Stats: the VM process's x-virtkit-query-stats plus state and uptime; a VM not running: state only. */
  async stats(name: string): Promise<Record<string, unknown>> {
    const vm = this.vm(name);
    if (vm.state !== 'running' && vm.state !== 'paused') return { state: vm.state };
    const s = (await this.supervisor.qmp(vm).execute('x-virtkit-query-stats')) as Record<string, unknown>;
    return { ...s, ...this.cpuPercent(vm, s), state: vm.state };
  }

  /** Last CPU sample per VM process, for host CPU % between two stats requests. */
  private readonly cpuSamples = new Map<number, { cpuMs: number; uptimeMs: number }>();

  /**
   * `host.cpu-percent`: the VM process's host CPU time over the wall time since the previous
   * stats request (since its start on the first), 100 = one core.
   */
  private cpuPercent(vm: VmRow, s: Record<string, unknown>): Record<string, unknown> {
    const host = s['host'] as { 'cpu-ms'?: unknown } | undefined;
    const cpuMs = host?.['cpu-ms'];
    const uptimeMs = s['uptime-ms'];
    if (typeof cpuMs !== 'number' || typeof uptimeMs !== 'number' || vm.pid === undefined) return {};
    const last = this.cpuSamples.get(vm.pid);
    this.cpuSamples.set(vm.pid, { cpuMs, uptimeMs });
    if (this.cpuSamples.size > 1024) this.cpuSamples.delete(this.cpuSamples.keys().next().value!);
    const dCpu = cpuMs - (last?.cpuMs ?? 0);
    const dWall = uptimeMs - (last?.uptimeMs ?? 0);
    const percent = dWall > 0 ? Math.round((dCpu / dWall) * 1000) / 10 : 0;
    return { host: { ...(s['host'] as object), 'cpu-percent': percent } };
  }
}

export type { ApiError };
