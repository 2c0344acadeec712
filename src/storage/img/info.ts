/** `img info`: what an image is, in the terms (and JSON spelling) of `qemu-img info`. */
import { hasSnapshots, type SnapshotInfo } from '../types.ts';
import { describe, vmdkExtents, type ExtentFileInfo } from './capabilities.ts';
import type { ImgContext } from './context.ts';
import { openChain, type ImageLayer } from './open-chain.ts';

export interface ImageSnapshot extends SnapshotInfo {
  /** Instruction count at creation, when the format records it. */
  icount?: number;
}

export interface ImageInfo {
  filename: string;
  format: string;
  virtualSize: number;
  /** Bytes the file occupies on the host, when the host can tell. */
  actualSize?: number;
  clusterSize?: number;
  /** The backing name as written in the image, and as resolved against the image's path. */
  backingFilename?: string;
  fullBackingFilename?: string;
  backingFilenameFormat?: string;
  dirtyFlag: boolean;
  snapshots?: ImageSnapshot[];
  formatSpecific?: { type: string; data: Record<string, unknown> };
}

export interface InfoOptions {
  format?: string;
  /** Describe every image of the backing chain, top first (qemu-img info --backing-chain). */
  backingChain?: boolean;
}

export async function imgInfo(ctx: ImgContext, path: string, opts: InfoOptions = {}): Promise<ImageInfo[]> {
  const img = await openChain(ctx, path, { format: opts.format, readOnly: true, backing: opts.backingChain ?? false });
  try {
    const layers = opts.backingChain ? img.layers : img.layers.slice(0, 1);
    const out: ImageInfo[] = [];
    for (const layer of layers) out.push(await describeLayer(ctx, layer));
    return out;
  } finally {
    await img.close();
  }
}

export async function describeLayer(ctx: ImgContext, layer: ImageLayer): Promise<ImageInfo> {
  const b = layer.backend;
  const d = describe(b);
  const info: ImageInfo = {
    filename: layer.path,
    format: layer.format,
    virtualSize: b.size,
    dirtyFlag: d.dirty ?? false,
  };
  const actual = await allocatedSize(ctx, layer);
  if (actual !== undefined) info.actualSize = actual;
  if (d.clusterSize !== undefined) info.clusterSize = d.clusterSize;
  if (layer.backingName !== undefined) {
    info.backingFilename = layer.backingName;
    info.fullBackingFilename = ctx.host.resolve(layer.path, layer.backingName);
    if (layer.backingFormat !== undefined) info.backingFilenameFormat = layer.backingFormat;
  }
  if (hasSnapshots(b)) {
    const snaps = await b.listSnapshots();
    if (snaps.length > 0) info.snapshots = snaps;
  }
  const fs = d.formatSpecific?.();
  if (fs) info.formatSpecific = fs;
  const extents = vmdkExtents(b);
  if (fs && extents) fs.data['extents'] = extents.map((e) => extentJson(ctx, layer, e));
  return info;
}

/** One VMDK extent of format-specific "extents", in qemu-img's key order, its file named as qemu does. */
function extentJson(ctx: ImgContext, layer: ImageLayer, e: ExtentFileInfo): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (e.compressed) o['compressed'] = true;
  o['virtual-size'] = e.virtualSize;
  o['filename'] = extentPath(ctx, layer, e);
  if (e.clusterSize !== undefined) o['cluster-size'] = e.clusterSize;
  o['format'] = e.format;
  return o;
}

const extentPath = (ctx: ImgContext, layer: ImageLayer, e: ExtentFileInfo): string =>
  e.filename === undefined ? layer.path : ctx.host.resolve(layer.path, e.filename);

/** Host bytes of the image's file and of the data files it names (VMDK extents), as qemu-img sums them. */
async function allocatedSize(ctx: ImgContext, layer: ImageLayer): Promise<number | undefined> {
  const sizeOf = ctx.host.allocatedSize?.bind(ctx.host);
  if (!sizeOf) return undefined;
  const files = new Set([layer.path]);
  for (const e of vmdkExtents(layer.backend) ?? []) files.add(extentPath(ctx, layer, e));
  let total = 0;
  for (const f of files) {
    const n = await sizeOf(f);
    if (n === undefined) return undefined;
    total += n;
  }
  return total;
}

/** The object `qemu-img info --output=json` prints for one image. */
export function infoToJson(info: ImageInfo): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (info.snapshots) {
    o['snapshots'] = info.snapshots.map((s) => {
      const j: Record<string, unknown> = {
        id: s.id,
        name: s.name,
        'vm-state-size': s.vmStateSize,
        'date-sec': s.dateSec,
        'date-nsec': s.dateNsec,
        'vm-clock-sec': Math.floor(s.vmClockNsec / 1e9),
        'vm-clock-nsec': s.vmClockNsec % 1e9,
      };
      if (s.icount !== undefined) j['icount'] = s.icount;
      return j;
    });
  }
  if (info.backingFilenameFormat !== undefined) o['backing-filename-format'] = info.backingFilenameFormat;
  o['virtual-size'] = info.virtualSize;
  o['filename'] = info.filename;
  if (info.clusterSize !== undefined) o['cluster-size'] = info.clusterSize;
  o['format'] = info.format;
  if (info.actualSize !== undefined) o['actual-size'] = info.actualSize;
  if (info.formatSpecific) o['format-specific'] = info.formatSpecific;
  if (info.fullBackingFilename !== undefined) o['full-backing-filename'] = info.fullBackingFilename;
  if (info.backingFilename !== undefined) o['backing-filename'] = info.backingFilename;
  o['dirty-flag'] = info.dirtyFlag;
  return o;
}
