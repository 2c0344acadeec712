/**
 * The daemon's REST API (docs/manager.md) from the browser: every call carries the bearer token
 * in the Authorization header; a 401 means the token is wrong or was replaced, and the page goes
 * back to its login. No DOM types (fetch and TextDecoder are in Node too), so it runs in tests.
 */
import { SseParser, type VmEvent } from './sse.ts';

/** The API's refusal `{error: {code, message}}`, with its HTTP status. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The subset of the API's VM this page shows. */
export interface Vm {
  name: string;
  id: string;
  state: string;
  memory: number;
  cpus: number;
  source: { type: string; path?: string };
  disks: { path: string; format: string; owned: boolean; readonly: boolean; backing?: string }[];
  nics: { hostfwd: string[] }[];
  created: string;
  startedAt?: string;
  reason?: string;
  warnings?: string[];
}

export interface Snapshot {
  name: string;
  created: string;
  vmState: boolean;
}

export class Api {
  constructor(
    private readonly token: string,
    /** Called on every 401, before the call throws. */
    private readonly onUnauthorized: () => void = () => {},
    private readonly base = '',
  ) {}

  async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await fetch(this.base + path, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(signal ? { signal } : {}),
    });
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      if (res.status === 401) this.onUnauthorized();
      const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiFailure(
        res.status,
        err?.code ?? 'http',
        err?.message ?? `HTTP ${res.status}: ${text.slice(0, 200)}`,
      );
    }
    return json as T;
  }

  vms = () => this.call<Vm[]>('GET', '/v1/vms');
  vm = (name: string) => this.call<Vm>('GET', `/v1/vms/${encodeURIComponent(name)}`);
  stats = (name: string) => this.call<Record<string, unknown>>('GET', `/v1/vms/${encodeURIComponent(name)}/stats`);
  events = (name: string, limit = 200) =>
    this.call<VmEvent[]>('GET', `/v1/vms/${encodeURIComponent(name)}/events?limit=${limit}`);
  snapshots = (name: string) => this.call<Snapshot[]>('GET', `/v1/vms/${encodeURIComponent(name)}/snapshots`);

  /**
   * Follows GET /v1/events until `signal` aborts, calling onEvent for each `event: state`.
   * Resolves when the stream ends (the daemon went away); the caller decides to reconnect.
   */
  async follow(onEvent: (e: VmEvent) => void, signal: AbortSignal): Promise<void> {
    const res = await fetch(this.base + '/v1/events', {
      headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' },
      signal,
    });
    if (res.status === 401) this.onUnauthorized();
    if (!res.ok || !res.body) throw new ApiFailure(res.status, 'http', `events stream: HTTP ${res.status}`);
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const m of parser.push(decoder.decode(value, { stream: true })))
        if (m.event === 'state') onEvent(JSON.parse(m.data) as VmEvent);
    }
  }
}
