/**
 * Copies one disk's internal snapshot (the backup point) into a backup qcow2 (docs/manager.md
 * "Backups"): the whole disk as it reads (full), or only the ranges its dirty bitmap names on top
 * of the previous backup as backing file (incremental). The source is opened read-only and shared
 * (a running VM keeps writing it) and read through a snapshot view, which nothing changes.
 */
import { imgCreate } from '../storage/img/index.ts';
import { Qcow2Image } from '../storage/qcow2/image.ts';
import { viewSnapshot } from '../storage/qcow2/snapshot-view.ts';
import { StorageError, type BlockBackend } from '../storage/types.ts';
import { nodeImgContext } from '../host/node/img-host.ts';
import { openImageFile } from '../host/node/open-image.ts';

const CHUNK = 1 << 20;

export interface Range {
  offset: number;
  length: number;
}

/** Opens `path`'s snapshot `tag` as a read-only view (with its backing chain, read-only too). */
export async function openSnapshotView(path: string, tag: string): Promise<BlockBackend> {
  const img = await openImageFile(path, { format: 'qcow2', readOnly: true, forceShare: true });
  if (!(img instanceof Qcow2Image)) {
    await img.close();
    throw new StorageError('unsupported', `${path} is not a qcow2 image`);
  }
  try {
    await viewSnapshot(img, tag);
  } catch (e) {
    await img.close();
    throw e;
  }
  return img;
}

/** The ranges of `b` that read as something other than zeros (through its backing chain). */
export async function dataRanges(b: BlockBackend): Promise<Range[]> {
  const out: Range[] = [];
  for (let off = 0; off < b.size; ) {
    const s = await b.blockStatus(off, Math.min(b.size - off, 1 << 30));
    if (s.data && !s.zero) {
      const last = out[out.length - 1];
      if (last && last.offset + last.length === off) last.length += s.length;
      else out.push({ offset: off, length: s.length });
    }
    off += s.length;
  }
  return out;
}

/**
 * Writes `ranges` of `src` into a new qcow2 at `dst` (virtual size src.size, backing file
 * `backing` written as given, relative to dst's directory). All-zero chunks become zero writes,
 * so an incremental backup records that a range was zeroed. `progress(bytes)` after each chunk.
 */
export async function copyRanges(
  src: BlockBackend,
  ranges: Range[],
  dst: string,
  opts: { backing?: string; progress?: (bytes: number) => void },
): Promise<void> {
  const ctx = nodeImgContext();
  await imgCreate(ctx, dst, {
    format: 'qcow2',
    size: src.size,
    ...(opts.backing !== undefined ? { backingFile: opts.backing, backingFormat: 'qcow2' } : {}),
  });
  const out = await openImageFile(dst, { format: 'qcow2', readOnly: false });
  try {
    const buf = new Uint8Array(CHUNK);
    for (const r of ranges) {
      for (let off = r.offset; off < r.offset + r.length; off += CHUNK) {
        const n = Math.min(CHUNK, r.offset + r.length - off);
        const chunk = buf.subarray(0, n);
        await src.read(off, chunk);
        if (chunk.every((x) => x === 0)) await out.writeZeroes(off, n);
        else await out.write(off, chunk);
        opts.progress?.(n);
      }
    }
    await out.flush();
  } finally {
    await out.close();
  }
}
