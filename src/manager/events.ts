/**
 * Lifecycle events: every state change is stored (ManagerDb.addEvent) and pushed to the
 * subscribers of the server-sent event streams. A subscriber is a callback; one that throws is
 * removed, and the SSE route drops a client that stops reading (see server.ts).
 */
import type { EventRow } from './db.ts';

export type Listener = (e: EventRow) => void;

export class EventBus {
  private readonly listeners = new Set<Listener>();

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  publish(e: EventRow): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch {
        this.listeners.delete(l);
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}

/** The wire form of an event (the `data:` line of `event: state`). */
export function eventJson(e: EventRow) {
  return {
    id: e.id,
    vm: e.vm,
    state: e.state,
    previous: e.previous ?? null,
    reason: e.reason ?? null,
    time: e.time,
  };
}
