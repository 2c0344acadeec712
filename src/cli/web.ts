/**
 * `virtkit web`: builds the browser app (web/) and serves it on 127.0.0.1 with a guest to boot,
 * so `virtkit web` then opening the printed URL boots the default Debian guest in the tab.
 *
 * Served paths: / and the app's files (index.html, style.css, dist/**), /virtkit.json (the
 * page's default configuration), /guest/Image and /guest/initramfs.cpio (the kernel and initrd),
 * and /files/** (the directory given by --files, e.g. disk images to attach by URL). Every file
 * answers single HTTP Range requests, because the page reads disk images lazily through them, and
 * carries an ETag and Last-Modified, which the page keeps in snapshots to notice a replaced disk.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat, readFile } from 'node:fs/promises';
import { join, resolve, sep, extname } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Command } from './main.ts';
import { parseArgs } from './args.ts';
import { CliError, UsageError } from './errors.ts';

const HELP = `usage: virtkit web [options]

Builds virtkit's browser app and serves it on http://127.0.0.1:PORT/ with a guest to boot (by
default the cached Debian guest, fetched first if needed). Open the printed URL: the page boots
the guest in a Web Worker, with the serial console in the tab.

options:
  --port N         TCP port (default 8080; 0 picks a free one)
  --host ADDR      address to listen on (default 127.0.0.1)
  --no-build       serve web/dist as it is (do not rebuild the bundles)
  --kernel FILE    kernel to offer instead of the default guest's
  --initrd FILE    initrd to offer instead of the default guest's
  --append TEXT    kernel command line in the default configuration (default "console=ttyS0")
  --files DIR      also serve DIR under /files/ (e.g. disk images: ?disk=files/disk.qcow2)
  -h, --help       show this help

page parameters (query string): kernel=URL initrd=URL append=TEXT memory=512M cpus=N
  disk=URL[,format=F][,rw] (repeatable; read lazily with HTTP range requests) config=URL (JSON)
  autostart=1. Without kernel= or config=, the page loads virtkit.json from the server.`;

const SPEC = {
  port: 'string',
  host: 'string',
  'no-build': 'boolean',
  kernel: 'string',
  initrd: 'string',
  append: 'string',
  files: 'string',
} as const;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
};

export interface WebServerOptions {
  port: number;
  host?: string;
  /** The app's directory (index.html, style.css, dist/). */
  webRoot: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  filesDir?: string;
}

export interface WebServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

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

async function sendFile(req: IncomingMessage, res: ServerResponse, path: string, type?: string): Promise<void> {
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
function under(dir: string, urlPath: string): string | undefined {
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

export async function startWebServer(o: WebServerOptions): Promise<WebServer> {
  const config = JSON.stringify({
    ...(o.kernel ? { kernel: 'guest/Image' } : {}),
    ...(o.initrd ? { initrd: 'guest/initramfs.cpio' } : {}),
    append: o.append ?? 'console=ttyS0',
  });
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const fail = () => {
      if (!res.headersSent) res.writeHead(500).end();
    };
    if (path === '/' || path === '/index.html') {
      sendFile(req, res, join(o.webRoot, 'index.html')).catch(fail);
    } else if (path === '/style.css') {
      sendFile(req, res, join(o.webRoot, 'style.css')).catch(fail);
    } else if (path.startsWith('/dist/')) {
      const p = under(join(o.webRoot, 'dist'), path.slice('/dist'.length));
      if (p) sendFile(req, res, p).catch(fail);
      else res.writeHead(404).end();
    } else if (path === '/virtkit.json' && o.kernel) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' }).end(config);
    } else if (path === '/guest/Image' && o.kernel) {
      sendFile(req, res, o.kernel).catch(fail);
    } else if (path === '/guest/initramfs.cpio' && o.initrd) {
      sendFile(req, res, o.initrd).catch(fail);
    } else if (path.startsWith('/files/') && o.filesDir) {
      const p = under(o.filesDir, path.slice('/files'.length));
      if (p) sendFile(req, res, p).catch(fail);
      else res.writeHead(404).end();
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((ok, ko) => {
    server.once('error', ko);
    server.listen(o.port, host, () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

export const command: Command = {
  summary: 'serve virtkit in a browser tab (boots the guest in a Web Worker)',
  help: HELP,
  async run(argv) {
    const a = parseArgs(argv, SPEC);
    if (a.positional.length) throw new UsageError(`unexpected argument '${a.positional[0]}'`);
    const f = a.flags;
    const portText = (f.port as string | undefined) ?? '8080';
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`--port must be 0..65535, not '${portText}'`);
    const { buildWeb, WEB_ROOT, WEB_DIST } = await import('../../web/build.ts');
    if (!f['no-build']) {
      try {
        await buildWeb();
      } catch (e) {
        throw new CliError(`cannot build the web app: ${(e as Error).message}`);
      }
    } else {
      try {
        await readFile(join(WEB_DIST, 'worker.js'));
      } catch {
        throw new UsageError(`--no-build: ${WEB_DIST} has no built app (run without --no-build once)`);
      }
    }
    let kernel = f.kernel as string | undefined;
    let initrd = f.initrd as string | undefined;
    if (!kernel) {
      const guest = await import('../host/node/guest/debian-guest.ts');
      let g = await guest.loadGuest();
      if (!g) {
        process.stderr.write("virtkit: the default guest is not cached yet: fetching it ('virtkit guest fetch')\n");
        g = await guest.fetchDefaultGuest({ progress: (m) => process.stderr.write(`virtkit guest: ${m}\n`) });
      }
      kernel = g.kernel;
      initrd ??= g.initrd;
    }
    for (const [what, p] of [
      ['kernel', kernel],
      ['initrd', initrd],
      ['files', f.files as string | undefined],
    ] as const) {
      if (!p) continue;
      try {
        const st = await stat(p);
        if (what === 'files' ? !st.isDirectory() : !st.isFile()) throw new Error('wrong type');
      } catch {
        throw new UsageError(`--${what} '${p}' is not ${what === 'files' ? 'a directory' : 'a readable file'}`);
      }
    }
    let web: WebServer;
    try {
      web = await startWebServer({
        port,
        host: (f.host as string | undefined) ?? '127.0.0.1',
        webRoot: WEB_ROOT,
        kernel: resolve(kernel),
        ...(initrd ? { initrd: resolve(initrd) } : {}),
        ...(f.append !== undefined ? { append: f.append as string } : {}),
        ...(f.files ? { filesDir: resolve(f.files as string) } : {}),
      });
    } catch (e) {
      throw new CliError(`cannot listen on port ${port}: ${(e as Error).message}`);
    }
    process.stdout.write(`virtkit web: serving on ${web.url}\n`);
    await new Promise<void>((ok) => {
      const stop = () => ok();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await web.close();
    return 0;
  },
};
