/**
 * Host-side backends for the fuzz board. Each completes work only when the fuzzer says so,
 * so async completions interleave with guest actions deterministically (same seed, same run),
 * and each counts what the device made it do (frames, bytes, operations in flight).
 */
import type { BlockBackend, ExtentStatus } from '../../src/storage/types.ts';
import { StorageError } from '../../src/storage/types.ts';
import type { NetBackend } from '../../src/net/types.ts';
import type { Prng } from './prng.ts';

/** Byte the DMA canary uses; the disk pattern never contains it, so a late read always shows. */
export const CANARY = 0xa5;

/** Disk content at byte `i` (never CANARY). */
export function diskPattern(i: number): number {
  const v = (i * 31 + (i >>> 9) * 7 + 1) & 0xff;
  return v === CANARY ? 0x5a : v;
}

interface PendingOp {
  run: () => void;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * An in-memory disk whose operations stay pending until pump() or completeAll() runs them.
 * The data moves when the operation completes (as with real asynchronous I/O), so a read the
 * device forgot to cancel writes into whatever buffer it was given, at that moment.
 */
export class FuzzDisk implements BlockBackend {
  readonly format = 'raw';
  readonly readOnly = false;
  readonly data: Uint8Array;
  /** Probability that pump() fails an operation with an I/O error. */
  failRate = 0.02;
  private readonly pending: PendingOp[] = [];
  /** Most operations pending at once (a device-side in-flight bound shows here too). */
  maxPending = 0;
  completed = 0;

  constructor(readonly size: number) {
    this.data = new Uint8Array(size);
    for (let i = 0; i < size; i++) this.data[i] = diskPattern(i);
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  private op(offset: number, length: number, fn: () => void): Promise<void> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      return Promise.reject(new StorageError('out-of-range', `access ${offset}+${length} past the end`));
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ run: fn, resolve, reject });
      if (this.pending.length > this.maxPending) this.maxPending = this.pending.length;
    });
  }

  /** Completes each pending operation with probability `p` (some fail), oldest first. */
  pump(rng: Prng, p: number): void {
    for (let i = 0; i < this.pending.length;) {
      if (!rng.chance(p)) {
        i++;
        continue;
      }
      const [o] = this.pending.splice(i, 1);
      this.finish(o!, rng.chance(this.failRate));
    }
  }

  /** Completes everything pending (successfully). */
  completeAll(): void {
    for (const o of this.pending.splice(0)) this.finish(o, false);
  }

  private finish(o: PendingOp, fail: boolean): void {
    this.completed++;
    if (fail) {
      o.reject(new StorageError('io', 'injected I/O error'));
      return;
    }
    o.run();
    o.resolve();
  }

  read(offset: number, buf: Uint8Array): Promise<void> {
    return this.op(offset, buf.length, () => buf.set(this.data.subarray(offset, offset + buf.length)));
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    return this.op(offset, data.length, () => this.data.set(data, offset));
  }
  flush(): Promise<void> {
    return this.op(0, 0, () => {});
  }
  discard(offset: number, length: number): Promise<void> {
    return this.op(offset, length, () => this.data.fill(0, offset, offset + length));
  }
  writeZeroes(offset: number, length: number): Promise<void> {
    return this.op(offset, length, () => this.data.fill(0, offset, offset + length));
  }
  async blockStatus(offset: number, length: number): Promise<ExtentStatus> {
    return { offset, length, data: true, zero: false, depth: 0 };
  }
  async close(): Promise<void> {}
}

/** What a counted network backend saw the NIC transmit. */
export interface NetCounters {
  framesOut: number;
  bytesOut: number;
  /** Copy of the last frame transmitted (for the sane-request check). */
  lastFrame: Uint8Array | undefined;
}

/**
 * A NetBackend that records the NIC's frames and can send frames back (echoes of what the
 * guest sent, or anything the fuzzer makes up, with a GSO size when the NIC allows large frames).
 */
export class LoopNet implements NetBackend, NetCounters {
  readonly checksumsValid = false;
  framesOut = 0;
  bytesOut = 0;
  lastFrame: Uint8Array | undefined;
  /** Largest frame the NIC takes (its driver negotiated receive offload), 0 = MTU-sized. */
  rxMax = 0;
  /** Frames waiting to be echoed back (bounded: it is the fuzzer's queue, not the device's). */
  readonly echo: Uint8Array[] = [];
  private deliver: ((frame: Uint8Array, gsoSize?: number) => void) | undefined;

  transmit(frame: Uint8Array): void {
    this.framesOut++;
    this.bytesOut += frame.length;
    this.lastFrame = frame.slice();
    if (this.echo.length < 32) this.echo.push(this.lastFrame);
  }
  connect(deliver: (frame: Uint8Array, gsoSize?: number) => void): void {
    this.deliver = deliver;
  }
  setReceiveOffload(maxFrame: number): void {
    this.rxMax = maxFrame;
  }
  /** Hands a frame to the NIC as if it arrived from the wire. */
  inject(frame: Uint8Array, gsoSize = 0): void {
    this.deliver?.(frame, gsoSize);
  }
  close(): void {}
}

/** Wraps another backend (the user-mode NAT) to count what the NIC transmits through it. */
export class CountingNet implements NetBackend, NetCounters {
  framesOut = 0;
  bytesOut = 0;
  lastFrame: Uint8Array | undefined;

  constructor(readonly inner: NetBackend) {}

  get checksumsValid(): boolean | undefined {
    return this.inner.checksumsValid;
  }
  transmit(frame: Uint8Array): void {
    this.framesOut++;
    this.bytesOut += frame.length;
    this.lastFrame = frame.slice();
    this.inner.transmit(frame);
  }
  connect(deliver: (frame: Uint8Array, gsoSize?: number) => void): void {
    this.inner.connect(deliver);
  }
  setReceiveOffload(maxFrame: number): void {
    this.inner.setReceiveOffload?.(maxFrame);
  }
  flush(): void {
    this.inner.flush?.();
  }
  close(): void {
    this.inner.close();
  }
}
