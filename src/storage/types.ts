/**
 * The storage layer's two interfaces. Platform-neutral: nothing here touches the host.
 *
 * - A ByteStore is a flat, growable array of bytes: a host file (src/host/node/file-store.ts),
 *   an in-memory buffer, an HTTP range reader (read-only).
 * - A BlockBackend is a virtual disk as a guest sees it: raw, qcow2, VMDK, VHD, VHDX ... each
 *   format is a BlockBackend over one or more ByteStores (and maybe a backing BlockBackend).
 *
 * Offsets and lengths are plain numbers (exact up to 2^53 bytes = 8 PiB). All I/O is async;
 * the CPU never awaits it (virtio-blk completes requests by raising an interrupt later).
 */

export interface ByteStore {
  /** A human-readable name for errors (usually the file path or URL). */
  readonly name: string;
  readonly readOnly: boolean;
  /** Current length in bytes. */
  size(): Promise<number>;
  /** Reads exactly buf.length bytes at offset into buf; bytes past the end read as zero. */
  read(offset: number, buf: Uint8Array): Promise<void>;
  /** Writes data at offset, growing the store if needed. Throws StorageError('read-only') if readOnly. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Sets the length (grow with zeros or shrink). */
  truncate(size: number): Promise<void>;
  /** Makes every completed write durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** One run of the virtual disk with the same allocation status, as `qemu-img map` reports it. */
export interface ExtentStatus {
  offset: number;
  length: number;
  /** The run reads as data stored somewhere in the chain (false: unallocated or zero). */
  data: boolean;
  /** The run is known to read as zeros. */
  zero: boolean;
  /** 0 = this image, 1 = its backing file, ... (the layer that supplies the data). */
  depth: number;
  /** Where the data lives in the file of that layer, when it is stored contiguously and uncompressed. */
  hostOffset?: number;
}

export interface BlockBackend {
  /** 'raw', 'qcow2', 'vmdk', 'vpc' (VHD, qemu's name), 'vhdx'. */
  readonly format: string;
  readonly readOnly: boolean;
  /** Virtual size in bytes. */
  readonly size: number;
  /** Reads buf.length bytes at offset. Reads past the end are a StorageError('out-of-range'). */
  read(offset: number, buf: Uint8Array): Promise<void>;
  write(offset: number, data: Uint8Array): Promise<void>;
  flush(): Promise<void>;
  /** Lets the format deallocate the range; afterwards it reads as zeros (or as the backing file, where the format says so). */
  discard(offset: number, length: number): Promise<void>;
  /** Makes the range read as zeros, unmapping where the format can. */
  writeZeroes(offset: number, length: number): Promise<void>;
  /** Status of the run that starts at offset, at most length bytes long. */
  blockStatus(offset: number, length: number): Promise<ExtentStatus>;
  /** The backing (parent) image, if any. */
  readonly backing?: BlockBackend;
  close(): Promise<void>;
}

export type StorageErrorCode =
  | 'read-only'
  | 'out-of-range'
  | 'bad-magic'
  | 'unsupported'
  | 'corrupt'
  | 'too-large'
  | 'not-found'
  | 'backing-loop'
  | 'backing-depth'
  | 'checksum'
  | 'io';

/** Every failure of the storage layer: a code for programs, a message that names the problem for people. */
export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}
