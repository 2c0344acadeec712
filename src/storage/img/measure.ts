/**
 * `img measure`: how big a file of a given format would be, for a virtual size or for the
 * contents of an existing image. "required" holds the data plus metadata; "fully allocated"
 * is the size with every cluster allocated (preallocation). The qcow2 arithmetic follows the
 * layout rules of the qcow2 specification (header cluster, L1/L2 tables, refcount structures).
 */
import { StorageError } from '../types.ts';
import type { ImgContext } from './context.ts';
import { openChain } from './open-chain.ts';
import { runLength } from './status-walk.ts';

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

  const clusterSize = Number(o['cluster_size'] ?? 65536);
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
  if (opts.source !== undefined) {
    const img = await openChain(ctx, opts.source, { format: opts.sourceFormat, readOnly: true });
    try {
      const b = img.backend;
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
  return { required: fullyAllocated - virtualSize + required, fullyAllocated };
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
