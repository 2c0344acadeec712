/**
 * What the img library needs from its surroundings. The library is platform-neutral: files come
 * in through an ImgHost (the Node host is src/host/node/img-host.ts; tests use in-memory hosts),
 * and the list of formats comes in too, so a program can restrict or extend it.
 */
import type { ImageFormat } from '../formats.ts';
import type { ByteStore } from '../types.ts';

export interface ImgHost {
  /** Opens an existing file; StorageError('not-found') when it does not exist. */
  openFile(path: string, readOnly: boolean): Promise<ByteStore>;
  /** Creates a file, or truncates an existing one to zero length. */
  createFile(path: string): Promise<ByteStore>;
  /**
   * Resolves a name written inside an image (a backing file, a VMDK extent) against the path of
   * the image that names it. Absolute names come back unchanged.
   */
  resolve(imagePath: string, name: string): string;
  /** A canonical form of a path, for loop detection in backing chains (e.g. realpath). */
  canonical?(path: string): Promise<string>;
  /** Bytes the file occupies on the host (qemu-img's actual-size / disk size), if the host can tell. */
  allocatedSize?(path: string): Promise<number | undefined>;
  /**
   * The byte ranges of a file that hold data (everything else is a hole that reads as zeros), in
   * ascending order, or undefined when the host cannot tell. Raw images opened read-only use it
   * for their block status, so convert/map/compare skip holes instead of reading them.
   */
  dataRanges?(path: string): Promise<DataRange[] | undefined>;
  /**
   * The same host with qemu-img's -U/--force-share: files opened read-only do not keep other
   * programs from writing them (hosts that lock images, like the Node host). Opening a file
   * writable through it fails. Hosts without locks need not implement it.
   */
  forceShared?(): ImgHost;
}

export interface DataRange {
  offset: number;
  length: number;
}

export interface ImgContext {
  host: ImgHost;
  /** The formats to detect and create; usually `formats` from src/storage/registry.ts. */
  formats: readonly ImageFormat[];
  /**
   * A faster "is every byte zero?" than the portable loop (Node: memcmp against a zero buffer).
   * convert scans every byte it reads, so this is on its hot path.
   */
  isZero?: (buf: Uint8Array) => boolean;
}

/** Deepest backing chain we follow; qemu has no fixed limit, but a real chain of this depth is a bug. */
export const MAX_CHAIN_DEPTH = 64;
