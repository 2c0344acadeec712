/**
 * A ByteStore that watches what an image format does to it while the fuzzer feeds it a damaged
 * image: how many reads (a hang shows up as an ever-growing count), the largest single read (an
 * unchecked size field turns into a giant buffer), memory held by ArrayBuffers while it reads,
 * and any write or truncate of a store opened read-only. Breaking a limit records a violation and
 * throws a GuardViolation, which is deliberately not a StorageError so the case fails.
 */
import { StorageError, type ByteStore } from '../../src/storage/types.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';

export interface GuardLimits {
  /** Store calls (read/write/size/...) one case may make, summed over every store it opens. */
  maxCalls: number;
  /** Bytes one read or write may cover. */
  maxIo: number;
  /** Bytes ArrayBuffers may hold above the level measured when the case started. */
  maxArrayBufferGrowth: number;
  /** The store's length after a read-write pass may exceed the original by at most this. */
  maxGrowth: number;
}

export const DEFAULT_LIMITS: GuardLimits = {
  maxCalls: 50_000,
  maxIo: 64 << 20,
  maxArrayBufferGrowth: 512 << 20,
  maxGrowth: 64 << 20,
};

export class GuardViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GuardViolation';
  }
}

/** The counters shared by every store a case opens (the image, its backing files, extents). */
export class CaseMeter {
  calls = 0;
  largestIo = 0;
  peakArrayBuffers = 0;
  readonly violations: string[] = [];
  private readonly baseline: number;

  constructor(readonly limits: GuardLimits) {
    this.baseline = arrayBuffers();
  }

  violate(what: string): never {
    this.violations.push(what);
    throw new GuardViolation(what);
  }

  call(name: string, op: string): void {
    this.calls++;
    if (this.calls > this.limits.maxCalls)
      this.violate(`${name}: more than ${this.limits.maxCalls} store calls (${op}): a loop without progress?`);
  }

  io(name: string, op: string, offset: number, length: number): void {
    this.call(name, op);
    if (length > this.largestIo) this.largestIo = length;
    if (length > this.limits.maxIo) this.violate(`${name}: one ${op} of ${length} bytes at ${offset}`);
    const ab = arrayBuffers() - this.baseline;
    if (ab > this.peakArrayBuffers) this.peakArrayBuffers = ab;
    if (ab > this.limits.maxArrayBufferGrowth)
      this.violate(`${name}: ${ab} bytes of ArrayBuffers alive during a ${op}`);
  }
}

function arrayBuffers(): number {
  return process.memoryUsage().arrayBuffers;
}

export class GuardStore implements ByteStore {
  private readonly inner: MemoryStore;
  writes = 0;

  constructor(
    readonly name: string,
    bytes: Uint8Array,
    readonly readOnly: boolean,
    private readonly meter: CaseMeter,
  ) {
    // Writable MemoryStore underneath even when read-only, so a write slipping past the
    // readOnly flag is seen here rather than refused below.
    this.inner = new MemoryStore(name, bytes, false);
  }

  bytes(): Uint8Array {
    return this.inner.bytes();
  }

  async size(): Promise<number> {
    this.meter.call(this.name, 'size');
    return this.inner.size();
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    this.meter.io(this.name, 'read', offset, buf.length);
    if (!Number.isSafeInteger(offset) || offset < 0)
      this.meter.violate(`${this.name}: read at invalid offset ${offset}`);
    await this.inner.read(offset, buf);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.meter.io(this.name, 'write', offset, data.length);
    if (this.readOnly)
      this.meter.violate(`${this.name}: write of ${data.length} bytes at ${offset} to a read-only store`);
    if (!Number.isSafeInteger(offset) || offset < 0)
      this.meter.violate(`${this.name}: write at invalid offset ${offset}`);
    this.writes++;
    await this.inner.write(offset, data);
  }

  async truncate(size: number): Promise<void> {
    this.meter.io(this.name, 'truncate', size, 0);
    if (this.readOnly) this.meter.violate(`${this.name}: truncate to ${size} on a read-only store`);
    if (!Number.isSafeInteger(size) || size < 0) this.meter.violate(`${this.name}: truncate to invalid size ${size}`);
    await this.inner.truncate(size);
  }

  async flush(): Promise<void> {
    this.meter.call(this.name, 'flush');
  }

  async close(): Promise<void> {
    this.meter.call(this.name, 'close');
  }
}

/** Re-exported so the fuzz harness can tell acceptable failures from bugs in one place. */
export { StorageError };
