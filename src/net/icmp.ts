/** ICMP (RFC 792): echo replies and destination-unreachable messages. */
import { checksum, put16 } from './bytes.ts';
import { IP_PAYLOAD, ipv4Frame, PROTO_ICMP, type Ipv4Packet } from './ipv4.ts';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
/** Destination-unreachable codes. */
export const UNREACH_HOST = 1;
export const UNREACH_PORT = 3;

export interface IcmpMessage {
  type: number;
  code: number;
}

export function parseIcmp(f: Uint8Array, ip: Ipv4Packet): IcmpMessage | string {
  if (ip.payloadLen < 8) return 'icmp: truncated';
  if (checksum(f, ip.payloadOff, ip.payloadOff + ip.payloadLen) !== 0) return 'icmp: bad checksum';
  return { type: f[ip.payloadOff]!, code: f[ip.payloadOff + 1]! };
}

/** The echo reply to an echo request (same identifier, sequence and data). */
export function buildEchoReply(f: Uint8Array, ip: Ipv4Packet, myMac: Uint8Array, peerMac: Uint8Array): Uint8Array {
  const r = ipv4Frame(peerMac, myMac, ip.dst, ip.src, PROTO_ICMP, ip.payloadLen);
  r.set(f.subarray(ip.payloadOff, ip.payloadOff + ip.payloadLen), IP_PAYLOAD);
  r[IP_PAYLOAD] = ICMP_ECHO_REPLY;
  put16(r, IP_PAYLOAD + 2, 0);
  put16(r, IP_PAYLOAD + 2, checksum(r, IP_PAYLOAD, r.length));
  return r;
}

/** An ICMP error quoting the offending packet's IP header and first 8 payload bytes (RFC 792). */
export function buildUnreachable(
  f: Uint8Array,
  ip: Ipv4Packet,
  code: number,
  from: number,
  myMac: Uint8Array,
  peerMac: Uint8Array,
): Uint8Array {
  const quote = f.subarray(ip.ipOff, Math.min(ip.payloadOff + 8, ip.payloadOff + ip.payloadLen));
  const r = ipv4Frame(peerMac, myMac, from, ip.src, PROTO_ICMP, 8 + quote.length);
  r[IP_PAYLOAD] = ICMP_UNREACHABLE;
  r[IP_PAYLOAD + 1] = code;
  r.set(quote, IP_PAYLOAD + 8);
  put16(r, IP_PAYLOAD + 2, checksum(r, IP_PAYLOAD, r.length));
  return r;
}
