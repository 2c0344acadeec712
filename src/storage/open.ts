/**
 * Opening an image: detect (or check) the format, then open its backing chain recursively.
 * Backing images are always opened read-only; the chain is capped in depth and loops are
 * refused, because a hostile image can name itself (or a cycle) as its backing file.
 */
import type { ImageFormat, OpenOptions } from './formats.ts';
import { bestFormat, findFormat, formats as allFormats, readProbeHead } from './registry.ts';
import { StorageError, type BlockBackend, type ByteStore } from './types.ts';

export const MAX_BACKING_DEPTH = 64;

export interface OpenImageOptions {
  /** Required format (`-f`): the file must look like it, except that any file can be opened as raw. */
  format?: string;
  readOnly?: boolean;
  /**
   * Opens a file named inside an image. `referrer` is the name of the store that mentions it, so
   * hosts can resolve relative names against the referring image's location. The returned store's
   * `name` should be canonical (e.g. an absolute path): it identifies the file for loop detection.
   */
  openFile?: (name: string, readOnly: boolean, referrer: string) => Promise<ByteStore>;
  /** Deepest backing chain accepted (default 64). */
  maxDepth?: number;
  /** Formats to consider (default: the registry). */
  formats?: ImageFormat[];
}

export async function openImage(store: ByteStore, opts: OpenImageOptions = {}): Promise<BlockBackend> {
  return openLayer(store, opts.format, opts, opts.readOnly ?? store.readOnly, [store.name]);
}

/** The format name of a store, by content. */
export async function detectFormatName(store: ByteStore, candidates: ImageFormat[] = allFormats): Promise<string> {
  return bestFormat(await readProbeHead(store), candidates).name;
}

async function openLayer(
  store: ByteStore,
  format: string | undefined,
  opts: OpenImageOptions,
  readOnly: boolean,
  chain: string[],
): Promise<BlockBackend> {
  const candidates = opts.formats ?? allFormats;
  const probe = await readProbeHead(store);
  let fmt: ImageFormat;
  let unprobed: string | undefined;
  if (format) {
    fmt = candidates.find((f) => f.name === format) ?? findFormat(format);
    if (fmt.name !== 'raw' && fmt.probe(probe.head, probe.size, probe.tail) === 0) {
      // Another format recognising the file is a clear mismatch. Some formats cannot be told from
      // their first bytes (a fixed VHD keeps its footer at the end): their open() validates.
      const actual = bestFormat(probe, candidates).name;
      if (actual !== 'raw') throw new StorageError('bad-magic', `${store.name}: image is ${actual}, not ${format}`);
      unprobed = actual;
    }
  } else {
    fmt = bestFormat(probe, candidates);
  }
  const maxDepth = opts.maxDepth ?? MAX_BACKING_DEPTH;
  const layerOpts: OpenOptions = {
    readOnly,
    openFile: opts.openFile
      ? (name, ro) => opts.openFile!(name, ro, store.name)
      : async (name) => {
          throw new StorageError('not-found', `${store.name} refers to '${name}', but no way to open files was given`);
        },
    openBacking: async (name, backingFormat) => {
      if (chain.length > maxDepth) {
        throw new StorageError('backing-depth', `${store.name}: backing chain is deeper than ${maxDepth}`);
      }
      if (!opts.openFile) {
        throw new StorageError(
          'not-found',
          `${store.name} needs backing file '${name}', but no way to open files was given`,
        );
      }
      const child = await opts.openFile(name, true, store.name);
      if (chain.includes(child.name)) {
        await child.close();
        throw new StorageError('backing-loop', `${store.name}: backing file '${name}' loops back to ${child.name}`);
      }
      try {
        return await openLayer(child, backingFormat, opts, true, [...chain, child.name]);
      } catch (e) {
        await child.close().catch(() => {});
        throw e;
      }
    },
  };
  try {
    return await fmt.open(store, layerOpts);
  } catch (e) {
    if (unprobed && e instanceof StorageError && e.code === 'bad-magic')
      throw new StorageError('bad-magic', `${store.name}: image is ${unprobed}, not ${format}`);
    throw e;
  }
}
