/** Ethernet II framing (no FCS: virtio-net and sockets carry frames without it). */
import { get16, put16 } from './bytes.ts';

export const ETH_HEADER = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
/** Largest frame accepted from a guest or peer: 1500-byte MTU + header + one VLAN tag. */
export const MAX_FRAME = 1518;

export function ethType(f: Uint8Array): number {
  return f.length >= ETH_HEADER ? get16(f, 12) : -1;
}

/** Writes an Ethernet header at the start of f. */
export function writeEth(f: Uint8Array, dst: Uint8Array, src: Uint8Array, type: number): void {
  f.set(dst.subarray(0, 6), 0);
  f.set(src.subarray(0, 6), 6);
  put16(f, 12, type);
}
