/**
 * A QMP client (for the manager daemon and tests): connects to a unix socket, reads and checks
 * the greeting, negotiates, then runs commands with ids and timeouts and passes events to
 * listeners. Works with QEMU and with `virtkit run --qmp`.
 *
 * Failures are QmpClientError with one line saying what happened: nothing listening (refused,
 * no such socket), a peer that is not QMP (garbled or missing greeting), a timeout, the
 * connection closing with commands outstanding. A command's own error answer is a
 * QmpCommandError carrying QEMU's class and desc.
 */
import { createConnection, type Socket } from 'node:net';
import { JsonStream } from '../../vmm/qmp/json-stream.ts';
import type { QmpVersion } from '../../vmm/qmp/target.ts';
import { describeError } from './errno-words.ts';

export class QmpClientError extends Error {}

export class QmpCommandError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`${command}: ${errorClass}: ${desc}`);
  }
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

export interface QmpGreeting {
  version: QmpVersion;
  capabilities: unknown[];
}

export interface ConnectOptions {
  /** For the connection and the greeting (default 5000 ms). */
  timeoutMs?: number;
  /** Send qmp_capabilities after the greeting (default true). */
  negotiate?: boolean;
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Pending {
  command: string;
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class QmpClient {
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(e: QmpEvent) => void>();
  private readonly closeListeners = new Set<(why: string) => void>();
  private nextId = 1;
  private ended: string | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly path: string,
    readonly greeting: QmpGreeting,
  ) {}

  static async connect(path: string, opts: ConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const socket = createConnection(path);
    const stream = new JsonStream();
    const fail = (why: string) => new QmpClientError(`QMP ${path}: ${why}`);
    // Until the greeting: what arrives is collected here, and anything after it is kept for the client.
    const greeting = await new Promise<{ greeting: QmpGreeting; rest: unknown[] }>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(fail(`no QMP greeting within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (e?: Error, g?: { greeting: QmpGreeting; rest: unknown[] }) => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onClose);
        if (e) {
          socket.destroy();
          reject(e);
        } else resolve(g!);
      };
      const onError = (e: Error) => done(fail(`cannot connect: ${describeError(e)}`));
      const onClose = () => done(fail('the peer closed the connection before its greeting'));
      const onData = (b: Buffer) => {
        const items = stream.feed(new Uint8Array(b.buffer, b.byteOffset, b.length));
        if (!items.length) return;
        const [first, ...rest] = items;
        const g = first && 'value' in first && isObject(first.value) ? first.value.QMP : undefined;
        if (!isObject(g) || !isObject(g.version) || !Array.isArray(g.capabilities))
          return done(fail(`not a QMP server (it sent ${preview(first)})`));
        done(undefined, {
          greeting: { version: g.version as unknown as QmpVersion, capabilities: g.capabilities },
          rest: rest.map((r) => ('value' in r ? r.value : r)),
        });
      };
      socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onClose);
    });
    const client = new QmpClient(socket, path, greeting.greeting);
    // The greeting's stream carries on: values that came with the greeting are not lost.
    client.attach(stream, greeting.rest);
    if (opts.negotiate ?? true) await client.execute('qmp_capabilities', undefined, { timeoutMs });
    return client;
  }

  private attach(stream: JsonStream, early: unknown[]): void {
    const handle = (v: unknown) => this.receive(v);
    early.forEach(handle);
    this.socket.on('data', (b: Buffer) => {
      for (const item of stream.feed(new Uint8Array(b.buffer, b.byteOffset, b.length))) {
        if ('value' in item) handle(item.value);
        else if (item.fatal) this.shut(`the peer sent an oversized message (${item.error})`);
        else this.shut(`the peer sent malformed JSON (${item.error})`);
      }
    });
    this.socket.on('error', (e) => this.shut(`connection error: ${describeError(e)}`));
    this.socket.on('close', () => this.shut('the connection closed'));
  }

  private receive(v: unknown): void {
    if (!isObject(v)) return this.shut(`the peer sent a non-object (${preview({ value: v })})`);
    if (typeof v.event === 'string') {
      const ev = v as unknown as QmpEvent;
      for (const l of this.listeners) l(ev);
      return;
    }
    const p = typeof v.id === 'number' ? this.pending.get(v.id) : undefined;
    // An answer without one of our ids (e.g. to input the peer could not parse) has nobody waiting.
    if (!p) return;
    this.pending.delete(v.id as number);
    clearTimeout(p.timer);
    if (isObject(v.error)) {
      const e = v.error;
      p.reject(new QmpCommandError(p.command, String(e.class), String(e.desc)));
    } else if (Object.hasOwn(v, 'return')) p.resolve(v.return);
    else p.reject(new QmpClientError(`QMP ${this.path}: ${p.command}: an answer with neither return nor error`));
  }

  private shut(why: string): void {
    if (this.ended) return;
    this.ended = why;
    this.socket.destroy();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new QmpClientError(`QMP ${this.path}: ${p.command}: ${why}`));
    }
    this.pending.clear();
    for (const l of this.closeListeners) l(why);
  }

  /** Runs a command; resolves with its `return`, rejects with QmpCommandError or QmpClientError. */
  execute(command: string, args?: Obj, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    if (this.ended) return Promise.reject(new QmpClientError(`QMP ${this.path}: ${command}: ${this.ended}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer =
        opts.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.pending.delete(id);
              reject(new QmpClientError(`QMP ${this.path}: ${command}: no answer within ${opts.timeoutMs} ms`));
            }, opts.timeoutMs);
      this.pending.set(id, { command, resolve, reject, timer });
      this.socket.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id }) + '\n');
    });
  }

  /** Sends raw text (tests of malformed input). */
  sendRaw(text: string): void {
    this.socket.write(text);
  }

  /** Calls fn for every event; returns the unsubscriber. */
  onEvent(fn: (e: QmpEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Calls fn once the connection ends (with why). */
  onClose(fn: (why: string) => void): () => void {
    if (this.ended) fn(this.ended);
    else this.closeListeners.add(fn);
    return () => this.closeListeners.delete(fn);
  }

  /** Resolves with the next event named `name` (rejects after timeoutMs or when the connection ends). */
  waitEvent(name: string, timeoutMs = 10_000): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const stop = () => {
        clearTimeout(timer);
        off();
        offClose();
      };
      const timer = setTimeout(() => {
        stop();
        reject(new QmpClientError(`QMP ${this.path}: no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onEvent((e) => {
        if (e.event !== name) return;
        stop();
        resolve(e);
      });
      const offClose = this.onClose((why) => {
        stop();
        reject(new QmpClientError(`QMP ${this.path}: waiting for ${name}: ${why}`));
      });
    });
  }

  get closed(): boolean {
    return this.ended !== undefined;
  }

  /** Closes the connection (outstanding commands are rejected). */
  close(): void {
    this.shut('closed by the client');
  }
}

function preview(item: unknown): string {
  const text = JSON.stringify(isObject(item) && 'value' in item ? item.value : item) ?? String(item);
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}
