/**
 * The snapshot container: one file holding a VM's complete state, the same in Node and in a
 * browser, so a snapshot saved by either restores in the other.
 *
 * Layout (little-endian):
 *   0  magic "VKSNAP\0\0" (8 bytes)
 *   8  u32 format version (SNAPSHOT_FORMAT_VERSION)
 *   12 u32 length N of the JSON state
 *   16 N bytes of UTF-8 JSON: { machine config, hart states, device states, ... } (plain data)
 *   .. u32 RAM size in pages (4 KiB), then a bitmap of the pages that are not all zero
 *      (1 bit per page), then u32 length M and M bytes: the non-zero pages, in order,
 *      deflate-compressed (fflate, level 1: RAM compresses well and speed matters more).
 * Zero pages are neither stored nor written back (RAM starts zeroed).
 */
import { deflateSync, Inflate } from 'fflate';

export const SNAPSHOT_FORMAT_VERSION = 1;
const MAGIC = [0x56, 0x4b, 0x53, 0x4e, 0x41, 0x50, 0, 0];
const PAGE = 4096;

export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

function pageIsZero(ram: Int32Array, page: number): boolean {
  const start = page * (PAGE / 4);
  const end = start + PAGE / 4;
  for (let i = start; i < end; i++) if (ram[i] !== 0) return false;
  return true;
}

/** Serialises state (plain JSON-able data) and RAM into one snapshot file. */
export function encodeSnapshot(state: unknown, ram: Uint8Array): Uint8Array {
  if (ram.length % PAGE !== 0 || ram.byteOffset % 4 !== 0)
    throw new SnapshotError('RAM size must be a multiple of 4 KiB');
  const json = new TextEncoder().encode(JSON.stringify(state));
  const pages = ram.length / PAGE;
  const words = new Int32Array(ram.buffer, ram.byteOffset, ram.length / 4);
  const bitmap = new Uint8Array(Math.ceil(pages / 8));
  let used = 0;
  for (let p = 0; p < pages; p++) {
    if (!pageIsZero(words, p)) {
      bitmap[p >> 3]! |= 1 << (p & 7);
      used++;
    }
  }
  const packed = new Uint8Array(used * PAGE);
  let o = 0;
  for (let p = 0; p < pages; p++) {
    if (bitmap[p >> 3]! & (1 << (p & 7))) {
      packed.set(ram.subarray(p * PAGE, p * PAGE + PAGE), o);
      o += PAGE;
    }
  }
  const compressed = deflateSync(packed, { level: 1 });
  const out = new Uint8Array(16 + json.length + 4 + bitmap.length + 4 + compressed.length);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  dv.setUint32(8, SNAPSHOT_FORMAT_VERSION, true);
  dv.setUint32(12, json.length, true);
  out.set(json, 16);
  let q = 16 + json.length;
  dv.setUint32(q, pages, true);
  out.set(bitmap, q + 4);
  q += 4 + bitmap.length;
  dv.setUint32(q, compressed.length, true);
  out.set(compressed, q + 4);
  return out;
}

export interface DecodedSnapshot {
  state: unknown;
  ramSize: number;
  /**
   * Writes the saved RAM into ram (ramSize bytes, zeroed: a new board's RAM), inflating straight
   * into it: no second buffer of RAM's size. Throws SnapshotError if the stored pages are not
   * exactly what the header declares.
   */
  restoreRam(ram: Uint8Array): void;
}

/** RAM the header may declare: the largest `--memory` (4 GiB); the board checks the lower bound. */
export const MAX_SNAPSHOT_RAM = 4096 * 1024 * 1024;
/**
 * DEFLATE's best case: a 258-byte match in 2 bits (1-bit length and distance codes) is 1032:1.
 * A stream shorter than declared/1032 cannot hold the pages it claims: refused before RAM is built.
 */
const DEFLATE_MAX_RATIO = 1032;
/** Compressed input fed per step: bounds one step's output to ~16 MiB (16 KiB x 1032). */
const INFLATE_STEP = 16 * 1024;

/** Parses a snapshot file; every malformed field is a SnapshotError naming it. */
export function decodeSnapshot(bytes: Uint8Array): DecodedSnapshot {
  if (bytes.length < 16 || MAGIC.some((b, i) => bytes[i] !== b))
    throw new SnapshotError('not a virtkit snapshot (bad magic)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== SNAPSHOT_FORMAT_VERSION)
    throw new SnapshotError(
      `snapshot format version ${version} is not supported (this virtkit reads version ${SNAPSHOT_FORMAT_VERSION})`,
    );
  const jsonLen = dv.getUint32(12, true);
  if (16 + jsonLen + 4 > bytes.length) throw new SnapshotError('snapshot is truncated (state)');
  let state: unknown;
  try {
    state = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + jsonLen)));
  } catch {
    throw new SnapshotError('snapshot state is not valid JSON');
  }
  let q = 16 + jsonLen;
  const pages = dv.getUint32(q, true);
  if (pages === 0 || pages > MAX_SNAPSHOT_RAM / PAGE)
    throw new SnapshotError(
      `snapshot declares ${pages} RAM pages (${pages * PAGE} bytes): at most ${MAX_SNAPSHOT_RAM / PAGE} (4 GiB), the largest --memory`,
    );
  const bitmapLen = Math.ceil(pages / 8);
  if (q + 4 + bitmapLen + 4 > bytes.length) throw new SnapshotError('snapshot is truncated (RAM bitmap)');
  const bitmap = bytes.subarray(q + 4, q + 4 + bitmapLen);
  q += 4 + bitmapLen;
  const compLen = dv.getUint32(q, true);
  if (q + 4 + compLen > bytes.length) throw new SnapshotError('snapshot is truncated (RAM contents)');
  const compressed = bytes.subarray(q + 4, q + 4 + compLen);
  if (pages % 8 !== 0 && bitmap[bitmapLen - 1]! >> (pages % 8) !== 0)
    throw new SnapshotError('snapshot RAM bitmap marks pages past the end of RAM');
  let used = 0;
  for (let p = 0; p < pages; p++) if (bitmap[p >> 3]! & (1 << (p & 7))) used++;
  if (used * PAGE > compLen * DEFLATE_MAX_RATIO + 1024)
    throw new SnapshotError(
      `snapshot RAM contents are corrupt: ${compLen} compressed bytes cannot hold the ${used} pages the bitmap declares`,
    );
  return {
    state,
    ramSize: pages * PAGE,
    restoreRam(ram: Uint8Array) {
      if (ram.length !== pages * PAGE)
        throw new SnapshotError(`snapshot RAM is ${pages * PAGE} bytes, the machine has ${ram.length}`);
      inflatePages(compressed, bitmap, pages, used, ram);
    },
  };
}

/**
 * Inflates the stored pages straight into their places in ram, checking as it goes: never more
 * output than the bitmap declares (a deflate bomb stops within one step), and no stored page all
 * zeros (the encoder never stores one: a stream of zeros is a bomb, stopped at its first page).
 */
function inflatePages(compressed: Uint8Array, bitmap: Uint8Array, pages: number, used: number, ram: Uint8Array): void {
  const total = used * PAGE;
  let out = 0; // bytes of stored pages written so far
  let page = -1; // RAM page receiving stored byte `out`
  let pageNonZero = false;
  let bad: string | undefined;
  const nextPage = () => {
    page++;
    while (page < pages && !(bitmap[page >> 3]! & (1 << (page & 7)))) page++;
  };
  const take = (chunk: Uint8Array) => {
    let i = 0;
    while (i < chunk.length && bad === undefined) {
      if (out >= total) {
        bad = 'more data than the pages the bitmap declares';
        return;
      }
      const inPage = out % PAGE;
      if (inPage === 0) {
        nextPage();
        pageNonZero = false;
      }
      const n = Math.min(PAGE - inPage, chunk.length - i);
      const part = chunk.subarray(i, i + n);
      ram.set(part, page * PAGE + inPage);
      if (!pageNonZero)
        for (let k = 0; k < n; k++)
          if (part[k] !== 0) {
            pageNonZero = true;
            break;
          }
      i += n;
      out += n;
      if (out % PAGE === 0 && !pageNonZero) bad = `stored page ${page} is all zeros (never written so)`;
    }
  };
  const inflater = new Inflate((chunk) => take(chunk));
  try {
    for (let o = 0; o < compressed.length && bad === undefined; o += INFLATE_STEP) {
      const end = Math.min(o + INFLATE_STEP, compressed.length);
      inflater.push(compressed.subarray(o, end), end === compressed.length);
    }
    if (compressed.length === 0) inflater.push(new Uint8Array(0), true);
  } catch {
    bad ??= 'the deflate stream is corrupt';
  }
  if (bad === undefined && out !== total) bad = `${out} bytes where the bitmap declares ${total}`;
  // ram is left partly written (not cleared: that would touch every page): the caller discards the board.
  if (bad !== undefined) throw new SnapshotError(`snapshot RAM contents are corrupt: ${bad}`);
}
