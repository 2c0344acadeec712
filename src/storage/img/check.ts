/** `img check`: consistency check (and optional repair) of an image's metadata. */
import { isCheckable, type BlockBackend, type ByteStore, type CheckResult } from '../types.ts';
import { VhdxImage } from '../vhdx/image.ts';
import type { ImgContext } from './context.ts';
import { chooseFormat, openChain } from './open-chain.ts';

export interface CheckOptions {
  format?: string;
  /** -r: repair leaked clusters, or everything that can be repaired. Opens the image writable. */
  repair?: 'leaks' | 'all';
}

export interface CheckReport {
  filename: string;
  format: string;
  /** Absent when the format has no consistency check (qemu-img exit status 63). */
  result?: CheckResult;
}

/** qemu-img check's exit statuses. */
export const CHECK_OK = 0;
export const CHECK_NOT_COMPLETED = 1;
export const CHECK_CORRUPT = 2;
export const CHECK_LEAKS = 3;
export const CHECK_UNSUPPORTED = 63;

/**
 * Formats whose normal open refuses the very damage check must report (qemu opens these with
 * BDRV_O_CHECK): they are opened for checking by their own opener instead.
 */
const CHECK_OPENERS: Record<string, (store: ByteStore, readOnly: boolean) => Promise<BlockBackend>> = {
  vhdx: (store, readOnly) => VhdxImage.openForCheck(store, readOnly),
};

export async function imgCheck(ctx: ImgContext, path: string, opts: CheckOptions = {}): Promise<CheckReport> {
  const readOnly = opts.repair === undefined;
  const store = await ctx.host.openFile(path, readOnly);
  let opener: ((store: ByteStore, readOnly: boolean) => Promise<BlockBackend>) | undefined;
  let format: string;
  try {
    format = (await chooseFormat(ctx, store, path, opts.format)).name;
    opener = CHECK_OPENERS[format];
  } finally {
    if (!opener) await store.close();
  }
  if (opener) return checkOpened(store, path, format, opener, opts);
  // The backing chain is not part of the check; leaving it closed lets broken chains be checked.
  const img = await openChain(ctx, path, { format: opts.format, readOnly: opts.repair === undefined, backing: false });
  try {
    const b = img.backend;
    const report: CheckReport = { filename: path, format: img.layers[0]!.format };
    if (isCheckable(b) && !(opts.repair !== undefined && b.canRepair === false))
      report.result = await b.check(opts.repair);
    return report;
  } finally {
    await img.close();
  }
}

async function checkOpened(
  store: ByteStore,
  path: string,
  format: string,
  opener: (store: ByteStore, readOnly: boolean) => Promise<BlockBackend>,
  opts: CheckOptions,
): Promise<CheckReport> {
  let b: BlockBackend;
  try {
    b = await opener(store, opts.repair === undefined);
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  try {
    const report: CheckReport = { filename: path, format };
    if (isCheckable(b)) report.result = await b.check(opts.repair);
    return report;
  } finally {
    // The backend closes its store.
    await b.close();
  }
}

export function checkExitCode(r: CheckReport): number {
  if (!r.result) return CHECK_UNSUPPORTED;
  if (r.result.corruptions > 0) return CHECK_CORRUPT;
  if (r.result.leaks > 0) return CHECK_LEAKS;
  return CHECK_OK;
}

/** The object `qemu-img check --output=json` prints. */
export function checkToJson(r: CheckReport): Record<string, unknown> {
  const res = r.result!;
  // qemu-img leaves out the counters that are zero (except check-errors), and prints the keys in
  // the order of its dictionary's hash buckets, which is this one.
  const o: Record<string, unknown> = {};
  if (res.imageEndOffset) o['image-end-offset'] = res.imageEndOffset;
  if (res.compressedClusters) o['compressed-clusters'] = res.compressedClusters;
  if (res.totalClusters) o['total-clusters'] = res.totalClusters;
  if (res.corruptions) o['corruptions'] = res.corruptions;
  if (res.corruptionsFixed) o['corruptions-fixed'] = res.corruptionsFixed;
  o['check-errors'] = 0;
  if (res.leaks) o['leaks'] = res.leaks;
  if (res.leaksFixed) o['leaks-fixed'] = res.leaksFixed;
  if (res.allocatedClusters) o['allocated-clusters'] = res.allocatedClusters;
  o['filename'] = r.filename;
  o['format'] = r.format;
  if (res.fragmentedClusters) o['fragmented-clusters'] = res.fragmentedClusters;
  return o;
}

/** qemu-img check's human summary (the per-problem messages go to stderr separately, as qemu-img does). */
export function checkText(r: CheckReport): string {
  const res = r.result!;
  const lines: string[] = [];
  if (res.leaksFixed || res.corruptionsFixed) {
    lines.push('The following inconsistencies were found and repaired:', '');
    lines.push(`    ${res.leaksFixed} leaked clusters`, `    ${res.corruptionsFixed} corruptions`, '');
    lines.push('Double checking the fixed image now...');
  }
  if (res.corruptions === 0 && res.leaks === 0) {
    lines.push('No errors were found on the image.');
  } else {
    if (res.corruptions) {
      lines.push('', `${res.corruptions} errors were found on the image.`);
      lines.push('Data may be corrupted, or further writes to the image may corrupt it.');
    }
    if (res.leaks) {
      lines.push('', `${res.leaks} leaked clusters were found on the image.`);
      lines.push('This means waste of disk space, but no harm to data.');
    }
  }
  if (res.totalClusters > 0) {
    const pct = (n: number, d: number) => ((100 * n) / (d || 1)).toFixed(2);
    lines.push(
      `${res.allocatedClusters}/${res.totalClusters} = ${pct(res.allocatedClusters, res.totalClusters)}% allocated, ` +
        `${pct(res.fragmentedClusters, res.allocatedClusters)}% fragmented, ` +
        `${pct(res.compressedClusters, res.allocatedClusters)}% compressed clusters`,
    );
  }
  if (res.imageEndOffset) lines.push(`Image end offset: ${res.imageEndOffset}`);
  return lines.join('\n');
}
