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
import { lockModeFor } from './image-lock.ts';

const common = {
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
} satisfies Partial<ImgHost>;

/**
 * Every file is opened with QEMU-compatible image locks (image-lock.ts), as qemu-img does:
 * read-only opens refuse to share write and resize, writable ones use write and refuse to share
 * it. With force-share (qemu-img -U) read-only opens refuse nothing; as in qemu-img it applies to
 * read-only opens only (rebase -U: the backing files), writable ones lock as usual. A created
 * (or emptied) target is locked before it is emptied.
 */
function hostWith(forceShare: boolean): ImgHost {
  return {
    openFile(path: string, readOnly: boolean): Promise<ByteStore> {
      return FileStore.open(path, { readOnly, lock: lockModeFor(readOnly, forceShare && readOnly) });
    },
    createFile(path: string): Promise<ByteStore> {
      return FileStore.open(path, { create: true, truncate: true, lock: lockModeFor(false) });
    },
    forceShared: () => nodeImgHostForceShared,
    ...common,
  };
}

export const nodeImgHost: ImgHost = hostWith(false);
const nodeImgHostForceShared: ImgHost = hostWith(true);

/**
 * memcmp of the buffer against itself shifted by 16 bytes: with the first 16 bytes zero, equal
 * means every byte is zero. An order of magnitude faster than a JS loop, and it streams the
 * buffer's memory once (comparing against a zero buffer streams twice as much).
 */
export function isZeroFast(buf: Uint8Array): boolean {
  const n = buf.length;
  for (let i = 0; i < Math.min(16, n); i++) if (buf[i] !== 0) return false;
  if (n <= 16) return true;
  const view = Buffer.from(buf.buffer, buf.byteOffset, n);
  return view.compare(view, 0, n - 16, 16, n) === 0;
}

export function nodeImgContext(): ImgContext {
  return { host: nodeImgHost, formats, isZero: isZeroFast };
}
