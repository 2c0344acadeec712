/**
 * A disk of a VM that moved from `virtkit daemon` into this tab: a BlockBackend whose every read,
 * write, flush and zeroing is a request to the daemon's block protocol (docs/manager.md, "Moving
 * a VM into a browser tab"). The daemon opened the image (qcow2 chains and all) and holds its
 * lock; the tab sees the guest-visible bytes, so `format` is the daemon's name for the image, as
 * the VM's snapshot records it, and identities taken here match the daemon's.
 *
 * Requests are at most BLOCK_MAX bytes (the daemon's bound); a larger guest request is split.
 * Nothing is cached here: the guest's page cache is the cache, and a write must reach the daemon
 * before the guest is told it completed. No DOM types (fetch is in Node too): tested under Node.
 */
import { StorageError, type BlockBackend, type ExtentStatus } from '../../storage/types.ts';

/** The daemon's bounds (src/manager/browser-move.ts): one read or write, one zeroing. */
export const BLOCK_MAX = 1 << 20;
export const ZERO_MAX = 1 << 30;

export type RemoteFetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: Uint8Array | string },
) => Promise<{ status: number; ok: boolean; arrayBuffer(): Promise<ArrayBuffer>; text(): Promise<string> }>;

export interface RemoteDiskOptions {
  /** `.../v1/vms/NAME/browser` (absolute, or relative to the worker's origin). */
  base: string;
  index: number;
  size: number;
  format: string;
  readOnly: boolean;
  /** Authorization and the session id. */
  headers: Record<string, string>;
  fetch: RemoteFetch;
}

export class RemoteDisk implements BlockBackend {
  readonly format: string;
  readonly readOnly: boolean;
  readonly size: number;
  private closed = false;

  constructor(private readonly o: RemoteDiskOptions) {
    this.format = o.format;
    this.readOnly = o.readOnly;
    this.size = o.size;
  }

  private url(tail = ''): string {
    return `${this.o.base}/disks/${this.o.index}${tail}`;
  }

  /** One request; a refusal becomes a StorageError with the daemon's message (the guest sees an I/O error). */
  private async request(
    method: string,
    url: string,
    body?: Uint8Array | string,
    type?: string,
  ): Promise<{ arrayBuffer(): Promise<ArrayBuffer> }> {
    if (this.closed) throw new StorageError('io', `disk ${this.o.index}: closed`);
    let res;
    try {
      res = await this.o.fetch(url, {
        method,
        headers: { ...this.o.headers, ...(type ? { 'content-type': type } : {}) },
        ...(body !== undefined ? { body } : {}),
      });
    } catch (e) {
      throw new StorageError('io', `disk ${this.o.index}: the daemon is unreachable (${(e as Error).message})`);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {
        // not the API's error shape
      }
      throw new StorageError('io', `disk ${this.o.index}: the daemon refused (HTTP ${res.status}): ${message}`);
    }
    return res;
  }

  private check(offset: number, length: number): void {
    if (offset < 0 || offset + length > this.size)
      throw new StorageError(
        'out-of-range',
        `disk ${this.o.index}: ${length} bytes at ${offset} are past its end (${this.size})`,
      );
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    this.check(offset, buf.length);
    for (let done = 0; done < buf.length;) {
      const n = Math.min(BLOCK_MAX, buf.length - done);
      const res = await this.request('GET', this.url(`?offset=${offset + done}&length=${n}`));
      const got = new Uint8Array(await res.arrayBuffer());
      if (got.length !== n)
        throw new StorageError('io', `disk ${this.o.index}: the daemon answered ${got.length} bytes for ${n}`);
      buf.set(got, done);
      done += n;
    }
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    if (this.readOnly) throw new StorageError('read-only', `disk ${this.o.index} is read-only`);
    this.check(offset, data.length);
    for (let done = 0; done < data.length;) {
      const n = Math.min(BLOCK_MAX, data.length - done);
      // A copy: the guest's buffer may be reused once this call returns, the body is read later.
      const part = data.slice(done, done + n);
      await this.request('PUT', this.url(`?offset=${offset + done}`), part, 'application/octet-stream');
      done += n;
    }
  }

  async flush(): Promise<void> {
    if (!this.readOnly) await this.request('POST', this.url('/flush'));
  }

  private async zero(offset: number, length: number, discard: boolean): Promise<void> {
    if (this.readOnly) throw new StorageError('read-only', `disk ${this.o.index} is read-only`);
    this.check(offset, length);
    for (let done = 0; done < length;) {
      const n = Math.min(ZERO_MAX, length - done);
      const body = JSON.stringify({ offset: offset + done, length: n, ...(discard ? { discard: true } : {}) });
      await this.request('POST', this.url('/zero'), body, 'application/json');
      done += n;
    }
  }

  discard(offset: number, length: number): Promise<void> {
    return this.zero(offset, length, true);
  }

  writeZeroes(offset: number, length: number): Promise<void> {
    return this.zero(offset, length, false);
  }

  /** The daemon's map is not exported: everything is data as far as the tab can tell. */
  async blockStatus(offset: number, length: number): Promise<ExtentStatus> {
    return { offset, length: Math.min(length, this.size - offset), data: true, zero: false, depth: 0 };
  }

  /** The daemon keeps the image open (and flushes it) until the VM comes back or the session ends. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
