/**
 * The one walk every block-mapped format does: a byte range of the virtual disk cut into pieces
 * that never cross a block (cluster, grain) boundary, each clamped to the request.
 *
 * A cursor rather than a callback or a generator: the callers' loop bodies await I/O, return
 * early and sometimes take more (or less) than one piece, which a plain `while (w.next())` loop
 * allows without a closure or a per-piece object. One cursor per request, no allocation per
 * piece (bench/storage/block-walk.ts measures it against the alternatives).
 */
export class BlockWalk {
  /** Block index of the current piece. */
  index = 0;
  /** Where the current piece starts inside its block. */
  inBlock = 0;
  /** Where the current piece starts relative to the walk's start (its offset in the caller's buffer). */
  done = 0;
  /** Bytes in the current piece (0 before the first next()). */
  length = 0;

  /**
   * @param blockSize bytes per block (> 0); blocks start at multiples of it
   * @param offset where the walk starts
   * @param total bytes to walk
   */
  constructor(
    readonly blockSize: number,
    readonly offset: number,
    readonly total: number,
  ) {}

  /** Moves past the current piece to the next one; false once the range is walked. */
  next(): boolean {
    const done = (this.done += this.length);
    if (done >= this.total) {
      this.length = 0;
      return false;
    }
    const bs = this.blockSize;
    const pos = this.offset + done;
    const index = Math.floor(pos / bs);
    const inBlock = pos - index * bs;
    this.index = index;
    this.inBlock = inBlock;
    this.length = Math.min(this.total - done, bs - inBlock);
    return true;
  }

  /** Position of the current piece on the disk. */
  get pos(): number {
    return this.offset + this.done;
  }

  /** Bytes of the walk not yet behind the current piece's start. */
  get left(): number {
    return this.total - this.done;
  }

  /**
   * Says the current piece was `n` bytes instead (a caller that handled several blocks at once,
   * or stopped short); next() continues after them.
   */
  take(n: number): void {
    this.length = n;
  }

  /** Whether the piece covers its whole block; the disk's last block, cut short at `size`, counts whole up to there. */
  whole(size: number): boolean {
    return this.inBlock === 0 && (this.length === this.blockSize || this.pos + this.length === size);
  }
}

/** Bytes from `pos` to the end of its block or of the request (`max` bytes), whichever comes first. */
export function inBlockLength(pos: number, max: number, blockSize: number): number {
  return Math.min(max, blockSize - (pos % blockSize));
}

/** Pieces of zeros written by writeZeroPieces, so a huge range never allocates a huge buffer. */
export const ZERO_PIECE = 1 << 20;

/**
 * Writes `length` zero bytes at `offset` through `write`, in pieces of at most `piece` bytes
 * taken from one buffer of zeros.
 */
export async function writeZeroPieces(
  write: (offset: number, data: Uint8Array) => Promise<void>,
  offset: number,
  length: number,
  piece = ZERO_PIECE,
): Promise<void> {
  const zeros = new Uint8Array(Math.min(length, piece));
  for (const w = new BlockWalk(piece, 0, length); w.next(); )
    await write(offset + w.done, w.length === zeros.length ? zeros : zeros.subarray(0, w.length));
}
