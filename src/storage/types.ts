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
  /**
   * Optional: deallocates [offset, offset+length) so it reads as zeros without taking space
   * (a sparse host file's hole). The length does not change. Resolves false, having changed
   * nothing, when this store, host or file system cannot (the caller falls back, see zero-range.ts).
   */
  punchHole?(offset: number, length: number): Promise<boolean>;
  /**
   * Optional: when the store's contents last changed, in milliseconds since the Unix epoch (a
   * host file's mtime). A VHD child records its parent's as the "parent time stamp".
   */
  modifiedTime?(): Promise<number | undefined>;
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
  /**
   * Zero runs: the layer at `depth` records these zeros itself (a qcow2 zero cluster, a VMDK
   * zeroed grain, a dynamic VHD's unallocated block), rather than holding nothing there. qemu
   * calls both kinds allocated, and qemu-img map shows them as present.
   */
  recorded?: boolean;
  /**
   * The file hostOffset is in, when the layer keeps data in files of its own (VMDK extents): its
   * name as the layer names it, relative to the layer's own file.
   */
  file?: string;
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
  /**
   * Lets the format deallocate the range. Advisory, as virtio-blk's DISCARD: afterwards the range
   * reads as zeros, as the backing file (where the format says so), or as before. It never
   * writes data nor allocates space (no zero filling), so a small request stays cheap.
   */
  discard(offset: number, length: number): Promise<void>;
  /** Makes the range read as zeros, unmapping where the format can. */
  writeZeroes(offset: number, length: number): Promise<void>;
  /** Status of the run that starts at offset, at most length bytes long. */
  blockStatus(offset: number, length: number): Promise<ExtentStatus>;
  /** The backing (parent) image, if any. */
  readonly backing?: BlockBackend;
  /**
   * What a differencing child records to recognise this image as its parent (VHD: the footer's
   * unique ID; VHDX: the DataWriteGuid). Wrappers pass it through.
   */
  readonly identity?: ImageIdentity;
  /**
   * True for a stand-in for a backing file that was deliberately not opened (info, rebase -u):
   * its size and identity are unknown, so a child must not check them against its header.
   */
  readonly unopened?: boolean;
  close(): Promise<void>;
}

export interface ImageIdentity {
  /** 16 bytes as stored in the image: the VHD footer's unique ID or the VHDX DataWriteGuid. */
  readonly uniqueId: Uint8Array;
  /** VHD: the image file's modification time, seconds since 2000-01-01 00:00 UTC, when known. */
  readonly modifiedVhdTime?: number;
  /** The file it was read from, for errors. */
  readonly file?: string;
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
  | 'io'
  /** Another opener holds the file in a way that conflicts (host image locking). */
  | 'locked';

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

/*
 * Optional capabilities. A format implements the ones it supports; callers test with the guards
 * below instead of checking `format` names, so a new format gains a feature by implementing it.
 */

/** What `qemu-img check` reports, with the same meaning for each number. */
export interface CheckResult {
  /** Clusters whose refcount is higher than the number of references (space lost, harmless). */
  leaks: number;
  /** Refcounts lower than the number of references, bad offsets, overlapping metadata (dangerous). */
  corruptions: number;
  leaksFixed: number;
  corruptionsFixed: number;
  /** Allocated/total virtual clusters and the offset just past the last allocated host cluster. */
  allocatedClusters: number;
  totalClusters: number;
  fragmentedClusters: number;
  compressedClusters: number;
  imageEndOffset: number;
  /** One line per problem found, in the order found. */
  messages: string[];
}

export interface CheckableBackend {
  check(repair?: 'leaks' | 'all'): Promise<CheckResult>;
  /** False when check() only checks: asked to repair, qemu-img says the format has no check. */
  readonly canRepair?: boolean;
}

/** An image that can store a whole cluster compressed (`qemu-img convert -c`). */
export interface CompressedWriteBackend {
  /** The unit `writeCompressedCluster` takes; offsets must be aligned to it. */
  readonly clusterSize: number;
  /** Writes one cluster (data.length == clusterSize, or less at the end of the disk) compressed. */
  writeCompressedCluster(offset: number, data: Uint8Array): Promise<void>;
}

export interface SnapshotInfo {
  id: string;
  name: string;
  /** Bytes of saved VM state (0 for disk-only snapshots). */
  vmStateSize: number;
  /** Wall-clock time of creation: seconds and nanoseconds since the epoch. */
  dateSec: number;
  dateNsec: number;
  /** Guest clock at creation, in nanoseconds. */
  vmClockNsec: number;
  /** Virtual disk size when taken. */
  diskSize: number;
}

/** Internal snapshots (qcow2): names or ids select a snapshot, as `qemu-img snapshot` does. */
export interface SnapshotBackend {
  listSnapshots(): Promise<SnapshotInfo[]>;
  createSnapshot(
    name: string,
    opts?: { dateSec?: number; dateNsec?: number; vmClockNsec?: number },
  ): Promise<SnapshotInfo>;
  applySnapshot(nameOrId: string): Promise<void>;
  deleteSnapshot(nameOrId: string): Promise<void>;
}

/** A disk whose virtual size can change; shrinking refuses when data would be lost. */
export interface ResizableBackend {
  resize(newSize: number): Promise<void>;
}

export function isCheckable(b: BlockBackend): b is BlockBackend & CheckableBackend {
  return typeof (b as Partial<CheckableBackend>).check === 'function';
}
export function canWriteCompressed(b: BlockBackend): b is BlockBackend & CompressedWriteBackend {
  return typeof (b as Partial<CompressedWriteBackend>).writeCompressedCluster === 'function';
}
export function hasSnapshots(b: BlockBackend): b is BlockBackend & SnapshotBackend {
  return typeof (b as Partial<SnapshotBackend>).listSnapshots === 'function';
}
export function isResizable(b: BlockBackend): b is BlockBackend & ResizableBackend {
  return typeof (b as Partial<ResizableBackend>).resize === 'function';
}

/** Shared argument check for every BlockBackend: a StorageError('out-of-range') naming the request. */
export function checkRange(b: { size: number }, offset: number, length: number, what = 'request'): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > b.size
  ) {
    throw new StorageError('out-of-range', `${what} at ${offset}+${length} is outside the disk (size ${b.size})`);
  }
}
