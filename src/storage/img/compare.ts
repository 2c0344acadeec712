/**
 * `img compare`: do two images show the guest the same bytes? Runs both images know to be
 * zero are skipped without reading. The first mismatch is reported at 512-byte sector
 * granularity like qemu-img. If the sizes differ, the tail of the larger image must be zero.
 */
import type { BlockBackend } from '../types.ts';
import type { ImgContext } from './context.ts';
import { openChain, type OpenedImage } from './open-chain.ts';
import { isZero, sameBytes } from './zero.ts';
import { runLength } from './status-walk.ts';

export interface CompareOptions {
  /** -f / -F: formats of the first and second image. */
  formatA?: string;
  formatB?: string;
  /** -s: strict: sizes and allocation status must match too. */
  strict?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export type CompareResult =
  | { identical: true; sizeMismatch: boolean }
  | {
      identical: false;
      /** Where the content first differs (a 512-byte sector boundary). */
      offset: number;
      /** 'content': bytes differ; 'size' / 'allocation': strict-mode differences. */
      reason: 'content' | 'size' | 'allocation';
      sizeMismatch: boolean;
    };

const CHUNK = 1024 * 1024;
const SECTOR = 512;

export async function imgCompare(
  ctx: ImgContext,
  pathA: string,
  pathB: string,
  opts: CompareOptions = {},
): Promise<CompareResult> {
  const opened: OpenedImage[] = [];
  try {
    opened.push(await openChain(ctx, pathA, { format: opts.formatA, readOnly: true }));
    opened.push(await openChain(ctx, pathB, { format: opts.formatB, readOnly: true }));
    return await compareBackends(opened[0]!.backend, opened[1]!.backend, opts);
  } finally {
    for (const o of opened) await o.close();
  }
}

export async function compareBackends(
  a: BlockBackend,
  b: BlockBackend,
  opts: CompareOptions = {},
): Promise<CompareResult> {
  const sizeMismatch = a.size !== b.size;
  if (sizeMismatch && opts.strict)
    return { identical: false, offset: Math.min(a.size, b.size), reason: 'size', sizeMismatch };
  const common = Math.min(a.size, b.size);
  const total = Math.max(a.size, b.size);
  const bufA = new Uint8Array(CHUNK);
  const bufB = new Uint8Array(CHUNK);
  let pos = 0;
  while (pos < common) {
    const want = Math.min(CHUNK, common - pos);
    const sa = await a.blockStatus(pos, want);
    const sb = await b.blockStatus(pos, want);
    const n = Math.min(runLength(sa, pos, want), runLength(sb, pos, want));
    if (opts.strict && isAllocated(sa) !== isAllocated(sb)) {
      return { identical: false, offset: pos, reason: 'allocation', sizeMismatch };
    }
    const zeroA = sa.zero || !sa.data;
    const zeroB = sb.zero || !sb.data;
    if (!(zeroA && zeroB)) {
      const x = bufA.subarray(0, n);
      const y = bufB.subarray(0, n);
      if (zeroA) x.fill(0);
      else await a.read(pos, x);
      if (zeroB) y.fill(0);
      else await b.read(pos, y);
      const at = firstDifference(x, y);
      if (at >= 0) return { identical: false, offset: pos + at, reason: 'content', sizeMismatch };
    }
    pos += n;
    opts.onProgress?.(pos, total);
  }
  // The rest of the larger image must read as zeros.
  const longer = a.size > b.size ? a : b;
  while (pos < longer.size) {
    const want = Math.min(CHUNK, longer.size - pos);
    const st = await longer.blockStatus(pos, want);
    const n = runLength(st, pos, want);
    if (st.data && !st.zero) {
      const x = bufA.subarray(0, n);
      await longer.read(pos, x);
      const at = firstNonZeroSector(x);
      if (at >= 0) return { identical: false, offset: pos + at, reason: 'content', sizeMismatch };
    }
    pos += n;
    opts.onProgress?.(pos, total);
  }
  return { identical: true, sizeMismatch };
}

/** qemu's notion of "allocated" for strict compare: the run is defined by some layer. */
function isAllocated(s: { data: boolean; zero: boolean; depth: number }): boolean {
  return s.data;
}

/** Offset (rounded down to a sector) of the first differing byte, or -1. */
function firstDifference(x: Uint8Array, y: Uint8Array): number {
  for (let s = 0; s < x.length; s += SECTOR) {
    if (!sameBytes(x, y, s, Math.min(x.length, s + SECTOR))) return s;
  }
  return -1;
}

function firstNonZeroSector(x: Uint8Array): number {
  for (let s = 0; s < x.length; s += SECTOR) if (!isZero(x, s, Math.min(x.length, s + SECTOR))) return s;
  return -1;
}
