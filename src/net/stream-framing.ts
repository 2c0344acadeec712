/**
 * Ethernet frames over a byte stream, as QEMU's `-netdev stream` / `-netdev socket` carry them:
 * each frame is preceded by its length as a 32-bit big-endian number. The reader is bounded:
 * a length above `maxFrame` is a protocol error (the peer is not speaking this format).
 */
import { put32 } from './bytes.ts';

export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FramingError';
  }
}

export function frameRecord(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + frame.length);
  put32(out, 0, frame.length);
  out.set(frame, 4);
  return out;
}

export class FrameReader {
  private buf = new Uint8Array(0);
  private len = 0;

  constructor(
    private readonly onFrame: (frame: Uint8Array) => void,
    private readonly maxFrame = 65536,
  ) {}

  /** Feeds stream bytes; calls onFrame for each complete frame. Throws FramingError on a bad length. */
  push(chunk: Uint8Array): void {
    if (this.len + chunk.length > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.len + chunk.length, 4096));
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
    let p = 0;
    while (this.len - p >= 4) {
      const b = this.buf;
      const n = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
      if (n > this.maxFrame) throw new FramingError(`frame length ${n} exceeds ${this.maxFrame}`);
      if (this.len - p - 4 < n) break;
      this.onFrame(b.subarray(p + 4, p + 4 + n));
      p += 4 + n;
    }
    if (p > 0) {
      this.buf.copyWithin(0, p, this.len);
      this.len -= p;
    }
  }
}
