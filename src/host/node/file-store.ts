/** A ByteStore over a host file (fs/promises FileHandle): the usual home of a disk image. */
import { read as fsRead, write as fsWrite } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { StorageError, type ByteStore } from '../../storage/types.ts';
import { HolePuncher } from './hole-puncher.ts';
import { lockImageFd, type LockMode } from './image-lock.ts';
import { describeError } from './errno-words.ts';

export interface FileStoreOptions {
  readOnly?: boolean;
  /** Create the file (empty) if it does not exist; with `exclusive`, fail if it does. */
  create?: boolean;
  exclusive?: boolean;
  /** With `create`: an existing file is emptied as it is opened (O_TRUNC, one system call). */
  truncate?: boolean;
  /**
   * Take QEMU-compatible image locks (image-lock.ts) on the open file before using it; a
   * conflict with another opener fails the open with StorageError('locked'). With `truncate`,
   * the file is emptied only after the locks are held, so a disk in use is never clobbered.
   */
  lock?: LockMode;
}

export class FileStore implements ByteStore {
  private closed = false;
  /**
   * A writable store owns its file, so it tracks the length itself instead of asking the file
   * system (formats ask for it on every allocation). It never falls below the real length: it
   * grows when a write starts, so a concurrent caller sees at least what is being written.
   */
  private knownSize: number | undefined;
  /** The highest end of the writes started since the last truncate began. */
  private writeHigh = 0;
  private puncher: HolePuncher | undefined;
  /** Releases this store's image locks (image-lock.ts); undefined when it holds none. */
  private unlock: (() => Promise<void>) | undefined;

  private constructor(
    readonly name: string,
    private readonly fh: FileHandle,
    readonly readOnly: boolean,
  ) {}

  static async open(path: string, opts: FileStoreOptions = {}): Promise<FileStore> {
    const abs = resolve(path);
    const readOnly = opts.readOnly ?? false;
    // Locking and truncating: open without O_TRUNC, lock, then truncate.
    const truncateAfterLock = opts.lock !== undefined && opts.truncate === true && !opts.exclusive;
    const flags = readOnly
      ? 'r'
      : opts.create
        ? opts.exclusive
          ? 'wx+'
          : opts.truncate && !truncateAfterLock
            ? 'w+'
            : 'a+'
        : 'r+';
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
    const store = new FileStore(abs, fh, readOnly);
    try {
      if (opts.lock) store.unlock = await lockImageFd(fh.fd, opts.lock, path);
      if (truncateAfterLock) await fh.truncate(0);
    } catch (e) {
      await fh.close().catch(() => {});
      await store.unlock?.();
      throw e instanceof StorageError ? e : toStorageError(e, abs);
    }
    if (!readOnly)
      store.knownSize = flags === 'w+' || flags === 'wx+' || truncateAfterLock ? 0 : await store.statSize();
    return store;
  }

  async size(): Promise<number> {
    return this.knownSize ?? this.statSize();
  }

  private async statSize(): Promise<number> {
    try {
      return (await this.fh.stat()).size;
    } catch (e) {
      throw toStorageError(e, this.name);
    }
  }

  /*
   * Data I/O goes through the descriptor with fs's callback API, not FileHandle's methods: same
   * system calls, but about half the JavaScript per request (FileHandle wraps each one in
   * reference counting and several promises), which shows in a conversion's CPU time. The
   * FileHandle still owns the descriptor; close() waits for nothing, so callers must not close
   * a store with requests in flight (no backend does).
   */
  async read(offset: number, buf: Uint8Array): Promise<void> {
    let done = 0;
    try {
      while (done < buf.length) {
        const n = await ioOnce(fsRead, this.fh.fd, buf, done, buf.length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
    } catch (e) {
      throw toStorageError(e, this.name);
    }
    buf.fill(0, done);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    if (this.readOnly) throw new StorageError('read-only', `${this.name} is read-only`);
    if (data.length > 0) {
      this.writeHigh = Math.max(this.writeHigh, offset + data.length);
      if (this.knownSize !== undefined) this.knownSize = Math.max(this.knownSize, offset + data.length);
    }
    let done = 0;
    try {
      while (done < data.length) {
        done += await ioOnce(fsWrite, this.fh.fd, data, done, data.length - done, offset + done);
      }
    } catch (e) {
      throw toStorageError(e, this.name);
    }
  }

  async truncate(size: number): Promise<void> {
    if (this.readOnly) throw new StorageError('read-only', `${this.name} is read-only`);
    // Unknown while it runs (and if it fails): the next size() asks the file system. Writes
    // started meanwhile may end past the new length.
    this.knownSize = undefined;
    this.writeHigh = 0;
    await this.fh.truncate(size).catch((e: unknown) => {
      throw toStorageError(e, this.name);
    });
    this.knownSize = Math.max(size, this.writeHigh);
  }

  /** Deallocates the range, keeping the length (see hole-puncher.ts); false where the host cannot. */
  async punchHole(offset: number, length: number): Promise<boolean> {
    if (this.readOnly) throw new StorageError('read-only', `${this.name} is read-only`);
    if (this.closed) return false;
    this.puncher ??= new HolePuncher(this.fh.fd);
    return this.puncher.punch(offset, length);
  }

  /** The file's mtime in milliseconds; undefined when the file system will not say. */
  async modifiedTime(): Promise<number | undefined> {
    if (this.closed) return undefined;
    return this.fh.stat().then(
      (st) => st.mtimeMs,
      () => undefined,
    );
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
    try {
      await this.fh.close();
    } finally {
      await this.unlock?.();
    }
  }
}

type IoCall = (
  fd: number,
  buf: Uint8Array,
  off: number,
  len: number,
  pos: number,
  cb: (err: NodeJS.ErrnoException | null, n: number) => void,
) => void;

/** One pread/pwrite on the thread pool: the byte count it moved. */
function ioOnce(call: IoCall, fd: number, buf: Uint8Array, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => call(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));
}

function toStorageError(e: unknown, name: string): StorageError {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') return new StorageError('not-found', `${name}: no such file`);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
    return new StorageError('read-only', `${name}: ${describeError(e)}`);
  return new StorageError('io', `${name}: ${describeError(e)}`);
}
