/**
 * Downloading a kernel or initrd by URL with progress, and telling the user precisely what went
 * wrong: unreachable server, missing file (HTTP 404), a transfer that ended early, an empty
 * file, or one too large to hold. Uses the fetch API only, so it runs in a worker and in Node.
 */

export class DownloadError extends Error {
  constructor(
    readonly url: string,
    message: string,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

export interface Progress {
  loaded: number;
  /** From Content-Length; undefined when the server did not say. */
  total: number | undefined;
}

interface StreamReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(): Promise<void>;
}
interface DownloadResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  readonly body: { getReader(): StreamReader } | null;
  arrayBuffer(): Promise<ArrayBuffer>;
}
export type DownloadFetch = (url: string) => Promise<DownloadResponse>;

export interface DownloadOptions {
  onProgress?: (p: Progress) => void;
  /** Largest accepted body (default 1 GiB): guest RAM bounds what can be used anyway. */
  maxBytes?: number;
  fetch?: DownloadFetch;
}

/** Fetches url whole; every failure is a DownloadError whose message names the URL and the problem. */
export async function download(url: string, what: string, opts: DownloadOptions = {}): Promise<Uint8Array> {
  const fetchFn = opts.fetch ?? (globalThis as unknown as { fetch: DownloadFetch }).fetch;
  const maxBytes = opts.maxBytes ?? 2 ** 30;
  let res: DownloadResponse;
  try {
    res = await fetchFn(url);
  } catch (e) {
    throw new DownloadError(url, `cannot reach ${what} URL ${url}: ${(e as Error).message || 'network error'}`);
  }
  if (!res.ok) {
    const why = res.status === 404 ? 'not found' : 'request failed';
    throw new DownloadError(
      url,
      `${what} URL ${url}: ${why} (HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''})`,
    );
  }
  const lenText = res.headers.get('content-length');
  // A compressed transfer's Content-Length counts encoded bytes, not the bytes we receive.
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const total = lenText !== null && /^\d+$/.test(lenText) && !encoded ? Number(lenText) : undefined;
  if (total !== undefined && total > maxBytes)
    throw new DownloadError(url, `${what} ${url} is ${total} bytes, more than the ${maxBytes} accepted`);
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  opts.onProgress?.({ loaded, total });
  try {
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!value) continue;
        loaded += value.length;
        if (loaded > maxBytes) {
          await reader.cancel().catch(() => {});
          throw new DownloadError(url, `${what} ${url} is larger than the ${maxBytes} bytes accepted`);
        }
        chunks.push(value);
        opts.onProgress?.({ loaded, total });
      }
    } else {
      const all = new Uint8Array(await res.arrayBuffer());
      loaded = all.length;
      chunks.push(all);
      opts.onProgress?.({ loaded, total });
    }
  } catch (e) {
    if (e instanceof DownloadError) throw e;
    throw new DownloadError(
      url,
      `${what} ${url} is truncated: the transfer broke off after ${loaded}${total !== undefined ? ` of ${total}` : ''} bytes (${(e as Error).message})`,
    );
  }
  if (total !== undefined && loaded !== total)
    throw new DownloadError(url, `${what} ${url} is truncated: got ${loaded} of ${total} bytes`);
  if (loaded === 0) throw new DownloadError(url, `${what} ${url} is empty`);
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(loaded);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
