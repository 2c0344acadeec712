/**
 * Dirty tracking for incremental backups: one bit per `granularity` bytes of a disk (the qcow2
 * cluster size, coarser for huge disks so a bitmap stays under MAX_BITMAP_BYTES), set by every
 * guest write, zero write or discard, and handed over and cleared at each backup point
 * (QMP x-virtkit-backup-point, docs/manager.md "Backups"). The bits live in the VM process only:
 * a new process starts a new `generation`, and the daemon makes the first backup after it full.
 */
import type { BlockBackend } from '../storage/types.ts';

/** 1 MiB of bits: a 64 TiB disk at 8 MiB granularity, a 512 GiB disk at 64 KiB. */
export const MAX_BITMAP_BYTES = 1 << 20;

export class DirtyBitmap {
  readonly granularity: number;
  private bits: Uint8Array;

  constructor(
    readonly size: number,
    clusterSize: number,
  ) {
    let g = Math.max(512, clusterSize);
    while (Math.ceil(size / g / 8) > MAX_BITMAP_BYTES) g *= 2;
    this.granularity = g;
    this.bits = new Uint8Array(Math.max(1, Math.ceil(size / g / 8)));
  }

  /** Marks every unit [offset, offset+length) touches. */
  mark(offset: number, length: number): void {
    if (length <= 0) return;
    const g = this.granularity;
    const first = Math.floor(offset / g);
    const last = Math.floor((Math.min(offset + length, this.size) - 1) / g);
    for (let i = first; i <= last; i++) this.bits[i >> 3]! |= 1 << (i & 7);
  }

  /** The bits so far (bit i of byte i>>3, LSB first), and a fresh empty bitmap from now on. */
  takeAndReset(): Uint8Array {
    const taken = this.bits;
    this.bits = new Uint8Array(taken.length);
    return taken;
  }

  /** Puts bits taken by takeAndReset back (the backup point that took them failed). */
  giveBack(bits: Uint8Array): void {
    for (let i = 0; i < Math.min(bits.length, this.bits.length); i++) this.bits[i]! |= bits[i]!;
  }

  /** Bytes of the disk marked dirty (rounded to whole units). */
  static dirtyBytes(bits: Uint8Array, granularity: number, size: number): number {
    let n = 0;
    for (const { length } of DirtyBitmap.runs(bits, granularity, size)) n += length;
    return n;
  }

  /** The dirty ranges, merged, clipped to the disk's size. */
  static *runs(bits: Uint8Array, granularity: number, size: number): Generator<{ offset: number; length: number }> {
    const units = Math.ceil(size / granularity);
    let start = -1;
    for (let i = 0; i <= units; i++) {
      const set = i < units && (bits[i >> 3]! & (1 << (i & 7))) !== 0;
      if (set && start < 0) start = i;
      else if (!set && start >= 0) {
        const offset = start * granularity;
        yield { offset, length: Math.min(i * granularity, size) - offset };
        start = -1;
      }
    }
  }
}

/**
 * Wraps `backend`'s write paths (on the object itself, so its other capabilities such as
 * snapshots stay visible to the `hasSnapshots` guards) to mark what they change in a new bitmap.
 * Marking happens before the write is issued: a backup point taken once I/O is drained sees it.
 */
export function trackWrites(backend: BlockBackend, clusterSize: number): DirtyBitmap {
  const bitmap = new DirtyBitmap(backend.size, clusterSize);
  const write = backend.write.bind(backend);
  const writeZeroes = backend.writeZeroes.bind(backend);
  const discard = backend.discard.bind(backend);
  Object.assign(backend, {
    write(offset: number, data: Uint8Array) {
      bitmap.mark(offset, data.length);
      return write(offset, data);
    },
    writeZeroes(offset: number, length: number) {
      bitmap.mark(offset, length);
      return writeZeroes(offset, length);
    },
    discard(offset: number, length: number) {
      bitmap.mark(offset, length);
      return discard(offset, length);
    },
  });
  return bitmap;
}
