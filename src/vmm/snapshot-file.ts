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
import { deflateSync, inflateSync } from 'fflate';

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
  /** Writes the saved RAM into ram (which must be ramSize bytes and zeroed or to be overwritten). */
  restoreRam(ram: Uint8Array): void;
}

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
    state = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + jsonLen)));
  } catch {
    throw new SnapshotError('snapshot state is not valid JSON');
  }
  let q = 16 + jsonLen;
  const pages = dv.getUint32(q, true);
  const bitmapLen = Math.ceil(pages / 8);
  if (q + 4 + bitmapLen + 4 > bytes.length) throw new SnapshotError('snapshot is truncated (RAM bitmap)');
  const bitmap = bytes.subarray(q + 4, q + 4 + bitmapLen);
  q += 4 + bitmapLen;
  const compLen = dv.getUint32(q, true);
  if (q + 4 + compLen > bytes.length) throw new SnapshotError('snapshot is truncated (RAM contents)');
  const compressed = bytes.subarray(q + 4, q + 4 + compLen);
  let used = 0;
  for (let p = 0; p < pages; p++) if (bitmap[p >> 3]! & (1 << (p & 7))) used++;
  return {
    state,
    ramSize: pages * PAGE,
    restoreRam(ram: Uint8Array) {
      if (ram.length !== pages * PAGE)
        throw new SnapshotError(`snapshot RAM is ${pages * PAGE} bytes, the machine has ${ram.length}`);
      let packed: Uint8Array;
      try {
        packed = inflateSync(compressed, { out: new Uint8Array(used * PAGE) });
      } catch {
        throw new SnapshotError('snapshot RAM contents are corrupt (deflate stream)');
      }
      if (packed.length !== used * PAGE) throw new SnapshotError('snapshot RAM contents are corrupt (wrong length)');
      ram.fill(0);
      let o = 0;
      for (let p = 0; p < pages; p++) {
        if (bitmap[p >> 3]! & (1 << (p & 7))) {
          ram.set(packed.subarray(o, o + PAGE), p * PAGE);
          o += PAGE;
        }
      }
    },
  };
}
