/**
 * What the manager does with VM disks: snapshots (a running VM: QMP x-virtkit-savevm, disks and
 * RAM; a stopped VM: internal qcow2 snapshots of its writable disks, no RAM), clones (linked:
 * qcow2 overlays on the source's disks; full: copies through img convert), OVA/OVF import as a
 * new VM and export of a VM as an OVA, all through the storage library (src/storage).
 */
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { imgConvert, imgSnapshot } from '../storage/img/index.ts';
import { importOva, exportOva } from '../storage/ova/ova.ts';
import { parseOvf } from '../storage/ova/ovf-parse.ts';
import type { VmDefinition, VmDisk as OvfDisk } from '../storage/ova/vm.ts';
import { openImage } from '../storage/open.ts';
import { StorageError, type BlockBackend, type ByteStore } from '../storage/types.ts';
import { nodeImgContext } from '../host/node/img-host.ts';
import { openImageFile } from '../host/node/open-image.ts';
import { FileStore } from '../host/node/file-store.ts';
import { describeError } from '../host/node/errno-words.ts';
import { ApiError, badRequest, conflict, notFound, unusable, wrongState } from './api-error.ts';
import type { SnapshotRow, VmDisk, VmRow } from './db.ts';
import type { Manager, VmJson } from './manager.ts';
import { vmJson } from './manager.ts';
import { daemonMetrics, timed } from './metrics.ts';
import { DEFAULT_POOL, admit } from './pools.ts';
import { CPUS_MAX, DEVICE_SLOTS, MEMORY_MAX, MEMORY_MIN, createOwnedDisk, newVmId, vmFiles } from './vm-def.ts';

const MiB = 1024 * 1024;
const stoppedStates = ['stopped', 'crashed'] as const;
const isStopped = (vm: VmRow) => (stoppedStates as readonly string[]).includes(vm.state);

/** Writable disks carry a VM's snapshots; they must be qcow2 (read-only disks never change). */
function snapshotDisks(vm: VmRow): VmDisk[] {
  const writable = vm.disks.filter((d) => !d.readonly);
  const bad = writable.find((d) => d.format !== 'qcow2');
  if (bad)
    throw unusable(
      `VM '${vm.name}': disk ${bad.path} is ${bad.format}, and only qcow2 disks hold snapshots (convert it, or attach it readonly)`,
    );
  return writable;
}

function storageError(what: string, e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof StorageError && e.code === 'locked') return conflict(`${what}: ${e.message} (is a VM using it?)`);
  return unusable(`${what}: ${describeError(e)}`);
}

export function snapshotJson(s: SnapshotRow) {
  return { name: s.name, created: s.created, vmState: s.vmState };
}

export async function createSnapshot(mgr: Manager, name: string, snap: string) {
  const vm = mgr.vm(name);
  return mgr.exclusive(vm, 'a snapshot', async () => {
    const cur = mgr.vm(name);
    if (mgr.db.getSnapshot(cur.id, snap)) throw conflict(`VM '${name}' has a snapshot named '${snap}'`);
    const disks = snapshotDisks(cur);
    const created = new Date().toISOString();
    const live = cur.state === 'running' || cur.state === 'paused';
    await timed(daemonMetrics().snapshotSeconds, live ? 'live' : 'disk', () =>
      takeSnapshot(mgr, cur, snap, disks, created),
    );
    mgr.supervisor.note(cur, `snapshot '${snap}' taken`);
    return snapshotJson(mgr.db.getSnapshot(cur.id, snap)!);
  });
}

async function takeSnapshot(mgr: Manager, cur: VmRow, snap: string, disks: VmDisk[], created: string): Promise<void> {
  const name = cur.name;
  /** A running VM: disks and RAM in one pause; a stopped one: internal snapshots of its disks. */
  if (cur.state === 'running' || cur.state === 'paused') {
    const dir = vmFiles(mgr.dir.vmDir(cur.id)).snapshots;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stateFile = join(dir, `${snap}.state`);
    try {
      await mgr.supervisor.qmp(cur).execute('x-virtkit-savevm', { tag: snap, 'state-file': stateFile });
    } catch (e) {
      rmSync(stateFile, { force: true });
      throw unusable(`VM '${name}': the snapshot failed: ${(e as Error).message}`);
    }
    mgr.db.insertSnapshot({ vmId: cur.id, name: snap, created, vmState: true, stateFile });
  } else if (isStopped(cur)) {
    const ctx = nodeImgContext();
    const done: string[] = [];
    const now = Date.now();
    try {
      for (const d of disks) {
        await imgSnapshot(
          ctx,
          d.path,
          { op: 'create', name: snap },
          {
            format: 'qcow2',
            now: { sec: Math.floor(now / 1000), nsec: (now % 1000) * 1e6 },
          },
        );
        done.push(d.path);
      }
    } catch (e) {
      for (const p of done)
        await imgSnapshot(ctx, p, { op: 'delete', name: snap }, { format: 'qcow2' }).catch(() => {});
      throw storageError(`VM '${name}': the snapshot failed`, e);
    }
    mgr.db.insertSnapshot({ vmId: cur.id, name: snap, created, vmState: false });
  } else throw wrongState(name, cur.state, 'snapshot');
}

export function listSnapshots(mgr: Manager, name: string) {
  return mgr.db.listSnapshots(mgr.vm(name).id).map(snapshotJson);
}

/**
 * Revert: a running VM is stopped first; every writable disk goes back to the snapshot's tag;
 * then, if the snapshot holds RAM state and the VM was running, it resumes from that state
 * (`virtkit run --restore`, its disks given again and checked against the state's record).
 */
export async function revertSnapshot(mgr: Manager, name: string, snap: string): Promise<VmJson> {
  const vm = mgr.vm(name);
  return mgr.exclusive(vm, 'a revert', async () => {
    const s = mgr.db.getSnapshot(vm.id, snap);
    if (!s) throw notFound(`snapshot '${snap}' of VM '${name}'`);
    let cur = mgr.vm(name);
    const wasRunning = cur.state === 'running' || cur.state === 'paused';
    if (!wasRunning && !isStopped(cur)) throw wrongState(name, cur.state, 'revert');
    if (wasRunning) await mgr.supervisor.stop(cur);
    const ctx = nodeImgContext();
    for (const d of snapshotDisks(cur)) {
      try {
        await imgSnapshot(ctx, d.path, { op: 'apply', name: snap }, { format: 'qcow2' });
      } catch (e) {
        throw storageError(`VM '${name}': reverting ${d.path} to '${snap}' failed`, e);
      }
    }
    cur = mgr.vm(name);
    mgr.supervisor.note(cur, `reverted to snapshot '${snap}'`);
    if (wasRunning && s.vmState && s.stateFile) await mgr.supervisor.start(cur, s.stateFile);
    return vmJson(mgr.vm(name));
  });
}

/** Deleting a snapshot rewrites the disks' snapshot tables: the VM must be stopped. */
export async function deleteSnapshot(mgr: Manager, name: string, snap: string): Promise<void> {
  const vm = mgr.vm(name);
  await mgr.exclusive(vm, 'a snapshot deletion', async () => {
    const s = mgr.db.getSnapshot(vm.id, snap);
    if (!s) throw notFound(`snapshot '${snap}' of VM '${name}'`);
    const cur = mgr.vm(name);
    if (!isStopped(cur)) throw wrongState(name, cur.state, 'delete a snapshot of (stop it first)');
    const ctx = nodeImgContext();
    for (const d of snapshotDisks(cur)) {
      try {
        await imgSnapshot(ctx, d.path, { op: 'delete', name: snap }, { format: 'qcow2' });
      } catch (e) {
        // A disk without the tag (added after the snapshot) is fine; anything else is not.
        if (!(e instanceof StorageError && e.code === 'not-found'))
          throw storageError(`VM '${name}': deleting '${snap}' from ${d.path} failed`, e);
      }
    }
    if (s.stateFile) rmSync(s.stateFile, { force: true });
    mgr.db.deleteSnapshot(cur.id, snap);
    mgr.supervisor.note(cur, `snapshot '${snap}' deleted`);
  });
}

/** Makes a new VM row/dir around `disks` built by `fill`; everything is removed if it fails. */
export async function newVm(
  mgr: Manager,
  name: string,
  base: Omit<VmRow, 'id' | 'name' | 'disks' | 'state' | 'created'>,
  fill: (dir: string) => Promise<VmDisk[]>,
): Promise<VmRow> {
  if (mgr.db.getVm(name)) throw conflict(`a VM named '${name}' exists`);
  const id = newVmId();
  const dir = mgr.dir.vmDir(id);
  mkdirSync(dir, { mode: 0o700 });
  try {
    const vm: VmRow = {
      ...base,
      id,
      name,
      state: 'stopped',
      disks: await fill(dir),
      created: new Date().toISOString(),
    };
    if (!(await admit(mgr, vm, () => mgr.db.insertVm(vm)))) throw conflict(`a VM named '${name}' exists`);
    mgr.supervisor.note(vm, 'created');
    return vm;
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Clones. Both need the source stopped while its disks are writable: a copy of a disk in use is
 * not consistent, and a linked clone's base must not change under it (the source cannot start
 * while linked clones exist: Manager.start). Read-only disks are shared, not copied. NICs are
 * copied without their host port forwards, which would collide with the source's.
 */
export async function cloneVm(
  mgr: Manager,
  name: string,
  body: { name: string; mode: 'linked' | 'full' },
): Promise<VmJson> {
  const src = mgr.vm(name);
  return mgr.exclusive(src, 'a clone', async () => {
    const cur = mgr.vm(name);
    if (!isStopped(cur) && cur.disks.some((d) => !d.readonly))
      throw wrongState(name, cur.state, `make a ${body.mode} clone of (its disks are in use: stop it first)`);
    const ctx = nodeImgContext();
    const vm = await newVm(
      mgr,
      body.name,
      {
        memory: cur.memory,
        cpus: cur.cpus,
        source: cur.source,
        ...(cur.append !== undefined ? { append: cur.append } : {}),
        nics: cur.nics.map(() => ({ hostfwd: [] })),
        pool: cur.pool,
      },
      async (dir) => {
        const out: VmDisk[] = [];
        for (const [i, d] of cur.disks.entries()) {
          if (d.readonly) {
            out.push({ ...d, owned: false });
            continue;
          }
          if (body.mode === 'linked') {
            out.push(await createOwnedDisk(dir, `disk${i}.qcow2`, { backing: { path: d.path, format: d.format } }));
            continue;
          }
          const p = join(dir, `disk${i}.qcow2`);
          try {
            await imgConvert(ctx, [d.path], p, { sourceFormat: d.format, format: 'qcow2', cache: 'writeback' });
          } catch (e) {
            throw storageError(`copying ${d.path}`, e);
          }
          out.push({ path: p, format: 'qcow2', owned: true, readonly: false });
        }
        return out;
      },
    );
    return vmJson(vm);
  });
}

/** Copies every non-zero run of an image into a new owned qcow2. */
async function copyInto(src: BlockBackend, dir: string, file: string): Promise<VmDisk> {
  const disk = await createOwnedDisk(dir, file, { sizeMiB: Math.ceil(src.size / MiB) || 1 });
  const dst = await openImageFile(disk.path, { format: 'qcow2' });
  try {
    const buf = new Uint8Array(MiB);
    let off = 0;
    while (off < src.size) {
      const st = await src.blockStatus(off, src.size - off);
      if (st.length <= 0) throw new StorageError('io', `no progress reading ${src.format} image at ${off}`);
      if (!st.zero)
        for (let o = off; o < off + st.length; o += MiB) {
          const piece = buf.subarray(0, Math.min(MiB, off + st.length - o));
          await src.read(o, piece);
          if (piece.some((v) => v !== 0)) await dst.write(o, piece);
        }
      off += st.length;
    }
    await dst.flush();
  } finally {
    await dst.close();
  }
  return disk;
}

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));

/**
 * Import: an OVA (tar with descriptor, manifest and disks) or an OVF next to its disk files. The
 * disks are copied into owned qcow2 files; CPU and memory are taken from the descriptor (clamped
 * to what virtkit runs, with a warning); the VM boots the default guest kernel with the imported
 * disks attached, since an OVF names no RISC-V kernel. The library's warnings (defaults it took)
 * come back in `warnings`.
 */
export async function importVm(
  mgr: Manager,
  body: { path: string; name: string },
): Promise<VmJson & { warnings: string[] }> {
  if (!isAbsolute(body.path)) throw badRequest(`path '${body.path}' must be an absolute path`);
  try {
    if (!statSync(body.path).isFile()) throw unusable(`${body.path} is not a regular file`);
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw unusable(`${body.path}: ${describeError(e)}`);
  }
  if (mgr.db.getVm(body.name)) throw conflict(`a VM named '${body.name}' exists`);
  const isOvf = /\.ovf$/i.test(body.path);
  let def: VmDefinition;
  let warnings: string[];
  let members: Array<{ disk: OvfDisk; open: () => Promise<BlockBackend> }> = [];
  let ova: ByteStore | undefined;
  try {
    if (isOvf) {
      const pkg = parseOvf(await readFile(body.path, 'utf8'));
      def = pkg.vm;
      warnings = [...pkg.warnings];
      members = def.disks
        .filter((d) => d.file)
        .map((disk) => ({
          disk,
          open: () => openImageFile(join(dirname(body.path), disk.file!), { readOnly: true, format: disk.format }),
        }));
    } else {
      ova = await FileStore.open(body.path, { readOnly: true });
      const imp = await importOva(ova);
      def = imp.vm;
      warnings = [...imp.warnings];
      members = imp.disks.map(({ disk, store }) => ({
        disk,
        open: () => openImage(store, { format: disk.format, readOnly: true }),
      }));
    }
  } catch (e) {
    await ova?.close().catch(() => {});
    throw storageError(`cannot import ${body.path}`, e);
  }
  try {
    const memory = clamp(Math.round(def.memoryBytes / MiB), MEMORY_MIN, MEMORY_MAX);
    if (memory * MiB !== def.memoryBytes)
      warnings.push(
        `memory ${def.memoryBytes / MiB} MiB is outside what virtkit runs (${MEMORY_MIN}..${MEMORY_MAX} MiB): ${memory} MiB`,
      );
    const cpus = clamp(def.cpus, 1, CPUS_MAX);
    if (cpus !== def.cpus) warnings.push(`${def.cpus} CPUs: virtkit runs 1..${CPUS_MAX}; the VM gets ${cpus}`);
    const diskCount = def.disks.length;
    if (diskCount > DEVICE_SLOTS)
      throw unusable(`the package has ${diskCount} disks; a VM takes at most ${DEVICE_SLOTS}`);
    const nicCount = Math.min(def.nics.length, DEVICE_SLOTS - diskCount);
    if (nicCount < def.nics.length) warnings.push(`${def.nics.length - nicCount} NIC(s) dropped: no virtio slot left`);
    if (def.nics.length) warnings.push('NICs become user-mode NAT NICs (the OVF networks are not on this host)');
    warnings.push('an OVF names no RISC-V kernel: the VM boots the default guest with the imported disks attached');
    const vm = await newVm(
      mgr,
      body.name,
      {
        memory,
        cpus,
        source: { type: 'default' },
        nics: Array.from({ length: nicCount }, () => ({ hostfwd: [] })),
        pool: DEFAULT_POOL,
      },
      async (dir) => {
        const out: VmDisk[] = [];
        for (const [i, disk] of def.disks.entries()) {
          const m = members.find((x) => x.disk === disk);
          if (!m) {
            out.push(
              await createOwnedDisk(dir, `disk${i}.qcow2`, { sizeMiB: Math.max(1, Math.ceil(disk.capacity / MiB)) }),
            );
            continue;
          }
          let src: BlockBackend | undefined;
          try {
            src = await m.open();
            out.push(await copyInto(src, dir, `disk${i}.qcow2`));
          } catch (e) {
            throw storageError(`importing disk ${disk.file}`, e);
          } finally {
            await src?.close().catch(() => {});
          }
        }
        return out;
      },
    );
    return { ...vmJson(vm), warnings };
  } finally {
    await ova?.close().catch(() => {});
  }
}

/** Export: the stopped VM's disks as streamOptimized VMDKs in a new OVA at `path` (never overwritten). */
export async function exportVm(
  mgr: Manager,
  name: string,
  body: { path: string },
): Promise<{ path: string; size: number }> {
  const vm = mgr.vm(name);
  if (!isAbsolute(body.path)) throw badRequest(`path '${body.path}' must be an absolute path`);
  return mgr.exclusive(vm, 'an export', async () => {
    const cur = mgr.vm(name);
    if (!isStopped(cur)) throw wrongState(name, cur.state, 'export (stop it first)');
    const backends: BlockBackend[] = [];
    let out: FileStore | undefined;
    let ok = false;
    try {
      try {
        out = await FileStore.open(body.path, { create: true, exclusive: true });
      } catch (e) {
        throw (e as NodeJS.ErrnoException).code === 'EEXIST' || /exist/i.test(describeError(e))
          ? conflict(`${body.path} exists: export never overwrites a file`)
          : unusable(`cannot create ${body.path}: ${describeError(e)}`);
      }
      for (const d of cur.disks) backends.push(await openImageFile(d.path, { readOnly: true, format: d.format }));
      await exportOva(
        {
          name: cur.name,
          cpus: cur.cpus,
          memoryBytes: cur.memory * MiB,
          nics: cur.nics.map(() => ({ network: 'nat', model: 'virtio' })),
        },
        backends,
        out,
      );
      ok = true;
      return { path: body.path, size: statSync(body.path).size };
    } catch (e) {
      throw storageError(`exporting VM '${name}'`, e);
    } finally {
      for (const b of backends) await b.close().catch(() => {});
      await out?.close().catch(() => {});
      if (!ok && out) rmSync(body.path, { force: true });
    }
  });
}
