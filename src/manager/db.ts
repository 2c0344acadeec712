/**
 * The manager's database (better-sqlite3, WAL): VM definitions with their disks and NICs, their
 * lifecycle state, snapshots and the event log. Schema changes are migrations numbered by
 * SQLite's user_version, applied in order in one transaction each at open.
 *
 * Lifecycle transitions are single UPDATE ... WHERE state IN (...) statements, so of two requests
 * racing to start one VM exactly one changes the row (better-sqlite3 is synchronous: no await
 * can fall between the check and the write).
 */
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';

/** `in-browser`: the VM was moved into a browser tab (browser-move.ts); no VM process runs here. */
export type VmState = 'stopped' | 'starting' | 'running' | 'paused' | 'stopping' | 'crashed' | 'in-browser';
export const VM_STATES: readonly VmState[] = [
  'stopped',
  'starting',
  'running',
  'paused',
  'stopping',
  'crashed',
  'in-browser',
];

export type VmSource =
  | { type: 'default' }
  | { type: 'image'; path: string; format?: string }
  | { type: 'kernel'; kernel: string; initrd?: string };

export interface VmDisk {
  path: string;
  format: string;
  /** Created by the manager in the VM's directory: removed with the VM. */
  owned: boolean;
  readonly: boolean;
  /** An overlay's backing file when it is another VM's disk or the image a VM was made from. */
  backing?: string;
}

export interface VmNic {
  hostfwd: string[];
}

export interface VmRow {
  id: string;
  name: string;
  state: VmState;
  memory: number;
  cpus: number;
  source: VmSource;
  append?: string;
  disks: VmDisk[];
  nics: VmNic[];
  created: string;
  startedAt?: string;
  pid?: number;
  /** Why the VM last stopped or crashed, in words. */
  reason?: string;
  /** The resource pool it belongs to (pools.ts); 'default' unless given. */
  pool: string;
}

/** A resource pool's limits; an absent one is unlimited. memory and disk are bytes. */
export interface PoolQuota {
  vcpus?: number;
  memory?: number;
  disk?: number;
  vms?: number;
}
export const QUOTA_KEYS = ['vcpus', 'memory', 'disk', 'vms'] as const;

export interface PoolRow {
  name: string;
  quota: PoolQuota;
  created: string;
}

export interface SnapshotRow {
  vmId: string;
  name: string;
  created: string;
  vmState: boolean;
  stateFile?: string;
}

export interface EventRow {
  id: number;
  vm: string;
  vmId: string;
  state: VmState | 'deleted';
  previous?: VmState;
  reason?: string;
  time: string;
}

/** Migration i takes user_version i to i+1. Never edit one that has shipped: add another. */
const MIGRATIONS: string[] = [
  `CREATE TABLE vms (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     state TEXT NOT NULL,
     memory INTEGER NOT NULL,
     cpus INTEGER NOT NULL,
     source TEXT NOT NULL,
     append TEXT,
     disks TEXT NOT NULL,
     nics TEXT NOT NULL,
     created TEXT NOT NULL,
     started_at TEXT,
     pid INTEGER,
     reason TEXT
   );
   CREATE TABLE snapshots (
     vm_id TEXT NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
     name TEXT NOT NULL,
     created TEXT NOT NULL,
     vm_state INTEGER NOT NULL,
     state_file TEXT,
     PRIMARY KEY (vm_id, name)
   );
   CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     vm_id TEXT NOT NULL,
     vm_name TEXT NOT NULL,
     state TEXT NOT NULL,
     previous TEXT,
     reason TEXT,
     time TEXT NOT NULL
   );
   CREATE INDEX events_vm ON events (vm_id, id);`,
  // 2: resource pools (issue 16). A NULL quota is unlimited. vms.pool names a pool; SQLite
  // cannot add a REFERENCES column with a non-NULL default, so the manager keeps it true (a
  // pool with VMs is not deleted).
  `CREATE TABLE pools (
     name TEXT PRIMARY KEY,
     vcpus INTEGER,
     memory INTEGER,
     disk INTEGER,
     vms INTEGER,
     created TEXT NOT NULL
   );
   INSERT INTO pools (name, created) VALUES ('default', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
   ALTER TABLE vms ADD COLUMN pool TEXT NOT NULL DEFAULT 'default';`,
  // 3: templates (issue 16): a VM's configuration and read-only flattened copies of its disks.
  `CREATE TABLE templates (
     name TEXT PRIMARY KEY,
     def TEXT NOT NULL,
     created TEXT NOT NULL
   );`,
  // 4: backup schedules (issue 16), one per VM, run by the daemon (backup-schedule.ts).
  `CREATE TABLE backup_schedules (
     vm_id TEXT PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,
     every INTEGER NOT NULL,
     keep INTEGER NOT NULL,
     dest TEXT NOT NULL,
     incremental INTEGER NOT NULL,
     ram INTEGER NOT NULL,
     created TEXT NOT NULL,
     last_run TEXT,
     last_result TEXT
   );`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
/** Events kept per VM; older ones are pruned as new ones arrive (a crash loop cannot fill the disk). */
export const MAX_EVENTS_PER_VM = 1000;

interface RawVm {
  id: string;
  name: string;
  state: string;
  memory: number;
  cpus: number;
  source: string;
  append: string | null;
  disks: string;
  nics: string;
  created: string;
  started_at: string | null;
  pid: number | null;
  reason: string | null;
  pool: string;
}

function toVm(r: RawVm): VmRow {
  return {
    id: r.id,
    name: r.name,
    state: r.state as VmState,
    memory: r.memory,
    cpus: r.cpus,
    source: JSON.parse(r.source) as VmSource,
    ...(r.append !== null ? { append: r.append } : {}),
    disks: JSON.parse(r.disks) as VmDisk[],
    nics: JSON.parse(r.nics) as VmNic[],
    created: r.created,
    ...(r.started_at !== null ? { startedAt: r.started_at } : {}),
    ...(r.pid !== null ? { pid: r.pid } : {}),
    ...(r.reason !== null ? { reason: r.reason } : {}),
    pool: r.pool,
  };
}

interface RawPool {
  name: string;
  vcpus: number | null;
  memory: number | null;
  disk: number | null;
  vms: number | null;
  created: string;
}

function toPool(r: RawPool): PoolRow {
  const quota: PoolQuota = {};
  for (const k of QUOTA_KEYS) if (r[k] !== null) quota[k] = r[k];
  return { name: r.name, quota, created: r.created };
}

/** A VM's backup schedule (backup-schedule.ts): every `every` seconds into dest, keeping `keep`. */
export interface ScheduleRow {
  vmId: string;
  every: number;
  keep: number;
  dest: string;
  incremental: boolean;
  ram: boolean;
  created: string;
  lastRun?: string;
  lastResult?: string;
}

interface RawSchedule {
  vm_id: string;
  every: number;
  keep: number;
  dest: string;
  incremental: number;
  ram: number;
  created: string;
  last_run: string | null;
  last_result: string | null;
}

function toSchedule(r: RawSchedule): ScheduleRow {
  return {
    vmId: r.vm_id,
    every: r.every,
    keep: r.keep,
    dest: r.dest,
    incremental: r.incremental === 1,
    ram: r.ram === 1,
    created: r.created,
    ...(r.last_run !== null ? { lastRun: r.last_run } : {}),
    ...(r.last_result !== null ? { lastResult: r.last_result } : {}),
  };
}

/** A template: what a VM made from it starts with (templates.ts). */
export interface TemplateRow {
  name: string;
  /** The VM it was made from (its name then). */
  from: string;
  memory: number;
  cpus: number;
  source: VmSource;
  append?: string;
  /** The template's own read-only qcow2 copies, and read-only disks it shares with the VM. */
  disks: VmDisk[];
  nics: number;
  created: string;
}

export class ManagerDb {
  private readonly db: Db;

  constructor(path: string) {
    this.db = new Database(path, { timeout: 5000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
    this.migrate();
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION)
      throw new Error(
        `the database was written by a newer virtkit (schema ${version}, this one knows ${SCHEMA_VERSION})`,
      );
    for (let v = version; v < SCHEMA_VERSION; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  close(): void {
    this.db.close();
  }

  listVms(): VmRow[] {
    return (this.db.prepare('SELECT * FROM vms ORDER BY name').all() as RawVm[]).map(toVm);
  }

  getVm(name: string): VmRow | undefined {
    const r = this.db.prepare('SELECT * FROM vms WHERE name = ?').get(name) as RawVm | undefined;
    return r && toVm(r);
  }

  getVmById(id: string): VmRow | undefined {
    const r = this.db.prepare('SELECT * FROM vms WHERE id = ?').get(id) as RawVm | undefined;
    return r && toVm(r);
  }

  /** Inserts a VM; false when the name is taken (the UNIQUE constraint decides, not a prior read). */
  insertVm(vm: VmRow): boolean {
    try {
      this.db
        .prepare(
          `INSERT INTO vms (id, name, state, memory, cpus, source, append, disks, nics, created, pool)
           VALUES (@id, @name, @state, @memory, @cpus, @source, @append, @disks, @nics, @created, @pool)`,
        )
        .run({
          id: vm.id,
          name: vm.name,
          state: vm.state,
          memory: vm.memory,
          cpus: vm.cpus,
          source: JSON.stringify(vm.source),
          append: vm.append ?? null,
          disks: JSON.stringify(vm.disks),
          nics: JSON.stringify(vm.nics),
          created: vm.created,
          pool: vm.pool,
        });
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return false;
      throw e;
    }
  }

  /** Updates the definition of a VM that is in one of `states`; false when it is not. */
  updateDefinition(
    id: string,
    states: readonly VmState[],
    def: Pick<VmRow, 'memory' | 'cpus' | 'nics' | 'disks'> & { append?: string },
  ): boolean {
    const r = this.db
      .prepare(
        `UPDATE vms SET memory = ?, cpus = ?, nics = ?, disks = ?, append = ?
         WHERE id = ? AND state IN (${states.map(() => '?').join(',')})`,
      )
      .run(
        def.memory,
        def.cpus,
        JSON.stringify(def.nics),
        JSON.stringify(def.disks),
        def.append ?? null,
        id,
        ...states,
      );
    return r.changes === 1;
  }

  /**
   * Moves a VM from one of `from` to `to` atomically; returns the previous state, or undefined
   * when the VM was not in any of `from` (someone else moved it first).
   */
  transition(
    id: string,
    from: readonly VmState[],
    to: VmState,
    extra: { pid?: number | null; startedAt?: string | null; reason?: string | null } = {},
  ): VmState | undefined {
    return this.db.transaction(() => {
      const cur = this.db.prepare('SELECT state, name FROM vms WHERE id = ?').get(id) as
        { state: VmState; name: string } | undefined;
      if (!cur || !from.includes(cur.state)) return undefined;
      const sets = ['state = ?'];
      const args: unknown[] = [to];
      for (const [col, key] of [
        ['pid', 'pid'],
        ['started_at', 'startedAt'],
        ['reason', 'reason'],
      ] as const) {
        if (extra[key] !== undefined) {
          sets.push(`${col} = ?`);
          args.push(extra[key]);
        }
      }
      this.db.prepare(`UPDATE vms SET ${sets.join(', ')} WHERE id = ?`).run(...args, id);
      return cur.state;
    })();
  }

  /** Removes the VM, its snapshots and its events. */
  deleteVm(id: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM vms WHERE id = ?').run(id);
      this.db.prepare('DELETE FROM events WHERE vm_id = ?').run(id);
    })();
  }

  // -- pools

  listPools(): PoolRow[] {
    return (this.db.prepare('SELECT * FROM pools ORDER BY name').all() as RawPool[]).map(toPool);
  }

  getPool(name: string): PoolRow | undefined {
    const r = this.db.prepare('SELECT * FROM pools WHERE name = ?').get(name) as RawPool | undefined;
    return r && toPool(r);
  }

  /** false when the name is taken. */
  insertPool(p: PoolRow): boolean {
    try {
      this.db
        .prepare('INSERT INTO pools (name, vcpus, memory, disk, vms, created) VALUES (?, ?, ?, ?, ?, ?)')
        .run(p.name, ...QUOTA_KEYS.map((k) => p.quota[k] ?? null), p.created);
      return true;
    } catch (e) {
      if (String((e as { code?: string }).code).startsWith('SQLITE_CONSTRAINT')) return false;
      throw e;
    }
  }

  setPoolQuota(name: string, quota: PoolQuota): void {
    this.db
      .prepare('UPDATE pools SET vcpus = ?, memory = ?, disk = ?, vms = ? WHERE name = ?')
      .run(...QUOTA_KEYS.map((k) => quota[k] ?? null), name);
  }

  /** Deletes a pool that no VM belongs to (checked in the same statement); false otherwise. */
  deletePool(name: string): boolean {
    return (
      this.db
        .prepare('DELETE FROM pools WHERE name = ? AND NOT EXISTS (SELECT 1 FROM vms WHERE pool = ?)')
        .run(name, name).changes === 1
    );
  }

  // -- backup schedules

  getSchedule(vmId: string): ScheduleRow | undefined {
    const r = this.db.prepare('SELECT * FROM backup_schedules WHERE vm_id = ?').get(vmId) as RawSchedule | undefined;
    return r && toSchedule(r);
  }

  listSchedules(): ScheduleRow[] {
    return (this.db.prepare('SELECT * FROM backup_schedules').all() as RawSchedule[]).map(toSchedule);
  }

  putSchedule(s: ScheduleRow): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO backup_schedules (vm_id, every, keep, dest, incremental, ram, created, last_run, last_result)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(s.vmId, s.every, s.keep, s.dest, s.incremental ? 1 : 0, s.ram ? 1 : 0, s.created, s.lastRun ?? null, s.lastResult ?? null);
  }

  deleteSchedule(vmId: string): boolean {
    return this.db.prepare('DELETE FROM backup_schedules WHERE vm_id = ?').run(vmId).changes > 0;
  }

  // -- templates

  listTemplates(): TemplateRow[] {
    const rows = this.db.prepare('SELECT * FROM templates ORDER BY name').all() as Array<{
      name: string;
      def: string;
      created: string;
    }>;
    return rows.map((r) => ({
      ...(JSON.parse(r.def) as Omit<TemplateRow, 'name' | 'created'>),
      name: r.name,
      created: r.created,
    }));
  }

  getTemplate(name: string): TemplateRow | undefined {
    return this.listTemplates().find((t) => t.name === name);
  }

  insertTemplate(t: TemplateRow): boolean {
    const { name, created, ...def } = t;
    try {
      this.db
        .prepare('INSERT INTO templates (name, def, created) VALUES (?, ?, ?)')
        .run(name, JSON.stringify(def), created);
      return true;
    } catch (e) {
      if (String((e as { code?: string }).code).startsWith('SQLITE_CONSTRAINT')) return false;
      throw e;
    }
  }

  deleteTemplate(name: string): void {
    this.db.prepare('DELETE FROM templates WHERE name = ?').run(name);
  }

  // -- snapshots

  listSnapshots(vmId: string): SnapshotRow[] {
    const rows = this.db.prepare('SELECT * FROM snapshots WHERE vm_id = ? ORDER BY created, name').all(vmId) as Array<{
      vm_id: string;
      name: string;
      created: string;
      vm_state: number;
      state_file: string | null;
    }>;
    return rows.map((r) => ({
      vmId: r.vm_id,
      name: r.name,
      created: r.created,
      vmState: r.vm_state === 1,
      ...(r.state_file !== null ? { stateFile: r.state_file } : {}),
    }));
  }

  getSnapshot(vmId: string, name: string): SnapshotRow | undefined {
    return this.listSnapshots(vmId).find((s) => s.name === name);
  }

  insertSnapshot(s: SnapshotRow): boolean {
    try {
      this.db
        .prepare('INSERT INTO snapshots (vm_id, name, created, vm_state, state_file) VALUES (?, ?, ?, ?, ?)')
        .run(s.vmId, s.name, s.created, s.vmState ? 1 : 0, s.stateFile ?? null);
      return true;
    } catch (e) {
      if (String((e as { code?: string }).code).startsWith('SQLITE_CONSTRAINT')) return false;
      throw e;
    }
  }

  deleteSnapshot(vmId: string, name: string): void {
    this.db.prepare('DELETE FROM snapshots WHERE vm_id = ? AND name = ?').run(vmId, name);
  }

  // -- events

  addEvent(e: Omit<EventRow, 'id'>): EventRow {
    return this.db.transaction(() => {
      const r = this.db
        .prepare('INSERT INTO events (vm_id, vm_name, state, previous, reason, time) VALUES (?, ?, ?, ?, ?, ?)')
        .run(e.vmId, e.vm, e.state, e.previous ?? null, e.reason ?? null, e.time);
      const id = Number(r.lastInsertRowid);
      this.db
        .prepare(
          'DELETE FROM events WHERE vm_id = ? AND id NOT IN (SELECT id FROM events WHERE vm_id = ? ORDER BY id DESC LIMIT ?)',
        )
        .run(e.vmId, e.vmId, MAX_EVENTS_PER_VM);
      return { ...e, id };
    })();
  }

  /** The last `limit` events of a VM, oldest first. */
  events(vmId: string, limit: number): EventRow[] {
    const rows = this.db
      .prepare('SELECT * FROM events WHERE vm_id = ? ORDER BY id DESC LIMIT ?')
      .all(vmId, limit) as Array<{
      id: number;
      vm_id: string;
      vm_name: string;
      state: string;
      previous: string | null;
      reason: string | null;
      time: string;
    }>;
    return rows.reverse().map((r) => ({
      id: r.id,
      vm: r.vm_name,
      vmId: r.vm_id,
      state: r.state as EventRow['state'],
      ...(r.previous !== null ? { previous: r.previous as VmState } : {}),
      ...(r.reason !== null ? { reason: r.reason } : {}),
      time: r.time,
    }));
  }
}
