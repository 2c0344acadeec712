/**
 * A learning Ethernet switch (IEEE 802.1D forwarding without spanning tree): frames to a known
 * unicast MAC go to the port it was last seen on, everything else floods to all other ports.
 * MAC entries age out (default 300 s, the 802.1D default) and the table is bounded, so a guest
 * sending from random source MACs cannot grow it without limit.
 *
 * Ports are NetBackends, so a NIC plugs straight in; so does anything else that carries frames
 * (a stream socket to another process, a user-mode NAT).
 */
import { macKey } from './bytes.ts';
import { ETH_HEADER } from './ethernet.ts';
import type { NetBackend, NetTimers } from './types.ts';

/** Largest frame forwarded (MTU 1500 + header + VLAN tag, with room for jumbo-ish peers). */
export const SWITCH_MAX_FRAME = 9018;

export interface SwitchOptions {
  agingMs?: number;
  maxMacs?: number;
}

interface MacEntry {
  port: SwitchPort;
  seen: number;
}

export class EthernetSwitch {
  private readonly ports = new Set<SwitchPort>();
  private readonly table = new Map<number, MacEntry>();
  private readonly agingMs: number;
  private readonly maxMacs: number;
  /** Frames dropped as malformed or looped back. */
  dropped = 0;

  constructor(
    private readonly timers: Pick<NetTimers, 'now'>,
    opts: SwitchOptions = {},
  ) {
    this.agingMs = opts.agingMs ?? 300_000;
    this.maxMacs = opts.maxMacs ?? 4096;
  }

  /** A new port; give it to a NIC (or wire it to a socket). */
  port(name = `port${this.ports.size}`): SwitchPort {
    const p = new SwitchPort(this, name);
    this.ports.add(p);
    return p;
  }

  get portCount(): number {
    return this.ports.size;
  }

  get macCount(): number {
    return this.table.size;
  }

  /** The port a MAC was learned on, if the entry is still fresh. */
  lookup(mac: Uint8Array): SwitchPort | undefined {
    const e = this.table.get(macKey(mac, 0));
    return e && this.timers.now() - e.seen < this.agingMs ? e.port : undefined;
  }

  detach(p: SwitchPort): void {
    this.ports.delete(p);
    for (const [k, e] of this.table) if (e.port === p) this.table.delete(k);
  }

  forward(from: SwitchPort, frame: Uint8Array): void {
    if (frame.length < ETH_HEADER || frame.length > SWITCH_MAX_FRAME || !this.ports.has(from)) {
      this.dropped++;
      return;
    }
    const now = this.timers.now();
    if (!(frame[6]! & 1)) this.learn(macKey(frame, 6), from, now);
    if (!(frame[0]! & 1)) {
      const e = this.table.get(macKey(frame, 0));
      if (e && now - e.seen < this.agingMs) {
        if (e.port === from) this.dropped++;
        else e.port.receive(frame);
        return;
      }
    }
    for (const p of [...this.ports]) if (p !== from) p.receive(frame);
  }

  private learn(key: number, port: SwitchPort, now: number): void {
    const e = this.table.get(key);
    if (e) {
      e.port = port;
      e.seen = now;
      return;
    }
    if (this.table.size >= this.maxMacs) this.evict(now);
    this.table.set(key, { port, seen: now });
  }

  /** Drops aged entries, or the oldest one if none has aged. */
  private evict(now: number): void {
    let oldestKey = -1;
    let oldest = Infinity;
    for (const [k, e] of this.table) {
      if (now - e.seen >= this.agingMs) this.table.delete(k);
      else if (e.seen < oldest) {
        oldest = e.seen;
        oldestKey = k;
      }
    }
    if (this.table.size >= this.maxMacs && oldestKey >= 0) this.table.delete(oldestKey);
  }
}

export class SwitchPort implements NetBackend {
  private deliver: ((frame: Uint8Array) => void) | undefined;
  private closed = false;

  constructor(
    private readonly sw: EthernetSwitch,
    readonly name: string,
  ) {}

  /** A frame sent into the switch through this port. */
  transmit(frame: Uint8Array): void {
    if (!this.closed) this.sw.forward(this, frame);
  }

  connect(deliver: (frame: Uint8Array) => void): void {
    this.deliver = deliver;
  }

  /** A frame the switch sends out of this port. */
  receive(frame: Uint8Array): void {
    this.deliver?.(frame);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sw.detach(this);
  }
}
