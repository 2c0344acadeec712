/**
 * `img rebase`: points an overlay at a different backing file. In safe mode (the default) every
 * run the overlay does not hold itself is compared between the old chain and the new backing
 * file, and where they differ the old bytes are copied into the overlay first, so the guest
 * sees the same disk afterwards. Unsafe mode (-u) only rewrites the reference.
 */
import { StorageError, type BlockBackend } from '../types.ts';
import { backingWriter } from './capabilities.ts';
import type { ImgContext } from './context.ts';
import { openChain, type OpenedImage } from './open-chain.ts';
import { sameBytes } from './zero.ts';
import { runLength } from './status-walk.ts';

export interface RebaseOptions {
  format?: string;
  /** -b: the new backing file as it will be written (relative to the image); '' or undefined = none. */
  backingFile?: string;
  /** -F: its format (detected when absent). */
  backingFormat?: string;
  /** -u: only change the reference. */
  unsafe?: boolean;
  onProgress?: (done: number, total: number) => void;
}

const CHUNK = 1024 * 1024;
/** Granularity of the copy: only blocks that differ are written into the overlay. */
const BLOCK = 64 * 1024;

export async function imgRebase(ctx: ImgContext, path: string, opts: RebaseOptions): Promise<{ copiedBytes: number }> {
  const newName = opts.backingFile ? opts.backingFile : undefined;
  const img = await openChain(ctx, path, { format: opts.format, readOnly: false, backing: !opts.unsafe });
  let fresh: OpenedImage | undefined;
  try {
    const top = img.backend;
    const setBacking = backingWriter(top);
    if (!setBacking) throw new StorageError('unsupported', `format '${top.format}' cannot change its backing file`);
    let backingFormat = opts.backingFormat;
    if (newName !== undefined) {
      // Safe mode reads the new backing file; unsafe mode still checks it exists when it can, but
      // like qemu-img -u accepts a file that is not there yet when it cannot be opened.
      try {
        fresh = await openChain(ctx, ctx.host.resolve(path, newName), { format: backingFormat, readOnly: true });
        backingFormat ??= fresh.layers[0]!.format;
      } catch (e) {
        if (!opts.unsafe) throw e;
      }
    }
    let copied = 0;
    if (!opts.unsafe) copied = await copyDifferences(top, fresh?.backend, opts.onProgress);
    await setBacking(newName, newName !== undefined ? backingFormat : undefined);
    await top.flush();
    return { copiedBytes: copied };
  } finally {
    await fresh?.close();
    await img.close();
  }
}

async function copyDifferences(
  top: BlockBackend,
  next: BlockBackend | undefined,
  onProgress?: (done: number, total: number) => void,
): Promise<number> {
  const oldBuf = new Uint8Array(CHUNK);
  const newBuf = new Uint8Array(CHUNK);
  let copied = 0;
  let pos = 0;
  while (pos < top.size) {
    const st = await top.blockStatus(pos, Math.min(CHUNK, top.size - pos));
    const n = runLength(st, pos, top.size - pos);
    // Runs the overlay stores itself stay as they are; everything else may change meaning.
    if (!(st.depth === 0 && st.data)) {
      const a = oldBuf.subarray(0, n);
      const b = newBuf.subarray(0, n);
      await top.read(pos, a);
      b.fill(0);
      if (next && pos < next.size) await next.read(pos, b.subarray(0, Math.min(n, next.size - pos)));
      for (let s = 0; s < n; s += BLOCK) {
        const e = Math.min(n, s + BLOCK);
        if (!sameBytes(a, b, s, e)) {
          await top.write(pos + s, a.subarray(s, e));
          copied += e - s;
        }
      }
    }
    pos += n;
    onProgress?.(pos, top.size);
  }
  return copied;
}
