/**
 * A unix-socket server for a VM's control and console sockets (qmp-server.ts,
 * console-server.ts): any number of clients, each with a bounded output queue.
 *
 * - listen: a socket file left by a crashed VM is replaced; one that someone still answers on is
 *   refused ("in use by another process"), a path that is not a socket too. The socket is made
 *   mode 0600: whoever can connect can stop the VM or type as root in its console.
 * - send: what a client has not read yet is counted (the socket's writableLength); past
 *   `maxQueued` bytes the client is dropped, so a client that never reads costs a bounded
 *   amount of memory and never slows the VM or the other clients.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmod, lstat, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describeError } from './errno-words.ts';

/** sun_path holds 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH = 107;

export class SocketPathError extends Error {
  /** Another process holds the path: a runtime condition (exit status 1), not bad input. */
  constructor(
    message: string,
    readonly busy = false,
  ) {
    super(message);
  }
}

export interface UnixClient {
  readonly id: number;
  /** Queues bytes for the client; drops the client (and returns false) past the bound. */
  send(bytes: Uint8Array | string): boolean;
  /** Ends the connection once what is queued is written. */
  end(): void;
  pause(): void;
  resume(): void;
}

export interface UnixServerHandlers {
  connected(c: UnixClient): void;
  data(c: UnixClient, bytes: Uint8Array): void;
  /** The client went away (or was dropped). */
  gone(c: UnixClient, why: 'closed' | 'too-slow'): void;
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class UnixServer {
  private readonly clients = new Map<Socket, UnixClient>();
  private nextId = 1;
  private closed = false;

  private server!: Server;

  private constructor(
    readonly path: string,
    private readonly handlers: UnixServerHandlers,
    private readonly maxQueued: number,
  ) {}

  static async listen(path: string, handlers: UnixServerHandlers, maxQueued: number): Promise<UnixServer> {
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH)
      throw new SocketPathError(`${path}: a unix socket path is at most ${MAX_SOCKET_PATH} bytes long`);
    // (A missing directory makes listen() fail with EACCES on Linux: say what is wrong.)
    const parent = dirname(path);
    if (!(await stat(parent).catch(() => undefined))?.isDirectory())
      throw new SocketPathError(`${path}: the directory ${parent} does not exist`);
    const u = new UnixServer(path, handlers, maxQueued);
    const tryListen = () =>
      new Promise<Server>((resolve, reject) => {
        // Connections are taken from the first instant the socket exists (a client polling for
        // the file may connect before listen() has even reported back).
        const srv = createServer((s) => u.accept(s));
        srv.once('error', reject);
        // Created 0600 from the start (node binds within listen()): no instant with looser modes.
        const umask = process.umask(0o177);
        try {
          srv.listen(path, () => {
            srv.off('error', reject);
            srv.on('error', () => {});
            resolve(srv);
          });
        } finally {
          process.umask(umask);
        }
      });
    try {
      u.server = await tryListen();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE')
        throw new SocketPathError(`${path}: cannot listen: ${describeError(e)}`);
      const st = await lstat(path).catch(() => undefined);
      if (st && !st.isSocket())
        throw new SocketPathError(`${path} exists and is not a socket: remove it or choose another path`);
      // A socket file exists: in use if someone answers, stale (left by a crash) otherwise.
      if (await isListening(path)) throw new SocketPathError(`${path} is already in use by another process`, true);
      await unlink(path).catch(() => {});
      u.server = await tryListen().catch((e2: unknown) => {
        throw new SocketPathError(`${path}: cannot listen: ${describeError(e2)}`);
      });
    }
    await chmod(path, 0o600).catch(() => {});
    return u;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  private accept(s: Socket): void {
    if (this.closed) {
      s.destroy();
      return;
    }
    let gone = false;
    const leave = (why: 'closed' | 'too-slow') => {
      if (gone) return;
      gone = true;
      this.clients.delete(s);
      this.handlers.gone(client, why);
    };
    const client: UnixClient = {
      id: this.nextId++,
      send: (bytes) => {
        if (gone || s.destroyed) return false;
        s.write(bytes);
        if (s.writableLength > this.maxQueued) {
          s.destroy();
          leave('too-slow');
          return false;
        }
        return true;
      },
      end: () => s.end(),
      pause: () => s.pause(),
      resume: () => s.resume(),
    };
    this.clients.set(s, client);
    s.on('data', (b: Buffer) => {
      if (!gone) this.handlers.data(client, new Uint8Array(b.buffer, b.byteOffset, b.length));
    });
    s.on('error', () => {}); // a reset by the peer is its going away ('close' follows)
    s.on('close', () => leave('closed'));
    this.handlers.connected(client);
  }

  /** Stops listening, ends every client (what is queued is still written) and removes the socket file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const done = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.clients.keys()) {
      s.end();
      // A client that does not read its last bytes is not waited for.
      setTimeout(() => s.destroy(), 1000).unref();
    }
    await done;
    await unlink(this.path).catch(() => {});
  }
}
