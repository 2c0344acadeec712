/** UDP (RFC 768) over IPv4: validation and building. */
import { get16, put16 } from './bytes.ts';
import { IP_PAYLOAD, ipv4Frame, PROTO_UDP, transportChecksum, type Ipv4Packet } from './ipv4.ts';

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  /** The payload as a view into the frame. */
  data: Uint8Array;
}

export function parseUdp(f: Uint8Array, ip: Ipv4Packet): UdpDatagram | string {
  const o = ip.payloadOff;
  if (ip.payloadLen < 8) return 'udp: truncated header';
  const len = get16(f, o + 4);
  if (len < 8 || len > ip.payloadLen) return 'udp: bad length';
  const sum = get16(f, o + 6);
  if (sum !== 0 && transportChecksum(f, o, len, ip.src, ip.dst, PROTO_UDP) !== 0) return 'udp: bad checksum';
  return { srcPort: get16(f, o), dstPort: get16(f, o + 2), data: f.subarray(o + 8, o + len) };
}

export function buildUdp(
  dstMac: Uint8Array,
  srcMac: Uint8Array,
  src: number,
  srcPort: number,
  dst: number,
  dstPort: number,
  data: Uint8Array,
): Uint8Array {
  const len = 8 + data.length;
  const f = ipv4Frame(dstMac, srcMac, src, dst, PROTO_UDP, len);
  const o = IP_PAYLOAD;
  put16(f, o, srcPort);
  put16(f, o + 2, dstPort);
  put16(f, o + 4, len);
  f.set(data, o + 8);
  const sum = transportChecksum(f, o, len, src, dst, PROTO_UDP);
  put16(f, o + 6, sum === 0 ? 0xffff : sum);
  return f;
}
