/**
 * The HTTP server behind `virtkit web`: the browser app's files, its default configuration
 * (/virtkit.json), the guest's kernel and initrd, and an optional directory of files (disk images)
 * under /files/. Everything is served through static-files.ts, so every file answers Range
 * requests and carries validators.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { resolveUnder, sendFile } from './static-files.ts';

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
      const p = resolveUnder(join(o.webRoot, 'dist'), path.slice('/dist'.length));
      if (p) sendFile(req, res, p).catch(fail);
      else res.writeHead(404).end();
    } else if (path === '/virtkit.json' && o.kernel) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' }).end(config);
    } else if (path === '/guest/Image' && o.kernel) {
      sendFile(req, res, o.kernel).catch(fail);
    } else if (path === '/guest/initramfs.cpio' && o.initrd) {
      sendFile(req, res, o.initrd).catch(fail);
    } else if (path.startsWith('/files/') && o.filesDir) {
      const p = resolveUnder(o.filesDir, path.slice('/files'.length));
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

