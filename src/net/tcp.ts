/** TCP segments (RFC 9293): header and option parsing, and building segments with options. */
import { get16, get32, put16, put32 } from './bytes.ts';
import { IP_PAYLOAD, ipv4Frame, PROTO_TCP, transportChecksum, type Ipv4Packet } from './ipv4.ts';

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** From a SYN's options, when present. */
  mss?: number;
  wscale?: number;
  /** The payload as a view into the frame. */
  data: Uint8Array;
}

/** `verify = false` skips the checksum check (a segment from a NIC's transmit offload, where it is partial). */
export function parseTcp(f: Uint8Array, ip: Ipv4Packet, verify = true): TcpSegment | string {
  const o = ip.payloadOff;
  const len = ip.payloadLen;
  if (len < 20) return 'tcp: truncated header';
  const hl = (f[o + 12]! >> 4) * 4;
  if (hl < 20 || hl > len) return 'tcp: bad data offset';
  if (verify && transportChecksum(f, o, len, ip.src, ip.dst, PROTO_TCP) !== 0) return 'tcp: bad checksum';
  const seg: TcpSegment = {
    srcPort: get16(f, o),
    dstPort: get16(f, o + 2),
    seq: get32(f, o + 4),
    ack: get32(f, o + 8),
    flags: f[o + 13]! & 0x3f,
    window: get16(f, o + 14),
    data: f.subarray(o + hl, o + len),
  };
  if (seg.flags & SYN) {
    // Options: kind 0 ends, 1 pads, others carry a length byte (>= 2) that must stay in bounds.
    let i = o + 20;
    const end = o + hl;
    while (i < end) {
      const kind = f[i]!;
      if (kind === 0) break;
      if (kind === 1) {
        i++;
        continue;
      }
      if (i + 1 >= end) break;
      const ol = f[i + 1]!;
      if (ol < 2 || i + ol > end) break;
      if (kind === 2 && ol === 4) seg.mss = get16(f, i + 2);
      else if (kind === 3 && ol === 3) seg.wscale = Math.min(14, f[i + 2]!);
      i += ol;
    }
  }
  return seg;
}

export interface TcpOut {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  mss?: number;
  wscale?: number;
}

/** Builds a TCP segment in an IPv4 frame with a correct checksum. */
export function buildTcp(
  dstMac: Uint8Array,
  srcMac: Uint8Array,
  src: number,
  dst: number,
  t: TcpOut,
  data?: Uint8Array,
): Uint8Array {
  const optLen = (t.mss !== undefined ? 4 : 0) + (t.wscale !== undefined ? 4 : 0);
  const hl = 20 + optLen;
  const len = hl + (data?.length ?? 0);
  const f = ipv4Frame(dstMac, srcMac, src, dst, PROTO_TCP, len);
  const o = IP_PAYLOAD;
  put16(f, o, t.srcPort);
  put16(f, o + 2, t.dstPort);
  put32(f, o + 4, t.seq >>> 0);
  put32(f, o + 8, t.ack >>> 0);
  f[o + 12] = (hl / 4) << 4;
  f[o + 13] = t.flags;
  put16(f, o + 14, Math.max(0, Math.min(0xffff, t.window)));
  let p = o + 20;
  if (t.mss !== undefined) {
    f[p] = 2;
    f[p + 1] = 4;
    put16(f, p + 2, t.mss);
    p += 4;
  }
  if (t.wscale !== undefined) {
    f[p] = 1; // NOP, then kind 3 len 3
    f[p + 1] = 3;
    f[p + 2] = 3;
    f[p + 3] = t.wscale;
    p += 4;
  }
  if (data) f.set(data, p);
  put16(f, o + 16, transportChecksum(f, o, len, src, dst, PROTO_TCP));
  return f;
}

/** Sequence-number comparisons modulo 2^32. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
