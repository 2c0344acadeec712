/**
 * Static file serving over node:http for virtkit's HTTP front ends (`virtkit web` today, the
 * manager's console next): single Range requests (the browser reads disk images lazily through
 * them), ETag/Last-Modified validators (the page records them to notice a replaced disk), and
 * path resolution that never escapes the served directory.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
};

/** Parses a Range header against a file size: [start, end] inclusive, 'bad' (416), or undefined (whole). */
export function parseRange(header: string | undefined, size: number): [number, number] | 'bad' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'bad';
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'bad';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'bad';
  return [start, end];
}

/**
 * ETag and Last-Modified for a file, sent on full and partial answers alike: the page records
 * them with a URL disk in a snapshot and refuses to restore over a file that changed since. The
 * ETag is size + modification time (nanoseconds), as common static servers make it, so a file
 * rewritten with the same size still gets a new tag.
 */
export function fileValidators(size: bigint, mtimeNs: bigint): { etag: string; 'last-modified': string } {
  return {
    etag: `"${size.toString(16)}-${mtimeNs.toString(16)}"`,
    'last-modified': new Date(Number(mtimeNs / 1_000_000n)).toUTCString(),
  };
}

export async function sendFile(req: IncomingMessage, res: ServerResponse, path: string, type?: string): Promise<void> {
  let size: number;
  let validators: Record<string, string>;
  try {
    const st = await stat(path, { bigint: true });
    if (!st.isFile()) throw new Error('not a file');
    size = Number(st.size);
    validators = fileValidators(st.size, st.mtimeNs);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  const headers: Record<string, string | number> = {
    'content-type': type ?? TYPES[extname(path)] ?? 'application/octet-stream',
    'accept-ranges': 'bytes',
    'cache-control': 'no-cache',
    ...validators,
  };
  const range = parseRange(req.headers.range, size);
  if (range === 'bad') {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${size}` }).end();
    return;
  }
  const [start, end] = range ?? [0, size - 1];
  const length = size === 0 ? 0 : end - start + 1;
  if (range) headers['content-range'] = `bytes ${start}-${end}/${size}`;
  headers['content-length'] = length;
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD' || length === 0) {
    res.end();
    return;
  }
  const stream = createReadStream(path, { start, end });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/** Resolves a URL path under a directory, refusing anything that escapes it. */
export function resolveUnder(dir: string, urlPath: string): string | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (rel.includes('\0')) return undefined;
  const root = resolve(dir);
  const p = resolve(root, '.' + (rel.startsWith('/') ? rel : '/' + rel));
  return p === root || p.startsWith(root + sep) ? p : undefined;
}

