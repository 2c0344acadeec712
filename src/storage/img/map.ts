/** `img map`: the allocation map of an image chain, in qemu-img map's terms. */
import type { ImgContext } from './context.ts';
import { openChain } from './open-chain.ts';
import { runLength } from './status-walk.ts';

export interface MapEntry {
  start: number;
  length: number;
  /** The layer that supplies the run (0 = the image itself); for unallocated runs, the bottom layer. */
  depth: number;
  /** Some layer defines the run (data or zeros). */
  present: boolean;
  zero: boolean;
  data: boolean;
  /** Host offset in the file of that layer, when stored contiguously and uncompressed. */
  offset?: number;
  /** The file of the layer that supplies the run. */
  filename: string;
}

export interface MapOptions {
  format?: string;
  /** Only map [start, start + length) (qemu-img map --start-offset / --max-length). */
  start?: number;
  length?: number;
}

const STEP = 1 << 30;

export async function imgMap(ctx: ImgContext, path: string, opts: MapOptions = {}): Promise<MapEntry[]> {
  const img = await openChain(ctx, path, { format: opts.format, readOnly: true });
  try {
    const b = img.backend;
    const bottom = img.layers.length - 1;
    const start = Math.min(opts.start ?? 0, b.size);
    const end = Math.min(b.size, start + (opts.length ?? b.size));
    const out: MapEntry[] = [];
    let pos = start;
    while (pos < end) {
      const st = await b.blockStatus(pos, Math.min(STEP, end - pos));
      const n = runLength(st, pos, end - pos);
      // Stored in a file (data, or a raw file's hole), supplied by a layer's data, or zeros a
      // layer records (a zero cluster): present.
      const present = st.data || st.hostOffset !== undefined || st.recorded === true;
      const depth = present ? st.depth : bottom;
      const e: MapEntry = {
        start: pos,
        length: n,
        depth,
        present,
        zero: st.zero || !st.data,
        data: st.data && !st.zero ? true : st.data,
        // A layer with data files of its own (VMDK extents) names the one holding the run.
        filename: fileOf(ctx, img.layers[Math.min(depth, bottom)]?.path ?? path, present ? st.file : undefined),
      };
      if (st.hostOffset !== undefined) e.offset = st.hostOffset + (pos - st.offset);
      const last = out[out.length - 1];
      if (last && mergeable(last, e)) last.length += n;
      else out.push(e);
      pos += n;
    }
    return out;
  } finally {
    await img.close();
  }
}

/** The file a run is in: the layer's own, or a data file it names (resolved as qemu-img does). */
const fileOf = (ctx: ImgContext, layerPath: string, file: string | undefined): string =>
  file === undefined ? layerPath : ctx.host.resolve(layerPath, file);

function mergeable(a: MapEntry, b: MapEntry): boolean {
  if (a.depth !== b.depth || a.present !== b.present || a.zero !== b.zero || a.data !== b.data) return false;
  if (a.filename !== b.filename) return false;
  if ((a.offset === undefined) !== (b.offset === undefined)) return false;
  return a.offset === undefined || a.offset + a.length === b.offset;
}

/** One line of `qemu-img map --output=json`. */
export function mapEntryJson(e: MapEntry): string {
  const off = e.offset !== undefined ? `, "offset": ${e.offset}` : '';
  return `{ "start": ${e.start}, "length": ${e.length}, "depth": ${e.depth}, "present": ${e.present}, "zero": ${e.zero}, "data": ${e.data}${off}}`;
}

/** qemu's `%#-16x`: 0 prints as "0", anything else with 0x. */
const hex = (n: number) => (n === 0 ? '0' : `0x${n.toString(16)}`).padEnd(16);

/** `qemu-img map` human output: only data runs stored in a file (not zeros), one line per contiguous run. */
export function mapText(entries: MapEntry[]): string {
  const lines = ['Offset'.padEnd(16) + 'Length'.padEnd(16) + 'Mapped to'.padEnd(16) + 'File'];
  for (const e of entries) {
    if (!e.data || e.zero || e.offset === undefined) continue;
    lines.push(hex(e.start) + hex(e.length) + hex(e.offset) + e.filename);
  }
  return lines.join('\n');
}
