/**
 * Opens a disk image by host path: format detection, backing chains and extent files, with names
 * inside an image resolved against the directory of the image that names them (as qemu does).
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { CreateOptions } from '../../storage/formats.ts';
import { openImage, type OpenImageOptions } from '../../storage/open.ts';
import { StorageError, type BlockBackend, type ByteStore } from '../../storage/types.ts';
import { FileStore } from './file-store.ts';
import { lockModeFor } from './image-lock.ts';

export interface OpenImageFileOptions extends Omit<OpenImageOptions, 'openFile'> {
  readOnly?: boolean;
  /**
   * Default true: QEMU-compatible image locks (image-lock.ts) on the image and on every file of
   * its chain and extents, held until the backend closes. A conflict fails the open with
   * StorageError('locked'). A writable image uses write and refuses to share write; read-only
   * files (and backing files) refuse to share write unless `forceShare`.
   */
  lock?: boolean;
  /** qemu's force-share (-U): read-only opens refuse nothing to other openers. */
  forceShare?: boolean;
}

/** How a host open locks: false not at all, otherwise QEMU's modes, with force-share or not. */
export type HostLocking = false | { forceShare?: boolean };

function lockOption(readOnly: boolean, locking: HostLocking) {
  return locking === false ? undefined : lockModeFor(readOnly, locking.forceShare);
}

/** Resolves `name` (as written inside the image `referrer`) to a host path. */
export function resolveImageRef(name: string, referrer: string): string {
  return isAbsolute(name) ? name : resolve(dirname(referrer), name);
}

export async function openHostFile(
  name: string,
  readOnly: boolean,
  referrer: string,
  locking: HostLocking = {},
): Promise<ByteStore> {
  return FileStore.open(resolveImageRef(name, referrer), { readOnly, lock: lockOption(readOnly, locking) });
}

/**
 * Like openHostFile, but a writable open creates the file when it is missing. For create() paths
 * only: a format's create() writes companion files (a monolithicFlat VMDK's `<name>-flat.vmdk`)
 * through CreateOptions.openFile, while opening an image must never conjure up missing files.
 */
export async function createHostFile(
  name: string,
  readOnly: boolean,
  referrer: string,
  locking: HostLocking = {},
): Promise<ByteStore> {
  return FileStore.open(resolveImageRef(name, referrer), {
    readOnly,
    create: !readOnly,
    lock: lockOption(readOnly, locking),
  });
}

/** CreateOptions.openFile for creating the image at `imagePath`: names resolve beside it. */
export function hostFileCreator(imagePath: string): NonNullable<CreateOptions['openFile']> {
  const referrer = resolve(imagePath);
  return (name, readOnly) => createHostFile(name, readOnly, referrer);
}

export async function openImageFile(path: string, opts: OpenImageFileOptions = {}): Promise<BlockBackend> {
  const readOnly = opts.readOnly ?? false;
  const locking: HostLocking = opts.lock === false ? false : { forceShare: opts.forceShare };
  const store = await FileStore.open(path, { readOnly, lock: lockOption(readOnly, locking) });
  // A file this open already holds conflicts with our own lock when it comes round again (a
  // backing chain that loops through a writable image): name the loop, not a lock.
  const held = new Set([store.name]);
  const openFile = async (name: string, ro: boolean, referrer: string): Promise<ByteStore> => {
    const full = resolve(resolveImageRef(name, referrer));
    try {
      const child = await openHostFile(name, ro, referrer, locking);
      held.add(child.name);
      return child;
    } catch (e) {
      if (e instanceof StorageError && e.code === 'locked' && held.has(full))
        throw new StorageError('backing-loop', `${referrer}: '${name}' loops back to ${full}`);
      throw e;
    }
  };
  try {
    return await openImage(store, { ...opts, openFile });
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
}
