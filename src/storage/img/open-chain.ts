/**
 * Opens an image file and its whole backing chain, remembering every layer (path, format, store),
 * because info --backing-chain, map, commit and rebase need to talk about the layers by name.
 * Format detection is by content; a wrong -f is an error naming the real format.
 */
import type { ImageFormat } from '../formats.ts';
import { StorageError, type BlockBackend, type ByteStore } from '../types.ts';
import { MAX_CHAIN_DEPTH, type ImgContext } from './context.ts';
import { isFileMapped, isFilePrefix } from './capabilities.ts';
import { FileHolesBackend, HoleMappedBackend, normaliseRanges } from './holes.ts';
import { readProbeHead } from '../registry.ts';

export interface ImageLayer {
  /** The path as resolved by the host (what qemu-img calls filename / full-backing-filename). */
  path: string;
  format: string;
  backend: BlockBackend;
  store: ByteStore;
  /** The backing name exactly as written in this layer's header, and the format it names. */
  backingName?: string;
  backingFormat?: string;
}

export interface OpenedImage {
  /** The top of the chain (layers[0].backend). */
  backend: BlockBackend;
  /** layers[0] is the image itself, layers[1] its backing file, ... */
  layers: ImageLayer[];
  close(): Promise<void>;
}

export interface OpenChainOptions {
  /** qemu-img -f: the format the caller expects; detected from content when absent. */
  format?: string;
  /** Default true: the img verbs that only read open read-only so the source is never modified. */
  readOnly?: boolean;
  /** False: do not open the backing file (qemu-img -U/--force-share style inspection, rebase -u). */
  backing?: boolean;
  /** Read-only flag for backing layers (commit opens them writable). Default: true. */
  backingReadOnly?: boolean;
  /**
   * 'unsafe': the image's flushes do not reach the host (no fsync), like qemu-img convert's
   * default -t unsafe: a scratch copy is worth nothing after a crash anyway. Default 'writeback'.
   */
  cache?: 'writeback' | 'unsafe';
  /**
   * Read-only VHD/VHDX layers report the holes of their file inside allocated blocks as zero
   * runs (FileHolesBackend), when the host knows the file's hole map: convert's sources, not
   * map's (qemu-img map shows allocated blocks as data).
   */
  fileHoles?: boolean;
}

export function findFormat(ctx: ImgContext, name: string): ImageFormat {
  const f = ctx.formats.find((x) => x.name === name);
  if (!f) {
    const known = ctx.formats.map((x) => x.name).join(', ');
    throw new StorageError('unsupported', `unknown image format '${name}' (known: ${known})`);
  }
  return f;
}

/** Detects the format of a store by content (its first 64 KiB and last 512 bytes), or checks that it matches the caller's -f. */
export async function chooseFormat(
  ctx: ImgContext,
  store: ByteStore,
  path: string,
  wanted?: string,
): Promise<ImageFormat> {
  const { head, size, tail } = await readProbeHead(store);
  let best: ImageFormat | undefined;
  let bestScore = 0;
  for (const f of ctx.formats) {
    const score = f.probe(head, size, tail);
    if (score > bestScore) {
      best = f;
      bestScore = score;
    }
  }
  const detected = best?.name ?? 'raw';
  if (wanted === undefined) return best ?? findFormat(ctx, 'raw');
  const f = findFormat(ctx, wanted);
  // Every file can be read as raw. Another format recognising the file is a clear mismatch;
  // a file nothing recognises may still be the wanted format when its signature is not at the
  // start (a fixed VHD keeps its footer at the end), so then the format's open() decides.
  if (wanted !== 'raw' && f.probe(head, size, tail) === 0 && detected !== 'raw') {
    throw new StorageError('bad-magic', `'${path}': image is ${detected}, not ${wanted}`);
  }
  return f;
}

export async function openChain(ctx: ImgContext, path: string, opts: OpenChainOptions = {}): Promise<OpenedImage> {
  const layers: ImageLayer[] = [];
  const seen: string[] = [];
  const readOnly = opts.readOnly ?? true;

  const openLayer = async (
    p: string,
    format: string | undefined,
    depth: number,
    ro: boolean,
  ): Promise<BlockBackend> => {
    if (depth > MAX_CHAIN_DEPTH) {
      throw new StorageError('backing-depth', `backing chain of '${path}' is deeper than ${MAX_CHAIN_DEPTH} images`);
    }
    const key = ctx.host.canonical ? await ctx.host.canonical(p) : p;
    if (seen.includes(key)) {
      throw new StorageError('backing-loop', `backing chain of '${path}' loops: '${p}' is its own backing file`);
    }
    seen.push(key);
    const opened = await ctx.host.openFile(p, ro);
    const store = opts.cache === 'unsafe' && depth === 0 ? withoutFlush(opened) : opened;
    let backend: BlockBackend;
    try {
      const fmt = await chooseFormat(ctx, store, p, format);
      const layer: Partial<ImageLayer> = { path: p, format: fmt.name, store };
      backend = await fmt.open(store, {
        readOnly: ro,
        openFile: (name, r) => ctx.host.openFile(ctx.host.resolve(p, name), r),
        openBacking: async (name, bfmt) => {
          layer.backingName = name;
          layer.backingFormat = bfmt;
          if (opts.backing === false) return unopenedBacking(name, bfmt);
          return openLayer(ctx.host.resolve(p, name), bfmt, depth + 1, opts.backingReadOnly ?? true);
        },
      });
      // A read-only raw file (or fixed VHD) can report its holes when the host knows the file's
      // hole map. Not awaited here: the first block status waits for it, so finding it overlaps other work.
      if (isFilePrefix(backend) && ro && ctx.host.dataRanges) {
        const size = backend.size;
        const ranges = ctx.host.dataRanges(p).then((r) => r && normaliseRanges(r, size));
        backend = new HoleMappedBackend(backend, ranges, fmt.name !== 'raw');
      } else if (opts.fileHoles && ro && ctx.host.dataRanges && isFileMapped(backend)) {
        const size = await store.size();
        const ranges = ctx.host.dataRanges(p).then((r) => r && normaliseRanges(r, size));
        backend = new FileHolesBackend(backend, ranges, size);
      }
      layer.backend = backend;
      layers[depth] = layer as ImageLayer;
    } catch (e) {
      await store.close().catch(() => undefined);
      throw e;
    }
    return backend;
  };

  let top: BlockBackend;
  try {
    top = await openLayer(path, opts.format, 0, readOnly);
  } catch (e) {
    await closeLayers(layers);
    throw e;
  }
  return {
    backend: top,
    layers,
    close: () => closeLayers(layers),
  };
}

/** Closes every layer once, top first, then the stores (a backend may or may not close its store). */
async function closeLayers(layers: ImageLayer[]): Promise<void> {
  let first: unknown;
  const closed = new Set<object>();
  const once = async (x: { close(): Promise<void> }) => {
    if (closed.has(x)) return;
    closed.add(x);
    try {
      await x.close();
    } catch (e) {
      first ??= e;
    }
  };
  for (const l of layers) if (l) await once(l.backend);
  for (const l of layers) if (l) await once(l.store);
  if (first !== undefined) throw first;
}

/**
 * Stands in for a backing file that was deliberately not opened (info without --backing-chain,
 * rebase -u): the header can be read and rewritten, but reading guest data through it fails.
 */
function unopenedBacking(name: string, format: string | undefined): BlockBackend {
  const fail = (): Promise<never> =>
    Promise.reject(new StorageError('not-found', `backing file '${name}' was not opened`));
  return {
    format: format ?? 'raw',
    readOnly: true,
    size: 0,
    unopened: true,
    read: fail,
    write: fail,
    flush: () => Promise.resolve(),
    discard: fail,
    writeZeroes: fail,
    blockStatus: fail,
    close: () => Promise.resolve(),
  };
}

/** The same store, but flush() returns at once (the close still writes everything out). */
export function withoutFlush(store: ByteStore): ByteStore {
  return {
    get name() {
      return store.name;
    },
    get readOnly() {
      return store.readOnly;
    },
    size: () => store.size(),
    read: (o, b) => store.read(o, b),
    write: (o, d) => store.write(o, d),
    truncate: (n) => store.truncate(n),
    flush: () => Promise.resolve(),
    close: () => store.close(),
  };
}
