/** The qcow2 ImageFormat: probe, open (validating every table before use), create. */
import type { CreateOptions, ImageFormat, OpenOptions } from '../formats.ts';
import { StorageError, type BlockBackend, type ByteStore } from '../types.ts';
import {
  COMPAT_LAZY_REFCOUNTS,
  INCOMPAT_COMPRESSION,
  INCOMPAT_CORRUPT,
  INCOMPAT_DIRTY,
  INCOMPAT_EXTL2,
  MAX_L1_BYTES,
  parseHeader,
  QCOW2_MAGIC,
  serializeHeader,
  setU64,
  V3_HEADER_LENGTH,
  type Qcow2Header,
} from './header.ts';
import { Qcow2Image, type Qcow2Options } from './image.ts';
import { readL1, writeL2 } from './l2-entry.ts';
import { Refcounts } from './refcount.ts';
import { readSnapshotTable } from './snapshot-table.ts';

export { QCOW2_MAGIC };

export interface Qcow2OpenOptions extends OpenOptions {
  l2CacheTables?: number;
  refcountCacheBlocks?: number;
  barriers?: boolean;
}

export async function openQcow2(store: ByteStore, opts: Qcow2OpenOptions = {}): Promise<Qcow2Image> {
  const readOnly = opts.readOnly ?? store.readOnly;
  if (!readOnly && store.readOnly) throw new StorageError('read-only', `${store.name} cannot be opened for writing`);
  const fileSize = await store.size();
  const first = new Uint8Array(Math.min(fileSize, V3_HEADER_LENGTH + 8));
  await store.read(0, first);
  if (first.length < 24) throw new StorageError('corrupt', `qcow2: ${store.name} is too short for a header`);
  const bits = new DataView(first.buffer).getUint32(20);
  const cs = bits >= 9 && bits <= 21 ? 2 ** bits : 512;
  const head = new Uint8Array(Math.min(fileSize, cs));
  await store.read(0, head);
  const header = parseHeader(head, fileSize);
  if (!readOnly && header.incompatible & INCOMPAT_CORRUPT) {
    throw new StorageError('corrupt', `qcow2: ${store.name} is marked corrupt; open it read-only or repair it`);
  }

  // L1: each entry must point inside the file at a cluster boundary.
  const l1raw = new Uint8Array(header.l1Size * 8);
  await store.read(header.l1TableOffset, l1raw);
  const l1dv = new DataView(l1raw.buffer);
  const l1: number[] = [];
  const l1Copied: boolean[] = [];
  for (let i = 0; i < header.l1Size; i++) {
    const e = readL1(l1dv, i);
    if (e.offset && (e.offset % cs !== 0 || e.offset + cs > fileSize)) {
      throw new StorageError(
        'corrupt',
        `qcow2: L1 entry ${i} (0x${e.offset.toString(16)}) is outside the file or unaligned`,
      );
    }
    l1.push(e.offset);
    l1Copied.push(e.copied && e.offset !== 0);
  }

  const writeHeaderTable = async (offset: number, clusters: number): Promise<void> => {
    const b = new Uint8Array(12);
    const dv = new DataView(b.buffer);
    setU64(dv, 0, offset);
    dv.setUint32(8, clusters);
    await store.write(48, b);
    await store.flush();
    header.refcountTableOffset = offset;
    header.refcountTableClusters = clusters;
  };
  const rc = await Refcounts.load(
    store,
    header.clusterBits,
    header.refcountOrder,
    header.refcountTableOffset,
    header.refcountTableClusters,
    fileSize,
    opts.refcountCacheBlocks ?? 64,
    writeHeaderTable,
  );
  const snapshots = await readSnapshotTable(store, header.snapshotsOffset, header.nbSnapshots, cs, fileSize);

  let backing: BlockBackend | undefined;
  if (header.backingFile !== undefined) {
    if (!opts.openBacking) {
      throw new StorageError('not-found', `qcow2: ${store.name} needs backing file '${header.backingFile}'`);
    }
    backing = await opts.openBacking(header.backingFile, header.backingFormat);
  }
  const options: Qcow2Options = {
    readOnly,
    backing,
    l2CacheTables: opts.l2CacheTables,
    refcountCacheBlocks: opts.refcountCacheBlocks,
    barriers: opts.barriers,
  };
  const img = new Qcow2Image(store, header, l1, l1Copied, rc, snapshots, options);
  // The refcount cache writes must also wait for nothing else; L2 depends on it (see image.ts).
  if (!readOnly) {
    let rewrite = false;
    if (header.autoclear !== 0n) {
      // Bitmaps and other autoclear extensions are not maintained here: declare them stale.
      header.autoclear = 0n;
      rewrite = true;
    }
    if (header.incompatible & INCOMPAT_DIRTY) {
      // Refcounts may be stale after a crash with lazy refcounts: rebuild what check can fix.
      await img.check('all');
      header.incompatible &= ~INCOMPAT_DIRTY;
      rewrite = true;
    }
    if (rewrite) {
      await img.writeFeatures();
      await store.flush();
    }
  }
  return img;
}

/** qemu-img's `-o` options for qcow2, parsed and checked. */
export interface Qcow2CreateParams {
  clusterBits: number;
  version: 2 | 3;
  lazyRefcounts: boolean;
  refcountOrder: number;
  extendedL2: boolean;
  preallocation: 'off' | 'metadata';
  backingFile?: string;
  backingFormat?: string;
  /** 0 zlib, 1 zstd (header byte 104, with the compression type incompatible bit). */
  compressionType: number;
}

function parseBool(v: string | undefined, key: string): boolean {
  if (v === undefined || v === 'off' || v === 'false') return false;
  if (v === 'on' || v === 'true') return true;
  throw new StorageError('unsupported', `qcow2: ${key} must be on or off, not '${v}'`);
}

function parseSize(v: string, key: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(v.trim());
  if (!m) throw new StorageError('unsupported', `qcow2: bad ${key} '${v}'`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}

export function parseCreateOptions(opts: CreateOptions): Qcow2CreateParams {
  const o = opts.options;
  const known = [
    'cluster_size',
    'compat',
    'lazy_refcounts',
    'refcount_bits',
    'extended_l2',
    'preallocation',
    'backing_file',
    'backing_fmt',
    'compression_type',
    'encrypt',
    'size',
  ];
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new StorageError('unsupported', `qcow2: unknown option '${k}'`);
  }
  const clusterSize = o.cluster_size ? parseSize(o.cluster_size, 'cluster_size') : 65536;
  const clusterBits = Math.log2(clusterSize);
  if (!Number.isInteger(clusterBits) || clusterBits < 9 || clusterBits > 21) {
    throw new StorageError(
      'unsupported',
      `qcow2: cluster_size must be a power of two between 512 and 2M, not ${clusterSize}`,
    );
  }
  const compat = o.compat ?? '1.1';
  const version = compat === '0.10' || compat === 'v2' ? 2 : compat === '1.1' || compat === 'v3' ? 3 : 0;
  if (!version) throw new StorageError('unsupported', `qcow2: unknown compat '${compat}'`);
  const refcountBits = o.refcount_bits ? Number(o.refcount_bits) : 16;
  const refcountOrder = Math.log2(refcountBits);
  if (!Number.isInteger(refcountOrder) || refcountOrder < 0 || refcountOrder > 6) {
    throw new StorageError(
      'unsupported',
      `qcow2: refcount_bits must be a power of two up to 64, not ${o.refcount_bits}`,
    );
  }
  const lazyRefcounts = parseBool(o.lazy_refcounts, 'lazy_refcounts');
  const extendedL2 = parseBool(o.extended_l2, 'extended_l2');
  if (version === 2 && (refcountBits !== 16 || lazyRefcounts || extendedL2)) {
    throw new StorageError(
      'unsupported',
      'qcow2: refcount_bits other than 16, lazy_refcounts and extended_l2 need compat=1.1',
    );
  }
  if (extendedL2 && clusterSize < 16384)
    throw new StorageError('unsupported', 'qcow2: extended_l2 needs cluster_size >= 16k');
  const pre = o.preallocation ?? 'off';
  if (pre !== 'off' && pre !== 'metadata')
    throw new StorageError('unsupported', `qcow2: preallocation=${pre} is not supported (off, metadata)`);
  const compression = o.compression_type ?? 'zlib';
  if (compression !== 'zlib' && compression !== 'zstd')
    throw new StorageError('unsupported', `qcow2: compression_type must be zlib or zstd, not '${compression}'`);
  if (compression === 'zstd' && version === 2)
    throw new StorageError('unsupported', 'qcow2: compression_type=zstd needs compat=1.1');
  if (o.encrypt && o.encrypt !== 'off') throw new StorageError('unsupported', 'qcow2: encryption is not supported');
  return {
    clusterBits,
    version,
    lazyRefcounts,
    refcountOrder,
    extendedL2,
    preallocation: pre,
    compressionType: compression === 'zstd' ? 1 : 0,
    backingFile: opts.backingFile ?? o.backing_file,
    backingFormat: opts.backingFormat ?? o.backing_fmt,
  };
}

/**
 * Lays out a new image: header, refcount table, refcount blocks, L1 table (and with
 * preallocation=metadata every L2 table and data cluster), all described by the refcounts.
 */
export async function createQcow2(store: ByteStore, size: number, opts: CreateOptions): Promise<void> {
  const p = parseCreateOptions(opts);
  if (size < 0 || Number.isNaN(size)) {
    if (!p.backingFile || !opts.openBacking) throw new StorageError('unsupported', 'qcow2: an image size is required');
    const b = await opts.openBacking(p.backingFile, p.backingFormat);
    size = b.size;
    await b.close();
  }
  if (!Number.isSafeInteger(size)) throw new StorageError('out-of-range', `qcow2: bad size ${size}`);
  // Whole sectors, rounded up as qemu-img creates them: qemu reads a header size rounded down,
  // so an odd size would lose the image's last bytes there.
  size = Math.ceil(size / 512) * 512;
  const cs = 2 ** p.clusterBits;
  const l2Entries = cs / (p.extendedL2 ? 16 : 8);
  const l1Size = Math.ceil(size / (cs * l2Entries));
  if (l1Size * 8 > MAX_L1_BYTES)
    throw new StorageError('too-large', `qcow2: ${size} bytes needs an L1 table beyond 32 MiB`);
  const l1Clusters = Math.ceil((l1Size * 8) / cs);
  const dataClusters = p.preallocation === 'metadata' ? Math.ceil(size / cs) : 0;
  const l2Tables = p.preallocation === 'metadata' ? l1Size : 0;
  const perBlock = (cs * 8) / 2 ** p.refcountOrder;
  let blocks = 1;
  let tableClusters = 1;
  for (let i = 0; i < 100; i++) {
    const total = 1 + tableClusters + blocks + l1Clusters + l2Tables + dataClusters;
    const nb = Math.ceil(total / perBlock);
    const nt = Math.ceil((nb * 8) / cs);
    if (nb === blocks && nt === tableClusters) break;
    blocks = nb;
    tableClusters = nt;
  }
  if (tableClusters * cs > 8 * 1024 * 1024)
    throw new StorageError('too-large', 'qcow2: refcount table would exceed 8 MiB');
  const tableOff = cs;
  const blocksOff = tableOff + tableClusters * cs;
  const l1Off = blocksOff + blocks * cs;
  const metaEnd = l1Off + l1Clusters * cs;
  const total = metaEnd / cs + l2Tables + dataClusters;

  const header: Qcow2Header = {
    version: p.version,
    backingFileOffset: 0,
    backingFileSize: 0,
    clusterBits: p.clusterBits,
    size,
    cryptMethod: 0,
    l1Size,
    l1TableOffset: l1Off,
    refcountTableOffset: tableOff,
    refcountTableClusters: tableClusters,
    nbSnapshots: 0,
    snapshotsOffset: 0,
    incompatible: (p.extendedL2 ? INCOMPAT_EXTL2 : 0n) | (p.compressionType ? INCOMPAT_COMPRESSION : 0n),
    compatible: p.lazyRefcounts ? COMPAT_LAZY_REFCOUNTS : 0n,
    autoclear: 0n,
    refcountOrder: p.refcountOrder,
    headerLength: p.version === 3 ? V3_HEADER_LENGTH + 8 : 72,
    compressionType: p.compressionType,
    backingFile: p.backingFile,
    backingFormat: p.backingFile ? p.backingFormat : undefined,
    otherExtensions: [],
  };
  await store.truncate(0);
  // Refcount blocks: every cluster in [0, total) has refcount 1.
  const bits = 2 ** p.refcountOrder;
  for (let b = 0; b < blocks; b++) {
    const buf = new Uint8Array(cs);
    const dv = new DataView(buf.buffer);
    for (let c = b * perBlock; c < Math.min(total, (b + 1) * perBlock); c++)
      Refcounts.writeEntry(dv, buf, bits, c - b * perBlock, 1);
    await store.write(blocksOff + b * cs, buf);
  }
  const table = new Uint8Array(tableClusters * cs);
  const tdv = new DataView(table.buffer);
  for (let b = 0; b < blocks; b++) setU64(tdv, b * 8, blocksOff + b * cs);
  await store.write(tableOff, table);
  const l1 = new Uint8Array(l1Clusters * cs);
  if (p.preallocation === 'metadata') {
    const l1dv = new DataView(l1.buffer);
    let next = metaEnd;
    let vc = 0;
    for (let i = 0; i < l1Size; i++) {
      const l2off = next;
      next += cs;
      const l2 = new Uint8Array(cs);
      const dv = new DataView(l2.buffer);
      for (let j = 0; j < l2Entries && vc < dataClusters; j++, vc++) {
        writeL2(dv, j, p.extendedL2, next, true, false, p.extendedL2 ? 0xffffffff : 0, 0);
        next += cs;
      }
      setU64(l1dv, i * 8, BigInt(l2off) | (1n << 63n));
      await store.write(l2off, l2);
    }
  }
  await store.write(l1Off, l1);
  await store.truncate(total * cs);
  await store.write(0, serializeHeader(header));
  await store.flush();
}

export const qcow2Format: ImageFormat = {
  name: 'qcow2',
  probe(head) {
    if (head.length < 8) return 0;
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    // Any QFI\xfb file is claimed (as qemu does), so open() can say which version it cannot read.
    return dv.getUint32(0) === QCOW2_MAGIC ? 100 : 0;
  },
  open: (store, opts) => openQcow2(store, opts),
  create: createQcow2,
};
