/**
 * Zstandard frames for qcow2's zstd compression type (RFC 8878), platform-neutral.
 *
 * Decoding is fzstd's; what we add is `zstdFrameLength`: a compressed cluster is read with its
 * sector-rounded size, so whatever follows the frame (the next cluster's frame, padding) must be
 * cut off before decoding, as qemu's streaming decoder stops at the end of the frame.
 *
 * Encoding is our own small compressor: one single-segment frame per cluster, blocks of at most
 * 128 KiB, each stored as RLE (one repeated byte), raw, or compressed: raw literals plus LZ77
 * sequences coded with the predefined FSE tables of the format (no table descriptions, no
 * Huffman), with a greedy hash-table match finder over the whole cluster.
 */
import { decompress } from 'fzstd';
import { StorageError } from '../types.ts';

const MAGIC = 0xfd2fb528;
const BLOCK_MAX = 128 * 1024;

// ------------------------------------------------------------------------------- decoding

/** Bytes of the zstd frame at the start of `src` (header, blocks, checksum); throws when cut short. */
export function zstdFrameLength(src: Uint8Array): number {
  const bad = (why: string): never => {
    throw new StorageError('corrupt', `qcow2: zstd frame ${why}`);
  };
  if (src.length < 6) bad('is truncated');
  const dv = new DataView(src.buffer, src.byteOffset, src.length);
  if (dv.getUint32(0, true) !== MAGIC) bad('has no zstd magic');
  const fhd = src[4]!;
  const single = (fhd >> 5) & 1;
  const fcsFlag = fhd >> 6;
  const fcsBytes = [single, 2, 4, 8][fcsFlag]!;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  let pos = 5 + (single ? 0 : 1) + dictBytes + fcsBytes;
  for (;;) {
    if (pos + 3 > src.length) bad('is truncated');
    const h = src[pos]! | (src[pos + 1]! << 8) | (src[pos + 2]! << 16);
    const type = (h >> 1) & 3;
    const size = h >>> 3;
    if (type === 3) bad('has a reserved block type');
    pos += 3 + (type === 1 ? 1 : size);
    if (h & 1) break;
  }
  if (fhd & 4) pos += 4;
  if (pos > src.length) bad('is truncated');
  return pos;
}

/** Decodes one cluster: exactly `size` bytes, or a StorageError. */
export function zstdDecompressCluster(src: Uint8Array, size: number, where: string): Uint8Array {
  let out: Uint8Array;
  try {
    // A bounded output buffer: a hostile frame cannot grow past one cluster.
    out = decompress(src.subarray(0, zstdFrameLength(src)), new Uint8Array(size));
  } catch (err) {
    if (err instanceof StorageError) throw new StorageError('corrupt', `${err.message} (${where})`);
    throw new StorageError('corrupt', `qcow2: zstd cluster at ${where} does not decode: ${(err as Error).message}`);
  }
  if (out.length !== size)
    throw new StorageError('corrupt', `qcow2: zstd cluster at ${where} decodes to ${out.length} bytes, not ${size}`);
  return out;
}

// ------------------------------------------------------------------------------- FSE tables

interface FseTable {
  log: number;
  symbol: Uint8Array;
  nbBits: Uint8Array;
  baseline: Uint16Array;
  /** enc[s * size + next]: the state of symbol s whose transition range holds `next`. */
  enc: Uint16Array;
  /** A state of each symbol (for the last sequence, which has no next state). */
  first: Int32Array;
}

/** The decoding table of a distribution, built as the decoder builds it (RFC 8878 4.1.1), and its inverse. */
function buildTable(probs: number[], log: number): FseTable {
  const size = 1 << log;
  const symbol = new Uint8Array(size);
  const nbBits = new Uint8Array(size);
  const baseline = new Uint16Array(size);
  let high = size - 1;
  for (let s = 0; s < probs.length; s++) if (probs[s] === -1) symbol[high--] = s;
  const step = (size >> 1) + (size >> 3) + 3;
  let pos = 0;
  for (let s = 0; s < probs.length; s++) {
    for (let i = 0; i < probs[s]!; i++) {
      symbol[pos] = s;
      do pos = (pos + step) & (size - 1);
      while (pos > high);
    }
  }
  const next = probs.map((p) => (p === -1 ? 1 : p));
  for (let st = 0; st < size; st++) {
    const s = symbol[st]!;
    const n = next[s]!++;
    const bits = log - (31 - Math.clz32(n));
    nbBits[st] = bits;
    baseline[st] = (n << bits) - size;
  }
  const enc = new Uint16Array(probs.length * size);
  const first = new Int32Array(probs.length).fill(-1);
  for (let st = 0; st < size; st++) {
    const s = symbol[st]!;
    if (first[s] === -1) first[s] = st;
    for (let t = baseline[st]!; t < baseline[st]! + (1 << nbBits[st]!); t++) enc[s * size + t] = st;
  }
  return { log, symbol, nbBits, baseline, enc, first };
}

// The predefined distributions (RFC 8878 3.1.1.3.2.2).
// prettier-ignore
const LL_PROBS = [4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1];
// prettier-ignore
const ML_PROBS = [1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1];
// prettier-ignore
const OF_PROBS = [1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1];
// Baselines and extra bits of the length codes past the direct ones (LL 16.., ML 32..).
// prettier-ignore
const LL_BASE = [16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];
const LL_BITS = [1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
// prettier-ignore
const ML_BASE = [35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051, 4099, 8195, 16387, 32771, 65539];
const ML_BITS = [1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

let tables: { ll: FseTable; ml: FseTable; of: FseTable } | undefined;
const predefined = () =>
  (tables ??= { ll: buildTable(LL_PROBS, 6), ml: buildTable(ML_PROBS, 6), of: buildTable(OF_PROBS, 5) });

/** [code, extra bits value, extra bit count] of a length, by the code tables above. */
function lengthCode(v: number, direct: number, base: number[], bits: number[]): [number, number, number] {
  if (v < direct) return [v, 0, 0];
  let i = base.length - 1;
  while (base[i]! > v) i--;
  return [direct + i, v - base[i]!, bits[i]!];
}

// ------------------------------------------------------------------------------- encoding

class BitWriter {
  private readonly out: number[] = [];
  private acc = 0;
  private n = 0;
  add(value: number, bits: number): void {
    // At most 16 bits at a time keep the accumulator exact in 32-bit arithmetic.
    while (bits > 16) {
      this.add(value & 0xffff, 16);
      value = Math.floor(value / 65536);
      bits -= 16;
    }
    this.acc |= (value & ((1 << bits) - 1)) << this.n;
    this.n += bits;
    while (this.n >= 8) {
      this.out.push(this.acc & 0xff);
      this.acc >>>= 8;
      this.n -= 8;
    }
  }
  /** The end marker (a 1 bit) and padding to a byte: the decoder starts at the marker. */
  finish(): number[] {
    this.add(1, 1);
    if (this.n > 0) this.out.push(this.acc & 0xff);
    return this.out;
  }
}

interface Sequence {
  lit: number;
  match: number;
  offset: number;
}

const HASH_BITS = 15;
const MIN_MATCH = 4;

/** One compressed block's content for data[start, end), or undefined when it would not be smaller. */
function compressedBlock(data: Uint8Array, start: number, end: number, head: Int32Array): Uint8Array | undefined {
  const seqs: Sequence[] = [];
  const literals: number[] = [];
  let anchor = start;
  let p = start;
  const hash = (i: number) =>
    (Math.imul(data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24), 0x9e3779b1) >>>
      (32 - HASH_BITS)) |
    0;
  while (p + MIN_MATCH <= end) {
    const h = hash(p);
    const cand = head[h]!;
    head[h] = p;
    if (
      cand >= 0 &&
      cand < p &&
      data[cand] === data[p] &&
      data[cand + 1] === data[p + 1] &&
      data[cand + 2] === data[p + 2] &&
      data[cand + 3] === data[p + 3]
    ) {
      let len = MIN_MATCH;
      while (p + len < end && data[cand + len] === data[p + len]) len++;
      for (let i = anchor; i < p; i++) literals.push(data[i]!);
      seqs.push({ lit: p - anchor, match: len, offset: p - cand });
      // Index a few positions inside the match too, so runs after it are found.
      for (let i = p + 1; i < p + len && i + MIN_MATCH <= end; i += i < p + 16 ? 1 : 64) head[hash(i)] = i;
      p += len;
      anchor = p;
    } else p++;
  }
  for (let i = anchor; i < end; i++) literals.push(data[i]!);

  const out: number[] = [];
  // Literals section: raw, 3-byte header (20-bit size).
  const n = literals.length;
  out.push(((n & 0xf) << 4) | 0b1100, (n >> 4) & 0xff, (n >> 12) & 0xff);
  for (const b of literals) out.push(b);
  // Sequences section.
  const ns = seqs.length;
  if (ns < 128) out.push(ns);
  else if (ns < 0x7f00) out.push((ns >> 8) + 128, ns & 0xff);
  else out.push(255, (ns - 0x7f00) & 0xff, (ns - 0x7f00) >> 8);
  if (ns > 0) {
    out.push(0); // predefined tables for literal lengths, offsets and match lengths
    const { ll, ml, of } = predefined();
    const codes = seqs.map((s) => {
      const l = lengthCode(s.lit, 16, LL_BASE, LL_BITS);
      const m = lengthCode(
        s.match - 3,
        32,
        ML_BASE.map((b) => b - 3),
        ML_BITS,
      );
      const ov = s.offset + 3; // offset values 1..3 are repeat codes: always send a real offset
      const oc = 31 - Math.clz32(ov);
      return { l, m, o: [oc, ov - 2 ** oc, oc] as [number, number, number] };
    });
    // States chosen from the last sequence back: each state's transition range must hold the next one.
    const llS = new Int32Array(ns);
    const mlS = new Int32Array(ns);
    const ofS = new Int32Array(ns);
    llS[ns - 1] = ll.first[codes[ns - 1]!.l[0]]!;
    mlS[ns - 1] = ml.first[codes[ns - 1]!.m[0]]!;
    ofS[ns - 1] = of.first[codes[ns - 1]!.o[0]]!;
    for (let i = ns - 2; i >= 0; i--) {
      llS[i] = ll.enc[codes[i]!.l[0] * 64 + llS[i + 1]!]!;
      mlS[i] = ml.enc[codes[i]!.m[0] * 64 + mlS[i + 1]!]!;
      ofS[i] = of.enc[codes[i]!.o[0] * 32 + ofS[i + 1]!]!;
    }
    // Written in the reverse of the decoder's (backward) reading order.
    const w = new BitWriter();
    for (let i = ns - 1; i >= 0; i--) {
      if (i < ns - 1) {
        w.add(ofS[i + 1]! - of.baseline[ofS[i]!]!, of.nbBits[ofS[i]!]!);
        w.add(mlS[i + 1]! - ml.baseline[mlS[i]!]!, ml.nbBits[mlS[i]!]!);
        w.add(llS[i + 1]! - ll.baseline[llS[i]!]!, ll.nbBits[llS[i]!]!);
      }
      const c = codes[i]!;
      w.add(c.l[1], c.l[2]);
      w.add(c.m[1], c.m[2]);
      w.add(c.o[1], c.o[2]);
    }
    w.add(mlS[0]!, ml.log);
    w.add(ofS[0]!, of.log);
    w.add(llS[0]!, ll.log);
    for (const b of w.finish()) out.push(b);
  }
  return out.length < end - start ? Uint8Array.from(out) : undefined;
}

/**
 * Compresses one cluster into a zstd frame, or undefined when that does not save space (the
 * cluster is then stored uncompressed, as qemu does).
 */
export function zstdCompressCluster(data: Uint8Array): Uint8Array | undefined {
  const parts: Uint8Array[] = [];
  const header = new Uint8Array(9);
  const hdv = new DataView(header.buffer);
  hdv.setUint32(0, MAGIC, true);
  header[4] = 0xa0; // single segment, 4-byte frame content size, no checksum, no dictionary
  hdv.setUint32(5, data.length, true);
  parts.push(header);
  let total = header.length;
  const head = new Int32Array(1 << HASH_BITS).fill(-1);
  for (let start = 0; start < data.length; start += BLOCK_MAX) {
    const end = Math.min(data.length, start + BLOCK_MAX);
    const last = end === data.length ? 1 : 0;
    const len = end - start;
    let same = true;
    for (let i = start + 1; i < end && same; i++) same = data[i] === data[start];
    let body: Uint8Array;
    let type: number;
    let size: number;
    if (same) {
      [body, type, size] = [data.subarray(start, start + 1), 1, len];
    } else {
      const c = compressedBlock(data, start, end, head);
      [body, type, size] = c ? [c, 2, c.length] : [data.subarray(start, end), 0, len];
    }
    const h = last | (type << 1) | (size << 3);
    parts.push(Uint8Array.of(h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff), body);
    total += 3 + body.length;
    if (total >= data.length) return undefined;
  }
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}
