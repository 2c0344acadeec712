/**
 * Copy-on-write over a read-only ByteStore: writes land in memory, in 4 KiB blocks, and reads
 * see them on top of the base. A browser tab cannot write to a picked file or a URL, so a disk
 * the guest may write to is one of these; its changes last as long as the tab.
 *
 * Memory is bounded by what the guest writes (one block per distinct 4 KiB written), and the
 * store refuses to grow past maxBytes so a guest cannot exhaust the tab.
 */
import { StorageError, type ByteStore } from '../../storage/types.ts';

export const OVERLAY_BLOCK = 4096;
const BLOCK = OVERLAY_BLOCK;

/**
 * Everything an overlay adds to its base, as plain data: its written blocks (index -> 4 KiB,
 * ascending) and its sizes. A snapshot keeps this so a restored guest sees the disk it wrote.
 */
export interface OverlayContents {
  /** The base's size when the overlay was opened (a restore checks it is the same base). */
  baseSize: number;
  /** How much of the base is still visible (a truncation hides the rest for good). */
  baseLength: number;
  length: number;
  blocks: [index: number, data: Uint8Array][];
}

export class OverlayStore implements ByteStore {
  readonly readOnly = false;
  private readonly blocks = new Map<number, Uint8Array>();
  private length: number;

  private constructor(
    private readonly base: ByteStore,
    private readonly baseSize: number,
    private readonly maxBytes: number,
  ) {
    this.baseLength = baseSize;
    this.length = baseSize;
  }
  private baseLength: number;

  get name(): string {
    return this.base.name;
  }

  /** maxBytes caps the store's size (default: the base's size or 1 TiB when it grows). */
  static async open(base: ByteStore, maxBytes = 2 ** 40): Promise<OverlayStore> {
    return new OverlayStore(base, await base.size(), maxBytes);
  }

  /** Bytes held in memory for written blocks. */
  get overlayBytes(): number {
    return this.blocks.size * BLOCK;
  }

  async size(): Promise<number> {
    return this.length;
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    if (offset < 0) throw new StorageError('out-of-range', `${this.name}: negative read offset ${offset}`);
    const end = offset + buf.length;
    // Base first (bounded by the base's live length), then the written blocks on top.
    buf.fill(0);
    const baseEnd = Math.min(end, this.baseLength, this.length);
    if (baseEnd > offset) await this.base.read(offset, buf.subarray(0, baseEnd - offset));
    for (let b = Math.floor(offset / BLOCK); b * BLOCK < end; b++) {
      const blk = this.blocks.get(b);
      if (!blk) continue;
      const from = Math.max(offset, b * BLOCK);
      const to = Math.min(end, b * BLOCK + BLOCK, this.length);
      if (to > from) buf.set(blk.subarray(from - b * BLOCK, to - b * BLOCK), from - offset);
    }
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    if (offset < 0) throw new StorageError('out-of-range', `${this.name}: negative write offset ${offset}`);
    const end = offset + data.length;
    if (end > this.maxBytes)
      throw new StorageError(
        'too-large',
        `${this.name}: write past ${this.maxBytes} bytes refused (in-memory overlay)`,
      );
    for (let b = Math.floor(offset / BLOCK); b * BLOCK < end; b++) {
      let blk = this.blocks.get(b);
      if (!blk) {
        blk = new Uint8Array(BLOCK);
        await this.read(b * BLOCK, blk);
        this.blocks.set(b, blk);
      }
      const from = Math.max(offset, b * BLOCK);
      const to = Math.min(end, b * BLOCK + BLOCK);
      blk.set(data.subarray(from - offset, to - offset), from - b * BLOCK);
    }
    if (end > this.length) this.length = end;
  }

  async truncate(size: number): Promise<void> {
    if (size < 0 || size > this.maxBytes)
      throw new StorageError('too-large', `${this.name}: cannot resize to ${size} bytes`);
    if (size < this.length) {
      // Zero what lies past the new end inside kept blocks, drop whole blocks past it, and
      // hide the base past it (growing again must read zeros there).
      for (const [b, blk] of this.blocks) {
        if (b * BLOCK >= size) this.blocks.delete(b);
        else if (b * BLOCK + BLOCK > size) blk.fill(0, size - b * BLOCK);
      }
      this.baseLength = Math.min(this.baseLength, size);
    }
    this.length = size;
  }

  /** A copy of the written blocks and sizes (see OverlayContents). */
  exportContents(): OverlayContents {
    const blocks = [...this.blocks].sort((a, b) => a[0] - b[0]);
    return {
      baseSize: this.baseSize,
      baseLength: this.baseLength,
      length: this.length,
      blocks: blocks.map(([i, b]) => [i, b.slice()]),
    };
  }

  /**
   * Replaces this overlay's changes with saved ones. Checks they fit this base and this store's
   * limit, so a snapshot from another disk or a corrupt one is refused rather than half applied.
   */
  importContents(c: OverlayContents): void {
    if (c.baseSize !== this.baseSize)
      throw new StorageError(
        'corrupt',
        `${this.name}: the saved changes were made to a ${c.baseSize}-byte disk, this one has ${this.baseSize} bytes`,
      );
    const ok = (n: number) => Number.isSafeInteger(n) && n >= 0;
    if (!ok(c.length) || c.length > this.maxBytes || !ok(c.baseLength) || c.baseLength > Math.min(c.length, c.baseSize))
      throw new StorageError('corrupt', `${this.name}: saved overlay sizes are inconsistent`);
    let last = -1;
    for (const [i, data] of c.blocks) {
      if (!ok(i) || i <= last || i * BLOCK >= c.length || data.length !== BLOCK)
        throw new StorageError('corrupt', `${this.name}: saved overlay block ${i} is out of order or out of range`);
      last = i;
    }
    this.blocks.clear();
    for (const [i, data] of c.blocks) this.blocks.set(i, data.slice());
    this.baseLength = c.baseLength;
    this.length = c.length;
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.blocks.clear();
    await this.base.close();
  }
}
