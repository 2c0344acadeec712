/**
 * A read-only ByteStore that shows another store with a list of writes laid over it. Read-only
 * opens of an image with a pending log replay the log into one of these, so the guest sees the
 * replayed metadata while the file itself is never written.
 */
import type { ByteStore } from '../types.ts';

type Patch = { offset: number; data: Uint8Array } | { offset: number; zeroLength: number };

export class OverlayStore implements ByteStore {
  readonly readOnly = true;
  readonly name: string;
  private readonly patches: Patch[] = [];
  private length: number | undefined;

  constructor(private readonly base: ByteStore) {
    this.name = base.name;
  }

  async size(): Promise<number> {
    return this.length ?? (await this.base.size());
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    await this.base.read(offset, buf);
    const end = offset + buf.length;
    if (this.length !== undefined && this.length < end) {
      const baseSize = await this.base.size();
      // Bytes past the base's end but inside the grown length read as zeros already.
      if (baseSize > this.length) buf.fill(0, Math.max(0, this.length - offset));
    }
    // Later patches win, so apply them in order.
    for (const p of this.patches) {
      const pLen = 'data' in p ? p.data.length : p.zeroLength;
      const lo = Math.max(offset, p.offset);
      const hi = Math.min(end, p.offset + pLen);
      if (lo >= hi) continue;
      if ('data' in p) buf.set(p.data.subarray(lo - p.offset, hi - p.offset), lo - offset);
      else buf.fill(0, lo - offset, hi - offset);
    }
  }

  /** Only the log replay writes here; everything above sees a read-only store. */
  async write(offset: number, data: Uint8Array): Promise<void> {
    this.patches.push({ offset, data: data.slice() });
    const size = await this.size();
    if (offset + data.length > size) this.length = offset + data.length;
  }

  async truncate(size: number): Promise<void> {
    this.length = size;
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    await this.base.close();
  }

  /** Zeroes a range without materializing it (log zero descriptors can cover whole blocks). */
  async zero(offset: number, length: number): Promise<void> {
    this.patches.push({ offset, zeroLength: length });
    const size = await this.size();
    if (offset + length > size) this.length = offset + length;
  }
}
