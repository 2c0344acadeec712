/**
 * A read-only ByteStore over a Blob or File (a file the user picked or dropped on the page).
 * Reads slice the blob, so a multi-gigabyte disk image is never loaded whole.
 */
import { StorageError, type ByteStore } from '../../storage/types.ts';

/** The part of the DOM Blob interface used here (the host adapters compile without DOM types). */
export interface BlobLike {
  readonly size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export class BlobStore implements ByteStore {
  readonly readOnly = true;

  constructor(
    readonly name: string,
    private readonly blob: BlobLike,
  ) {}

  async size(): Promise<number> {
    return this.blob.size;
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    if (offset < 0) throw new StorageError('out-of-range', `${this.name}: negative read offset ${offset}`);
    buf.fill(0);
    const end = Math.min(offset + buf.length, this.blob.size);
    if (end <= offset) return;
    let data: ArrayBuffer;
    try {
      data = await this.blob.slice(offset, end).arrayBuffer();
    } catch (e) {
      throw new StorageError('io', `${this.name}: cannot read the file (${(e as Error).message})`);
    }
    if (data.byteLength !== end - offset)
      throw new StorageError('io', `${this.name}: file changed while in use (short read at ${offset})`);
    buf.set(new Uint8Array(data));
  }

  async write(): Promise<void> {
    throw new StorageError('read-only', `${this.name} is read-only`);
  }
  async truncate(): Promise<void> {
    throw new StorageError('read-only', `${this.name} is read-only`);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
