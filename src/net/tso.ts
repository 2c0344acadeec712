/**
 * TCP segmentation offload done in software: splits one large IPv4/TCP frame (as a guest hands
 * it to a NIC that offers TSO) into MTU-sized frames, the way the NIC's hardware would. Each
 * segment gets its own IP length, id and header checksum, its TCP sequence number and a full
 * TCP checksum; FIN and PSH stay on the last segment, CWR on the first.
 *
 * Letting the guest send 64 KiB at a time saves its TCP stack most of its per-packet work, and
 * the emulated CPU is the bottleneck, so this is where bulk guest -> host throughput comes from.
 */
import { checksum, get16, get32, put16, put32 } from './bytes.ts';
import { ETH_HEADER, ETHERTYPE_IPV4 } from './ethernet.ts';
import { PROTO_TCP, transportChecksum } from './ipv4.ts';

const FIN_PSH = 0x09;
const CWR = 0x80;

/**
 * Smallest segment size accepted: Linux's TCP_MIN_MSS (88), the smallest MSS its stack ever
 * uses, so no real guest asks for less. A guest asking for 1 would otherwise turn one 64 KiB
 * request into 65,000 frames.
 */
export const MIN_GSO_SIZE = 88;
/**
 * Most segments one request may produce: a full 64 KiB IP packet (65,495 bytes of TCP payload
 * after 40 bytes of headers) at MIN_GSO_SIZE is 745 segments; no valid request exceeds it.
 */
export const MAX_TSO_SEGMENTS = Math.ceil((65535 - 40) / MIN_GSO_SIZE);

/**
 * Checks a TSO request before any work: a well-formed IPv4/TCP frame with payload, gsoSize from
 * MIN_GSO_SIZE up, at most MAX_TSO_SEGMENTS segments, each at most maxFrame bytes. Returns the
 * length of the Ethernet + IP + TCP headers, or -1. The same checks guard a segment handed to a
 * backend whole (NetBackend.transmitOffload), so a request is refused or accepted alike
 * whichever way it leaves.
 */
export function tsoHeaderLength(f: Uint8Array, gsoSize: number, maxFrame = 65535 + ETH_HEADER): number {
  if (f.length < ETH_HEADER + 40 || get16(f, 12) !== ETHERTYPE_IPV4) return -1;
  const ip = ETH_HEADER;
  const ihl = (f[ip]! & 15) * 4;
  if (f[ip]! >> 4 !== 4 || ihl < 20 || f[ip + 9] !== PROTO_TCP) return -1;
  const tcp = ip + ihl;
  if (tcp + 20 > f.length) return -1;
  const thl = (f[tcp + 12]! >> 4) * 4;
  const hdr = tcp + thl;
  if (thl < 20 || hdr > f.length) return -1;
  if (gsoSize < MIN_GSO_SIZE || gsoSize > 65535) return -1;
  const payload = f.length - hdr;
  if (payload === 0 || Math.ceil(payload / gsoSize) > MAX_TSO_SEGMENTS) return -1;
  if (hdr + Math.min(gsoSize, payload) > maxFrame) return -1;
  return hdr;
}

/**
 * Calls emit for each segment (a fresh array). Returns false, emitting nothing, if the request
 * fails tsoHeaderLength's checks.
 */
export function segmentTcp(
  f: Uint8Array,
  gsoSize: number,
  emit: (frame: Uint8Array) => void,
  maxFrame = 65535 + ETH_HEADER,
): boolean {
  const hdr = tsoHeaderLength(f, gsoSize, maxFrame);
  if (hdr < 0) return false;
  const ip = ETH_HEADER;
  const ihl = (f[ip]! & 15) * 4;
  const tcp = ip + ihl;
  const thl = hdr - tcp;
  const payload = f.length - hdr;
  // A guest may fill tot_len with the whole frame or leave it; the frame length is what counts.
  const src = get32(f, ip + 12);
  const dst = get32(f, ip + 16);
  const id = get16(f, ip + 4);
  const seq = get32(f, tcp + 4);
  const flags = f[tcp + 13]!;
  let n = 0;
  for (let off = 0; off < payload; off += gsoSize, n++) {
    const len = Math.min(gsoSize, payload - off);
    const last = off + len >= payload;
    const s = new Uint8Array(hdr + len);
    s.set(f.subarray(0, hdr));
    s.set(f.subarray(hdr + off, hdr + off + len), hdr);
    put16(s, ip + 2, ihl + thl + len);
    put16(s, ip + 4, (id + n) & 0xffff);
    put16(s, ip + 10, 0);
    put16(s, ip + 10, checksum(s, ip, ip + ihl));
    put32(s, tcp + 4, (seq + off) >>> 0);
    let fl = flags;
    if (!last) fl &= ~FIN_PSH;
    if (n > 0) fl &= ~CWR;
    s[tcp + 13] = fl;
    put16(s, tcp + 16, 0);
    put16(s, tcp + 16, transportChecksum(s, tcp, thl + len, src, dst, PROTO_TCP));
    emit(s);
  }
  return true;
}
