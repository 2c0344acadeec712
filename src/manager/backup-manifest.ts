/**
 * A backup on disk (docs/manager.md "Backups"): a directory DEST/<id>/ with one qcow2 per
 * backed-up disk (`diskN.qcow2`, N the VM's disk index), `vm.state` when RAM was included, and
 * `manifest.json`, written last: a directory without it is an unfinished backup and is ignored.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VmNic, VmSource } from './db.ts';

export const MANIFEST = 'manifest.json';
export const MANIFEST_FORMAT = 'virtkit-backup';

export interface ManifestDisk {
  index: number;
  /** The backup image (absent for a read-only disk, which is referred to, not copied). */
  file?: string;
  /** The disk's path in the VM when it was backed up. */
  path: string;
  format: string;
  readonly: boolean;
  size: number;
  /** The previous backup's image this one is an overlay on (incremental), as in its header. */
  backing?: string;
  /** Bytes this backup copied for the disk. */
  copied: number;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: 1;
  id: string;
  created: string;
  kind: 'full' | 'incremental';
  /** Why a backup asked to be incremental is full. */
  fullBecause?: string;
  parent?: string;
  /** Backup ids from the full backup to this one. */
  chain: string[];
  vm: {
    name: string;
    id: string;
    memory: number;
    cpus: number;
    source: VmSource;
    append?: string;
    nics: VmNic[];
    pool: string;
  };
  disks: ManifestDisk[];
  /** RAM and device state (`virtkit run --restore`), when the backup included it. */
  state?: string;
  /**
   * The VM process's dirty tracking at the backup point; absent when the VM was stopped. The
   * next backup is incremental only from the point just before it in the same process.
   */
  tracking?: { generation: string; point: number };
}

/** Reads and checks a backup's manifest; throws an Error naming the problem. */
export function readManifest(dir: string): Manifest {
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) throw new Error(`${dir} is not a finished backup (no ${MANIFEST})`);
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch (e) {
    throw new Error(`${file}: not JSON (${(e as Error).message})`);
  }
  if (m?.format !== MANIFEST_FORMAT || m.version !== 1)
    throw new Error(`${file}: not a virtkit backup manifest (version 1)`);
  if (!Array.isArray(m.disks) || !Array.isArray(m.chain) || typeof m.vm?.name !== 'string')
    throw new Error(`${file}: malformed manifest`);
  for (const d of m.disks) {
    if (d.file !== undefined && (d.file.includes('/') || !existsSync(join(dir, d.file))))
      throw new Error(`${file}: disk ${d.index}'s image ${d.file} is missing`);
  }
  if (m.state !== undefined && (m.state.includes('/') || !existsSync(join(dir, m.state))))
    throw new Error(`${file}: the state file ${m.state} is missing`);
  return m;
}

/** The finished backups of VM `vmId` in `dest`, oldest first. */
export function listBackups(dest: string, vmId: string): Manifest[] {
  if (!existsSync(dest)) return [];
  const out: Manifest[] = [];
  for (const e of readdirSync(dest, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    try {
      const m = readManifest(join(dest, e.name));
      if (m.vm.id === vmId && m.id === e.name) out.push(m);
    } catch {
      // not a (finished) backup
    }
  }
  return out.sort((a, b) => a.created.localeCompare(b.created));
}
