/**
 * The VHD hard disk footer (512 bytes, big-endian), its checksum, the CHS geometry rule and the
 * two rules for the virtual size that Virtual PC and Hyper-V disagree on.
 */
import { utf8Encode } from '../text.ts';
import { StorageError } from '../types.ts';

export const FOOTER_SIZE = 512;
export const DISK_FIXED = 2;
export const DISK_DYNAMIC = 3;
export const DISK_DIFFERENCING = 4;
/** 65535 cylinders x 16 heads x 255 sectors: the largest CHS geometry, a marker for "use current_size". */
export const MAX_CHS_SECTORS = 65535 * 16 * 255;
/** qemu's limit (and the VHD spec's practical one): 2040 GiB. */
export const MAX_VHD_SECTORS = 0xff000000;
/** Seconds between the Unix epoch and the VHD epoch (2000-01-01 00:00:00 UTC). */
export const VHD_EPOCH = 946684800;

export interface VhdFooter {
  features: number;
  version: number;
  dataOffset: number; // -1 for fixed disks (0xFFFF_FFFF_FFFF_FFFF on disk)
  timestamp: number;
  creatorApp: string;
  creatorVersion: number;
  creatorOs: string;
  originalSize: number;
  currentSize: number;
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
  diskType: number;
  uuid: Uint8Array;
  savedState: number;
}

export function vhdChecksum(bytes: Uint8Array, checksumOffset: number): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (i >= checksumOffset && i < checksumOffset + 4) continue;
    sum = (sum + bytes[i]!) >>> 0;
  }
  return ~sum >>> 0;
}

/** Reads a big-endian u64 as a number; values above 2^53 are returned as -1 when all ones, else rejected. */
export function readU64BE(dv: DataView, off: number, field: string): number {
  const hi = dv.getUint32(off);
  const lo = dv.getUint32(off + 4);
  if (hi === 0xffffffff && lo === 0xffffffff) return -1;
  if (hi >= 0x200000) throw new StorageError('too-large', `VHD ${field} ${hi * 2 ** 32 + lo} is out of range`);
  return hi * 2 ** 32 + lo;
}

export function writeU64BE(dv: DataView, off: number, value: number): void {
  if (value < 0) {
    dv.setUint32(off, 0xffffffff);
    dv.setUint32(off + 4, 0xffffffff);
    return;
  }
  dv.setUint32(off, Math.floor(value / 2 ** 32));
  dv.setUint32(off + 4, value >>> 0);
}

function ascii(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

/** True when the 512 bytes start with the footer cookie. */
export function hasFooterCookie(b: Uint8Array): boolean {
  return b.length >= 8 && ascii(b.subarray(0, 8)) === 'conectix';
}

/**
 * True when `tail`, the last 512 bytes of a store of `storeSize` bytes, is the footer of a fixed
 * VHD describing exactly the bytes before it: the "conectix" cookie, a correct checksum, disk
 * type fixed and current_size = storeSize - 512. Any weaker match (the footer elsewhere, another
 * size) is data of a raw disk, so a raw disk holding a VHD image inside is not misdetected.
 */
export function isFixedVhdTail(tail: Uint8Array | undefined, storeSize: number): boolean {
  if (!tail || tail.length !== FOOTER_SIZE || !hasFooterCookie(tail)) return false;
  const dv = new DataView(tail.buffer, tail.byteOffset, FOOTER_SIZE);
  if (dv.getUint32(64) !== vhdChecksum(tail, 64) || dv.getUint32(60) !== DISK_FIXED) return false;
  const current = dv.getUint32(48) * 2 ** 32 + dv.getUint32(52);
  return current === storeSize - FOOTER_SIZE;
}

/** Parses and verifies a footer; `where` names the copy for error messages. */
export function parseFooter(b: Uint8Array, where: string): VhdFooter {
  if (!hasFooterCookie(b)) throw new StorageError('bad-magic', `VHD footer ${where}: no "conectix" cookie`);
  const dv = new DataView(b.buffer, b.byteOffset, FOOTER_SIZE);
  const stored = dv.getUint32(64);
  const computed = vhdChecksum(b.subarray(0, FOOTER_SIZE), 64);
  if (stored !== computed) {
    throw new StorageError(
      'checksum',
      `VHD footer ${where}: checksum 0x${stored.toString(16)} does not match computed 0x${computed.toString(16)}`,
    );
  }
  return {
    features: dv.getUint32(8),
    version: dv.getUint32(12),
    dataOffset: readU64BE(dv, 16, 'footer data_offset'),
    timestamp: dv.getUint32(24),
    creatorApp: ascii(b.subarray(28, 32)),
    creatorVersion: dv.getUint32(32),
    creatorOs: ascii(b.subarray(36, 40)),
    originalSize: readU64BE(dv, 40, 'footer original_size'),
    currentSize: readU64BE(dv, 48, 'footer current_size'),
    cylinders: dv.getUint16(56),
    heads: b[58]!,
    sectorsPerTrack: b[59]!,
    diskType: dv.getUint32(60),
    uuid: b.slice(68, 84),
    savedState: b[84]!,
  };
}

export function buildFooter(f: VhdFooter): Uint8Array {
  const b = new Uint8Array(FOOTER_SIZE);
  const dv = new DataView(b.buffer);
  b.set(utf8Encode('conectix'), 0);
  dv.setUint32(8, f.features);
  dv.setUint32(12, f.version);
  writeU64BE(dv, 16, f.dataOffset);
  dv.setUint32(24, f.timestamp >>> 0);
  for (let i = 0; i < 4; i++) b[28 + i] = f.creatorApp.charCodeAt(i) & 0xff;
  dv.setUint32(32, f.creatorVersion);
  for (let i = 0; i < 4; i++) b[36 + i] = f.creatorOs.charCodeAt(i) & 0xff;
  writeU64BE(dv, 40, f.originalSize);
  writeU64BE(dv, 48, f.currentSize);
  dv.setUint16(56, f.cylinders);
  b[58] = f.heads;
  b[59] = f.sectorsPerTrack;
  dv.setUint32(60, f.diskType);
  b.set(f.uuid.subarray(0, 16), 68);
  b[84] = f.savedState;
  dv.setUint32(64, vhdChecksum(b, 64));
  return b;
}

export interface Chs {
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
}

/** The VHD specification's CHS algorithm (appendix "CHS calculation"); total sectors must fit MAX_CHS_SECTORS. */
export function chsForSectors(totalSectors: number): Chs {
  let sectorsPerTrack: number;
  let heads: number;
  let cylTimesHeads: number;
  const total = Math.min(totalSectors, MAX_CHS_SECTORS);
  if (total >= 65535 * 16 * 63) {
    sectorsPerTrack = 255;
    heads = 16;
    cylTimesHeads = Math.floor(total / sectorsPerTrack);
  } else {
    sectorsPerTrack = 17;
    cylTimesHeads = Math.floor(total / sectorsPerTrack);
    heads = Math.max(4, Math.ceil(cylTimesHeads / 1024));
    if (cylTimesHeads >= heads * 1024 || heads > 16) {
      sectorsPerTrack = 31;
      heads = 16;
      cylTimesHeads = Math.floor(total / sectorsPerTrack);
    }
    if (cylTimesHeads >= heads * 1024) {
      sectorsPerTrack = 63;
      heads = 16;
      cylTimesHeads = Math.floor(total / sectorsPerTrack);
    }
  }
  return { cylinders: Math.floor(cylTimesHeads / heads), heads, sectorsPerTrack };
}

export function chsSectors(c: Chs): number {
  return c.cylinders * c.heads * c.sectorsPerTrack;
}

/** Creators whose images use current_size (Hyper-V, Disk2vhd, qemu with force_size, XenServer, XenConverter). */
const SIZE_FIELD_CREATORS = new Set(['win ', 'qem2', 'd2v ', 'CTXS', 'tap\0']);

/**
 * The virtual size a footer describes, as qemu computes it: Virtual PC (and plain qemu) images use
 * the CHS geometry, the others current_size; the maximum geometry always means current_size.
 */
export function virtualSizeOf(f: VhdFooter): number {
  const chs = chsSectors(f);
  const useSizeField = SIZE_FIELD_CREATORS.has(f.creatorApp) || chs === MAX_CHS_SECTORS;
  const sectors = useSizeField ? Math.floor(f.currentSize / 512) : chs;
  if (f.currentSize < 0) throw new StorageError('corrupt', 'VHD footer current_size is all ones');
  if (sectors > MAX_VHD_SECTORS) {
    throw new StorageError('too-large', `VHD virtual size ${sectors * 512} exceeds the 2040 GiB maximum`);
  }
  return sectors * 512;
}
