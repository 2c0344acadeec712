/**
 * The registry of image formats. Each format module exports an ImageFormat and is listed in
 * src/storage/registry.ts; detection is by content (magic), never by file name.
 */
import type { BlockBackend, ByteStore } from './types.ts';

export interface OpenOptions {
  readOnly?: boolean;
  /**
   * Opens a file the image refers to (a backing file, a VMDK extent, a VHD parent), given the
   * name as written in the image. Relative names are resolved by the caller-supplied function
   * (the Node host resolves them against the image's directory). Absent: images that need other
   * files fail with StorageError('not-found').
   */
  openFile?: (name: string, readOnly: boolean) => Promise<ByteStore>;
  /** Opens a backing image by name (format detected or given), with chain depth/loop checks. */
  openBacking?: (name: string, format: string | undefined) => Promise<BlockBackend>;
}

export interface CreateOptions {
  /** Format-specific `-o key=value` options, as qemu-img spells them (cluster_size, compat, subformat, ...). */
  options: Record<string, string>;
  backingFile?: string;
  backingFormat?: string;
  /** Needed when a backing file is given without a size, or to read the backing size. */
  openBacking?: OpenOptions['openBacking'];
  openFile?: OpenOptions['openFile'];
}

export interface ImageFormat {
  /** qemu-img's name: 'raw', 'qcow2', 'vmdk', 'vpc', 'vhdx'. */
  readonly name: string;
  /**
   * Confidence that a store is this format, from its first bytes (at least 4 KiB, or the whole
   * file if smaller) and, when the caller read them, its last 512 bytes (`tail`; a fixed VHD
   * has its only signature there): 0 = no, 100 = certain.
   */
  probe(head: Uint8Array, storeSize: number, tail?: Uint8Array): number;
  open(store: ByteStore, opts: OpenOptions): Promise<BlockBackend>;
  /** Writes an empty image of the given virtual size into an empty store. */
  create?(store: ByteStore, size: number, opts: CreateOptions): Promise<void>;
}
