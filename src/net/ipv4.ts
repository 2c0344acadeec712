/**
 * IPv4 (RFC 791): header validation and building, plus the TCP/UDP/ICMP checksums over the
 * pseudo-header. Fragments are recognised (and left to the caller to drop) rather than
 * reassembled: the user-mode stack never needs them for TCP, and refusing them keeps a fragment
 * flood from costing memory.
 */
import { checksum, finish, get16, get32, pseudoSum, put16, put32, sum16 } from './bytes.ts';
import { ETH_HEADER, ETHERTYPE_IPV4, writeEth } from './ethernet.ts';

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

export interface Ipv4Packet {
  src: number;
  dst: number;
  proto: number;
  ttl: number;
  /** Offset of the IP header within the frame, and of the payload. */
  ipOff: number;
  payloadOff: number;
  /** Payload length from the IP total length (frame padding excluded). */
  payloadLen: number;
  /** True for any fragment (MF set or a non-zero offset). */
  fragment: boolean;
}

/** Validates the IPv4 header of frame f (after the Ethernet header); a string says why it was dropped. */
export function parseIpv4(f: Uint8Array): Ipv4Packet | string {
  const o = ETH_HEADER;
  if (f.length < o + 20) return 'ipv4: truncated header';
  const vihl = f[o]!;
  if (vihl >> 4 !== 4) return 'ipv4: version is not 4';
  const hl = (vihl & 15) * 4;
  if (hl < 20 || o + hl > f.length) return 'ipv4: bad header length';
  const total = get16(f, o + 2);
  if (total < hl || o + total > f.length) return 'ipv4: bad total length';
  if (checksum(f, o, o + hl) !== 0) return 'ipv4: bad header checksum';
  const frag = get16(f, o + 6);
  return {
    src: get32(f, o + 12),
    dst: get32(f, o + 16),
    proto: f[o + 9]!,
    ttl: f[o + 8]!,
    ipOff: o,
    payloadOff: o + hl,
    payloadLen: total - hl,
    fragment: (frag & 0x3fff) !== 0,
  };
}

let nextId = 1;

/**
 * Allocates a frame with Ethernet and a 20-byte IPv4 header filled in; the caller writes
 * `payloadLen` bytes at IP_PAYLOAD and then computes its transport checksum.
 */
export function ipv4Frame(
  dstMac: Uint8Array,
  srcMac: Uint8Array,
  src: number,
  dst: number,
  proto: number,
  payloadLen: number,
  ttl = 64,
): Uint8Array {
  const f = new Uint8Array(IP_PAYLOAD + payloadLen);
  writeEth(f, dstMac, srcMac, ETHERTYPE_IPV4);
  const o = ETH_HEADER;
  f[o] = 0x45;
  put16(f, o + 2, 20 + payloadLen);
  put16(f, o + 4, nextId);
  nextId = (nextId + 1) & 0xffff;
  put16(f, o + 6, 0x4000); // don't fragment
  f[o + 8] = ttl;
  f[o + 9] = proto;
  put32(f, o + 12, src);
  put32(f, o + 16, dst);
  put16(f, o + 10, checksum(f, o, o + 20));
  return f;
}

/** Offset of the payload in frames built by ipv4Frame. */
export const IP_PAYLOAD = ETH_HEADER + 20;

/** The TCP/UDP checksum of a segment at [off, off+len) between src and dst (0 = valid when verifying). */
export function transportChecksum(
  f: Uint8Array,
  off: number,
  len: number,
  src: number,
  dst: number,
  proto: number,
): number {
  return finish(sum16(f, off, off + len, pseudoSum(src, dst, proto, len)));
}
