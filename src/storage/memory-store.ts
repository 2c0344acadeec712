/**
 * A ByteStore held in memory: tests, the browser, and scratch images. The buffer grows by
 * doubling so appending cluster after cluster stays linear.
 */
import { StorageError, type ByteStore } from './types.ts';

/** Refuse sizes an ArrayBuffer cannot hold rather than failing deep inside the engine. */
const MAX_MEMORY_STORE = 2 ** 32;

export class MemoryStore implements ByteStore {
  private buf: Uint8Array;
  private length: number;

  constructor(
    readonly name = 'memory',
    initial?: Uint8Array,
    readonly readOnly = false,
  ) {
    this.buf = initial ? initial.slice() : new Uint8Array(0);
    this.length = this.buf.length;
  }

  /** A copy of the current contents (tests compare images byte for byte). */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }

  /** A read-only view of the same bytes, as a second opener of the "file" would see them. */
  readOnlyView(): MemoryStore {
    return new MemoryStore(this.name, this.bytes(), true);
  }

  async size(): Promise<number> {
    return this.length;
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    if (offset < 0) throw new StorageError('out-of-range', `${this.name}: negative read offset ${offset}`);
    const avail = Math.max(0, Math.min(buf.length, this.length - offset));
    if (avail > 0) buf.set(this.buf.subarray(offset, offset + avail));
    buf.fill(0, avail);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    if (this.readOnly) throw new StorageError('read-only', `${this.name} is read-only`);
    if (offset < 0) throw new StorageError('out-of-range', `${this.name}: negative write offset ${offset}`);
    const end = offset + data.length;
    this.reserve(end);
    this.buf.set(data, offset);
    if (end > this.length) this.length = end;
  }

  async truncate(size: number): Promise<void> {
    if (this.readOnly) throw new StorageError('read-only', `${this.name} is read-only`);
    this.reserve(size);
    if (size < this.length) this.buf.fill(0, size, this.length);
    this.length = size;
  }

  /** Zeros in place: never grows the buffer (past the end reads as zeros already). */
  async punchHole(offset: number, length: number): Promise<boolean> {
    if (this.readOnly) throw new StorageError('read-only', `${this.name} is read-only`);
    if (offset < this.length) this.buf.fill(0, Math.max(0, offset), Math.min(this.length, offset + length));
    return true;
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}

  private reserve(end: number): void {
    if (end <= this.buf.length) return;
    if (end > MAX_MEMORY_STORE)
      throw new StorageError('too-large', `${this.name}: ${end} bytes is too large for memory`);
    const next = new Uint8Array(Math.min(MAX_MEMORY_STORE, Math.max(end, this.buf.length * 2, 4096)));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
}
