/** `img resize`: changes the virtual size; shrinking needs an explicit `shrink` (data past the end is lost). */
import { isResizable, StorageError } from '../types.ts';
import type { ImgContext } from './context.ts';
import { openChain } from './open-chain.ts';

export interface ResizeOptions {
  format?: string;
  /** --shrink: allow a size below the current one. */
  shrink?: boolean;
}

/** A size argument: absolute, or relative (+/-) to the current size. */
export type SizeSpec = { absolute: number } | { delta: number };

export async function imgResize(
  ctx: ImgContext,
  path: string,
  size: SizeSpec,
  opts: ResizeOptions = {},
): Promise<{ oldSize: number; newSize: number }> {
  const img = await openChain(ctx, path, { format: opts.format, readOnly: false });
  try {
    const b = img.backend;
    const oldSize = b.size;
    const newSize = 'absolute' in size ? size.absolute : oldSize + size.delta;
    if (!Number.isSafeInteger(newSize)) throw new StorageError('too-large', `new size ${newSize} is too large`);
    if (newSize < 0) throw new StorageError('out-of-range', 'image size cannot be negative');
    if (newSize < oldSize && !opts.shrink) {
      throw new StorageError('unsupported', 'use the --shrink option to perform a shrink operation');
    }
    if (!isResizable(b)) throw new StorageError('unsupported', `format '${b.format}' does not support resizing`);
    if (newSize !== oldSize) await b.resize(newSize);
    await b.flush();
    return { oldSize, newSize };
  } finally {
    await img.close();
  }
}
