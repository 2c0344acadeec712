/**
 * What a snapshot records of each disk, so a restore can tell that the disk it is given is the
 * one the guest had: the image format, the virtual size and a content fingerprint.
 *
 * The fingerprint is SHA-256 over a domain tag, the virtual size, the guest-visible first MiB and
 * SAMPLE_COUNT 4 KiB blocks at fixed, evenly spaced offsets (read through the image format, so
 * it is what the guest sees, not the file's layout). Why a sample and not the whole disk: a
 * snapshot is taken and restored interactively, and hashing a multi-GiB image each time would
 * take seconds to minutes; the sample costs ~1.3 MiB of reads. What it catches: another image
 * (other partition table, filesystem UUID and superblock in the first MiB, other data at the
 * sampled offsets), a resized one, and a disk the guest kept writing after the snapshot where
 * those writes touched the superblock or a sampled block (ext4 updates its superblock on
 * mount and on most writes). What it does not catch: changes confined to unsampled blocks (a file's data edited on
 * the host, say); such a disk restores and the guest sees data its page cache does not expect.
 *
 * Platform-neutral: the disk is read through its BlockBackend, hashed by SHA-256 from
 * @noble/hashes (src/storage/ova/sha.ts), which runs the same in Node and browsers.
 */
import { Sha256 } from '../storage/ova/sha.ts';
import type { BlockBackend } from '../storage/types.ts';
import type { StateReader } from '../memory/state.ts';

export const DISK_IDENTITY_VERSION = 1;
const HEAD_BYTES = 1024 * 1024;
const SAMPLE_COUNT = 64;
const SAMPLE_BYTES = 4096;
/** Larger than any image format here can describe (qcow2's limit is 2^61); bounds a record. */
const MAX_DISK_BYTES = 2 ** 53 - 1;

export interface DiskIdentity {
  version: typeof DISK_IDENTITY_VERSION;
  /** The backend's format name ('raw', 'qcow2', ...). */
  format: string;
  /** Virtual size in bytes. */
  size: number;
  /** Lower-case hex SHA-256 of the sample (see above). */
  sha256: string;
}

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, n >>> 0, true);
  dv.setUint32(4, Math.floor(n / 2 ** 32) >>> 0, true);
  return b;
}

/** Reads the sample and returns the disk's identity (contents as the guest sees them now). */
export async function fingerprintDisk(disk: BlockBackend): Promise<DiskIdentity> {
  const size = disk.size;
  const h = new Sha256();
  h.update(new TextEncoder().encode('virtkit disk fingerprint 1\0'));
  h.update(u64(size));
  const head = new Uint8Array(Math.min(HEAD_BYTES, size));
  if (head.length) await disk.read(0, head);
  h.update(head);
  const block = new Uint8Array(SAMPLE_BYTES);
  for (let i = 0; i < SAMPLE_COUNT; i++) {
    const off = Math.floor((i * size) / SAMPLE_COUNT / SAMPLE_BYTES) * SAMPLE_BYTES;
    const n = Math.min(SAMPLE_BYTES, size - off);
    if (n <= 0) continue;
    const b = block.subarray(0, n);
    await disk.read(off, b);
    h.update(u64(off));
    h.update(b);
  }
  return { version: DISK_IDENTITY_VERSION, format: disk.format, size, sha256: h.hex() };
}

/** Reads a recorded identity (untrusted: from a snapshot file). */
export function readDiskIdentity(r: StateReader): DiskIdentity {
  r.version(DISK_IDENTITY_VERSION);
  const format = r.str('format', 16);
  const size = r.int('size', 0, MAX_DISK_BYTES);
  const sha256 = r.str('sha256', 64);
  if (!/^[0-9a-f]{64}$/.test(sha256)) r.fail('expected 64 lower-case hex digits', 'sha256');
  return { version: DISK_IDENTITY_VERSION, format, size, sha256 };
}

/** Why `actual` is not the recorded disk (one phrase), or undefined if it is. */
export function identityMismatch(saved: DiskIdentity, actual: DiskIdentity): string | undefined {
  const safe = (s: string) => JSON.stringify(s);
  if (saved.format !== actual.format)
    return `its format is ${safe(actual.format)}, the snapshot's disk was ${safe(saved.format)}`;
  if (saved.size !== actual.size)
    return `its virtual size is ${actual.size} bytes, the snapshot's disk was ${saved.size} bytes`;
  if (saved.sha256 !== actual.sha256)
    return "its contents differ from the snapshot's disk (fingerprint mismatch: another image, or changed since the snapshot was saved)";
  return undefined;
}
