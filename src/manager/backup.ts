/**
 * Backups of a VM's disks (and with `ram` its RAM and device state) into DEST/<id>/, taken at
 * one point in time while the guest is paused only for the point itself (docs/manager.md
 * "Backups"):
 *
 * 1. point: a running VM's process takes an internal qcow2 snapshot in every writable disk in one
 *    pause and hands over its dirty bitmaps (QMP x-virtkit-backup-point); a stopped VM gets the
 *    same snapshots offline (it cannot start meanwhile: the backup keeps it busy);
 * 2. copy, in the background: each snapshot is read through a read-only view into a qcow2 in the
 *    backup; full, or only the dirty ranges on top of the previous backup (incremental);
 * 3. the internal snapshots are deleted again (QMP x-virtkit-snapshot-delete, or offline), and
 *    manifest.json is written last.
 */
import { mkdirSync, rmSync, renameSync, writeFileSync, copyFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { imgConvert, imgSnapshot } from '../storage/img/index.ts';
import { nodeImgContext } from '../host/node/img-host.ts';
import { describeError } from '../host/node/errno-words.ts';
import { DirtyBitmap } from '../vmm/dirty-bitmap.ts';
import { badRequest, conflict, unusable, wrongState, ApiError } from './api-error.ts';
import type { VmDisk, VmRow } from './db.ts';
import type { Manager, VmJson } from './manager.ts';
import { vmJson } from './manager.ts';
import { daemonMetrics } from './metrics.ts';
import { copyRanges, dataRanges, openSnapshotView, type Range } from './backup-copy.ts';
import { MANIFEST, MANIFEST_FORMAT, listBackups, readManifest, type Manifest, type ManifestDisk } from './backup-manifest.ts';
import { newVm } from './storage-ops.ts';
import { vmFiles } from './vm-def.ts';

export interface BackupRequest {
  dest: string;
  ram?: boolean;
  /** Default true: incremental when the previous backup in dest allows it. */
  incremental?: boolean;
}

/** A backup as the API shows it: its progress while it copies, then its result. */
export interface BackupJob {
  id: string;
  vm: string;
  dest: string;
  path: string;
  kind: 'full' | 'incremental';
  fullBecause?: string;
  ram: boolean;
  state: 'copying' | 'done' | 'failed';
  progress: { bytes: number; total: number };
  started: string;
  finished?: string;
  error?: string;
}

interface PointDisk {
  index: number;
  snapshot: boolean;
  size: number;
  granularity?: number;
  dirty?: string;
}
interface PointReply {
  generation: string;
  point: number;
  disks: PointDisk[];
}

const JOBS_KEPT = 50;
const jobsByVm = new Map<string, BackupJob[]>();

export function backupJobs(mgr: Manager, name: string): BackupJob[] {
  return jobsByVm.get(mgr.vm(name).id) ?? [];
}

function remember(vmId: string, job: BackupJob): void {
  const list = jobsByVm.get(vmId) ?? [];
  list.push(job);
  if (list.length > JOBS_KEPT) list.shift();
  jobsByVm.set(vmId, list);
}

function backupDisks(vm: VmRow): VmDisk[] {
  const bad = vm.disks.find((d) => !d.readonly && d.format !== 'qcow2');
  if (bad)
    throw unusable(
      `VM '${vm.name}': disk ${bad.path} is ${bad.format}: backups need qcow2 writable disks (convert it, or attach it readonly)`,
    );
  return vm.disks;
}

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\.(\d+)Z$/, '$1Z');

/**
 * Starts a backup. Resolves with the job once the point is taken (the guest runs again); the copy
 * goes on, and `done` settles when it has finished (schedules wait for it).
 */
export async function startBackup(
  mgr: Manager,
  name: string,
  req: BackupRequest,
): Promise<{ job: BackupJob; done: Promise<BackupJob> }> {
  if (!isAbsolute(req.dest)) throw badRequest(`dest ${JSON.stringify(req.dest)} must be an absolute path`);
  const vm = mgr.vm(name);
  let pointTaken!: (j: BackupJob) => void;
  let pointFailed!: (e: unknown) => void;
  const point = new Promise<BackupJob>((res, rej) => {
    pointTaken = res;
    pointFailed = rej;
  });
  let job: BackupJob | undefined;
  const done = mgr
    .exclusive(vm, 'a backup', async () => {
      job = await runBackup(mgr, name, req, pointTaken);
      return job;
    })
    .catch((e: unknown) => {
      pointFailed(e);
      if (job) return job;
      throw e;
    });
  done.catch(() => {}); // the point's promise carries a failure before the copy
  return { job: await point, done };
}

async function runBackup(
  mgr: Manager,
  name: string,
  req: BackupRequest,
  pointTaken: (j: BackupJob) => void,
): Promise<BackupJob> {
  const vm = mgr.vm(name);
  const live = vm.state === 'running' || vm.state === 'paused';
  if (!live && vm.state !== 'stopped' && vm.state !== 'crashed') throw wrongState(name, vm.state, 'back up');
  if (req.ram && !live) throw conflict(`VM '${name}' is not running: a backup with RAM needs a running VM`);
  const disks = backupDisks(vm);
  try {
    mkdirSync(req.dest, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw unusable(`dest ${req.dest}: ${describeError(e)}`);
  }
  const id = `${vm.name}-${stamp()}`;
  const dir = join(req.dest, id);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    throw unusable(`cannot create ${dir}: ${describeError(e)}`);
  }
  const tag = `backup-${randomBytes(4).toString('hex')}`;
  const writable = disks.map((d, i) => ({ d, i })).filter((x) => !x.d.readonly);
  const started = Date.now();
  const prev = listBackups(req.dest, vm.id).at(-1);
  let reply: PointReply | undefined;
  try {
    if (live) {
      reply = (await mgr.supervisor.qmp(vm).execute('x-virtkit-backup-point', {
        tag,
        ...(req.ram ? { 'state-file': join(dir, 'vm.state') } : {}),
      })) as PointReply;
    } else {
      const ctx = nodeImgContext();
      for (const { d } of writable) await imgSnapshot(ctx, d.path, { op: 'create', name: tag }, { format: 'qcow2' });
    }
  } catch (e) {
    await dropPoint(mgr, name, writable.map((x) => x.d), tag);
    rmSync(dir, { recursive: true, force: true });
    throw e instanceof ApiError ? e : unusable(`VM '${name}': the backup point failed: ${describeError(e)}`);
  }

  // Incremental only from the point just before this one in the same VM process, when asked.
  let fullBecause: string | undefined;
  if (req.incremental === false) fullBecause = undefined;
  else if (!prev) fullBecause = 'no previous backup of this VM in dest';
  else if (!reply) fullBecause = 'the VM is stopped: no dirty tracking';
  else if (!prev.tracking || prev.tracking.generation !== reply.generation)
    fullBecause = 'the VM process was restarted since the previous backup (dirty bitmaps are not persisted)';
  else if (prev.tracking.point !== reply.point - 1)
    fullBecause = 'another backup point was taken since the previous backup in dest';
  else if (
    writable.some(({ i }) => {
      const p = prev.disks.find((x) => x.index === i);
      return !p?.file || p.size !== reply!.disks[i]?.size || reply!.disks[i]?.dirty === undefined;
    })
  )
    fullBecause = 'the disks changed since the previous backup';
  const incremental = req.incremental !== false && fullBecause === undefined && prev !== undefined;
  const job: BackupJob = {
    id,
    vm: name,
    dest: req.dest,
    path: dir,
    kind: incremental ? 'incremental' : 'full',
    ...(req.incremental !== false && fullBecause ? { fullBecause } : {}),
    ram: req.ram === true,
    state: 'copying',
    progress: { bytes: 0, total: 0 },
    started: new Date(started).toISOString(),
  };
  remember(vm.id, job);
  mgr.supervisor.note(vm, `backup ${id} (${job.kind}) started`);
  pointTaken(job);

  const end = daemonMetrics().backupSeconds.startTimer({ kind: job.kind });
  try {
    const plans: { d: VmDisk; i: number; view: Awaited<ReturnType<typeof openSnapshotView>>; ranges: Range[] }[] = [];
    try {
      for (const { d, i } of writable) {
        const view = await openSnapshotView(d.path, tag);
        let ranges: Range[];
        const pd = reply?.disks[i];
        if (incremental && pd?.dirty !== undefined && pd.granularity !== undefined)
          ranges = [...DirtyBitmap.runs(Buffer.from(pd.dirty, 'base64'), pd.granularity, view.size)];
        else ranges = await dataRanges(view);
        plans.push({ d, i, view, ranges });
      }
      job.progress.total = plans.reduce((n, p) => n + p.ranges.reduce((m, r) => m + r.length, 0), 0);
      let lastNote = 0;
      const mdisks: ManifestDisk[] = [];
      for (const p of plans) {
        const file = `disk${p.i}.qcow2`;
        const backing = incremental ? `../${prev!.id}/${prev!.disks.find((x) => x.index === p.i)!.file!}` : undefined;
        let copied = 0;
        await copyRanges(p.view, p.ranges, join(dir, file), {
          ...(backing ? { backing } : {}),
          progress: (n) => {
            copied += n;
            job.progress.bytes += n;
            const quarter = Math.floor((job.progress.bytes / Math.max(1, job.progress.total)) * 4);
            if (quarter > lastNote && quarter < 4) {
              lastNote = quarter;
              mgr.supervisor.note(mgr.db.getVmById(vm.id) ?? vm, `backup ${id}: ${quarter * 25}% copied`);
            }
          },
        });
        mdisks.push({
          index: p.i,
          file,
          path: p.d.path,
          format: 'qcow2',
          readonly: false,
          size: p.view.size,
          ...(backing ? { backing } : {}),
          copied,
        });
      }
      for (const [i, d] of disks.entries())
        if (d.readonly) mdisks.push({ index: i, path: d.path, format: d.format, readonly: true, size: 0, copied: 0 });
      mdisks.sort((a, b) => a.index - b.index);
      const manifest: Manifest = {
        format: MANIFEST_FORMAT,
        version: 1,
        id,
        created: job.started,
        kind: job.kind,
        ...(job.fullBecause ? { fullBecause: job.fullBecause } : {}),
        ...(incremental ? { parent: prev!.id } : {}),
        chain: incremental ? [...prev!.chain, id] : [id],
        vm: {
          name: vm.name,
          id: vm.id,
          memory: vm.memory,
          cpus: vm.cpus,
          source: vm.source,
          ...(vm.append !== undefined ? { append: vm.append } : {}),
          nics: vm.nics,
          pool: vm.pool,
        },
        disks: mdisks,
        ...(req.ram ? { state: 'vm.state' } : {}),
        ...(reply ? { tracking: { generation: reply.generation, point: reply.point } } : {}),
      };
      writeFileSync(join(dir, `${MANIFEST}.tmp`), JSON.stringify(manifest, null, 2) + '\n');
      renameSync(join(dir, `${MANIFEST}.tmp`), join(dir, MANIFEST));
    } finally {
      for (const p of plans) await p.view.close().catch(() => {});
      await dropPoint(mgr, name, writable.map((x) => x.d), tag);
    }
    job.state = 'done';
    end({ result: 'ok' });
  } catch (e) {
    end({ result: 'error' });
    job.state = 'failed';
    job.error = describeError(e);
    rmSync(dir, { recursive: true, force: true });
  }
  job.finished = new Date().toISOString();
  const cur = mgr.db.getVmById(vm.id) ?? vm;
  mgr.supervisor.note(
    cur,
    job.state === 'done'
      ? `backup ${id} (${job.kind}) finished: ${job.progress.bytes} bytes in ${((Date.now() - started) / 1000).toFixed(1)} s`
      : `backup ${id} failed: ${job.error}`,
  );
  return job;
}

/** Deletes the backup point's internal snapshots: through the VM process if one runs, else offline. */
async function dropPoint(mgr: Manager, name: string, disks: VmDisk[], tag: string): Promise<void> {
  const vm = mgr.db.getVm(name);
  if (vm && (vm.state === 'running' || vm.state === 'paused')) {
    try {
      await mgr.supervisor.qmp(vm).execute('x-virtkit-snapshot-delete', { tag });
      return;
    } catch {
      // the process may be going away: fall through to offline when it has
    }
    const now = mgr.db.getVm(name);
    if (now && (now.state === 'running' || now.state === 'paused')) return;
  }
  const ctx = nodeImgContext();
  for (const d of disks) await imgSnapshot(ctx, d.path, { op: 'delete', name: tag }, { format: 'qcow2' }).catch(() => {});
}

/**
 * Restore: a backup (any in a chain: its images' backing files bring the older ones) becomes a
 * new VM (`name`, default the backed-up VM's name), or replaces the disks of the stopped VM of
 * that name. Each disk is flattened into an owned qcow2. With RAM state the VM is started from
 * it (`virtkit run --restore`, which checks the disks against the state's record).
 */
export async function restoreBackup(mgr: Manager, body: { path: string; name?: string }): Promise<VmJson> {
  if (!isAbsolute(body.path)) throw badRequest(`path ${JSON.stringify(body.path)} must be an absolute path`);
  let m: Manifest;
  try {
    m = readManifest(body.path);
  } catch (e) {
    throw unusable((e as Error).message);
  }
  const name = body.name ?? m.vm.name;
  const ctx = nodeImgContext();
  const flatten = async (d: ManifestDisk, target: string) => {
    try {
      await imgConvert(ctx, [join(body.path, d.file!)], target, { format: 'qcow2', sourceFormat: 'qcow2' });
    } catch (e) {
      rmSync(target, { force: true });
      throw unusable(`restoring disk ${d.index} from ${join(body.path, d.file!)}: ${describeError(e)}`);
    }
  };
  const existing = mgr.db.getVm(name);
  let vm: VmRow;
  if (existing) {
    vm = await mgr.exclusive(existing, 'a restore', async () => {
      const cur = mgr.vm(name);
      if (cur.state !== 'stopped' && cur.state !== 'crashed') throw wrongState(name, cur.state, 'restore (stop it first)');
      // Its snapshots live in the disks being replaced: they would name tags that are gone.
      if (mgr.db.listSnapshots(cur.id).length)
        throw conflict(`VM '${name}' has snapshots, which a restore would lose: delete them first, or restore into a new VM (name)`);
      if (cur.disks.length !== m.disks.length)
        throw conflict(
          `VM '${name}' has ${cur.disks.length} disk(s), the backup ${m.disks.length}: restore into a new VM (name)`,
        );
      for (const d of m.disks) {
        if (!d.file) continue;
        const target = cur.disks[d.index]!;
        const tmp = `${target.path}.restore-${randomBytes(3).toString('hex')}`;
        await flatten(d, tmp);
        renameSync(tmp, target.path);
      }
      // A restored disk is a flat qcow2: it no longer has the backing file it may have had.
      const restored = cur.disks.map((d, i) =>
        m.disks[i]?.file ? { path: d.path, format: 'qcow2', owned: d.owned, readonly: false } : d,
      );
      mgr.db.updateDefinition(cur.id, ['stopped', 'crashed'], {
        memory: cur.memory,
        cpus: cur.cpus,
        nics: cur.nics,
        disks: restored,
        ...(cur.append !== undefined ? { append: cur.append } : {}),
      });
      mgr.supervisor.note(cur, `restored from backup ${m.id}`);
      return mgr.vm(name);
    });
  } else {
    vm = await newVm(
      mgr,
      name,
      {
        memory: m.vm.memory,
        cpus: m.vm.cpus,
        source: m.vm.source,
        ...(m.vm.append !== undefined ? { append: m.vm.append } : {}),
        nics: m.vm.nics,
        pool: mgr.db.getPool(m.vm.pool) ? m.vm.pool : 'default',
      },
      async (dir) => {
        const out: VmDisk[] = [];
        for (const d of [...m.disks].sort((a, b) => a.index - b.index)) {
          if (!d.file) {
            out.push({ path: d.path, format: d.format, owned: false, readonly: true });
            continue;
          }
          const target = join(dir, `disk${d.index}.qcow2`);
          await flatten(d, target);
          out.push({ path: target, format: 'qcow2', owned: true, readonly: false });
        }
        return out;
      },
    );
    mgr.supervisor.note(vm, `restored from backup ${m.id}`);
  }
  if (m.state) {
    const snaps = vmFiles(mgr.dir.vmDir(vm.id)).snapshots;
    mkdirSync(snaps, { recursive: true, mode: 0o700 });
    const stateFile = join(snaps, `restore-${m.id}.state`);
    copyFileSync(join(body.path, m.state), stateFile);
    await mgr.supervisor.start(mgr.vm(name), stateFile);
  }
  return vmJson(mgr.vm(name));
}
