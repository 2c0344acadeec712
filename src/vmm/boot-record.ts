/**
 * Where a VM's boot files came from, as a snapshot records them, so a VM restored from that
 * snapshot can boot again when its guest reboots.
 *
 * RAM in a snapshot holds the kernel as the guest left it, not the files it booted from; a reboot
 * needs the files. Each is recorded by host path, size and SHA-256: the host reloads it on reboot
 * and refuses a file that is gone or no longer the one the VM booted (a different kernel under the
 * same name would boot a different system than the snapshot's). Parsing is strict because the
 * record comes from a file: every malformed field is a BootRecordError naming it.
 */

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

function parseRef(x: unknown, role: BootFileRole): BootFileRef {
  if (!x || typeof x !== 'object') throw new BootRecordError(`the snapshot's ${role} record is not an object`);
  const r = x as Record<string, unknown>;
  if (typeof r.path !== 'string' || r.path.length === 0 || r.path.length > 4096)
    throw new BootRecordError(`the snapshot's ${role} record has no valid path`);
  if (typeof r.size !== 'number' || !Number.isSafeInteger(r.size) || r.size <= 0 || r.size > MAX_FILE_BYTES)
    throw new BootRecordError(`the snapshot's ${role} record has an invalid size`);
  if (typeof r.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(r.sha256))
    throw new BootRecordError(`the snapshot's ${role} record has an invalid sha256`);
  return { path: r.path, size: r.size, sha256: r.sha256 };
}

/**
 * Validates a record read from a snapshot. `undefined` (a snapshot from before records existed)
 * is an error too: the caller shows the message when the guest reboots.
 */
export function parseBootRecord(x: unknown): BootRecord {
  if (x === undefined || x === null)
    throw new BootRecordError('the snapshot records no boot files (saved by an older virtkit or the browser)');
  if (typeof x !== 'object') throw new BootRecordError("the snapshot's boot record is not an object");
  const r = x as Record<string, unknown>;
  if (r.version !== BOOT_RECORD_VERSION)
    throw new BootRecordError(
      `the snapshot's boot record has version ${String(r.version)}, not ${BOOT_RECORD_VERSION}`,
    );
  const out: BootRecord = { version: BOOT_RECORD_VERSION };
  for (const role of BOOT_FILE_ROLES) if (r[role] !== undefined) out[role] = parseRef(r[role], role);
  if (!out.kernel && !out.firmware) throw new BootRecordError("the snapshot's boot record names no kernel or firmware");
  if (out.initrd && !out.kernel) throw new BootRecordError("the snapshot's boot record has an initrd but no kernel");
  return out;
}
