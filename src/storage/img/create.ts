/** `img create`: a new, empty image, optionally on top of a backing file. */
import { StorageError } from '../types.ts';
import type { ImgContext } from './context.ts';
import { findFormat, openChain, withoutFlush, type OpenedImage } from './open-chain.ts';

export interface CreateImageOptions {
  /** qemu-img -f (default raw). */
  format?: string;
  /** Virtual size in bytes; when absent, the backing file's size. */
  size?: number;
  /** qemu-img -o key=value options for the format. */
  options?: Record<string, string>;
  /** -b and -F: the backing file as it will be written in the header, and its format. */
  backingFile?: string;
  backingFormat?: string;
  /**
   * 'unsafe': nothing is synced to the host (convert's default -t unsafe: the image is about to
   * be filled and closed anyway, and a crash leaves a scratch copy worth nothing). Default
   * 'writeback': the new image is durable when create returns.
   */
  cache?: 'writeback' | 'unsafe';
}

export interface CreateImageResult {
  format: string;
  size: number;
  backingFormat?: string;
}

export async function imgCreate(ctx: ImgContext, path: string, opts: CreateImageOptions): Promise<CreateImageResult> {
  const fmt = findFormat(ctx, opts.format ?? 'raw');
  if (!fmt.create) throw new StorageError('unsupported', `format '${fmt.name}' does not support image creation`);
  let size = opts.size;
  let backingFormat = opts.backingFormat;
  if (opts.backingFile !== undefined) {
    // Open the backing file once: it must exist, its format is recorded, and it gives the default size.
    const backingPath = ctx.host.resolve(path, opts.backingFile);
    const backing = await openChain(ctx, backingPath, { format: backingFormat, readOnly: true });
    try {
      backingFormat = backing.layers[0]!.format;
      size ??= backing.backend.size;
    } finally {
      await backing.close();
    }
  }
  if (size === undefined)
    throw new StorageError('unsupported', 'an image size is required (or a backing file to take it from)');
  if (!Number.isSafeInteger(size) || size < 0)
    throw new StorageError('too-large', `image size ${size} is out of range`);
  const created = await ctx.host.createFile(path);
  const store = opts.cache === 'unsafe' ? withoutFlush(created) : created;
  // Backing images the format opens while creating (to read a size) are closed afterwards.
  const opened: OpenedImage[] = [];
  try {
    await fmt.create(store, size, {
      options: { ...(opts.options ?? {}) },
      backingFile: opts.backingFile,
      backingFormat,
      // Companion files a format writes while creating (a flat VMDK's extent) are new files.
      openFile: (name, ro) =>
        ro ? ctx.host.openFile(ctx.host.resolve(path, name), ro) : ctx.host.createFile(ctx.host.resolve(path, name)),
      openBacking: async (name, bf) => {
        const chain = await openChain(ctx, ctx.host.resolve(path, name), { format: bf, readOnly: true });
        opened.push(chain);
        return chain.backend;
      },
    });
    await store.flush();
  } finally {
    for (const o of opened) await o.close().catch(() => undefined);
    await store.close();
  }
  return { format: fmt.name, size, backingFormat };
}
