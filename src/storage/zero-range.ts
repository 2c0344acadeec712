/**
 * Discard and write-zeroes on a byte range of a store that maps the disk directly (raw images,
 * fixed VHD, flat VMDK extents). Neither may cost more than the request is worth: a 16-byte
 * guest request can name gigabytes, so nothing here writes zeros over a range blindly.
 */
import type { ByteStore } from './types.ts';

/** File systems deallocate whole blocks; a discard only punches the 4 KiB blocks it covers. */
const PUNCH_ALIGN = 4096;
/** Below this, writing the zeros is cheaper than asking the host to punch (a process on Node). */
const PUNCH_MIN = 64 * 1024;
/** Fallback write-zeroes works in pieces this big: bounded memory whatever the length. */
const CHUNK = 1 << 20;

/**
 * Advisory deallocation: punches the whole blocks inside the range when the store can, else does
 * nothing (virtio leaves a discarded range's content unspecified). Never writes or allocates.
 */
export async function discardBytes(store: ByteStore, offset: number, length: number): Promise<void> {
  if (!store.punchHole) return;
  const start = Math.ceil(offset / PUNCH_ALIGN) * PUNCH_ALIGN;
  const end = Math.floor((offset + length) / PUNCH_ALIGN) * PUNCH_ALIGN;
  if (end > start) await store.punchHole(start, end - start);
}

/**
 * Makes the range read as zeros. Large ranges are punched when the store can; otherwise each
 * piece is read first and only written when it is not zero already, so zeroing a hole never
 * allocates and zeroing data only rewrites blocks the file already has.
 */
export async function zeroBytes(store: ByteStore, offset: number, length: number): Promise<void> {
  if (length >= PUNCH_MIN && store.punchHole && (await store.punchHole(offset, length))) return;
  const buf = new Uint8Array(Math.min(length, CHUNK));
  for (let pos = offset; pos < offset + length; pos += buf.length) {
    const piece = buf.subarray(0, Math.min(buf.length, offset + length - pos));
    await store.read(pos, piece);
    if (isZero(piece)) continue;
    piece.fill(0);
    await store.write(pos, piece);
  }
}

function isZero(b: Uint8Array): boolean {
  // Four bytes at a time where the view allows; the tail byte by byte.
  const words = b.byteOffset % 4 === 0 ? b.length >>> 2 : 0;
  if (words > 0) {
    const w = new Int32Array(b.buffer, b.byteOffset, words);
    for (let i = 0; i < words; i++) if (w[i] !== 0) return false;
  }
  for (let i = words * 4; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
