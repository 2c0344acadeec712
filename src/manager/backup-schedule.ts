/**
 * Backup schedules held by the daemon (docs/manager.md "Backups"): one per VM, in the database
 * (table backup_schedules), so a restarted daemon goes on with them; a run that was due while no
 * daemon ran happens at once. Each run is a backup into `dest`, then pruning to `keep`.
 *
 * Retention keeps whole chains: an incremental backup is restorable only with every backup
 * before it back to its full one, so a backup is deleted only when none of the newest `keep`
 * backups needs it. To let old chains go, a schedule starts a new full backup once the current
 * chain holds `keep` backups: at most about 2*keep backups exist, at least `keep` restore points.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { badRequest, notFound } from './api-error.ts';
import type { ScheduleRow } from './db.ts';
import type { Manager } from './manager.ts';
import { listBackups, type Manifest } from './backup-manifest.ts';
import { startBackup } from './backup.ts';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
export const EVERY_MIN = 5;
export const EVERY_MAX = 366 * 86400;

/** `every` as seconds: a number, or "90s", "15m", "1h", "1d", "1w". */
export function parseEvery(v: number | string): number {
  let s: number;
  if (typeof v === 'number') s = v;
  else {
    const m = /^(\d+)([smhdw])$/.exec(v.trim());
    if (!m) throw badRequest(`every ${JSON.stringify(v)}: give seconds, or a number with s, m, h, d or w ("1h")`);
    s = Number(m[1]) * UNITS[m[2]!]!;
  }
  if (!Number.isInteger(s) || s < EVERY_MIN || s > EVERY_MAX)
    throw badRequest(`every: ${s} s is outside ${EVERY_MIN} s .. ${EVERY_MAX / 86400} days`);
  return s;
}

/** Backups to delete so that the newest `keep` stay restorable (whole chains). */
export function toPrune(backups: Manifest[], keep: number): Manifest[] {
  const kept = new Set<string>();
  for (const b of backups.slice(-keep)) for (const id of b.chain) kept.add(id);
  return backups.filter((b) => !kept.has(b.id));
}

/** A schedule as the API shows it: the stored row with the VM's name for its id, and the next run. */
export type ScheduleJson = Omit<ScheduleRow, 'vmId'> & { vm: string; nextRun: string };

const nextRun = (s: ScheduleRow) => Date.parse(s.lastRun ?? s.created) + s.every * 1000;

export function scheduleJson(vm: string, s: ScheduleRow): ScheduleJson {
  return {
    vm,
    every: s.every,
    keep: s.keep,
    dest: s.dest,
    incremental: s.incremental,
    ram: s.ram,
    created: s.created,
    ...(s.lastRun !== undefined ? { lastRun: s.lastRun } : {}),
    ...(s.lastResult !== undefined ? { lastResult: s.lastResult } : {}),
    nextRun: new Date(nextRun(s)).toISOString(),
  };
}

export interface PutScheduleBody {
  every: number | string;
  keep: number;
  dest: string;
  incremental?: boolean;
  ram?: boolean;
}

export function putSchedule(mgr: Manager, name: string, body: PutScheduleBody): ScheduleJson {
  const vm = mgr.vm(name);
  if (!body.dest.startsWith('/')) throw badRequest(`dest ${JSON.stringify(body.dest)} must be an absolute path`);
  const old = mgr.db.getSchedule(vm.id);
  const row: ScheduleRow = {
    vmId: vm.id,
    every: parseEvery(body.every),
    keep: body.keep,
    dest: body.dest,
    incremental: body.incremental !== false,
    ram: body.ram === true,
    created: new Date().toISOString(),
    ...(old?.lastRun !== undefined ? { lastRun: old.lastRun } : {}),
    ...(old?.lastResult !== undefined ? { lastResult: old.lastResult } : {}),
  };
  mgr.db.putSchedule(row);
  mgr.supervisor.note(vm, `backup schedule set: every ${row.every} s into ${row.dest}, keep ${row.keep}`);
  return scheduleJson(name, row);
}

export function getSchedule(mgr: Manager, name: string): ScheduleJson {
  const vm = mgr.vm(name);
  const s = mgr.db.getSchedule(vm.id);
  if (!s) throw notFound(`a backup schedule of VM '${name}'`);
  return scheduleJson(name, s);
}

export function deleteSchedule(mgr: Manager, name: string): void {
  const vm = mgr.vm(name);
  if (!mgr.db.deleteSchedule(vm.id)) throw notFound(`a backup schedule of VM '${name}'`);
  mgr.supervisor.note(vm, 'backup schedule removed');
}

/** Runs due schedules: checks once a second (cheap: a small table), one run per VM at a time. */
export class BackupScheduler {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Set<string>();

  constructor(private readonly mgr: Manager) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const now = Date.now();
    for (const s of this.mgr.db.listSchedules())
      if (nextRun(s) <= now && !this.running.has(s.vmId)) {
        this.running.add(s.vmId);
        void this.run(s).finally(() => this.running.delete(s.vmId));
      }
  }

  private async run(s: ScheduleRow): Promise<void> {
    const vm = this.mgr.db.getVmById(s.vmId);
    if (!vm) return;
    const backups = listBackups(s.dest, vm.id);
    // A new chain once the current one holds `keep` backups, so old chains can be pruned.
    const chainLength = backups.at(-1)?.chain.length ?? 0;
    const incremental = s.incremental && chainLength < s.keep;
    let result: string;
    try {
      const { done } = await startBackup(this.mgr, vm.name, { dest: s.dest, ram: s.ram, incremental });
      const job = await done;
      result = job.state === 'done' ? `ok: ${job.kind} ${job.id}` : `failed: ${job.error ?? 'unknown error'}`;
      if (job.state === 'done') {
        const gone = toPrune(listBackups(s.dest, vm.id), s.keep);
        for (const b of gone) rmSync(join(s.dest, b.id), { recursive: true, force: true });
        if (gone.length) this.mgr.supervisor.note(vm, `backup schedule pruned ${gone.map((b) => b.id).join(', ')}`);
      }
    } catch (e) {
      result = `failed: ${(e as Error).message}`;
      this.mgr.supervisor.note(this.mgr.db.getVmById(vm.id) ?? vm, `scheduled backup failed: ${(e as Error).message}`);
    }
    const cur = this.mgr.db.getSchedule(s.vmId);
    // The schedule may have been replaced or removed meanwhile: keep what is there now.
    if (cur) this.mgr.db.putSchedule({ ...cur, lastRun: new Date().toISOString(), lastResult: result });
  }
}
