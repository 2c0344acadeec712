/**
 * The hosted sparse extent header ("KDMV", 512 bytes, little-endian), shared by monolithicSparse,
 * twoGbMaxExtentSparse and streamOptimized (with compressed grains and markers).
 */
import { StorageError } from '../types.ts';

export const SPARSE_MAGIC = 0x564d444b; // "KDMV" read as a little-endian u32
export const FLAG_NL_TEST = 1;
export const FLAG_RGD = 2;
export const FLAG_ZERO_GRAIN = 4;
export const FLAG_COMPRESSED = 0x10000;
export const FLAG_MARKERS = 0x20000;
export const COMPRESS_DEFLATE = 1;
/** gdOffset meaning "the grain directory is found through the footer at the end". */
export const GD_AT_END = -1;

export interface SparseHeader {
  version: number;
  flags: number;
  capacity: number; // sectors
  grainSize: number; // sectors
  descriptorOffset: number; // sectors
  descriptorSize: number; // sectors
  numGTEsPerGT: number;
  rgdOffset: number; // sectors
  gdOffset: number; // sectors, or GD_AT_END
  overHead: number; // sectors
  uncleanShutdown: number;
  compressAlgorithm: number;
}

function u64(dv: DataView, off: number, field: string): number {
  const lo = dv.getUint32(off, true);
  const hi = dv.getUint32(off + 4, true);
  if (lo === 0xffffffff && hi === 0xffffffff) return -1;
  // Sector counts: 2^53 bytes is 2^44 sectors.
  if (hi >= 1 << 12) throw new StorageError('too-large', `VMDK header ${field} ${hi * 2 ** 32 + lo} is out of range`);
  return hi * 2 ** 32 + lo;
}

function putU64(dv: DataView, off: number, v: number): void {
  if (v < 0) {
    dv.setUint32(off, 0xffffffff, true);
    dv.setUint32(off + 4, 0xffffffff, true);
    return;
  }
  dv.setUint32(off, v >>> 0, true);
  dv.setUint32(off + 4, Math.floor(v / 2 ** 32), true);
}

export function hasSparseMagic(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x4b && b[1] === 0x44 && b[2] === 0x4d && b[3] === 0x56;
}

export function parseSparseHeader(b: Uint8Array, where: string): SparseHeader {
  const dv = new DataView(b.buffer, b.byteOffset, 512);
  if (dv.getUint32(0, true) !== SPARSE_MAGIC) throw new StorageError('bad-magic', `VMDK ${where}: no KDMV magic`);
  const h: SparseHeader = {
    version: dv.getUint32(4, true),
    flags: dv.getUint32(8, true),
    capacity: u64(dv, 12, 'capacity'),
    grainSize: u64(dv, 20, 'grainSize'),
    descriptorOffset: u64(dv, 28, 'descriptorOffset'),
    descriptorSize: u64(dv, 36, 'descriptorSize'),
    numGTEsPerGT: dv.getUint32(44, true),
    rgdOffset: u64(dv, 48, 'rgdOffset'),
    gdOffset: u64(dv, 56, 'gdOffset'),
    overHead: u64(dv, 64, 'overHead'),
    uncleanShutdown: b[72]!,
    compressAlgorithm: dv.getUint16(77, true),
  };
  if (h.version < 1 || h.version > 3)
    throw new StorageError('unsupported', `VMDK ${where}: sparse header version ${h.version}`);
  if (h.capacity < 0) throw new StorageError('corrupt', `VMDK ${where}: capacity is all ones`);
  // qemu refuses a sparse extent of no sectors; an empty disk is a damaged header, not an image.
  if (h.capacity === 0) throw new StorageError('corrupt', `VMDK ${where}: header capacity is 0 sectors`);
  return h;
}

export function buildSparseHeader(h: SparseHeader): Uint8Array {
  const b = new Uint8Array(512);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, SPARSE_MAGIC, true);
  dv.setUint32(4, h.version, true);
  dv.setUint32(8, h.flags, true);
  putU64(dv, 12, h.capacity);
  putU64(dv, 20, h.grainSize);
  putU64(dv, 28, h.descriptorOffset);
  putU64(dv, 36, h.descriptorSize);
  dv.setUint32(44, h.numGTEsPerGT, true);
  putU64(dv, 48, h.rgdOffset);
  putU64(dv, 56, h.gdOffset);
  putU64(dv, 64, h.overHead);
  b[72] = h.uncleanShutdown;
  // The newline-detection bytes that let VMware notice text-mode transfers.
  b[73] = 0x0a;
  b[74] = 0x20;
  b[75] = 0x0d;
  b[76] = 0x0a;
  dv.setUint16(77, h.compressAlgorithm, true);
  return b;
}

/** Stream-optimized metadata markers: val (sectors), size (0 for metadata), type. */
export const MARKER_EOS = 0;
export const MARKER_GT = 1;
export const MARKER_GD = 2;
export const MARKER_FOOTER = 3;

export function buildMarker(sectors: number, type: number): Uint8Array {
  const b = new Uint8Array(512);
  const dv = new DataView(b.buffer);
  putU64(dv, 0, sectors);
  dv.setUint32(8, 0, true);
  dv.setUint32(12, type, true);
  return b;
}
