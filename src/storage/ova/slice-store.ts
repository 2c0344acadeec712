/**
 * ByteStores that are windows into another store: a read-only slice (a disk inside an OVA being
 * imported) and a growable window from an offset onward (a disk being written into an OVA).
 */
import { StorageError } from '../types.ts';
import type { ByteStore } from '../types.ts';

export class SliceStore implements ByteStore {
  readonly readOnly = true;
  constructor(
    private readonly base: ByteStore,
    private readonly start: number,
    private readonly length: number,
    readonly name: string,
  ) {}
  async size(): Promise<number> {
    return this.length;
  }
  async read(offset: number, buf: Uint8Array): Promise<void> {
    if (offset < 0) throw new StorageError('out-of-range', `${this.name}: negative read offset ${offset}`);
    const avail = Math.max(0, Math.min(buf.length, this.length - offset));
    if (avail > 0) await this.base.read(this.start + offset, buf.subarray(0, avail));
    buf.fill(0, avail);
  }
  async write(): Promise<void> {
    throw new StorageError('read-only', `${this.name} is inside an OVA and read-only`);
  }
  async truncate(): Promise<void> {
    throw new StorageError('read-only', `${this.name} is inside an OVA and read-only`);
  }
  async flush(): Promise<void> {}
  /** The OVA store stays open: it holds the other disks too. */
  async close(): Promise<void> {}
}

export class WindowStore implements ByteStore {
  readonly readOnly = false;
  private length = 0;
  constructor(
    private readonly base: ByteStore,
    private readonly start: number,
    readonly name: string,
  ) {}
  async size(): Promise<number> {
    return this.length;
  }
  async read(offset: number, buf: Uint8Array): Promise<void> {
    const avail = Math.max(0, Math.min(buf.length, this.length - offset));
    if (avail > 0) await this.base.read(this.start + offset, buf.subarray(0, avail));
    buf.fill(0, avail);
  }
  async write(offset: number, data: Uint8Array): Promise<void> {
    if (offset < 0) throw new StorageError('out-of-range', `${this.name}: negative write offset ${offset}`);
    await this.base.write(this.start + offset, data);
    this.length = Math.max(this.length, offset + data.length);
  }
  async truncate(size: number): Promise<void> {
    // Shrinking only moves our end; the tar writer overwrites whatever lies beyond it.
    if (size > this.length) await this.base.write(this.start + size - 1, new Uint8Array(1));
    this.length = size;
  }
  async flush(): Promise<void> {
    await this.base.flush();
  }
  async close(): Promise<void> {}
}
