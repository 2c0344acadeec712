/**
 * Boot files on the host, for snapshots: describe the files a VM booted (path, size, SHA-256)
 * and load them again, checked, when a VM restored from that snapshot reboots
 * (src/vmm/boot-record.ts has the record and why it exists).
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { BOOT_FILE_ROLES, BOOT_RECORD_VERSION, BootRecordError, type BootFileRef } from '../../../vmm/boot-record.ts';
import type { BootRecord, BootFileRole } from '../../../vmm/boot-record.ts';
import type { BootFiles } from '../../../vmm/vm.ts';
import { describeError } from '../errno-words.ts';

export interface LoadedBootFile {
  path: string;
  bytes: Uint8Array;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The record of the files a VM booted; paths become absolute so a restore works from any directory. */
export function describeBootFiles(files: Partial<Record<BootFileRole, LoadedBootFile>>): BootRecord {
  const record: BootRecord = { version: BOOT_RECORD_VERSION };
  for (const role of BOOT_FILE_ROLES) {
    const f = files[role];
    if (f) record[role] = { path: resolve(f.path), size: f.bytes.length, sha256: sha256Hex(f.bytes) };
  }
  return record;
}

/**
 * Reads the recorded files again. Rejects with a BootRecordError (one line for the user) when a
 * file is gone, unreadable, or not the one recorded. `maxBytes` bounds what is read: nothing larger
 * than guest RAM can have been booted, whatever a snapshot claims.
 */
export async function reloadBootFiles(record: BootRecord, maxBytes: number): Promise<BootFiles> {
  const out: BootFiles = {};
  for (const role of BOOT_FILE_ROLES) {
    const ref = record[role];
    if (ref) out[role] = await reloadOne(role, ref, maxBytes);
  }
  return out;
}

async function reloadOne(role: BootFileRole, ref: BootFileRef, maxBytes: number): Promise<Uint8Array> {
  const changed = (how: string) =>
    new BootRecordError(`the ${role} ${ref.path} has changed since the snapshot was saved (${how})`);
  if (ref.size > maxBytes) throw new BootRecordError(`the snapshot's ${role} record is larger than guest RAM`);
  let bytes: Uint8Array;
  try {
    const st = await stat(ref.path);
    if (!st.isFile()) throw new BootRecordError(`the ${role} ${ref.path} is no longer a file`);
    if (st.size !== ref.size) throw changed(`${st.size} bytes, was ${ref.size}`);
    const b = await readFile(ref.path);
    bytes = new Uint8Array(b.buffer, b.byteOffset, b.length);
  } catch (e) {
    if (e instanceof BootRecordError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new BootRecordError(`the ${role} ${ref.path} is gone`);
    throw new BootRecordError(`cannot read the ${role} ${ref.path}: ${describeError(e)}`);
  }
  // Written between stat and read: the size check above does not cover it.
  if (bytes.length !== ref.size) throw changed(`${bytes.length} bytes, was ${ref.size}`);
  if (sha256Hex(bytes) !== ref.sha256) throw changed('different contents');
  return bytes;
}
