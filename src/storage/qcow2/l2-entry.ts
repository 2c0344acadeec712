/**
 * L1/L2 entry encoding. Entries are 64-bit big-endian; they are decoded from two 32-bit halves so
 * the hot path never touches BigInt. Host offsets above 2^53 are refused as corrupt.
 */
import { StorageError } from '../types.ts';

export const COPIED_HI = 0x80000000;
export const COMPRESSED_HI = 0x40000000;
export const ZERO_LO = 1;
const TWO32 = 0x100000000;

export type EntryKind = 'unalloc' | 'zero' | 'data' | 'compressed';

/** A decoded (standard or extended) L2 entry. */
export interface L2Entry {
  copied: boolean;
  compressed: boolean;
  /** Bit 0 (v3, not extended): the cluster reads as zeros. */
  zeroFlag: boolean;
  /** Host offset of a normal cluster (0 = none), or of compressed data. */
  host: number;
  /** Compressed: bytes to read (sector-rounded, as qemu computes it). */
  csize: number;
  /** Extended L2 only: subcluster allocation and zero bitmaps. */
  alloc: number;
  zero: number;
}

export function readL2(dv: DataView, i: number, ext: boolean, clusterBits: number): L2Entry {
  const base = ext ? i * 16 : i * 8;
  const hi = dv.getUint32(base);
  const lo = dv.getUint32(base + 4);
  const e: L2Entry = {
    copied: (hi & COPIED_HI) !== 0,
    compressed: (hi & COMPRESSED_HI) !== 0,
    zeroFlag: false,
    host: 0,
    csize: 0,
    alloc: ext ? dv.getUint32(base + 12) : 0,
    zero: ext ? dv.getUint32(base + 8) : 0,
  };
  if (e.compressed) {
    // Offset: bits 0..x-1 with x = 62 - (cluster_bits - 8); then the extra 512-byte sector count.
    const xHi = 62 - (clusterBits - 8) - 32;
    const offHi = hi & ((1 << xHi) - 1);
    if (offHi >= 0x200000) throw new StorageError('corrupt', 'qcow2: compressed cluster offset beyond 2^53');
    e.host = offHi * TWO32 + lo;
    const sectors = ((hi & 0x3fffffff) >>> xHi) + 1;
    e.csize = sectors * 512 - (e.host % 512);
    e.copied = false;
  } else {
    const offHi = hi & 0x00ffffff;
    if (offHi >= 0x200000) throw new StorageError('corrupt', 'qcow2: cluster offset beyond 2^53');
    e.host = offHi * TWO32 + ((lo & 0xfffffe00) >>> 0);
    e.zeroFlag = !ext && (lo & ZERO_LO) !== 0;
  }
  return e;
}

/**
 * readL2 for I/O paths: an uncompressed cluster offset inside a cluster is corruption (qemu fails
 * the request with EIO; `check` reports it). `table` is the L2 table's offset, for the message.
 */
export function readL2Aligned(dv: DataView, i: number, ext: boolean, clusterBits: number, table: number): L2Entry {
  const e = readL2(dv, i, ext, clusterBits);
  if (!e.compressed && e.host % 2 ** clusterBits !== 0) {
    throw new StorageError(
      'corrupt',
      `qcow2: L2 entry ${i} of the table at 0x${table.toString(16)} points at cluster offset ` +
        `0x${e.host.toString(16)}, which is not cluster aligned`,
    );
  }
  return e;
}

/** An L2 table offset from L1 entry i (0: none), refused when not cluster aligned. */
export function alignedL2Offset(offset: number, i: number, clusterSize: number): number {
  if (offset % clusterSize !== 0) {
    throw new StorageError(
      'corrupt',
      `qcow2: L1 entry ${i} points at L2 table offset 0x${offset.toString(16)}, which is not cluster aligned`,
    );
  }
  return offset;
}

export function writeL2(
  dv: DataView,
  i: number,
  ext: boolean,
  host: number,
  copied: boolean,
  zeroFlag: boolean,
  alloc = 0,
  zero = 0,
): void {
  const base = ext ? i * 16 : i * 8;
  dv.setUint32(base, (Math.floor(host / TWO32) | (copied ? COPIED_HI : 0)) >>> 0);
  dv.setUint32(base + 4, ((host % TWO32) | (zeroFlag ? ZERO_LO : 0)) >>> 0);
  if (ext) {
    dv.setUint32(base + 8, zero >>> 0);
    dv.setUint32(base + 12, alloc >>> 0);
  }
}

/** Raw 64-bit compressed descriptor: offset | flag | (extra sectors << x). */
export function writeCompressedL2(
  dv: DataView,
  i: number,
  ext: boolean,
  clusterBits: number,
  host: number,
  bytes: number,
): void {
  const base = ext ? i * 16 : i * 8;
  const xHi = 62 - (clusterBits - 8) - 32;
  const extraSectors = Math.floor((host + bytes - 1) / 512) - Math.floor(host / 512);
  const hi = Math.floor(host / TWO32) | (extraSectors << xHi) | COMPRESSED_HI;
  dv.setUint32(base, hi >>> 0);
  dv.setUint32(base + 4, host % TWO32);
  if (ext) {
    dv.setUint32(base + 8, 0);
    dv.setUint32(base + 12, 0);
  }
}

/** The host clusters a compressed cluster's data touches (what its refcounts cover). */
export function compressedClusters(e: L2Entry, clusterBits: number): [first: number, count: number] {
  const start = e.host - (e.host % 512);
  const end = start + e.csize + (e.host % 512);
  const first = Math.floor(start / 2 ** clusterBits);
  const last = Math.floor((end - 1) / 2 ** clusterBits);
  return [first, last - first + 1];
}

export function readL1(dv: DataView, i: number): { offset: number; copied: boolean } {
  const hi = dv.getUint32(i * 8);
  const lo = dv.getUint32(i * 8 + 4);
  const offHi = hi & 0x00ffffff;
  if (offHi >= 0x200000) throw new StorageError('corrupt', `qcow2: L1 entry ${i} points beyond 2^53`);
  return { offset: offHi * TWO32 + ((lo & 0xfffffe00) >>> 0), copied: (hi & COPIED_HI) !== 0 };
}

export function encodeL1(offset: number, copied: boolean): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, (Math.floor(offset / TWO32) | (copied && offset ? COPIED_HI : 0)) >>> 0);
  dv.setUint32(4, offset % TWO32);
  return b;
}
