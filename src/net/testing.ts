/**
 * Test support for the network stack: an in-memory UserNetHost (TCP/UDP sockets and a resolver
 * the test drives by hand) and a tiny guest that crafts frames and parses what comes back.
 * Used only by tests; platform-neutral.
 */
import { ManualTimers } from './types.ts';
import type { HostTcpHandlers, HostTcpSocket, HostUdpSocket, UserNetHost } from './user/host.ts';
import { parseIpv4, PROTO_TCP, PROTO_UDP, type Ipv4Packet } from './ipv4.ts';
import { buildTcp, parseTcp, type TcpOut, type TcpSegment } from './tcp.ts';
import { buildUdp, parseUdp, type UdpDatagram } from './udp.ts';
import { ethType, ETHERTYPE_IPV4 } from './ethernet.ts';

export class FakeTcpSocket implements HostTcpSocket {
  readonly written: Uint8Array[] = [];
  bufferedBytes = 0;
  ended = false;
  destroyed = false;
  paused = false;
  constructor(
    readonly ip: string,
    readonly port: number,
    readonly h: HostTcpHandlers,
  ) {}
  write(data: Uint8Array): void {
    this.written.push(data);
    this.bufferedBytes += data.length;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  /** Everything written so far, joined. */
  text(): string {
    return new TextDecoder().decode(concat(this.written));
  }
  /** The host "sends" the buffered bytes to the OS. */
  drain(): void {
    this.bufferedBytes = 0;
    this.h.onDrain();
  }
}

export class FakeUdpSocket implements HostUdpSocket {
  readonly sent: Array<{ data: Uint8Array; ip: string; port: number }> = [];
  closed = false;
  constructor(readonly onMessage: (data: Uint8Array, ip: string, port: number) => void) {}
  send(data: Uint8Array, ip: string, port: number): void {
    this.sent.push({ data, ip, port });
  }
  close(): void {
    this.closed = true;
  }
}

export class FakeHost implements UserNetHost {
  readonly timers = new ManualTimers();
  readonly tcp: FakeTcpSocket[] = [];
  readonly udp: FakeUdpSocket[] = [];
  readonly names = new Map<string, string[]>();
  tcpConnect(ip: string, port: number, h: HostTcpHandlers): HostTcpSocket {
    const s = new FakeTcpSocket(ip, port, h);
    this.tcp.push(s);
    return s;
  }
  udpOpen(onMessage: (data: Uint8Array, ip: string, port: number) => void): HostUdpSocket {
    const s = new FakeUdpSocket(onMessage);
    this.udp.push(s);
    return s;
  }
  async resolve(name: string): Promise<string[]> {
    if (name === 'fail.test') throw new Error('resolver failure');
    return this.names.get(name) ?? [];
  }
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const GUEST_MAC = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
export const GW_MAC = new Uint8Array([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]);
export const GUEST_IP = 0x0a00020f;

export interface Received {
  frame: Uint8Array;
  ip?: Ipv4Packet;
  tcp?: TcpSegment;
  udp?: UdpDatagram;
}

/** Collects frames a backend delivers and decodes the common protocols. */
export class FrameSink {
  readonly frames: Received[] = [];
  readonly deliver = (frame: Uint8Array): void => {
    const f = frame.slice();
    const r: Received = { frame: f };
    if (ethType(f) === ETHERTYPE_IPV4) {
      const ip = parseIpv4(f);
      if (typeof ip === 'string') throw new Error(`the stack sent a bad IPv4 packet: ${ip}`);
      r.ip = ip;
      if (ip.fragment) {
        // Transport headers are checked once the fragments are put back together.
      } else if (ip.proto === PROTO_TCP) {
        const t = parseTcp(f, ip);
        if (typeof t === 'string') throw new Error(`the stack sent a bad TCP segment: ${t}`);
        r.tcp = t;
      } else if (ip.proto === PROTO_UDP) {
        const u = parseUdp(f, ip);
        if (typeof u === 'string') throw new Error(`the stack sent a bad UDP datagram: ${u}`);
        r.udp = u;
      }
    }
    this.frames.push(r);
  };
  take(): Received[] {
    return this.frames.splice(0);
  }
  tcp(): TcpSegment[] {
    return this.take()
      .map((r) => r.tcp)
      .filter((t): t is TcpSegment => t !== undefined);
  }
}

export function guestTcp(dst: number, t: TcpOut, data?: Uint8Array, src = GUEST_IP): Uint8Array {
  return buildTcp(GW_MAC, GUEST_MAC, src, dst, t, data);
}

export function guestUdp(dst: number, srcPort: number, dstPort: number, data: Uint8Array, src = GUEST_IP): Uint8Array {
  return buildUdp(GW_MAC, GUEST_MAC, src, srcPort, dst, dstPort, data);
}

/** A deterministic PRNG (mulberry32) for fuzzing with a fixed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A minimal guest-side TCP endpoint for tests: connects (or answers one SYN when listening),
 * acknowledges in-order data, sends data in MSS-sized segments without waiting for ACKs.
 */
export class GuestTcpEndpoint {
  seq = 0x1000;
  ack = 0;
  established = false;
  finReceived = false;
  reset = false;
  readonly received: Uint8Array[] = [];
  remotePort: number;

  constructor(
    private readonly transmit: (f: Uint8Array) => void,
    readonly remoteIp: number,
    remotePort: number,
    readonly localPort: number,
  ) {
    this.remotePort = remotePort;
  }

  private out(flags: number, data?: Uint8Array, opts: Partial<TcpOut> = {}): void {
    this.transmit(
      guestTcp(
        this.remoteIp,
        {
          srcPort: this.localPort,
          dstPort: this.remotePort,
          seq: this.seq,
          ack: this.ack,
          flags,
          window: 0xffff,
          ...opts,
        },
        data,
      ),
    );
  }

  connect(): void {
    this.out(0x02, undefined, { mss: 1460, wscale: 2 });
    this.seq = (this.seq + 1) >>> 0;
  }

  send(data: Uint8Array): void {
    for (let o = 0; o < data.length; o += 1460) {
      const part = data.subarray(o, o + 1460);
      this.out(0x18, part);
      this.seq = (this.seq + part.length) >>> 0;
    }
  }

  close(): void {
    this.out(0x11);
    this.seq = (this.seq + 1) >>> 0;
  }

  /** Handles a segment for this endpoint (the test routes by port). */
  segment(s: TcpSegment): void {
    if (s.flags & 0x04) {
      this.reset = true;
      return;
    }
    if (s.flags & 0x02) {
      this.ack = (s.seq + 1) >>> 0;
      if (s.flags & 0x10) {
        this.established = true;
        this.out(0x10);
      } else {
        // Listening: answer the SYN.
        this.remotePort = s.srcPort;
        this.out(0x12, undefined, { mss: 1460, wscale: 2 });
        this.seq = (this.seq + 1) >>> 0;
        this.established = true;
      }
      return;
    }
    let advanced = false;
    if (s.data.length && s.seq === this.ack) {
      this.received.push(s.data.slice());
      this.ack = (this.ack + s.data.length) >>> 0;
      advanced = true;
    }
    if (s.flags & 0x01 && (s.seq + s.data.length) >>> 0 === this.ack) {
      this.ack = (this.ack + 1) >>> 0;
      this.finReceived = true;
      advanced = true;
    }
    if (advanced || s.data.length) this.out(0x10);
  }

  text(): string {
    return new TextDecoder().decode(concat(this.received));
  }
}
