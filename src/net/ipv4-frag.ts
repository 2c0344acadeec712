/**
 * IPv4 fragmentation (RFC 791) for the user-mode network: bounded reassembly of fragments from
 * the guest, and fragmentation of datagrams for the guest that exceed the 1500-byte MTU.
 *
 * Reassembly holds at most MAX_DATAGRAMS partial datagrams and MAX_BYTES in total; a datagram
 * not completed within TIMEOUT_MS is dropped (RFC 791 suggests 15 s; Linux uses 30 s). A
 * fragment flood therefore costs bounded memory: the oldest partial datagram is evicted to make
 * room. Overlapping fragments are rejected (RFC 5722's rule, applied to IPv4 as Linux does).
 * A datagram in more than MAX_FRAGMENTS pieces is dropped: each piece costs an overlap check
 * against the others, and 8-byte pieces would make that quadratic in thousands.
 */
import { checksum, get16, put16 } from './bytes.ts';
import { ETH_HEADER } from './ethernet.ts';
import type { Ipv4Packet } from './ipv4.ts';

const MAX_DATAGRAMS = 64;
/**
 * Pieces one datagram may arrive in: the largest datagram (65,535 bytes) fragmented for a
 * 576-byte MTU, the smallest every host must reassemble (RFC 791), is 118 pieces.
 */
export const MAX_FRAGMENTS = 128;
const MAX_BYTES = 1024 * 1024;
const TIMEOUT_MS = 30_000;
const MAX_IP_PAYLOAD = 65535 - 20;

interface Partial {
  key: string;
  first: number;
  pieces: Array<{ off: number; data: Uint8Array }>;
  bytes: number;
  /** Payload length, known once the last fragment (MF = 0) arrived. */
  total: number;
  /** Ethernet + IP header of the first fragment (offset 0), kept for the rebuilt frame. */
  header: Uint8Array | undefined;
}

export class Reassembler {
  private readonly partials = new Map<string, Partial>();
  private bytes = 0;
  /** Fragments dropped (malformed, overlapping, evicted or timed out). */
  dropped = 0;

  constructor(private readonly now: () => number) {}

  get pending(): number {
    return this.partials.size;
  }

  /** Fragments held across all partial datagrams. */
  get heldFragments(): number {
    let n = 0;
    for (const p of this.partials.values()) n += p.pieces.length;
    return n;
  }

  /**
   * Adds a fragment (frame f, parsed as ip). Returns the whole datagram as an unfragmented
   * frame once every piece is there, otherwise undefined.
   */
  add(f: Uint8Array, ip: Ipv4Packet): Uint8Array | undefined {
    this.expire();
    const o = ip.ipOff;
    const fl = get16(f, o + 6);
    const more = (fl & 0x2000) !== 0;
    const off = (fl & 0x1fff) * 8;
    const len = ip.payloadLen;
    if ((more && (len === 0 || len % 8 !== 0)) || off + len > MAX_IP_PAYLOAD) {
      this.dropped++;
      return undefined;
    }
    const key = `${ip.src}>${ip.dst}:${ip.proto}:${get16(f, o + 4)}`;
    let p = this.partials.get(key);
    if (!p) {
      while (this.partials.size >= MAX_DATAGRAMS || this.bytes + len > MAX_BYTES) {
        if (!this.evictOldest()) break;
      }
      if (this.bytes + len > MAX_BYTES) {
        this.dropped++;
        return undefined;
      }
      p = { key, first: this.now(), pieces: [], bytes: 0, total: -1, header: undefined };
      this.partials.set(key, p);
    }
    const end = off + len;
    if (p.pieces.length >= MAX_FRAGMENTS) {
      this.discard(p);
      this.dropped++;
      return undefined;
    }
    for (const q of p.pieces) {
      if (off < q.off + q.data.length && q.off < end) {
        // Overlap (or a duplicate): drop the whole datagram.
        this.discard(p);
        this.dropped++;
        return undefined;
      }
    }
    if (!more) {
      if (p.total >= 0 || p.pieces.some((q) => q.off + q.data.length > end)) {
        this.discard(p);
        this.dropped++;
        return undefined;
      }
      p.total = end;
    } else if (p.total >= 0 && end > p.total) {
      this.discard(p);
      this.dropped++;
      return undefined;
    }
    if (this.bytes + len > MAX_BYTES) {
      this.discard(p);
      this.dropped++;
      return undefined;
    }
    p.pieces.push({ off, data: f.slice(ip.payloadOff, ip.payloadOff + len) });
    p.bytes += len;
    this.bytes += len;
    if (off === 0) p.header = f.slice(0, ip.payloadOff);
    if (p.total < 0 || p.bytes !== p.total || !p.header) return undefined;
    // No overlaps and the byte count matches the total: the pieces tile [0, total).
    this.discard(p);
    const hl = p.header.length;
    const out = new Uint8Array(hl + p.total);
    out.set(p.header);
    for (const q of p.pieces) out.set(q.data, hl + q.off);
    put16(out, ETH_HEADER + 2, hl - ETH_HEADER + p.total);
    put16(out, ETH_HEADER + 6, 0);
    put16(out, ETH_HEADER + 10, 0);
    put16(out, ETH_HEADER + 10, checksum(out, ETH_HEADER, hl));
    return out;
  }

  private discard(p: Partial): void {
    if (this.partials.get(p.key) === p) {
      this.partials.delete(p.key);
      this.bytes -= p.bytes;
    }
  }

  private evictOldest(): boolean {
    const first = this.partials.values().next();
    if (first.done) return false;
    this.discard(first.value);
    this.dropped++;
    return true;
  }

  private expire(): void {
    const t = this.now();
    // Insertion order is arrival order, so the oldest come first.
    for (const p of this.partials.values()) {
      if (t - p.first < TIMEOUT_MS) break;
      this.discard(p);
      this.dropped++;
    }
  }
}

/**
 * Splits an IPv4 frame (20-byte header, built by ipv4Frame) whose packet exceeds `mtu` into
 * fragments; returns [frame] when it fits. Fragments keep the id and clear DF.
 */
export function fragment(frame: Uint8Array, mtu = 1500): Uint8Array[] {
  const o = ETH_HEADER;
  const hl = (frame[o]! & 15) * 4;
  const total = get16(frame, o + 2);
  if (total <= mtu) return [frame];
  const payload = total - hl;
  const step = Math.floor((mtu - hl) / 8) * 8;
  const out: Uint8Array[] = [];
  for (let off = 0; off < payload; off += step) {
    const len = Math.min(step, payload - off);
    const f = new Uint8Array(o + hl + len);
    f.set(frame.subarray(0, o + hl));
    f.set(frame.subarray(o + hl + off, o + hl + off + len), o + hl);
    put16(f, o + 2, hl + len);
    put16(f, o + 6, (off + len < payload ? 0x2000 : 0) | (off / 8));
    put16(f, o + 10, 0);
    put16(f, o + 10, checksum(f, o, o + hl));
    out.push(f);
  }
  return out;
}
