/**
 * A VM's serial console served on a unix socket (`virtkit run --console unix:PATH`), for a
 * process with no terminal (the manager's VMs).
 *
 * - Every client first gets the last CONSOLE_RING bytes of output (what a viewer attaching
 *   late needs to see the prompt), then live output. Bytes from any client go to the guest
 *   (the manager decides who may type).
 * - The VM never waits for a client and never buffers for one without bound: a client whose
 *   unread output passes MAX_CONSOLE_QUEUED bytes is dropped (it can reconnect and gets the
 *   ring again); the ring and the console log (console-log.ts) stay complete.
 * - Input is paused for every client while the guest has too much typed input waiting
 *   (pauseInput/resumeInput, driven by an InputGate over the VM's backlog).
 */
import { UnixServer, type UnixClient } from './unix-server.ts';

/** Output kept for clients that attach later. */
export const CONSOLE_RING = 64 * 1024;
/** Unread output per client before it is dropped. */
export const MAX_CONSOLE_QUEUED = 1024 * 1024;

/** The last `size` bytes written. */
export class OutputRing {
  private readonly buf: Uint8Array;
  private end = 0;
  private full = false;

  constructor(readonly size = CONSOLE_RING) {
    this.buf = new Uint8Array(size);
  }

  push(bytes: Uint8Array): void {
    const src = bytes.length > this.size ? bytes.subarray(bytes.length - this.size) : bytes;
    const first = Math.min(src.length, this.size - this.end);
    this.buf.set(src.subarray(0, first), this.end);
    this.buf.set(src.subarray(first), 0);
    if (this.end + src.length >= this.size) this.full = true;
    this.end = (this.end + src.length) % this.size;
  }

  /** The kept bytes, oldest first. */
  contents(): Uint8Array {
    if (!this.full) return this.buf.slice(0, this.end);
    const out = new Uint8Array(this.size);
    out.set(this.buf.subarray(this.end));
    out.set(this.buf.subarray(0, this.end), this.size - this.end);
    return out;
  }
}

export interface ConsoleServerHandlers {
  /** Bytes a client typed for the guest. */
  input(bytes: Uint8Array): void;
}

export class ConsoleServer {
  private readonly ring = new OutputRing();
  private readonly clients = new Set<UnixClient>();
  private inputPaused = false;
  private server!: UnixServer;
  /** Clients dropped for not reading (diagnostics, tests). */
  dropped = 0;

  private constructor(private readonly handlers: ConsoleServerHandlers) {}

  static async listen(
    path: string,
    handlers: ConsoleServerHandlers,
    maxQueued = MAX_CONSOLE_QUEUED,
  ): Promise<ConsoleServer> {
    const c = new ConsoleServer(handlers);
    c.server = await UnixServer.listen(
      path,
      {
        connected: (client) => {
          if (c.inputPaused) client.pause();
          const past = c.ring.contents();
          if (past.length && !client.send(past)) return;
          c.clients.add(client);
        },
        data: (_client, bytes) => c.handlers.input(bytes),
        gone: (client, why) => {
          c.clients.delete(client);
          if (why === 'too-slow') c.dropped++;
        },
      },
      maxQueued,
    );
    return c;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Guest output: kept in the ring and sent to every client. */
  output(bytes: Uint8Array): void {
    this.ring.push(bytes);
    for (const c of this.clients) c.send(bytes);
  }

  pauseInput(): void {
    this.inputPaused = true;
    for (const c of this.clients) c.pause();
  }

  resumeInput(): void {
    this.inputPaused = false;
    for (const c of this.clients) c.resume();
  }

  close(): Promise<void> {
    return this.server.close();
  }
}
