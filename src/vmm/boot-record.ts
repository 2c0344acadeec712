/**
 * Where a VM's boot files came from, as a snapshot records them, so a VM restored from that
 * snapshot can boot again when its guest reboots.
 *
 * RAM in a snapshot holds the kernel as the guest left it, not the files it booted from; a reboot
 * needs the files. Each is recorded by host path, size and SHA-256: the host reloads it on reboot
 * and refuses a file that is gone or no longer the one the VM booted (a different kernel under the
 * same name would boot a different system than the snapshot's). The record comes from a file, so
 * it is read as all saved state is (memory/state.ts): through a StateReader, every malformed
 * field a StateError naming its path ("snapshot: meta.config.boot.kernel.size: ..."). A
 * BootRecordError is the host's verdict on the files themselves (gone, changed).
 */
import { StateReader } from '../memory/state.ts';

export const BOOT_RECORD_VERSION = 1;
/** Boot files larger than the largest guest RAM cannot have been loaded. */
const MAX_FILE_BYTES = 4 * 1024 * 1024 * 1024;

export interface BootFileRef {
  /** Absolute host path (or another host-meaningful name). */
  path: string;
  size: number;
  /** Lower-case hex SHA-256 of the contents the VM booted. */
  sha256: string;
}

export interface BootRecord {
  version: typeof BOOT_RECORD_VERSION;
  kernel?: BootFileRef;
  initrd?: BootFileRef;
  firmware?: BootFileRef;
}

export type BootFileRole = 'kernel' | 'initrd' | 'firmware';
export const BOOT_FILE_ROLES: readonly BootFileRole[] = ['kernel', 'initrd', 'firmware'];

export class BootRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootRecordError';
  }
}

function readRef(r: StateReader): BootFileRef {
  const path = r.str('path', 4096);
  if (path.length === 0) r.fail('is empty', 'path');
  const size = r.int('size', 1, MAX_FILE_BYTES);
  const sha256 = r.str('sha256', 64);
  if (!/^[0-9a-f]{64}$/.test(sha256)) r.fail('expected 64 lower-case hex digits', 'sha256');
  return { path, size, sha256 };
}

/**
 * Reads a record from a snapshot: `state` is the raw value or a StateReader positioned at it
 * (the CLI hands `meta.config.boot`). None at all (a snapshot from before records existed) is an
 * error too: the caller shows the message when the guest reboots. Unknown fields are dropped.
 */
export function readBootRecord(state: unknown): BootRecord {
  const r = StateReader.of(state, 'boot record');
  if (r.value === undefined || r.value === null)
    r.fail('the snapshot records no boot files (saved by an older virtkit or the browser)');
  r.version(BOOT_RECORD_VERSION);
  const out: BootRecord = { version: BOOT_RECORD_VERSION };
  for (const role of BOOT_FILE_ROLES) if (r.has(role)) out[role] = readRef(r.field(role));
  if (!out.kernel && !out.firmware) r.fail('names no kernel or firmware');
  if (out.initrd && !out.kernel) r.fail('has an initrd but no kernel', 'initrd');
  return out;
}
