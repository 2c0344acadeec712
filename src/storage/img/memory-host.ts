/**
 * An ImgHost over named in-memory files: the img verbs in a browser tab, and unit tests that do
 * not touch the disk. Paths are plain names; '/' separates directories for relative backing names.
 */
import { MemoryStore } from '../memory-store.ts';
import { StorageError, type ByteStore } from '../types.ts';
import type { ImgHost } from './context.ts';

export class MemoryImgHost implements ImgHost {
  readonly files = new Map<string, MemoryStore>();

  async openFile(path: string, readOnly: boolean): Promise<ByteStore> {
    const f = this.files.get(path);
    if (!f) throw new StorageError('not-found', `${path}: no such file`);
    return readOnly ? new ReadOnlyView(f) : f;
  }

  async createFile(path: string): Promise<ByteStore> {
    const f = new MemoryStore(path);
    this.files.set(path, f);
    return f;
  }

  resolve(imagePath: string, name: string): string {
    if (name.startsWith('/')) return name;
    const slash = imagePath.lastIndexOf('/');
    return slash < 0 ? name : imagePath.slice(0, slash + 1) + name;
  }

  /** The current bytes of a file (a copy). */
  bytes(path: string): Uint8Array {
    const f = this.files.get(path);
    if (!f) throw new StorageError('not-found', `${path}: no such file`);
    return f.bytes();
  }
}

/** A read-only window on a live MemoryStore: later writes by others stay visible, ours are refused. */
class ReadOnlyView implements ByteStore {
  readonly readOnly = true;
  constructor(private readonly inner: MemoryStore) {}
  get name(): string {
    return this.inner.name;
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  read(offset: number, buf: Uint8Array): Promise<void> {
    return this.inner.read(offset, buf);
  }
  async write(): Promise<void> {
    throw new StorageError('read-only', `${this.inner.name} is opened read-only`);
  }
  async truncate(): Promise<void> {
    throw new StorageError('read-only', `${this.inner.name} is opened read-only`);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
