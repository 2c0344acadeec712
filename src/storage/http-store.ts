/**
 * A read-only ByteStore over HTTP Range requests (fetch), so a browser tab or a node process can
 * boot an image from a web server without downloading it. Reads are served in aligned blocks
 * through a small LRU cache, because guests and qcow2 metadata issue many small, nearby reads.
 */
import { StorageError, type ByteStore } from './types.ts';
import { BlockWalk } from './block-walk.ts';

/** The slice of the fetch API used here: the core's tsconfig has no DOM types. */
export interface FetchResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string> },
) => Promise<FetchResponse>;

export interface HttpStoreOptions {
  /** Defaults to the global fetch. */
  fetch?: FetchLike;
  /** Read granularity in bytes (default 64 KiB) and number of cached blocks (default 64). */
  blockSize?: number;
  cacheBlocks?: number;
}

export class HttpStore implements ByteStore {
  readonly readOnly = true;
  private readonly cache = new Map<number, Uint8Array>();
  private readonly blockSize: number;
  private readonly cacheBlocks: number;

  private constructor(
    readonly name: string,
    private readonly fetchFn: FetchLike,
    private readonly length: number,
    opts: HttpStoreOptions,
  ) {
    this.blockSize = opts.blockSize ?? 64 * 1024;
    this.cacheBlocks = opts.cacheBlocks ?? 64;
  }

  /** Learns the length with a one-byte range request (HEAD is often not cached or not allowed). */
  static async open(url: string, opts: HttpStoreOptions = {}): Promise<HttpStore> {
    const fetchFn = opts.fetch ?? (globalThis as unknown as { fetch?: FetchLike }).fetch;
    if (!fetchFn) throw new StorageError('unsupported', 'no fetch() available for HTTP images');
    const res = await request(fetchFn, url, 'bytes=0-0');
    let length: number;
    if (res.status === 206) {
      const m = /\/(\d+)\s*$/.exec(res.headers.get('content-range') ?? '');
      if (!m) throw new StorageError('unsupported', `${url}: server gave no total length in Content-Range`);
      length = Number(m[1]);
      if (!Number.isSafeInteger(length))
        throw new StorageError('too-large', `${url}: total length ${m[1]} in Content-Range is out of range`);
    } else if (res.status === 416) {
      length = 0;
    } else {
      throw new StorageError('unsupported', `${url}: server does not support range requests (HTTP ${res.status})`);
    }
    await res.arrayBuffer().catch(() => undefined);
    return new HttpStore(url, fetchFn, length, opts);
  }

  async size(): Promise<number> {
    return this.length;
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    if (offset < 0) throw new StorageError('out-of-range', `${this.name}: negative read offset ${offset}`);
    buf.fill(0);
    // Past the end of the resource the buffer stays zeros.
    const end = Math.min(offset + buf.length, this.length);
    for (const w = new BlockWalk(this.blockSize, offset, Math.max(0, end - offset)); w.next(); ) {
      const block = await this.block(w.index);
      // A short block (the resource's last) supplies what it has.
      const n = Math.min(w.length, block.length - w.inBlock);
      if (n > 0) buf.set(block.subarray(w.inBlock, w.inBlock + n), w.done);
    }
  }

  async write(_offset: number, _data: Uint8Array): Promise<void> {
    throw new StorageError('read-only', `${this.name} is read-only (HTTP)`);
  }
  async truncate(_size: number): Promise<void> {
    throw new StorageError('read-only', `${this.name} is read-only (HTTP)`);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {
    this.cache.clear();
  }

  private async block(index: number): Promise<Uint8Array> {
    const hit = this.cache.get(index);
    if (hit) {
      this.cache.delete(index);
      this.cache.set(index, hit);
      return hit;
    }
    const start = index * this.blockSize;
    const last = Math.min(this.length, start + this.blockSize) - 1;
    const res = await request(this.fetchFn, this.name, `bytes=${start}-${last}`);
    if (res.status !== 206) {
      throw new StorageError('io', `${this.name}: range ${start}-${last} answered HTTP ${res.status}`);
    }
    // A server that ignores the range would send the whole file: refuse by its declared length
    // before buffering it, and check the real length after.
    const declared = res.headers.get('content-length');
    if (declared !== null && Number(declared) !== last - start + 1) {
      throw new StorageError('io', `${this.name}: range ${start}-${last} announced ${declared} bytes`);
    }
    let data: Uint8Array;
    try {
      data = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      throw new StorageError('io', `${this.name}: range ${start}-${last}: ${(e as Error).message}`);
    }
    if (data.length !== last - start + 1) {
      throw new StorageError('io', `${this.name}: range ${start}-${last} returned ${data.length} bytes`);
    }
    this.cache.set(index, data);
    if (this.cache.size > this.cacheBlocks) this.cache.delete(this.cache.keys().next().value!);
    return data;
  }
}

async function request(fetchFn: FetchLike, url: string, range: string): Promise<FetchResponse> {
  try {
    return await fetchFn(url, { method: 'GET', headers: { Range: range } });
  } catch (e) {
    throw new StorageError('io', `${url}: ${(e as Error).message}`);
  }
}
