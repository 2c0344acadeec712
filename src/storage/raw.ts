/**
 * The raw format: the virtual disk is the store, byte for byte. It is also the fallback when no
 * other format recognises a file, so its probe score is the lowest non-zero one.
 */
import type { CreateOptions, ImageFormat, OpenOptions } from './formats.ts';
import { discardBytes, zeroBytes } from './zero-range.ts';
import { checkRange, StorageError, type BlockBackend, type ByteStore, type ExtentStatus } from './types.ts';

export class RawBackend implements BlockBackend {
  readonly format = 'raw';
  private closed = false;

  constructor(
    private readonly store: ByteStore,
    public size: number,
    readonly readOnly: boolean,
  ) {}

  async read(offset: number, buf: Uint8Array): Promise<void> {
    checkRange(this, offset, buf.length, 'read');
    await this.store.read(offset, buf);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.checkWritable();
    checkRange(this, offset, data.length, 'write');
    await this.store.write(offset, data);
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    this.checkWritable();
    checkRange(this, offset, length, 'write-zeroes');
    await zeroBytes(this.store, offset, length);
  }

  /** Punches holes where the store can, else nothing: never zero-fills (see BlockBackend.discard). */
  async discard(offset: number, length: number): Promise<void> {
    this.checkWritable();
    checkRange(this, offset, length, 'discard');
    await discardBytes(this.store, offset, length);
  }

  async blockStatus(offset: number, length: number): Promise<ExtentStatus> {
    checkRange(this, offset, length, 'block-status');
    return { offset, length, data: true, zero: false, depth: 0, hostOffset: offset };
  }

  async resize(newSize: number): Promise<void> {
    this.checkWritable();
    await this.store.truncate(newSize);
    this.size = newSize;
  }

  async flush(): Promise<void> {
    if (!this.readOnly) await this.store.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
    await this.store.close();
  }

  private checkWritable(): void {
    if (this.readOnly) throw new StorageError('read-only', `${this.store.name} is opened read-only`);
  }
}

export const rawFormat: ImageFormat = {
  name: 'raw',
  probe: () => 1,
  async open(store: ByteStore, opts: OpenOptions): Promise<BlockBackend> {
    const readOnly = opts.readOnly ?? store.readOnly;
    if (!readOnly && store.readOnly) throw new StorageError('read-only', `${store.name} cannot be opened for writing`);
    return new RawBackend(store, await store.size(), readOnly);
  },
  async create(store: ByteStore, size: number, opts: CreateOptions): Promise<void> {
    if (opts.backingFile) throw new StorageError('unsupported', 'raw images cannot have a backing file');
    if (!Number.isSafeInteger(size) || size < 0) throw new StorageError('out-of-range', `bad image size ${size}`);
    const prealloc = opts.options.preallocation ?? 'off';
    if (!['off', 'falloc', 'full'].includes(prealloc)) {
      throw new StorageError('unsupported', `raw: unknown preallocation mode '${prealloc}'`);
    }
    await store.truncate(size);
  },
};
