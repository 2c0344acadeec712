/**
 * A read-only raw image whose block status comes from the host file's hole map: runs in a hole
 * report zero and unallocated, like qemu's raw driver does with SEEK_DATA. Reads pass through.
 * The map may still be on its way (a promise): finding it can take a host process, which then
 * runs while the caller does other work (convert creates its target meanwhile). Without a map
 * (undefined), the inner image's block status stands.
 */
import { checkRange, StorageError, type BlockBackend, type ExtentStatus, type ImageIdentity } from '../types.ts';
import type { DataRange } from './context.ts';

/**
 * What both hole-aware wrappers share: a read-only pass-through over `inner` holding the file's
 * data ranges, which may still be on their way. Subclasses decide what block status reports.
 */
abstract class HoleAwareBackend implements BlockBackend {
  readonly readOnly = true;
  /** Sorted, non-overlapping data ranges of the file; null until known, undefined if unknown. */
  protected ranges: DataRange[] | null | undefined = null;
  private readonly pending: Promise<DataRange[] | undefined>;

  constructor(
    protected readonly inner: BlockBackend,
    ranges: DataRange[] | Promise<DataRange[] | undefined>,
  ) {
    if (Array.isArray(ranges)) this.ranges = ranges;
    // Never rejects: a map that cannot be had is no map.
    this.pending = Promise.resolve(ranges).then(
      (r) => (this.ranges = r),
      () => (this.ranges = undefined),
    );
  }

  /** The ranges, waiting for them if they are still being found. */
  protected async dataRanges(): Promise<DataRange[] | undefined> {
    return this.ranges === null ? await this.pending : this.ranges;
  }

  abstract blockStatus(offset: number, length: number): Promise<ExtentStatus>;

  get format(): string {
    return this.inner.format;
  }
  get size(): number {
    return this.inner.size;
  }
  get backing(): BlockBackend | undefined {
    return this.inner.backing;
  }
  get identity(): ImageIdentity | undefined {
    return this.inner.identity;
  }
  read(offset: number, buf: Uint8Array): Promise<void> {
    return this.inner.read(offset, buf);
  }
  write(): Promise<void> {
    return Promise.reject(new StorageError('read-only', `${this.inner.format} image is opened read-only`));
  }
  discard(): Promise<void> {
    return this.write();
  }
  writeZeroes(): Promise<void> {
    return this.write();
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export class HoleMappedBackend extends HoleAwareBackend {
  /**
   * `holesAreData`: the format above the file calls every byte data and the file's holes only add
   * "zero" (qemu's fixed VHD: data and zero both true), where raw's holes are not data.
   */
  constructor(
    inner: BlockBackend,
    ranges: DataRange[] | Promise<DataRange[] | undefined>,
    private readonly holesAreData = false,
  ) {
    super(inner, ranges);
  }

  async blockStatus(offset: number, length: number): Promise<ExtentStatus> {
    checkRange(this, offset, length, 'block-status');
    const ranges = await this.dataRanges();
    if (!ranges) return this.inner.blockStatus(offset, length);
    const r = ranges[firstEndingAfter(ranges, offset)];
    if (r && r.offset <= offset) {
      const n = Math.min(length, r.offset + r.length - offset);
      return { offset, length: n, data: true, zero: false, depth: 0, hostOffset: offset };
    }
    const n = Math.min(length, (r ? r.offset : this.size) - offset);
    // A hole is still part of the file (qemu-img map shows it present, at its own offset).
    return { offset, length: n, data: this.holesAreData, zero: true, depth: 0, hostOffset: offset };
  }
}

/** The index of the first range that ends after pos (ranges sorted, disjoint). */
function firstEndingAfter(ranges: DataRange[], pos: number): number {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (r.offset + r.length <= pos) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A read-only image (VHD, VHDX: FileMappedBackend) whose own data runs are checked against the
 * hole map of its file: a run whose host bytes lie in a hole reads as zeros, so block status
 * reports it zero, and convert does not read it. Everything else passes through. Only for
 * convert: `map` keeps reporting allocated blocks as data, as qemu-img does.
 */
export class FileHolesBackend extends HoleAwareBackend {
  constructor(
    inner: BlockBackend,
    /** Data ranges of the image's file (sorted, disjoint), when the host can tell. */
    ranges: Promise<DataRange[] | undefined>,
    /** The file's length: past it, the file reads as zeros too. */
    private readonly fileSize: number,
  ) {
    super(inner, ranges);
  }

  async blockStatus(offset: number, length: number): Promise<ExtentStatus> {
    const st = await this.inner.blockStatus(offset, length);
    if (!st.data || st.zero || st.depth !== 0 || st.hostOffset === undefined) return st;
    const ranges = await this.dataRanges();
    if (!ranges) return st;
    const h = st.hostOffset;
    const r = ranges[firstEndingAfter(ranges, h)];
    if (r && r.offset <= h) return { ...st, length: Math.min(st.length, r.offset + r.length - h) };
    const holeEnd = r ? r.offset : Math.max(h, this.fileSize);
    // At or past the end of the file everything reads as zeros.
    const n = h >= this.fileSize ? st.length : Math.min(st.length, holeEnd - h);
    return { offset: st.offset, length: n, data: false, zero: true, depth: 0 };
  }
}

/** Sorts and merges ranges and clips them to [0, size); undefined if they make no sense. */
export function normaliseRanges(ranges: DataRange[], size: number): DataRange[] | undefined {
  const sorted = ranges
    .filter((r) => Number.isSafeInteger(r.offset) && Number.isSafeInteger(r.length) && r.offset >= 0 && r.length > 0)
    .map((r) => ({ offset: r.offset, length: Math.min(r.length, size - r.offset) }))
    .filter((r) => r.length > 0)
    .sort((a, b) => a.offset - b.offset);
  if (sorted.length !== ranges.filter((r) => r.offset < size).length) return undefined;
  const out: DataRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.offset <= last.offset + last.length) {
      last.length = Math.max(last.length, r.offset + r.length - last.offset);
    } else out.push({ ...r });
  }
  return out;
}
