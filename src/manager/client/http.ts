/**
 * The REST client `virtkit vm` uses: JSON requests to the daemon over its unix socket (node:http
 * with socketPath) or over TCP with a bearer token. Answers are bounded (MAX_ANSWER) so a broken
 * or hostile server cannot make the client hold unbounded memory.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { ApiError, ClientError, DaemonUnreachable } from './errors.ts';
import { describeEndpoint, type Endpoint } from './endpoint.ts';
import { SseParser, type SseEvent } from './sse.ts';

/** The largest answer body read (a VM list of thousands is a few MB). */
export const MAX_ANSWER = 16 * 1024 * 1024;

/** Connection errors that mean nobody is there, with their words. */
const UNREACHABLE: Record<string, string> = {
  ENOENT: 'no such socket',
  ECONNREFUSED: 'connection refused',
  ENOTSOCK: 'not a socket',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

export class ApiClient {
  constructor(readonly endpoint: Endpoint) {}

  get where(): string {
    return describeEndpoint(this.endpoint);
  }

  /** Options for node:http (and ws) to reach `path` on the daemon. */
  requestOptions(method: string, path: string): RequestOptions {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.endpoint.kind === 'unix') return { socketPath: this.endpoint.socketPath, path, method, headers };
    if (this.endpoint.token !== undefined) headers.authorization = `Bearer ${this.endpoint.token}`;
    const u = this.endpoint.url;
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port), path, method, headers };
  }

  /** Sends a request; resolves to the parsed JSON answer (undefined for 204), rejects with ApiError etc. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
    const text = await readBody(res);
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      if (status === 204 || text.length === 0) return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new ClientError(`the daemon at ${this.where} sent an answer that is not JSON (HTTP ${status})`);
      }
    }
    throw apiError(status, text);
  }

  /**
   * Follows a server-sent-events stream: calls onEvent for each event until the server ends the
   * stream (resolves) or close() is called (resolves). HTTP errors reject as request() does.
   */
  stream(path: string, onEvent: (e: SseEvent) => void): { done: Promise<void>; close(): void } {
    let req: ClientRequest | undefined;
    let closed = false;
    const done = (async () => {
      const res = await this.send('GET', path, undefined, (r) => (req = r), 'text/event-stream');
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw apiError(status, await readBody(res));
      const parser = new SseParser(onEvent);
      await new Promise<void>((resolve, reject) => {
        res.on('data', (chunk: Buffer) => {
          try {
            parser.push(chunk.toString('utf8'));
          } catch (e) {
            res.destroy();
            reject(e);
          }
        });
        res.on('end', () => resolve());
        res.on('close', () => resolve());
        res.on('error', (e) => (closed ? resolve() : reject(new ClientError(`event stream broke: ${e.message}`))));
      });
    })();
    return {
      done,
      close() {
        closed = true;
        req?.destroy();
      },
    };
  }

  private send(
    method: string,
    path: string,
    body: unknown,
    onRequest?: (r: ClientRequest) => void,
    accept?: string,
  ): Promise<IncomingMessage> {
    const options = this.requestOptions(method, path);
    const headers = options.headers as Record<string, string>;
    if (accept) headers.accept = accept;
    let payload: Buffer | undefined;
    if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    return new Promise((resolve, reject) => {
      const req = httpRequest(options, resolve);
      onRequest?.(req);
      req.on('error', (e: NodeJS.ErrnoException) => {
        const why = e.code && Object.hasOwn(UNREACHABLE, e.code) ? UNREACHABLE[e.code] : undefined;
        if (why) reject(new DaemonUnreachable(this.where, why));
        else if (e.code === 'EACCES') reject(new ClientError(`cannot connect to ${this.where}: permission denied`));
        else if (e.code === 'ECONNRESET' || e.message === 'socket hang up')
          reject(new ClientError(`the daemon at ${this.where} closed the connection without an answer`));
        else reject(new ClientError(`cannot talk to the daemon at ${this.where}: ${e.message}`));
      });
      req.end(payload);
    });
  }
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_ANSWER) {
        res.destroy();
        reject(new ClientError(`the daemon's answer is larger than ${MAX_ANSWER / 1024 / 1024} MiB`));
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', (e) => reject(new ClientError(`reading the daemon's answer failed: ${e.message}`)));
  });
}

/** An HTTP error answer as an ApiError: the API's `{error: {code, message}}`, else its status line. */
export function apiError(status: number, text: string): ApiError {
  try {
    const j = JSON.parse(text) as { error?: { code?: unknown; message?: unknown }; message?: unknown };
    const e = j.error;
    if (e && typeof e === 'object' && typeof e.message === 'string')
      return new ApiError(status, typeof e.code === 'string' ? e.code : String(status), oneLine(e.message));
    // Fastify's own shape ({statusCode, error, message}) for answers the daemon did not shape.
    if (typeof j.message === 'string') return new ApiError(status, String(status), oneLine(j.message));
  } catch {
    // not JSON: fall through
  }
  const first = oneLine(text).slice(0, 200);
  return new ApiError(status, String(status), `HTTP ${status}${first ? `: ${first}` : ''}`);
}

/** Messages are shown on one line: newlines and runs of blanks become one space. */
function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
