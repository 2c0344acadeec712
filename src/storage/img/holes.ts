/**
 * A read-only raw image whose block status comes from the host file's hole map: runs in a hole
 * report zero and unallocated, like qemu's raw driver does with SEEK_DATA. Reads pass through.
 */
import { checkRange, StorageError, type BlockBackend, type ExtentStatus } from '../types.ts';
import type { DataRange } from './context.ts';

export class HoleMappedBackend implements BlockBackend {
  readonly readOnly = true;

  constructor(
    private readonly inner: BlockBackend,
    /** Sorted, non-overlapping data ranges of the file. */
    private readonly ranges: DataRange[],
  ) {}

  get format(): string {
    return this.inner.format;
  }
  get size(): number {
    return this.inner.size;
  }
  get backing(): BlockBackend | undefined {
    return this.inner.backing;
  }

  read(offset: number, buf: Uint8Array): Promise<void> {
    return this.inner.read(offset, buf);
  }

  async blockStatus(offset: number, length: number): Promise<ExtentStatus> {
    checkRange(this, offset, length, 'block-status');
    // First range that ends after offset.
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const r = this.ranges[mid]!;
      if (r.offset + r.length <= offset) lo = mid + 1;
      else hi = mid;
    }
    const r = this.ranges[lo];
    if (r && r.offset <= offset) {
      const n = Math.min(length, r.offset + r.length - offset);
      return { offset, length: n, data: true, zero: false, depth: 0, hostOffset: offset };
    }
    const n = Math.min(length, (r ? r.offset : this.size) - offset);
    // A hole is still part of the file (qemu-img map shows it present, at its own offset).
    return { offset, length: n, data: false, zero: true, depth: 0, hostOffset: offset };
  }

  private refuse(): Promise<never> {
    return Promise.reject(new StorageError('read-only', `${this.inner.format} image is opened read-only`));
  }
  write(): Promise<void> {
    return this.refuse();
  }
  discard(): Promise<void> {
    return this.refuse();
  }
  writeZeroes(): Promise<void> {
    return this.refuse();
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  close(): Promise<void> {
    return this.inner.close();
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
