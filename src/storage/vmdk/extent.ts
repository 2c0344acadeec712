/**
 * One VMDK extent: a slice of the virtual disk stored in one file (or nowhere, for ZERO extents).
 * Offsets are relative to the extent. `Fallback` supplies what unallocated parts read as (the
 * parent image for delta disks, zeros otherwise); sparse extents call it, flat ones never do.
 */
import type { ByteStore } from '../types.ts';
import { StorageError } from '../types.ts';
import { discardBytes, zeroBytes } from '../zero-range.ts';

export type Fallback = (offset: number, buf: Uint8Array) => Promise<void>;

export interface ExtentRun {
  length: number;
  /** 'data': stored here; 'zero': known zeros here; 'unallocated': falls back to the parent (or zeros). */
  kind: 'data' | 'zero' | 'unallocated';
  hostOffset?: number;
}

export interface Extent {
  readonly size: number;
  readonly writable: boolean;
  /** Bytes per grain, for sparse extents (flat and zero extents have none). */
  readonly grainBytes?: number;
  /** Grains are compressed (streamOptimized). */
  readonly compressed?: boolean;
  read(offset: number, buf: Uint8Array, fallback: Fallback): Promise<void>;
  write(offset: number, data: Uint8Array, fallback: Fallback): Promise<void>;
  /** Makes the range read as zeros (discard: may instead fall back to the parent, when `parentShows`). */
  zero(offset: number, length: number, discard: boolean, hasParent: boolean, fallback: Fallback): Promise<void>;
  status(offset: number, length: number): Promise<ExtentRun>;
  /**
   * qemu-img check's test of a sparse extent: the offset (within the extent) of the first
   * allocated grain whose data would start at or past the end of the file, or undefined.
   */
  firstGrainPastEnd?(): Promise<number | undefined>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export class FlatExtent implements Extent {
  constructor(
    private readonly store: ByteStore,
    readonly size: number,
    private readonly start: number,
    readonly writable: boolean,
  ) {}

  read(offset: number, buf: Uint8Array): Promise<void> {
    return this.store.read(this.start + offset, buf);
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    return this.store.write(this.start + offset, data);
  }

  /** As a raw image: discard punches holes or does nothing, write-zeroes never fills holes. */
  zero(offset: number, length: number, discard: boolean): Promise<void> {
    return (discard ? discardBytes : zeroBytes)(this.store, this.start + offset, length);
  }

  async status(offset: number, length: number): Promise<ExtentRun> {
    return { length, kind: 'data', hostOffset: this.start + offset };
  }

  flush(): Promise<void> {
    return this.writable ? this.store.flush() : Promise.resolve();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/** A ZERO extent (or NOACCESS space): reads as zeros, never stores anything. */
export class ZeroExtent implements Extent {
  readonly writable = false;
  constructor(readonly size: number) {}
  async read(_o: number, buf: Uint8Array): Promise<void> {
    buf.fill(0);
  }
  async write(): Promise<void> {
    throw new StorageError('read-only', 'VMDK ZERO extent cannot be written');
  }
  async zero(): Promise<void> {}
  async status(_o: number, length: number): Promise<ExtentRun> {
    return { length, kind: 'zero' };
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
