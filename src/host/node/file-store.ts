/** A ByteStore over a host file (fs/promises FileHandle): the usual home of a disk image. */
import { open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { StorageError, type ByteStore } from '../../storage/types.ts';

export interface FileStoreOptions {
  readOnly?: boolean;
  /** Create the file (empty) if it does not exist; with `exclusive`, fail if it does. */
  create?: boolean;
  exclusive?: boolean;
}

export class FileStore implements ByteStore {
  private closed = false;

  private constructor(
    readonly name: string,
    private readonly fh: FileHandle,
    readonly readOnly: boolean,
  ) {}

  static async open(path: string, opts: FileStoreOptions = {}): Promise<FileStore> {
    const abs = resolve(path);
    const readOnly = opts.readOnly ?? false;
    const flags = readOnly ? 'r' : opts.create ? (opts.exclusive ? 'wx+' : 'a+') : 'r+';
    let fh: FileHandle;
    try {
      // 'a+' would force appends; it is only used to create, then we reopen read-write.
      fh = await open(abs, flags);
      if (flags === 'a+') {
        await fh.close();
        fh = await open(abs, 'r+');
      }
    } catch (e) {
      throw toStorageError(e, abs);
    }
    return new FileStore(abs, fh, readOnly);
  }

  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    let done = 0;
    try {
      while (done < buf.length) {
        const { bytesRead } = await this.fh.read(buf, done, buf.length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (e) {
      throw toStorageError(e, this.name);
    }
    buf.fill(0, done);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    if (this.readOnly) throw new StorageError('read-only', `${this.name} is read-only`);
    let done = 0;
    try {
      while (done < data.length) {
        const { bytesWritten } = await this.fh.write(data, done, data.length - done, offset + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw toStorageError(e, this.name);
    }
  }

  async truncate(size: number): Promise<void> {
    if (this.readOnly) throw new StorageError('read-only', `${this.name} is read-only`);
    await this.fh.truncate(size).catch((e: unknown) => {
      throw toStorageError(e, this.name);
    });
  }

  async flush(): Promise<void> {
    if (this.readOnly || this.closed) return;
    await this.fh.datasync().catch((e: unknown) => {
      throw toStorageError(e, this.name);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}

function toStorageError(e: unknown, name: string): StorageError {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') return new StorageError('not-found', `${name}: no such file`);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
    return new StorageError('read-only', `${name}: permission denied`);
  return new StorageError('io', `${name}: ${(e as Error).message}`);
}
