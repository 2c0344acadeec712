/**
 * `img measure`: how big a file of a given format would be, for a virtual size or for the
 * contents of an existing image. "required" holds the data plus metadata; "fully allocated"
 * is the size with every cluster allocated (preallocation). The qcow2 arithmetic follows the
 * layout rules of the qcow2 specification (header cluster, L1/L2 tables, refcount structures).
 */
import { StorageError, type ByteStore } from '../types.ts';
import { qcow2Header } from './capabilities.ts';
import type { ImgContext } from './context.ts';
import { openChain } from './open-chain.ts';
import { runLength } from './status-walk.ts';
import { parseImgSize } from './units.ts';

export interface MeasureOptions {
  /** -O: the format to measure for (default raw). */
  format?: string;
  options?: Record<string, string>;
  /** --size: a virtual size, instead of a source image. */
  size?: number;
  source?: string;
  sourceFormat?: string;
}

export interface MeasureResult {
  required: number;
  fullyAllocated: number;
  /**
   * Bytes the source's persistent dirty bitmaps would take in the qcow2 target: qemu-img reports
   * it (and only then) when the target is qcow2 v3 and the source can hold such bitmaps (qcow2 v3).
   */
  bitmaps?: number;
}

const roundUp = (n: number, a: number) => Math.ceil(n / a) * a;

export async function imgMeasure(ctx: ImgContext, opts: MeasureOptions): Promise<MeasureResult> {
  const format = opts.format ?? 'raw';
  const o = opts.options ?? {};
  if ((opts.size === undefined) === (opts.source === undefined)) {
    throw new StorageError('unsupported', 'measure needs either a size or a source image (not both)');
  }
  if (format === 'raw') {
    let size = opts.size;
    if (opts.source !== undefined) {
      const img = await openChain(ctx, opts.source, { format: opts.sourceFormat, readOnly: true });
      size = img.backend.size;
      await img.close();
    }
    return { required: size!, fullyAllocated: size! };
  }
  if (format !== 'qcow2') throw new StorageError('unsupported', `format '${format}' does not support size measurement`);

  // Sizes with suffixes, as qemu-img takes them (cluster_size=4k).
  const clusterSize = o['cluster_size'] !== undefined ? (parseImgSize(o['cluster_size']) ?? NaN) : 65536;
  if (
    !Number.isInteger(clusterSize) ||
    clusterSize < 512 ||
    clusterSize > 2 * 1024 * 1024 ||
    (clusterSize & (clusterSize - 1)) !== 0
  ) {
    throw new StorageError(
      'unsupported',
      `cluster size must be a power of two between 512 and 2M, not '${o['cluster_size']}'`,
    );
  }
  const refcountBits = Number(o['refcount_bits'] ?? 16);
  if (![1, 2, 4, 8, 16, 32, 64].includes(refcountBits)) {
    throw new StorageError('unsupported', `refcount_bits must be a power of two up to 64, not '${o['refcount_bits']}'`);
  }
  const extendedL2 = o['extended_l2'] === 'on';

  let virtualSize: number;
  let required: number;
  let bitmaps: number | undefined;
  if (opts.source !== undefined) {
    const img = await openChain(ctx, opts.source, { format: opts.sourceFormat, readOnly: true });
    try {
      const b = img.backend;
      const h = qcow2Header(b);
      if (h && h.version >= 3 && o['compat'] !== '0.10' && o['compat'] !== 'v2')
        bitmaps = await bitmapsSize(img.layers[0]!.store, h.otherExtensions ?? [], b.size, clusterSize);
      required = 0;
      let pos = 0;
      while (pos < b.size) {
        const st = await b.blockStatus(pos, b.size - pos);
        let n = runLength(st, pos, b.size - pos);
        if (st.data && !st.zero) {
          // A partly used cluster costs a whole one; continue from the end of that cluster.
          n = roundUp(pos + n, clusterSize) - pos;
          required += (pos % clusterSize) + n;
        }
        pos += n;
      }
      virtualSize = roundUp(b.size, clusterSize);
    } finally {
      await img.close();
    }
  } else {
    virtualSize = roundUp(opts.size!, clusterSize);
    // An empty image needs only its metadata, unless its data clusters are preallocated.
    required = ['full', 'falloc'].includes(o['preallocation'] ?? 'off') ? virtualSize : 0;
  }
  const fullyAllocated = qcow2PreallocSize(virtualSize, clusterSize, refcountBits, extendedL2);
  const r: MeasureResult = { required: fullyAllocated - virtualSize + required, fullyAllocated };
  if (bitmaps !== undefined) r.bitmaps = bitmaps;
  return r;
}

const BITMAPS_EXTENSION = 0x23852875;
/** A bitmap directory larger than this is refused (qemu's own limit is 64 MiB; real ones are tiny). */
const MAX_BITMAP_DIRECTORY = 1 << 20;

/**
 * What a qcow2 source's persistent dirty bitmaps would need in the target, counted as qemu does:
 * each bitmap fully allocated (its bits, whole clusters), its table of cluster offsets, and the
 * bitmap directory (one 8-aligned entry per bitmap with its name).
 */
async function bitmapsSize(
  store: ByteStore,
  extensions: { type: number; data: Uint8Array }[],
  size: number,
  clusterSize: number,
): Promise<number> {
  const ext = extensions.find((e) => e.type === BITMAPS_EXTENSION);
  if (!ext || ext.data.length < 24) return 0;
  const edv = new DataView(ext.data.buffer, ext.data.byteOffset, ext.data.length);
  const count = edv.getUint32(0);
  const dirSize = Number(edv.getBigUint64(8));
  const dirOffset = Number(edv.getBigUint64(16));
  if (dirSize > MAX_BITMAP_DIRECTORY || dirOffset + dirSize > (await store.size()))
    throw new StorageError('corrupt', `qcow2: bitmap directory (${dirSize} bytes at ${dirOffset}) is invalid`);
  const dir = new Uint8Array(dirSize);
  await store.read(dirOffset, dir);
  const dv = new DataView(dir.buffer);
  let total = 0;
  let dirBytes = 0;
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (pos + 24 > dirSize) throw new StorageError('corrupt', `qcow2: bitmap directory entry ${i} is outside it`);
    const granularityBits = dir[pos + 17]!;
    const nameSize = dv.getUint16(pos + 18);
    const extra = dv.getUint32(pos + 20);
    if (granularityBits < 9 || granularityBits > 31)
      throw new StorageError('corrupt', `qcow2: bitmap ${i} granularity_bits ${granularityBits} is invalid`);
    const bytes = Math.ceil(Math.ceil(size / 2 ** granularityBits) / 8);
    const clusters = Math.ceil(bytes / clusterSize);
    total += clusters * clusterSize + roundUp(clusters * 8, clusterSize);
    dirBytes += roundUp(24 + nameSize, 8);
    pos += roundUp(24 + extra + nameSize, 8);
  }
  return total + roundUp(dirBytes, clusterSize);
}

/** File size of a fully allocated qcow2 image: data clusters plus every table that maps them. */
export function qcow2PreallocSize(
  size: number,
  clusterSize: number,
  refcountBits: number,
  extendedL2: boolean,
): number {
  const alignedSize = roundUp(size, clusterSize);
  const l2EntrySize = extendedL2 ? 16 : 8;
  let meta = clusterSize; // the header cluster
  const l2Entries = roundUp(alignedSize / clusterSize, clusterSize / l2EntrySize);
  meta += l2Entries * l2EntrySize;
  const l1Entries = roundUp((l2Entries * l2EntrySize) / clusterSize, clusterSize / 8);
  meta += l1Entries * 8;
  meta += refcountMetadataSize((meta + alignedSize) / clusterSize, clusterSize, refcountBits);
  return meta + alignedSize;
}

/**
 * Bytes of refcount table and blocks needed to count `clusters` clusters plus themselves:
 * iterate to the fixed point, since refcount blocks need refcounts too.
 */
function refcountMetadataSize(clusters: number, clusterSize: number, refcountBits: number): number {
  const blocksPerTableCluster = clusterSize / 8;
  const refcountsPerBlock = (clusterSize * 8) / refcountBits;
  let table = 0;
  let blocks = 0;
  let n = 0;
  let last: number;
  do {
    last = n;
    blocks = Math.ceil((clusters + table + blocks) / refcountsPerBlock);
    table = Math.ceil(blocks / blocksPerTableCluster);
    n = clusters + blocks + table;
  } while (n !== last);
  return (blocks + table) * clusterSize;
}
