/**
 * The web console (docs/web-console.md): `virtkit daemon --listen` serves a browser app next to
 * the API. Only its files are public (the login page and the bundles, which hold no secret);
 * everything under /v1 and /openapi.json still needs the bearer token.
 *
 * A browser cannot set an Authorization header on a WebSocket, so the console's WebSocket may
 * carry the token as a subprotocol instead: the client offers `virtkit.console` and
 * `virtkit.bearer.TOKEN`, the server checks the second and answers with the first only, so the
 * token is never echoed, never in a URL, and never in a log (the daemon logs no requests).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** The subprotocol the server selects; the client must offer it. */
export const WS_PROTOCOL = 'virtkit.console';
/** Prefix of the subprotocol that carries the token (hex: a valid protocol token). */
export const WS_BEARER_PREFIX = 'virtkit.bearer.';

/** The token offered in a Sec-WebSocket-Protocol header, if any. */
export function bearerFromProtocols(header: string | string[] | undefined): string | undefined {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  for (const p of text.split(',')) {
    const t = p.trim();
    if (t.startsWith(WS_BEARER_PREFIX) && t.length > WS_BEARER_PREFIX.length) return t.slice(WS_BEARER_PREFIX.length);
  }
  return undefined;
}

/** ws's handleProtocols: select `virtkit.console` when offered, never the token-bearing one. */
export function selectProtocol(protocols: Set<string>): string | false {
  return protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false;
}

/** Files of the app, by the name the page asks for under /assets/. */
export type ConsoleBundle = Map<string, Uint8Array>;

export interface WebConsoleOptions {
  /** web/ of the package: console/index.html, console/style.css, dist/console.{js,css}. */
  root: string;
  /**
   * In a git checkout: builds console.js and console.css in memory (esbuild), once, on the first
   * request for them, so a daemon serves what its sources say. Absent (an installed package):
   * the prebuilt web/dist files are served.
   */
  build?: () => Promise<ConsoleBundle>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

/**
 * Same-origin everything; styles may be inline because xterm.js and uPlot inject theirs. No
 * framing (clickjacking of the action buttons).
 */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/**
 * The VM worker (a VM moved into the tab runs there) has its own policy: its translation tier
 * (src/riscv/jit.ts) compiles guest code windows with `new Function`, so it may evaluate; it
 * fetches only the daemon (the VM's disks) and loads nothing else. The page keeps the strict one.
 */
const WORKER_CSP = "default-src 'none'; script-src 'self' 'unsafe-eval'; connect-src 'self'";

/** Registers GET / and GET /assets/* as public routes (`config.public`, see server.ts). */
export function registerWebConsole(app: FastifyInstance, opts: WebConsoleOptions): void {
  let built: Promise<ConsoleBundle> | undefined;
  /** A bundle: built in memory from a checkout, else the prebuilt web/dist file (read per request). */
  const bundled = (name: string) => async (): Promise<Uint8Array> => {
    if (!opts.build) return readFile(join(opts.root, 'dist', name));
    const file = (await (built ??= opts.build())).get(name);
    if (!file) throw new Error(`the build made no ${name}`);
    return file;
  };
  const files: Record<string, () => Promise<Uint8Array>> = {
    'index.html': () => readFile(join(opts.root, 'console', 'index.html')),
    'style.css': () => readFile(join(opts.root, 'console', 'style.css')),
    'console.js': bundled('console.js'),
    'console.css': bundled('console.css'),
    'worker.js': bundled('worker.js'),
  };

  const send = async (reply: FastifyReply, name: string) => {
    let body: Uint8Array;
    try {
      body = await files[name]!();
    } catch (e) {
      built = undefined; // a failed build or a missing file is tried again on the next request
      return reply
        .code(500)
        .type('text/plain; charset=utf-8')
        .send(`the web console is not available: ${(e as Error).message}\n(in a checkout: npm run build)`);
    }
    return reply
      .code(200)
      .header('content-type', TYPES[name.slice(name.lastIndexOf('.'))]!)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('content-security-policy', name === 'worker.js' ? WORKER_CSP : CSP)
      .send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  };

  const route = { schema: { hide: true }, config: { public: true } };
  app.get('/', route, (_req, reply) => send(reply, 'index.html'));
  app.get('/index.html', route, (_req, reply) => send(reply, 'index.html'));
  for (const name of ['style.css', 'console.js', 'console.css', 'worker.js'])
    app.get(`/assets/${name}`, route, (_req, reply) => send(reply, name));
}
