/**
 * The Node host for the img library (src/storage/img): host files as ByteStores, names inside
 * images resolved the way qemu-img does, and the on-disk allocation of a file for actual-size.
 */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { ImgContext, ImgHost } from '../../storage/img/context.ts';
import { formats } from '../../storage/registry.ts';
import type { ByteStore } from '../../storage/types.ts';
import { FileStore } from './file-store.ts';
import { fileDataRanges } from './img-holes.ts';

export const nodeImgHost: ImgHost = {
  openFile(path: string, readOnly: boolean): Promise<ByteStore> {
    return FileStore.open(path, { readOnly });
  },
  async createFile(path: string): Promise<ByteStore> {
    const store = await FileStore.open(path, { create: true });
    await store.truncate(0);
    return store;
  },
  /** qemu's path_combine: a relative name is taken relative to the naming image's directory, unnormalised. */
  resolve(imagePath: string, name: string): string {
    if (isAbsolute(name)) return name;
    const slash = imagePath.lastIndexOf('/');
    return slash < 0 ? name : imagePath.slice(0, slash + 1) + name;
  },
  async canonical(path: string): Promise<string> {
    try {
      return await realpath(path);
    } catch {
      return path; // Opening it will report the real problem.
    }
  },
  async dataRanges(path: string) {
    try {
      return await fileDataRanges(path, (await stat(path)).size);
    } catch {
      return undefined;
    }
  },
  async allocatedSize(path: string): Promise<number | undefined> {
    try {
      return (await stat(path)).blocks * 512;
    } catch {
      return undefined;
    }
  },
};

/** memcmp against a shared zero buffer: an order of magnitude faster than a JS loop. */
const ZEROS = Buffer.alloc(1 << 20);
export function isZeroFast(buf: Uint8Array): boolean {
  for (let off = 0; off < buf.length; off += ZEROS.length) {
    const n = Math.min(ZEROS.length, buf.length - off);
    const view = Buffer.from(buf.buffer, buf.byteOffset + off, n);
    if (ZEROS.compare(view, 0, n, 0, n) !== 0) return false;
  }
  return true;
}

export function nodeImgContext(): ImgContext {
  return { host: nodeImgHost, formats, isZero: isZeroFast };
}
