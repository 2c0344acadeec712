/** ARP for IPv4 over Ethernet (RFC 826): parsing requests and building replies/requests. */
import { get16, get32, put16, put32 } from './bytes.ts';
import { ETH_HEADER, ETHERTYPE_ARP, ETHERTYPE_IPV4, writeEth } from './ethernet.ts';

export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export interface ArpPacket {
  op: number;
  senderMac: Uint8Array;
  senderIp: number;
  targetMac: Uint8Array;
  targetIp: number;
}

/** Parses the ARP payload of frame f; a string says why it was dropped. */
export function parseArp(f: Uint8Array): ArpPacket | string {
  const o = ETH_HEADER;
  if (f.length < o + 28) return 'arp: truncated';
  if (get16(f, o) !== 1 || get16(f, o + 2) !== ETHERTYPE_IPV4 || f[o + 4] !== 6 || f[o + 5] !== 4)
    return 'arp: not Ethernet/IPv4';
  return {
    op: get16(f, o + 6),
    senderMac: f.slice(o + 8, o + 14),
    senderIp: get32(f, o + 14),
    targetMac: f.slice(o + 18, o + 24),
    targetIp: get32(f, o + 24),
  };
}

/** Builds an ARP frame (Ethernet destination: targetMac for replies, broadcast for requests). */
export function buildArp(
  op: number,
  ethDst: Uint8Array,
  senderMac: Uint8Array,
  senderIp: number,
  targetMac: Uint8Array,
  targetIp: number,
): Uint8Array {
  const f = new Uint8Array(ETH_HEADER + 28);
  writeEth(f, ethDst, senderMac, ETHERTYPE_ARP);
  const o = ETH_HEADER;
  put16(f, o, 1);
  put16(f, o + 2, ETHERTYPE_IPV4);
  f[o + 4] = 6;
  f[o + 5] = 4;
  put16(f, o + 6, op);
  f.set(senderMac.subarray(0, 6), o + 8);
  put32(f, o + 14, senderIp);
  f.set(targetMac.subarray(0, 6), o + 18);
  put32(f, o + 24, targetIp);
  return f;
}
