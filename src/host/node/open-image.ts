/**
 * Opens a disk image by host path: format detection, backing chains and extent files, with names
 * inside an image resolved against the directory of the image that names them (as qemu does).
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { CreateOptions } from '../../storage/formats.ts';
import { openImage, type OpenImageOptions } from '../../storage/open.ts';
import type { BlockBackend, ByteStore } from '../../storage/types.ts';
import { FileStore } from './file-store.ts';

export interface OpenImageFileOptions extends Omit<OpenImageOptions, 'openFile'> {
  readOnly?: boolean;
}

/** Resolves `name` (as written inside the image `referrer`) to a host path. */
export function resolveImageRef(name: string, referrer: string): string {
  return isAbsolute(name) ? name : resolve(dirname(referrer), name);
}

export async function openHostFile(name: string, readOnly: boolean, referrer: string): Promise<ByteStore> {
  return FileStore.open(resolveImageRef(name, referrer), { readOnly });
}

/**
 * Like openHostFile, but a writable open creates the file when it is missing. For create() paths
 * only: a format's create() writes companion files (a monolithicFlat VMDK's `<name>-flat.vmdk`)
 * through CreateOptions.openFile, while opening an image must never conjure up missing files.
 */
export async function createHostFile(name: string, readOnly: boolean, referrer: string): Promise<ByteStore> {
  return FileStore.open(resolveImageRef(name, referrer), { readOnly, create: !readOnly });
}

/** CreateOptions.openFile for creating the image at `imagePath`: names resolve beside it. */
export function hostFileCreator(imagePath: string): NonNullable<CreateOptions['openFile']> {
  const referrer = resolve(imagePath);
  return (name, readOnly) => createHostFile(name, readOnly, referrer);
}

export async function openImageFile(path: string, opts: OpenImageFileOptions = {}): Promise<BlockBackend> {
  const store = await FileStore.open(path, { readOnly: opts.readOnly ?? false });
  try {
    return await openImage(store, { ...opts, openFile: openHostFile });
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
}
