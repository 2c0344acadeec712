/**
 * `img convert`: copies one or more images (concatenated) into a new image of any format.
 *
 * Only data is copied: the source's block status says which runs are unallocated or zero, and
 * allocated runs are scanned for zero blocks at the -S granularity (default 4 KiB), so the
 * target stays as sparse as the source. Reads run ahead of writes (several chunks in flight)
 * while writes go out in order, which keeps the target's clusters laid out sequentially.
 * The sources are opened read-only: convert never modifies them.
 */
import { canWriteCompressed, StorageError, type BlockBackend } from '../types.ts';
import type { ImgContext } from './context.ts';
import { imgCreate } from './create.ts';
import { openChain, type OpenedImage } from './open-chain.ts';
import { isZero, splitZeroRuns } from './zero.ts';
import { BlockWalk, inBlockLength, writeZeroPieces } from '../block-walk.ts';

export interface ConvertOptions {
  /** -f: format of every source (detected when absent). */
  sourceFormat?: string;
  /** -O: target format (default raw). */
  format?: string;
  /** -o: target creation options. */
  options?: Record<string, string>;
  /** -c: store clusters compressed (qcow2 compressed clusters, streamOptimized VMDK). */
  compress?: boolean;
  /** -S: minimum run of zeros (bytes) left unallocated; 0 writes every byte (fully allocated). Default 4096. */
  sparseSize?: number;
  /** -B / -F: the target gets this backing file, and data the source takes from its backing is not copied. */
  backingFile?: string;
  backingFormat?: string;
  /** -n: the target exists already; do not create it (zeros must then be written explicitly). */
  noCreate?: boolean;
  /** Called after each chunk with bytes processed and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Unit of reads and writes (default 2 MiB). */
  chunkSize?: number;
  /** Reads in flight ahead of the writer (default 4). */
  readAhead?: number;
  /**
   * Writes in flight (default 4), issued in order. Every backend takes concurrent requests to
   * disjoint ranges (the contract suite checks it); those that allocate serialise internally in
   * arrival order, so the target's layout stays sequential.
   */
  writesInFlight?: number;
  /** -t: 'unsafe' (default, as qemu-img convert) skips fsync of the target; 'writeback' syncs it at the end. */
  cache?: 'writeback' | 'unsafe';
}

export interface ConvertResult {
  format: string;
  size: number;
  /** Bytes of data written to the target (zeros and skipped runs not counted). */
  dataBytes: number;
}

type Kind = 'data' | 'zero' | 'skip';
interface Segment {
  offset: number;
  length: number;
  kind: Kind;
}

const DEFAULT_CHUNK = 2 * 1024 * 1024;

export async function imgConvert(
  ctx: ImgContext,
  sources: string[],
  target: string,
  opts: ConvertOptions = {},
): Promise<ConvertResult> {
  if (sources.length === 0) throw new StorageError('unsupported', 'convert needs at least one source image');
  const sparse = opts.sparseSize ?? 4096;
  if (!Number.isSafeInteger(sparse) || sparse < 0)
    throw new StorageError('out-of-range', `invalid sparse size ${sparse}`);
  const format = opts.format ?? 'raw';
  const options = { ...(opts.options ?? {}) };
  // VMDK stores compressed grains only in the streamOptimized subformat.
  if (opts.compress && format === 'vmdk' && options['subformat'] === undefined)
    options['subformat'] = 'streamOptimized';

  const opened: OpenedImage[] = [];
  let dst: OpenedImage | undefined;
  let failed = false;
  const writes: Promise<void>[] = [];
  try {
    for (const s of sources)
      opened.push(await openChain(ctx, s, { format: opts.sourceFormat, readOnly: true, fileHoles: true }));
    const srcs = opened.map((o) => o.backend);
    const total = srcs.reduce((n, b) => n + b.size, 0);

    if (!opts.noCreate) {
      await imgCreate(ctx, target, {
        format,
        size: total,
        options,
        backingFile: opts.backingFile,
        backingFormat: opts.backingFormat,
        cache: opts.cache ?? 'unsafe',
      });
    }
    dst = await openChain(ctx, target, {
      format: opts.noCreate ? opts.format : format,
      readOnly: false,
      cache: opts.cache ?? 'unsafe',
    });
    const out = dst.backend;
    if (out.size < total) {
      throw new StorageError(
        'out-of-range',
        `target '${target}' (${out.size} bytes) is smaller than the source (${total} bytes)`,
      );
    }
    const compressedWriter = opts.compress && canWriteCompressed(out) ? out : undefined;
    if (opts.compress && !compressedWriter && !(format === 'vmdk' && options['subformat'] === 'streamOptimized')) {
      throw new StorageError('unsupported', `format '${out.format}' does not support compression`);
    }
    // A fresh image without a backing file reads as zeros, so zero runs need no write at all.
    const zeroInit = !opts.noCreate && opts.backingFile === undefined;
    const align = compressedWriter ? compressedWriter.clusterSize : 1;
    const chunk = roundUp(opts.chunkSize ?? DEFAULT_CHUNK, align);
    const skipBacking = opts.backingFile !== undefined && srcs.length === 1;

    const reader = new ConcatReader(srcs);
    const zeroTest = ctx.isZero ?? ((b: Uint8Array) => isZero(b));
    let dataBytes = 0;
    const take = (n: number) => takeBuffer(chunk).subarray(0, n);
    const give = (b: Uint8Array | undefined) => {
      if (b && b.buffer.byteLength === chunk) giveBuffer(new Uint8Array(b.buffer, 0, chunk));
    };

    const writeSegment = async (seg: Segment, buf: Uint8Array | undefined): Promise<void> => {
      if (seg.kind === 'skip') return;
      if (seg.kind === 'zero') {
        if (sparse === 0) await writeZeroPieces((o, z) => out.write(o, z), seg.offset, seg.length, DEFAULT_CHUNK);
        else if (!zeroInit) await out.writeZeroes(seg.offset, seg.length);
        return;
      }
      if (compressedWriter) {
        // Segments start on cluster boundaries: one piece per cluster.
        for (const w = new BlockWalk(align, 0, buf!.length); w.next(); ) {
          const piece = buf!.subarray(w.done, w.done + w.length);
          if (zeroTest(piece)) {
            if (!zeroInit) await out.writeZeroes(seg.offset + w.done, piece.length);
            continue;
          }
          await compressedWriter.writeCompressedCluster(seg.offset + w.done, piece);
          dataBytes += piece.length;
        }
        return;
      }
      // Every run's request is issued at once, before the next segment's: a backend that
      // allocates in the order requests arrive keeps the target laid out sequentially.
      const pending: Promise<void>[] = [];
      for (const run of splitZeroRuns(buf!, sparse, seg.offset, zeroTest)) {
        if (run.zero) {
          if (!zeroInit) pending.push(out.writeZeroes(seg.offset + run.start, run.length));
          continue;
        }
        pending.push(out.write(seg.offset + run.start, buf!.subarray(run.start, run.start + run.length)));
        dataBytes += run.length;
      }
      await allSettledOrThrow(pending);
    };

    // Reads run ahead of the writer; each read promise gets a no-op catch so a failure while
    // the writer is busy is not "unhandled" (it is rethrown when the writer reaches it).
    const depth = Math.max(1, opts.readAhead ?? 4);
    const maxWrites = Math.max(1, opts.writesInFlight ?? 4);
    const queue: { seg: Segment; data: Promise<Uint8Array | undefined> }[] = [];
    const plan = planSegments(reader, total, chunk, align, sparse === 0 ? false : true, skipBacking);
    let planned = false;
    let done = 0;
    while (true) {
      while (!planned && queue.length < depth) {
        const next = await plan.next();
        if (next.done) {
          planned = true;
          break;
        }
        const seg = next.value;
        const data = seg.kind === 'data' ? reader.read(seg.offset, take(seg.length)) : Promise.resolve(undefined);
        data.catch(() => undefined);
        queue.push({ seg, data });
      }
      const item = queue.shift();
      if (!item) break;
      const buf = await item.data;
      const seg = item.seg;
      const w = writeSegment(seg, buf).then(() => {
        give(buf);
        done += seg.length;
        opts.onProgress?.(done, total);
      });
      w.catch(() => undefined);
      writes.push(w);
      if (writes.length >= maxWrites) await writes.shift();
    }
    while (writes.length) await writes.shift();
    await out.flush();
    return { format: out.format, size: out.size, dataBytes };
  } catch (e) {
    failed = true;
    // No write may still be running when the target is closed.
    await Promise.allSettled(writes);
    throw e;
  } finally {
    // Close the target first so its metadata is written even if a source fails to close.
    const closers = [dst, ...opened].filter((x): x is OpenedImage => x !== undefined);
    let first: unknown;
    for (const c of closers) {
      try {
        await c.close();
      } catch (e) {
        first ??= e;
      }
    }
    // Only surface a close failure when nothing else failed (the finally keeps the first error).
    if (first !== undefined && !failed) throw first;
  }
}

/** Waits for every request (none may still run when the target closes), then throws the first failure. */
async function allSettledOrThrow(pending: Promise<void>[]): Promise<void> {
  if (pending.length === 1) return pending[0];
  const failed = (await Promise.allSettled(pending)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Chunk buffers, recycled within and across conversions: fresh megabytes cost page faults, and
 * their external memory makes V8 run a full GC per conversion. Held weakly, so an idle process
 * gives them back at its next GC.
 */
const bufferPool: WeakRef<Uint8Array>[] = [];

function takeBuffer(size: number): Uint8Array {
  while (bufferPool.length > 0) {
    const b = bufferPool.pop()!.deref();
    if (b && b.length === size) return b;
  }
  return new Uint8Array(size);
}

function giveBuffer(b: Uint8Array): void {
  if (bufferPool.length < 16) bufferPool.push(new WeakRef(b));
}

function roundUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/**
 * Walks the concatenated sources by block status and yields segments. Data segments are no longer
 * than a chunk and never cross a chunk boundary; zero and skipped runs are one segment each,
 * whatever their length. With `align` > 1 (compressed clusters) every data segment
 * covers whole clusters, and zero runs shorter than a cluster become data.
 */
async function* planSegments(
  reader: ConcatReader,
  total: number,
  chunk: number,
  align: number,
  useStatus: boolean,
  skipBacking: boolean,
): AsyncGenerator<Segment> {
  let pos = 0;
  while (pos < total) {
    let limit = pos + inBlockLength(pos, total - pos, chunk);
    let kind: Kind = 'data';
    let end = limit;
    if (useStatus) {
      const classify = (st: { data: boolean; zero: boolean; depth: number }): Kind =>
        skipBacking && st.depth > 0 ? 'skip' : st.zero || !st.data ? 'zero' : 'data';
      const st = await reader.status(pos, limit - pos);
      end = pos + st.length;
      kind = classify(st);
      // A hole or zero run reaching the chunk's end goes on as far as it reaches: it is one
      // segment however many chunks it spans (nothing is read for it), so a sparse source costs
      // a step per run, not per chunk. Data is asked for a chunk at a time, so a long data run
      // is not walked again for every chunk.
      while (kind !== 'data' && end === limit && end < total) {
        const more = await reader.status(end, total - end);
        if (classify(more) !== kind) break;
        end += more.length;
        limit = end;
      }
    }
    if (align > 1) {
      if (kind === 'data') {
        end = Math.min(limit, roundUp(end, align));
      } else if (end < total && end % align !== 0) {
        const aligned = Math.floor(end / align) * align;
        if (aligned > pos) end = aligned;
        else {
          kind = 'data';
          end = Math.min(limit, roundUp(end, align));
        }
      }
    }
    yield { offset: pos, length: end - pos, kind };
    pos = end;
  }
}

/** The sources laid end to end, as one disk. */
class ConcatReader {
  private readonly starts: number[] = [];

  constructor(private readonly srcs: BlockBackend[]) {
    let s = 0;
    for (const b of srcs) {
      this.starts.push(s);
      s += b.size;
    }
  }

  private find(pos: number): number {
    let i = this.srcs.length - 1;
    while (i > 0 && this.starts[i]! > pos) i--;
    // Skip empty sources so a position at a boundary belongs to the next non-empty one.
    while (i < this.srcs.length - 1 && pos >= this.starts[i]! + this.srcs[i]!.size) i++;
    return i;
  }

  async status(pos: number, length: number): Promise<{ length: number; data: boolean; zero: boolean; depth: number }> {
    const i = this.find(pos);
    const b = this.srcs[i]!;
    const local = pos - this.starts[i]!;
    const n = Math.min(length, b.size - local);
    const st = await b.blockStatus(local, n);
    const got = Math.min(n, st.offset + st.length - local);
    if (!(got > 0)) {
      throw new StorageError('corrupt', `${b.format} image: block status at ${local} made no progress`);
    }
    return { length: got, data: st.data, zero: st.zero, depth: st.depth };
  }

  async read(pos: number, buf: Uint8Array): Promise<Uint8Array> {
    const length = buf.length;
    let done = 0;
    while (done < length) {
      const i = this.find(pos + done);
      const b = this.srcs[i]!;
      const local = pos + done - this.starts[i]!;
      const n = Math.min(length - done, b.size - local);
      await b.read(local, buf.subarray(done, done + n));
      done += n;
    }
    return buf;
  }
}
