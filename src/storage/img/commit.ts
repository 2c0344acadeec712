/**
 * `img commit`: writes the data an overlay holds into its backing file (or a deeper base),
 * then empties the overlay when the format can, so it reads through to the base again.
 */
import { isResizable, StorageError } from '../types.ts';
import { isEmptiable } from './capabilities.ts';
import type { ImgContext } from './context.ts';
import { openChain } from './open-chain.ts';
import { isZero } from './zero.ts';
import { runLength } from './status-walk.ts';

export interface CommitOptions {
  format?: string;
  /** -b: the base to commit into (a path in the chain); default the immediate backing file. */
  base?: string;
  /** -d: keep the overlay's data (do not empty it). Implied by -b (`base`), as in qemu-img. */
  keep?: boolean;
  onProgress?: (done: number, total: number) => void;
}

const CHUNK = 2 * 1024 * 1024;

async function readAt(
  b: { read(o: number, x: Uint8Array): Promise<void> },
  pos: number,
  x: Uint8Array,
): Promise<Uint8Array> {
  await b.read(pos, x);
  return x;
}

export async function imgCommit(
  ctx: ImgContext,
  path: string,
  opts: CommitOptions = {},
): Promise<{ base: string; bytes: number }> {
  const img = await openChain(ctx, path, { format: opts.format, readOnly: false, backingReadOnly: false });
  try {
    const top = img.backend;
    if (img.layers.length < 2) throw new StorageError('unsupported', `'${path}' has no backing file to commit into`);
    let baseIndex = 1;
    if (opts.base !== undefined) {
      const want = ctx.host.canonical ? await ctx.host.canonical(opts.base) : opts.base;
      baseIndex = -1;
      for (let i = 1; i < img.layers.length; i++) {
        const p = img.layers[i]!.path;
        if ((ctx.host.canonical ? await ctx.host.canonical(p) : p) === want) baseIndex = i;
      }
      if (baseIndex < 0) throw new StorageError('not-found', `'${opts.base}' is not in the backing chain of '${path}'`);
    }
    const base = img.layers[baseIndex]!.backend;
    if (base.size < top.size) {
      if (!isResizable(base))
        throw new StorageError(
          'unsupported',
          `base '${img.layers[baseIndex]!.path}' is smaller than the overlay and cannot grow`,
        );
      await base.resize(top.size);
    }
    let bytes = 0;
    let pos = 0;
    const buf = new Uint8Array(CHUNK);
    while (pos < top.size) {
      const st = await top.blockStatus(pos, Math.min(CHUNK, top.size - pos));
      const n = runLength(st, pos, top.size - pos);
      if (st.data && !st.zero) {
        // Data defined above the base moves down; data from the base or below is already there.
        if (st.depth < baseIndex) {
          const x = buf.subarray(0, n);
          await top.read(pos, x);
          await base.write(pos, x);
          bytes += n;
        }
      } else {
        // The overlay reads zeros here. Whether that is its own zero run hiding base data, or a
        // hole showing the base, is settled by the bytes: the base must read zeros too.
        const bs = await base.blockStatus(pos, n);
        const m = runLength(bs, pos, n);
        if (bs.data && !bs.zero && !isZero(await readAt(base, pos, buf.subarray(0, m)))) {
          await base.writeZeroes(pos, m);
          bytes += m;
        }
        pos += m;
        opts.onProgress?.(pos, top.size);
        continue;
      }
      pos += n;
      opts.onProgress?.(pos, top.size);
    }
    await base.flush();
    // As qemu-img: -b implies -d (the layers between the top and a deeper base become invalid,
    // and the top stays readable only with its data); formats without makeEmpty keep theirs.
    const keep = opts.keep || opts.base !== undefined;
    if (!keep && isEmptiable(top)) await top.makeEmpty();
    await top.flush();
    return { base: img.layers[baseIndex]!.path, bytes };
  } finally {
    await img.close();
  }
}
