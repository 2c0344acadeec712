/**
 * The qcow2 header (versions 2 and 3) and its extensions: parsing with every field validated
 * against the file size and sane limits before anything is allocated, and serialising back into
 * the first cluster with unknown compatible extensions preserved.
 */
import { utf8Decode, utf8Encode } from '../text.ts';
import { StorageError } from '../types.ts';

export const QCOW2_MAGIC = 0x514649fb;
export const V2_HEADER_LENGTH = 72;
export const V3_HEADER_LENGTH = 104;

export const EXT_END = 0;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_TABLE = 0x6803f857;
export const EXT_BITMAPS = 0x23852875;
export const EXT_CRYPTO = 0x0537be77;
export const EXT_DATA_FILE = 0x44415441;

export const INCOMPAT_DIRTY = 1n;
export const INCOMPAT_CORRUPT = 2n;
export const INCOMPAT_DATA_FILE = 4n;
export const INCOMPAT_COMPRESSION = 8n;
export const INCOMPAT_EXTL2 = 16n;
export const INCOMPAT_KNOWN = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;
export const COMPAT_LAZY_REFCOUNTS = 1n;

/** Limits qemu also applies, so an image virtkit accepts is one qemu accepts and vice versa. */
export const MAX_L1_BYTES = 32 * 1024 * 1024;
export const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;
export const MAX_SNAPSHOTS = 65536;
export const MAX_BACKING_NAME = 1023;
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;

export interface HeaderExtension {
  type: number;
  data: Uint8Array;
}

export interface Qcow2Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatible: bigint;
  compatible: bigint;
  autoclear: bigint;
  refcountOrder: number;
  headerLength: number;
  compressionType: number;
  backingFile?: string;
  backingFormat?: string;
  /** Every extension except backing format and the feature table (rewritten from known state). */
  otherExtensions: HeaderExtension[];
}

function corrupt(field: string, why: string): StorageError {
  return new StorageError('corrupt', `qcow2: ${field} ${why}`);
}

function u64(dv: DataView, off: number, field: string): number {
  const hi = dv.getUint32(off);
  const lo = dv.getUint32(off + 4);
  if (hi >= 0x200000)
    throw new StorageError(
      'too-large',
      `qcow2: ${field} 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} is too large`,
    );
  return hi * 0x100000000 + lo;
}

function big64(dv: DataView, off: number): bigint {
  return (BigInt(dv.getUint32(off)) << 32n) | BigInt(dv.getUint32(off + 4));
}

export function setU64(dv: DataView, off: number, v: number | bigint): void {
  const b = BigInt(v);
  dv.setUint32(off, Number(b >> 32n) >>> 0);
  dv.setUint32(off + 4, Number(b & 0xffffffffn) >>> 0);
}

/** Parses and validates the header; `head` holds (at least) the first cluster or the whole file. */
export function parseHeader(head: Uint8Array, fileSize: number): Qcow2Header {
  if (head.length < V2_HEADER_LENGTH) throw corrupt('header', `is truncated (${head.length} bytes)`);
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (dv.getUint32(0) !== QCOW2_MAGIC) throw new StorageError('bad-magic', 'not a qcow2 image (bad magic)');
  const version = dv.getUint32(4);
  if (version !== 2 && version !== 3)
    throw new StorageError('unsupported', `qcow2 version ${version} is not supported`);
  const clusterBits = dv.getUint32(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw corrupt('cluster_bits', `${clusterBits} is outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`);
  }
  const cs = 2 ** clusterBits;
  const h: Qcow2Header = {
    version,
    backingFileOffset: u64(dv, 8, 'backing_file_offset'),
    backingFileSize: dv.getUint32(16),
    clusterBits,
    size: u64(dv, 24, 'size'),
    cryptMethod: dv.getUint32(32),
    l1Size: dv.getUint32(36),
    l1TableOffset: u64(dv, 40, 'l1_table_offset'),
    refcountTableOffset: u64(dv, 48, 'refcount_table_offset'),
    refcountTableClusters: dv.getUint32(56),
    nbSnapshots: dv.getUint32(60),
    snapshotsOffset: u64(dv, 64, 'snapshots_offset'),
    incompatible: 0n,
    compatible: 0n,
    autoclear: 0n,
    refcountOrder: 4,
    headerLength: V2_HEADER_LENGTH,
    compressionType: 0,
    otherExtensions: [],
  };
  if (version === 3) {
    if (head.length < V3_HEADER_LENGTH) throw corrupt('header', 'is truncated');
    h.incompatible = big64(dv, 72);
    h.compatible = big64(dv, 80);
    h.autoclear = big64(dv, 88);
    h.refcountOrder = dv.getUint32(96);
    h.headerLength = dv.getUint32(100);
    if (
      h.headerLength < V3_HEADER_LENGTH ||
      h.headerLength > cs ||
      h.headerLength % 8 !== 0 ||
      h.headerLength > head.length
    ) {
      throw corrupt('header_length', `${h.headerLength} is invalid`);
    }
    if (h.headerLength > V3_HEADER_LENGTH) h.compressionType = head[104]!;
  }
  if (h.refcountOrder > 6) throw corrupt('refcount_order', `${h.refcountOrder} is larger than 6`);
  if (h.cryptMethod !== 0) throw new StorageError('unsupported', 'qcow2: encrypted images are not supported');
  const unknown = h.incompatible & ~INCOMPAT_KNOWN;
  if (unknown & ~INCOMPAT_DATA_FILE)
    throw new StorageError('unsupported', `qcow2: unknown incompatible features 0x${unknown.toString(16)}`);
  if (h.incompatible & INCOMPAT_DATA_FILE)
    throw new StorageError('unsupported', 'qcow2: external data files are not supported');
  // 0: zlib (deflate), 1: zstd, which needs the incompatible bit so that older readers refuse it.
  if (h.compressionType > 1)
    throw new StorageError('unsupported', `qcow2: unknown compression type ${h.compressionType}`);
  if (h.compressionType === 1 && !(h.incompatible & INCOMPAT_COMPRESSION))
    throw corrupt('compression_type', 'zstd without the compression type incompatible feature bit');
  if (h.size % 512 !== 0 && version === 2) {
    // qemu rounds sizes to sectors; an odd v2 size is still readable.
  }

  checkTable('l1_table_offset', h.l1TableOffset, h.l1Size * 8, cs, fileSize, MAX_L1_BYTES);
  const l2Entries = cs / ((h.incompatible & INCOMPAT_EXTL2) !== 0n ? 16 : 8);
  const needL1 = Math.ceil(h.size / (cs * l2Entries));
  if (h.l1Size < needL1)
    throw corrupt('l1_size', `${h.l1Size} is too small for a ${h.size}-byte disk (needs ${needL1})`);
  if (h.refcountTableClusters === 0) throw corrupt('refcount_table_clusters', 'is zero');
  checkTable(
    'refcount_table_offset',
    h.refcountTableOffset,
    h.refcountTableClusters * cs,
    cs,
    fileSize,
    MAX_REFTABLE_BYTES,
  );
  if (h.nbSnapshots > MAX_SNAPSHOTS)
    throw new StorageError('too-large', `qcow2: nb_snapshots ${h.nbSnapshots} exceeds ${MAX_SNAPSHOTS}`);
  if (h.nbSnapshots > 0) checkTable('snapshots_offset', h.snapshotsOffset, h.nbSnapshots * 40, cs, fileSize, Infinity);

  // Extensions live between the header and the backing file name (or the end of the first cluster).
  const extEnd = Math.min(head.length, cs, h.backingFileOffset > 0 ? h.backingFileOffset : cs);
  parseExtensions(head, h, h.headerLength, extEnd);

  if (h.backingFileOffset > 0) {
    if (h.backingFileSize > MAX_BACKING_NAME) {
      throw corrupt('backing_file_size', `${h.backingFileSize} is invalid`);
    }
    if (h.backingFileOffset + h.backingFileSize > Math.min(cs, head.length)) {
      throw corrupt('backing_file_offset', `${h.backingFileOffset}+${h.backingFileSize} is outside the first cluster`);
    }
    // qemu reads the name as a C string: it ends at the first NUL, and an empty one (all NULs,
    // or no bytes) means no backing file. A NUL must never reach a host path either.
    const raw = head.subarray(h.backingFileOffset, h.backingFileOffset + h.backingFileSize);
    const nul = raw.indexOf(0);
    const name = utf8Decode(nul < 0 ? raw : raw.subarray(0, nul));
    if (name !== '') h.backingFile = name;
  }
  return h;
}

function checkTable(field: string, offset: number, bytes: number, cs: number, fileSize: number, max: number): void {
  if (bytes > max) throw new StorageError('too-large', `qcow2: ${field}: table of ${bytes} bytes exceeds ${max}`);
  if (offset % cs !== 0) throw corrupt(field, `${offset} is not cluster aligned`);
  if (bytes > 0 && (offset === 0 || offset + bytes > fileSize)) {
    throw corrupt(field, `${offset}+${bytes} is outside the file (size ${fileSize})`);
  }
}

function parseExtensions(head: Uint8Array, h: Qcow2Header, start: number, end: number): void {
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let off = start;
  for (let count = 0; ; count++) {
    if (off + 8 > end) {
      if (off === end) return; // no end marker, but no room either: qemu accepts this
      throw corrupt('header extension', `at ${off} runs past ${end}`);
    }
    const type = dv.getUint32(off);
    const len = dv.getUint32(off + 4);
    if (type === EXT_END) return;
    const padded = Math.ceil(len / 8) * 8;
    if (off + 8 + padded > end)
      throw corrupt('header extension', `0x${type.toString(16)} (${len} bytes) runs past ${end}`);
    const data = head.slice(off + 8, off + 8 + len);
    if (type === EXT_BACKING_FORMAT) h.backingFormat = utf8Decode(data);
    else if (type === EXT_FEATURE_TABLE) {
      // Rewritten from what this implementation knows; nothing to keep.
    } else if (type === EXT_CRYPTO) throw new StorageError('unsupported', 'qcow2: encryption header present');
    else h.otherExtensions.push({ type, data });
    off += 8 + padded;
    if (count > 1000) throw corrupt('header extensions', 'are too many');
  }
}

const FEATURES: [number, number, string][] = [
  [0, 0, 'dirty bit'],
  [0, 1, 'corrupt bit'],
  [0, 2, 'external data file'],
  [0, 3, 'compression type'],
  [0, 4, 'extended L2 entries'],
  [1, 0, 'lazy refcounts'],
  [2, 0, 'bitmaps'],
  [2, 1, 'raw external data'],
];

/** Serialises the header, extensions and backing name into one cluster-sized buffer. */
export function serializeHeader(h: Qcow2Header): Uint8Array {
  const cs = 2 ** h.clusterBits;
  const out = new Uint8Array(cs);
  const dv = new DataView(out.buffer);
  const exts: HeaderExtension[] = [];
  if (h.backingFormat !== undefined) exts.push({ type: EXT_BACKING_FORMAT, data: utf8Encode(h.backingFormat) });
  if (h.version === 3) {
    const table = new Uint8Array(FEATURES.length * 48);
    FEATURES.forEach(([kind, bit, name], i) => {
      table[i * 48] = kind;
      table[i * 48 + 1] = bit;
      table.set(utf8Encode(name), i * 48 + 2);
    });
    exts.push({ type: EXT_FEATURE_TABLE, data: table });
  }
  exts.push(...h.otherExtensions);
  const headerLength = h.version === 3 ? Math.max(h.headerLength, V3_HEADER_LENGTH) : V2_HEADER_LENGTH;
  let off = headerLength;
  for (const e of exts) {
    const need = off + 8 + Math.ceil(e.data.length / 8) * 8;
    if (need + 8 > cs) throw new StorageError('too-large', 'qcow2: header extensions do not fit in the first cluster');
    dv.setUint32(off, e.type);
    dv.setUint32(off + 4, e.data.length);
    out.set(e.data, off + 8);
    off = need;
  }
  off += 8; // end marker (zeros)
  let backingOffset = 0;
  let backingSize = 0;
  if (h.backingFile !== undefined) {
    const name = utf8Encode(h.backingFile);
    if (name.length === 0 || name.length > MAX_BACKING_NAME)
      throw new StorageError('too-large', 'qcow2: backing file name is too long');
    if (off + name.length > cs)
      throw new StorageError('too-large', 'qcow2: backing file name does not fit in the first cluster');
    out.set(name, off);
    backingOffset = off;
    backingSize = name.length;
  }
  dv.setUint32(0, QCOW2_MAGIC);
  dv.setUint32(4, h.version);
  setU64(dv, 8, backingOffset);
  dv.setUint32(16, backingSize);
  dv.setUint32(20, h.clusterBits);
  setU64(dv, 24, h.size);
  dv.setUint32(32, h.cryptMethod);
  dv.setUint32(36, h.l1Size);
  setU64(dv, 40, h.l1TableOffset);
  setU64(dv, 48, h.refcountTableOffset);
  dv.setUint32(56, h.refcountTableClusters);
  dv.setUint32(60, h.nbSnapshots);
  setU64(dv, 64, h.snapshotsOffset);
  if (h.version === 3) {
    setU64(dv, 72, h.incompatible);
    setU64(dv, 80, h.compatible);
    setU64(dv, 88, h.autoclear);
    dv.setUint32(96, h.refcountOrder);
    dv.setUint32(100, headerLength);
    if (headerLength > V3_HEADER_LENGTH) out[104] = h.compressionType;
  }
  h.backingFileOffset = backingOffset;
  h.backingFileSize = backingSize;
  h.headerLength = headerLength;
  return out;
}
