/**
 * A QMP monitor (QEMU Machine Protocol, docs/interop/qmp-spec in QEMU): the protocol engine,
 * platform-neutral. Each connection gets the greeting, must negotiate with `qmp_capabilities`,
 * then sends commands and receives their answers and the monitor's events.
 *
 * Why QEMU's wire shapes and not our own: the manager daemon, scripts and existing tools
 * (qmp-shell, libvirt-style clients, python's qemu.qmp) already speak QMP; a virtkit VM that
 * answers exactly as QEMU does (greeting, error classes, event envelopes) can be driven by any
 * of them, and our compatibility test holds both to one conversation.
 *
 * Order and bounds: a connection's commands run one at a time in arrival order (an async one,
 * such as a savevm, holds the ones behind it); at most MAX_QUEUED parsed commands wait, and past
 * that the host is asked to stop reading (pauseInput) until they drain, as QEMU suspends a
 * monitor whose queue is full. Input values are bounded by JsonStream; output bounds are the
 * host's (its send() drops a client that does not read).
 */
import { JsonStream } from './json-stream.ts';
import type { QmpTarget } from './target.ts';

export type QmpErrorClass = 'GenericError' | 'CommandNotFound';

/** A command's failure, answered as `{"error": {"class", "desc"}}`. */
export class QmpError extends Error {
  constructor(
    readonly errorClass: QmpErrorClass,
    desc: string,
  ) {
    super(desc);
  }
}

export type QmpArgType = 'string' | 'boolean' | 'integer' | 'number' | 'array' | 'object';

export interface QmpCommandDef {
  /** Declared arguments; any other is refused as QEMU refuses it ("Parameter 'x' is unexpected"). */
  args?: Record<string, { type: QmpArgType; optional?: boolean }>;
  /** The answer (`{}` when undefined); a thrown QmpError is the error answer. */
  run(args: Record<string, unknown>, conn: QmpConnection): unknown;
}

/** How the monitor reaches one client (the host's socket). */
export interface QmpConnectionHooks {
  /** One message, already terminated by CRLF as QEMU terminates them. */
  send(text: string): void;
  /** The monitor ends the connection (fatal input: a value past the size or depth bound). */
  close(): void;
  pauseInput?(): void;
  resumeInput?(): void;
}

/** Parsed commands waiting per connection before its input is paused (QEMU's queue length). */
export const MAX_QUEUED = 8;

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeOk(v: unknown, t: QmpArgType): boolean {
  switch (t) {
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
    case 'integer':
      return Number.isSafeInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'array':
      return Array.isArray(v);
    case 'object':
      return isObject(v);
  }
}

/** Checks arguments as QEMU's input visitor does: declared members first, then leftovers. */
function checkArgs(def: QmpCommandDef, args: Obj): void {
  const spec = def.args ?? {};
  for (const [name, a] of Object.entries(spec)) {
    if (!Object.hasOwn(args, name)) {
      if (!a.optional) throw new QmpError('GenericError', `Parameter '${name}' is missing`);
    } else if (!typeOk(args[name], a.type)) {
      throw new QmpError('GenericError', `Invalid parameter type for '${name}', expected: ${a.type}`);
    }
  }
  for (const name of Object.keys(args))
    if (!Object.hasOwn(spec, name)) throw new QmpError('GenericError', `Parameter '${name}' is unexpected`);
}

/** Microseconds since the Unix epoch (QMP event timestamps; the core has Date, not performance). */
const wallMicros = () => Date.now() * 1000;

export class QmpMonitor {
  private readonly commands = new Map<string, QmpCommandDef>();
  private readonly connections = new Set<QmpConnection>();
  private shutdownSent = false;

  constructor(
    readonly target: QmpTarget,
    private readonly micros: () => number = wallMicros,
  ) {}

  register(name: string, def: QmpCommandDef): void {
    this.commands.set(name, def);
  }

  command(name: string): QmpCommandDef | undefined {
    return this.commands.get(name);
  }

  get commandNames(): string[] {
    return [...this.commands.keys()];
  }

  /** A new client: it is sent the greeting at once. */
  connect(hooks: QmpConnectionHooks): QmpConnection {
    const c = new QmpConnection(this, hooks);
    this.connections.add(c);
    const { version } = this.target;
    // QEMU's greeting; `capabilities` is empty: virtkit offers no out-of-band execution.
    c.send({ QMP: { version, capabilities: [] } });
    return c;
  }

  /** @internal */
  forget(c: QmpConnection): void {
    this.connections.delete(c);
  }

  /** Sends an event to every connection past negotiation (QEMU sends none before). */
  emit(event: string, data?: Obj): void {
    // One SHUTDOWN per VM: `quit` announces it before its answer, and the VM's stop that follows
    // must not announce it again.
    if (event === 'SHUTDOWN') {
      if (this.shutdownSent) return;
      this.shutdownSent = true;
    }
    const us = this.micros();
    const msg = {
      timestamp: { seconds: Math.floor(us / 1e6), microseconds: us % 1e6 },
      event,
      ...(data ? { data } : {}),
    };
    for (const c of this.connections) if (c.negotiated) c.send(msg);
  }
}

export class QmpConnection {
  negotiated = false;
  private readonly stream = new JsonStream();
  private readonly queue: unknown[] = [];
  private busy = false;
  private paused = false;
  private closed = false;

  constructor(
    private readonly monitor: QmpMonitor,
    private readonly hooks: QmpConnectionHooks,
  ) {}

  /** @internal */
  send(msg: unknown): void {
    if (!this.closed) this.hooks.send(JSON.stringify(msg) + '\r\n');
  }

  /** Bytes from the client. */
  feed(bytes: Uint8Array): void {
    if (this.closed) return;
    for (const item of this.stream.feed(bytes)) {
      if ('value' in item) this.queue.push(item.value);
      else if (item.fatal) {
        // Answered first, so the client learns why it is cut off.
        this.send({ error: { class: 'GenericError', desc: item.error } });
        this.hooks.close();
        this.disconnect();
        return;
      } else this.queue.push(new QmpError('GenericError', item.error));
    }
    this.pump();
  }

  /** The client went away: no more events or answers. */
  disconnect(): void {
    this.closed = true;
    this.queue.length = 0;
    this.monitor.forget(this);
  }

  private pump(): void {
    while (!this.busy && !this.closed && this.queue.length) {
      const pending = this.handle(this.queue.shift());
      if (pending) {
        this.busy = true;
        void pending.then(() => {
          this.busy = false;
          this.pump();
        });
      }
    }
    if (!this.paused && this.queue.length >= MAX_QUEUED) {
      this.paused = true;
      this.hooks.pauseInput?.();
    } else if (this.paused && this.queue.length < MAX_QUEUED / 2) {
      this.paused = false;
      this.hooks.resumeInput?.();
    }
  }

  /** Answers one request; returns a promise while an async command runs. */
  private handle(req: unknown): Promise<void> | undefined {
    if (req instanceof QmpError) return this.answerError(undefined, req);
    let id: { id: unknown } | undefined;
    let def: QmpCommandDef;
    let args: Obj;
    try {
      if (!isObject(req)) throw new QmpError('GenericError', 'QMP input must be a JSON object');
      if (Object.hasOwn(req, 'id')) id = { id: req.id };
      for (const k of Object.keys(req))
        if (k !== 'execute' && k !== 'arguments' && k !== 'id')
          throw new QmpError('GenericError', `QMP input member '${k}' is unexpected`);
      if (!Object.hasOwn(req, 'execute')) throw new QmpError('GenericError', "QMP input lacks member 'execute'");
      const name = req.execute;
      if (typeof name !== 'string') throw new QmpError('GenericError', "QMP input member 'execute' must be a string");
      const given = Object.hasOwn(req, 'arguments') ? req.arguments : {};
      if (!isObject(given)) throw new QmpError('GenericError', "QMP input member 'arguments' must be an object");
      args = given;
      // QEMU's exact answers in and after capabilities negotiation (class CommandNotFound).
      if (!this.negotiated && name !== 'qmp_capabilities')
        throw new QmpError('CommandNotFound', "Expecting capabilities negotiation with 'qmp_capabilities'");
      if (this.negotiated && name === 'qmp_capabilities')
        throw new QmpError('CommandNotFound', 'Capabilities negotiation is already complete, command ignored');
      const found = this.monitor.command(name);
      if (!found) throw new QmpError('CommandNotFound', `The command ${name} has not been found`);
      def = found;
      checkArgs(def, args);
    } catch (e) {
      return this.answerError(id, e);
    }
    let result: unknown;
    try {
      result = def.run(args, this);
    } catch (e) {
      return this.answerError(id, e);
    }
    if (result instanceof Promise)
      return result.then(
        (r) => this.answer(id, r),
        (e) => this.answerError(id, e),
      );
    this.answer(id, result);
    return undefined;
  }

  private answer(id: { id: unknown } | undefined, result: unknown): void {
    this.send({ return: result ?? {}, ...id });
  }

  private answerError(id: { id: unknown } | undefined, e: unknown): undefined {
    const err = e instanceof QmpError ? e : new QmpError('GenericError', e instanceof Error ? e.message : String(e));
    this.send({ ...id, error: { class: err.errorClass, desc: err.message } });
    return undefined;
  }
}
