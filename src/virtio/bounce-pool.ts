/**
 * Reusable host buffers for virtio-blk reads (see blk.ts: reads land in a bounce buffer and are
 * copied into guest RAM only if the request is still current). Allocating a fresh zeroed buffer
 * per read costs more than the read itself for large requests (page faults on every use), so
 * buffers come in power-of-two sizes from 4 KiB and are kept for reuse, up to `maxPooled` bytes.
 */
const MIN_CLASS = 12; // 4 KiB
const MAX_CLASS = 30; // 1 GiB: larger buffers are exact-size and never pooled

export class BouncePool {
  private readonly free: Uint8Array[][] = [];
  /** Bytes held in the free lists. */
  pooled = 0;

  constructor(readonly maxPooled: number) {
    for (let c = 0; c <= MAX_CLASS; c++) this.free.push([]);
  }

  /** Size of the buffer take(bytes) returns. */
  static capacity(bytes: number): number {
    if (bytes > 2 ** MAX_CLASS) return bytes;
    return 2 ** Math.max(MIN_CLASS, 32 - Math.clz32(bytes - 1));
  }

  /** A buffer of capacity(bytes) bytes with arbitrary contents. */
  take(bytes: number): Uint8Array {
    const cap = BouncePool.capacity(bytes);
    const list = cap <= 2 ** MAX_CLASS ? this.free[31 - Math.clz32(cap)]! : undefined;
    const buf = list?.pop();
    if (buf) {
      this.pooled -= cap;
      return buf;
    }
    return new Uint8Array(cap);
  }

  /** Returns a buffer from take() that nothing uses any more. */
  give(buf: Uint8Array): void {
    const cap = buf.length;
    if (cap > 2 ** MAX_CLASS || this.pooled + cap > this.maxPooled) return;
    this.free[31 - Math.clz32(cap)]!.push(buf);
    this.pooled += cap;
  }
}
