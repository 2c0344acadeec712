/**
 * A qcow2 image as a BlockBackend: lookup through L1/L2 tables, allocation with refcounts,
 * copy-on-write from the backing file and from snapshot-shared clusters, zero clusters,
 * compressed clusters, extended L2 entries (subclusters).
 *
 * Write ordering (what makes a crash leave only leaks, never corruption):
 *  1. guest data is written to its cluster before the L2 entry pointing at it is updated;
 *  2. refcount increments reach the disk before any L2 table or L1 entry that uses the cluster
 *     (the L2 cache flushes the refcount cache, with a barrier, before writing a table);
 *  3. L2 tables reach the disk before the L1 entries pointing at them;
 *  4. refcount decrements are deferred until the L2/L1 entries that dropped the cluster are out,
 *     so a freed cluster is never reused while something on disk still points at it.
 * All operations run one at a time (an async lock), so metadata never interleaves. Data I/O of
 * reads and writes runs after the lock is released (see read() and write()).
 */
import {
  checkRange,
  StorageError,
  type BlockBackend,
  type ByteStore,
  type CheckableBackend,
  type CheckResult,
  type CompressedWriteBackend,
  type ExtentStatus,
  type ResizableBackend,
  type SnapshotBackend,
  type SnapshotInfo,
} from '../types.ts';
import {
  COMPAT_LAZY_REFCOUNTS,
  INCOMPAT_CORRUPT,
  INCOMPAT_DIRTY,
  INCOMPAT_EXTL2,
  MAX_L1_BYTES,
  setU64,
  type Qcow2Header,
} from './header.ts';
import { checkImage } from './check.ts';
import { compressCluster, decompressCluster } from './compress.ts';
import {
  alignedL2Offset,
  compressedClusters,
  encodeL1,
  readL1,
  readL2Aligned,
  writeCompressedL2,
  writeL2,
  type L2Entry,
} from './l2-entry.ts';
import { MetaCache, type CachedTable } from './meta-cache.ts';
import type { Qcow2Metadata } from './metadata.ts';
import { Refcounts } from './refcount.ts';
import type { SnapshotEntry } from './snapshot-table.ts';
import { applySnapshot, createSnapshot, deleteSnapshot } from './snapshots.ts';
import { BlockWalk } from '../block-walk.ts';

export interface Qcow2Options {
  readOnly: boolean;
  backing?: BlockBackend;
  /** L2 tables kept in memory (default: enough for 8 GiB of disk, at least 16). */
  l2CacheTables?: number;
  refcountCacheBlocks?: number;
  /** Flush the store between dependent metadata writes (power-loss safety); default true. */
  barriers?: boolean;
}

/** One stretch of the virtual disk with the same kind of mapping. */
interface Run {
  kind: 'unalloc' | 'zero' | 'data' | 'compressed';
  length: number;
  /** Data: host offset of the first byte. Compressed: the entry. */
  host: number;
  entry?: L2Entry;
}

const FULL = 0xffffffff;

/** A write's data I/O, running outside the lock; its clusters are linked into the L2 table when it completes. */
interface DataWrite {
  /** Virtual clusters [first, end) it writes. */
  first: number;
  end: number;
  /** Settles (never rejects) once the data is written and linked, or has failed. */
  settled: Promise<void>;
}

/** How an operation shares the image with data I/O still running outside the lock. */
type LockMode = 'shared' | 'write' | 'exclusive';

export class Qcow2Image
  implements BlockBackend, CheckableBackend, CompressedWriteBackend, SnapshotBackend, ResizableBackend, Qcow2Metadata
{
  readonly format = 'qcow2';
  readonly readOnly: boolean;
  readonly backing?: BlockBackend;
  readonly clusterSize: number;
  readonly clusterBits: number;
  /** L2 entries per table, bytes per entry, subclusters per cluster. */
  readonly l2Entries: number;
  readonly ext: boolean;
  readonly subclusters: number;
  size: number;
  l1: number[];
  l1Copied: boolean[];
  readonly l1Dirty = new Set<number>();
  readonly l2: MetaCache;
  readonly rc: Refcounts;
  /** [host offset, bytes] of clusters to decrement once the metadata that dropped them is written. */
  pendingFrees: [number, number][] = [];
  snapshots: SnapshotEntry[];
  private lock: Promise<unknown> = Promise.resolve();
  /** Reads whose mapping is done and whose data reads run outside the lock; and who waits for them. */
  private readsInFlight = 0;
  private readsDrained: (() => void)[] = [];
  /** Writes whose clusters are allocated and whose data I/O runs outside the lock. */
  private readonly dataWrites = new Set<DataWrite>();
  private closed = false;
  private markedDirty = false;
  private readonly barriers: boolean;
  private lastCompressed: { host: number; data: Uint8Array } | undefined;
  /** One cluster of scratch for read-modify-write: operations are serialised, so one suffices. */
  private scratch: Uint8Array | undefined;
  private zeroBuf: Uint8Array | undefined;
  /** Next byte for packing compressed clusters (0 = start a new cluster). */
  private compressFree = 0;

  constructor(
    readonly store: ByteStore,
    readonly header: Qcow2Header,
    l1: number[],
    l1Copied: boolean[],
    rc: Refcounts,
    snapshots: SnapshotEntry[],
    opts: Qcow2Options,
  ) {
    this.readOnly = opts.readOnly;
    this.backing = opts.backing;
    this.clusterBits = header.clusterBits;
    this.clusterSize = 2 ** header.clusterBits;
    this.ext = (header.incompatible & INCOMPAT_EXTL2) !== 0n;
    this.l2Entries = this.clusterSize / (this.ext ? 16 : 8);
    this.subclusters = this.ext ? 32 : 1;
    this.size = header.size;
    this.l1 = l1;
    this.l1Copied = l1Copied;
    this.rc = rc;
    this.snapshots = snapshots;
    this.barriers = opts.barriers ?? true;
    const perTable = this.l2Entries * this.clusterSize;
    const tables = opts.l2CacheTables ?? Math.max(16, Math.min(4096, Math.ceil((8 * 2 ** 30) / perTable)));
    // An L2 table may only reach the disk after the refcount increments it relies on.
    this.l2 = new MetaCache(store, this.clusterSize, tables, async () => {
      if (this.rc.cache.hasDirty()) {
        await this.rc.flush();
        await this.barrier();
      }
    });
  }

  get version(): 2 | 3 {
    return this.header.version;
  }

  /**
   * Runs fn after every earlier operation finished: metadata updates never interleave. Besides:
   * - 'shared' (reads, block status): nothing more; data I/O in flight may complete meanwhile.
   * - 'write': fn first waits for the data reads still running outside the lock (see read()), so
   *   nothing a read is reading can be freed, reused or rewritten under it; writes in flight to
   *   other clusters go on (write() waits for those to the same clusters).
   * - 'exclusive' (everything else): fn also waits until no write's data I/O is in flight, so
   *   it sees and may change every L2 table, flush them, free clusters.
   */
  serialize<T>(fn: () => Promise<T>, mode: LockMode = 'exclusive'): Promise<T> {
    const p = this.lock.then(async () => {
      if (this.closed) throw new StorageError('io', `${this.store.name} is closed`);
      if (mode !== 'shared' && this.readsInFlight > 0) await new Promise<void>((r) => this.readsDrained.push(r));
      if (mode === 'exclusive') await this.drainWrites();
      return fn();
    });
    this.lock = p.catch(() => undefined);
    return p;
  }

  async barrier(): Promise<void> {
    if (this.barriers) await this.store.flush();
  }

  // ---------------------------------------------------------------- lookup

  /** The L2 table offset in L1 entry l1i (0: none); refused when not cluster aligned (qemu: EIO). */
  private l2Offset(l1i: number): number {
    return alignedL2Offset(this.l1[l1i] ?? 0, l1i, this.clusterSize);
  }

  /** Entry i of an L2 table, refused when its cluster offset is not aligned. */
  private entry(t: CachedTable, i: number): L2Entry {
    return readL2Aligned(t.dv, i, this.ext, this.clusterBits, t.offset);
  }

  /** The mapping of the run starting at vpos, at most len bytes, within one L2 table. */
  async mapRun(vpos: number, len: number): Promise<Run> {
    const cs = this.clusterSize;
    const vc = Math.floor(vpos / cs);
    const l1i = Math.floor(vc / this.l2Entries);
    const tableEnd = (l1i + 1) * this.l2Entries * cs;
    const maxLen = Math.min(len, tableEnd - vpos);
    const l2off = this.l2Offset(l1i);
    if (l2off === 0) return { kind: 'unalloc', length: maxLen, host: 0 };
    const t = await this.l2.get(l2off);
    const us = cs / this.subclusters;
    let kind: Run['kind'] | undefined;
    let host = 0;
    let length = 0;
    let expect = 0;
    for (let c = vc; length < maxLen; c++) {
      const e = this.entry(t, c % this.l2Entries);
      if (e.compressed) {
        if (kind !== undefined) break;
        const inCluster = vpos - c * cs;
        return { kind: 'compressed', length: Math.min(maxLen, cs - inCluster), host: e.host, entry: e };
      }
      const firstUnit = c === vc ? Math.floor((vpos - c * cs) / us) : 0;
      for (let u = firstUnit; u < this.subclusters && length < maxLen; u++) {
        let k: Run['kind'];
        let h = 0;
        if (this.ext) {
          if (e.alloc & (1 << u)) {
            k = 'data';
            h = e.host + u * us;
          } else k = e.zero & (1 << u) ? 'zero' : 'unalloc';
        } else if (e.zeroFlag) k = 'zero';
        else if (e.host) {
          k = 'data';
          h = e.host;
        } else k = 'unalloc';
        const unitStart = c * cs + u * us;
        const from = Math.max(unitStart, vpos);
        const n = Math.min(unitStart + us, vpos + maxLen) - from;
        if (kind === undefined) {
          kind = k;
          host = h + (from - unitStart);
          expect = host;
        } else if (k !== kind || (k === 'data' && h !== expect)) {
          return { kind, length, host };
        }
        length += n;
        expect += n;
      }
    }
    return { kind: kind ?? 'unalloc', length, host };
  }

  // ---------------------------------------------------------------- read

  /**
   * The mapping (and zero, backing and compressed parts) under the lock; the reads of plain
   * data clusters after it, outside, so several reads (a conversion's read-ahead) overlap their
   * I/O. Operations that change anything wait for those reads first (serialize).
   */
  async read(offset: number, buf: Uint8Array): Promise<void> {
    checkRange(this, offset, buf.length, 'read');
    const data = await this.serialize(async () => {
      const runs: [number, Uint8Array][] = [];
      await this.readAt(offset, buf, runs);
      if (runs.length > 0) this.readsInFlight++;
      return runs;
    }, 'shared');
    if (data.length === 0) return;
    try {
      if (data.length === 1) await this.store.read(data[0]![0], data[0]![1]);
      else {
        const failed = (await Promise.allSettled(data.map(([h, b]) => this.store.read(h, b)))).find(
          (r): r is PromiseRejectedResult => r.status === 'rejected',
        );
        if (failed) throw failed.reason;
      }
    } finally {
      if (--this.readsInFlight === 0) for (const r of this.readsDrained.splice(0)) r();
    }
  }

  /**
   * Reads [offset, +buf.length) as the guest sees it. With `deferred`, runs of plain data
   * clusters are not read but listed there (host offset, destination), contiguous runs merged.
   */
  async readAt(offset: number, buf: Uint8Array, deferred?: [number, Uint8Array][]): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const pos = offset + done;
      const run = await this.mapRun(pos, buf.length - done);
      const sub = buf.subarray(done, done + run.length);
      switch (run.kind) {
        case 'data': {
          if (!deferred) {
            await this.store.read(run.host, sub);
            break;
          }
          const last = deferred[deferred.length - 1];
          // The previous run ends where this one starts, in the file and in buf: one read.
          if (last && last[0] + last[1].length === run.host && last[1].byteOffset + last[1].length === sub.byteOffset)
            last[1] = buf.subarray(done - last[1].length, done + run.length);
          else deferred.push([run.host, sub]);
          break;
        }
        case 'zero':
          sub.fill(0);
          break;
        case 'unalloc':
          await this.readBacking(pos, sub);
          break;
        case 'compressed': {
          const data = await this.decompress(run.entry!);
          const inCluster = pos % this.clusterSize;
          sub.set(data.subarray(inCluster, inCluster + run.length));
          break;
        }
      }
      done += run.length;
    }
  }

  private async readBacking(pos: number, sub: Uint8Array): Promise<void> {
    const b = this.backing;
    const n = b ? Math.max(0, Math.min(sub.length, b.size - pos)) : 0;
    if (n > 0) await b!.read(pos, sub.subarray(0, n));
    sub.fill(0, n);
  }

  async decompress(e: L2Entry): Promise<Uint8Array> {
    if (this.lastCompressed?.host === e.host) return this.lastCompressed.data;
    const src = new Uint8Array(e.csize);
    await this.store.read(e.host, src);
    const out = decompressCluster(src, this.clusterSize, this.header.compressionType, e.host);
    this.lastCompressed = { host: e.host, data: out };
    return out;
  }

  // ---------------------------------------------------------------- write

  /**
   * Allocation and mapping under the lock; the data of whole-run writes (writeRun) is written
   * after the lock is released, so several writes (a conversion's) overlap their I/O as reads do,
   * and each run's clusters are linked into their L2 table once its data is on the store (the
   * order rule 1 needs). A write first waits for writes in flight to the same clusters.
   */
  async write(offset: number, data: Uint8Array): Promise<void> {
    this.checkWritable();
    checkRange(this, offset, data.length, 'write');
    if (data.length === 0) return;
    const cs = this.clusterSize;
    const jobs: Promise<void>[] = [];
    try {
      await this.serialize(async () => {
        await this.markDirty();
        await this.waitForWrites(Math.floor(offset / cs), Math.ceil((offset + data.length) / cs));
        await this.maybeFlushFrees();
        for (const w = new BlockWalk(cs, offset, data.length); w.next(); ) {
          const k = await this.writeRun(w.pos, data.subarray(w.done), jobs);
          if (k > 0) w.take(k);
          else await this.writeInCluster(w.pos, data.subarray(w.done, w.done + w.length));
        }
      }, 'write');
    } catch (e) {
      // Even when the mapping failed part way, the data I/O already started must end first.
      await Promise.allSettled(jobs);
      throw e;
    }
    if (jobs.length > 0) await allSettledOrThrow(jobs);
  }

  /** Waits until no write in flight touches virtual clusters [first, end). */
  private async waitForWrites(first: number, end: number): Promise<void> {
    for (;;) {
      const overlapping = [...this.dataWrites].filter((w) => w.first < end && first < w.end);
      if (overlapping.length === 0) return;
      await Promise.all(overlapping.map((w) => w.settled));
    }
  }

  /** Waits until no write's data I/O is in flight. */
  private async drainWrites(): Promise<void> {
    while (this.dataWrites.size > 0) await Promise.all([...this.dataWrites].map((w) => w.settled));
  }

  /**
   * Starts a run's data I/O (pieces: host offset, bytes), outside the lock once the caller
   * returns. `link` runs when every piece is written (it must be synchronous: nothing else may
   * run between the check and the change), and the L2 table `pinned` stays cached until then.
   */
  private startDataWrite(
    first: number,
    end: number,
    pieces: [number, Uint8Array][],
    pinned?: number,
    link?: () => void,
  ): Promise<void> {
    const w: DataWrite = { first, end, settled: Promise.resolve() };
    this.dataWrites.add(w);
    if (pinned !== undefined) this.l2.pin(pinned);
    const run = async () => {
      try {
        await allSettledOrThrow(pieces.map(([h, b]) => this.store.write(h, b)));
        link?.();
      } finally {
        if (pinned !== undefined) this.l2.unpin(pinned);
        this.dataWrites.delete(w);
      }
    };
    const p = run();
    w.settled = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /**
   * Writes as much of `data` (at virtual offset pos) as one run of clusters inside one L2 table
   * can take, with one store write for the data: clusters rewritten in place at contiguous host
   * offsets, or clusters all newly allocated together (contiguously). A new cluster only partly
   * covered must read as zeros now (no copy-on-write from anywhere); its uncovered bytes are
   * written as zeros unless they lie past the end of the file, which reads as zeros already.
   * Ordering is the one-cluster path's: the data is written before the L2 entries point at it,
   * and the refcounts (raised by the allocation) reach the disk before that L2 table does.
   * The data I/O is started (startDataWrite) and added to `jobs`, not awaited: it completes, and
   * new clusters are linked, after the lock is released.
   * Returns the bytes taken: 0 when the first cluster needs the one-cluster path.
   */
  private async writeRun(pos: number, data: Uint8Array, jobs: Promise<void>[]): Promise<number> {
    const cs = this.clusterSize;
    const vc = Math.floor(pos / cs);
    const inCluster = pos - vc * cs;
    const l1i = Math.floor(vc / this.l2Entries);
    const first = vc % this.l2Entries;
    const max = Math.min(Math.ceil((inCluster + data.length) / cs), this.l2Entries - first);
    const l2off = await this.writableL2(l1i);
    let t = this.l2.getCached(l2off) ?? (await this.l2.get(l2off));
    const complete = (e: L2Entry) => (this.ext ? e.alloc === FULL : !e.zeroFlag);
    const readsZero = (e: L2Entry) =>
      !e.compressed &&
      (this.ext ? e.zero === FULL || (e.alloc === 0 && !this.backing) : e.zeroFlag || (e.host === 0 && !this.backing));
    const olds: L2Entry[] = [];
    let inPlace = false;
    for (let i = 0; i < max; i++) {
      const e = this.entry(t, first + i);
      const mine = this.exclusiveCached(e) ?? (await this.exclusive(e));
      const from = i === 0 ? inCluster : 0;
      const whole = from === 0 && inCluster + data.length >= (i + 1) * cs;
      if (i === 0) {
        if (mine ? !complete(e) : !whole && !readsZero(e)) return 0;
        inPlace = mine;
      } else if (
        inPlace ? !mine || !complete(e) || e.host !== olds[0]!.host + i * cs : mine || (!whole && !readsZero(e))
      )
        break;
      olds.push(e);
    }
    const bytes = Math.min(data.length, olds.length * cs - inCluster);
    if (inPlace) {
      t = this.l2.getCached(l2off) ?? (await this.l2.get(l2off));
      for (let i = 0; i < olds.length; i++) {
        const e = olds[i]!;
        if (!e.copied) {
          writeL2(t.dv, first + i, this.ext, e.host, true, false, e.alloc, e.zero);
          t.dirty = true;
        }
      }
      jobs.push(this.startDataWrite(vc, vc + olds.length, [[olds[0]!.host + inCluster, data.subarray(0, bytes)]]));
      return bytes;
    }
    const host = await this.rc.alloc(olds.length);
    const tail = olds.length * cs - inCluster - bytes;
    const eof = inCluster > 0 || tail > 0 ? await this.store.size() : 0;
    const pieces: [number, Uint8Array][] = [];
    if (inCluster > 0 && host < eof) pieces.push([host, this.zeros().subarray(0, inCluster)]);
    pieces.push([host + inCluster, data.subarray(0, bytes)]);
    if (tail > 0 && host + inCluster + bytes < eof)
      pieces.push([host + inCluster + bytes, this.zeros().subarray(0, tail)]);
    // The awaits above may have evicted the table object: make sure it is cached, then pinned.
    if (!this.l2.getCached(l2off)) await this.l2.get(l2off);
    const link = () => {
      // Pinned, so still cached; nothing else changed these entries meanwhile (write() waits
      // for writes in flight to the same clusters, everything else for all of them).
      const table = this.l2.peek(l2off)!;
      for (let i = 0; i < olds.length; i++) {
        this.dropEntry(olds[i]!, false);
        writeL2(table.dv, first + i, this.ext, host + i * cs, true, false, this.ext ? FULL : 0, 0);
      }
      table.dirty = true;
    };
    jobs.push(this.startDataWrite(vc, vc + olds.length, pieces, l2off, link));
    return bytes;
  }

  /** A cluster of zeros, shared (never written to). */
  private zeros(): Uint8Array {
    return (this.zeroBuf ??= new Uint8Array(this.clusterSize));
  }

  /** An L2 table for L1 index l1i that only the active image uses (allocated or copied on demand). */
  async writableL2(l1i: number): Promise<number> {
    const cs = this.clusterSize;
    const old = this.l2Offset(l1i);
    if (old && this.l1Copied[l1i]) return old;
    if (old && (await this.rc.get(old / cs)) === 1) {
      this.setL1(l1i, old, true);
      return old;
    }
    const fresh = await this.rc.alloc(1);
    const content = old ? (await this.l2.get(old)).buf.slice() : new Uint8Array(cs);
    await this.l2.put(fresh, content);
    this.setL1(l1i, fresh, true);
    if (old) this.pendingFrees.push([old, cs]);
    return fresh;
  }

  private setL1(i: number, offset: number, copied: boolean): void {
    this.l1[i] = offset;
    this.l1Copied[i] = copied;
    this.l1Dirty.add(i);
  }

  /** Frees what an entry points to (deferred), when the entry is being replaced. */
  private dropEntry(e: L2Entry, keepHost: boolean): void {
    if (e.compressed) {
      const [first, count] = compressedClusters(e, this.clusterBits);
      this.pendingFrees.push([first * this.clusterSize, count * this.clusterSize]);
    } else if (e.host && !keepHost) this.pendingFrees.push([e.host, this.clusterSize]);
  }

  /** exclusive() when no I/O is needed to answer (no promise), else undefined. */
  private exclusiveCached(e: L2Entry): boolean | undefined {
    if (!e.host || e.compressed) return false;
    if (e.copied) return true;
    const n = this.rc.peek(e.host / this.clusterSize);
    return n === undefined ? undefined : n === 1;
  }

  /** Whether a normal cluster may be written in place: only this L2 entry refers to it. */
  private async exclusive(e: L2Entry): Promise<boolean> {
    if (!e.host || e.compressed) return false;
    if (e.copied) return true;
    return (await this.rc.get(e.host / this.clusterSize)) === 1;
  }

  /** Writes data (within one cluster) at virtual offset pos. */
  private async writeInCluster(pos: number, data: Uint8Array): Promise<void> {
    const cs = this.clusterSize;
    const vc = Math.floor(pos / cs);
    const inCluster = pos - vc * cs;
    const l1i = Math.floor(vc / this.l2Entries);
    const l2i = vc % this.l2Entries;
    const l2off = await this.writableL2(l1i);
    let t = await this.l2.get(l2off);
    const e = this.entry(t, l2i);
    const mine = await this.exclusive(e);
    const complete = this.ext ? e.alloc === FULL : !e.zeroFlag;
    if (mine && complete) {
      if (!e.copied) {
        writeL2(t.dv, l2i, this.ext, e.host, true, false, e.alloc, e.zero);
        t.dirty = true;
      }
      await this.store.write(e.host + inCluster, data);
      return;
    }
    // Build the whole new cluster: what it reads as now, overlaid with the new bytes.
    const clusterStart = vc * cs;
    const valid = Math.min(cs, this.size - clusterStart);
    let buf: Uint8Array;
    if (inCluster === 0 && data.length >= valid) {
      buf = data.length === cs ? data : new Uint8Array(cs);
      if (buf !== data) buf.set(data);
    } else {
      // Reused, not allocated per call (a conversion does this for both ends of every data run).
      buf = this.scratch ??= new Uint8Array(cs);
      await this.readAt(clusterStart, buf.subarray(0, valid));
      buf.fill(0, valid);
      buf.set(data, inCluster);
    }
    const host = mine ? e.host : await this.rc.alloc(1);
    await this.store.write(host, buf);
    t = await this.l2.get(l2off);
    this.dropEntry(e, mine);
    writeL2(t.dv, l2i, this.ext, host, true, false, this.ext ? FULL : 0, 0);
    t.dirty = true;
    await this.maybeFlushFrees();
  }

  async writeCompressedCluster(offset: number, data: Uint8Array): Promise<void> {
    this.checkWritable();
    const cs = this.clusterSize;
    if (offset % cs !== 0 || data.length > cs || (data.length < cs && offset + data.length !== this.size)) {
      throw new StorageError(
        'out-of-range',
        `qcow2: compressed writes need whole aligned clusters (${offset}+${data.length})`,
      );
    }
    checkRange(this, offset, data.length, 'compressed write');
    return this.serialize(async () => {
      await this.markDirty();
      const full =
        data.length === cs
          ? data
          : (() => {
              const b = new Uint8Array(cs);
              b.set(data);
              return b;
            })();
      const packed = compressCluster(full, this.header.compressionType);
      if (!packed) {
        await this.writeInCluster(offset, full.subarray(0, Math.min(cs, this.size - offset)));
        return;
      }
      const host = await this.allocBytes(packed.length);
      await this.store.write(host, packed);
      const vc = offset / cs;
      const l1i = Math.floor(vc / this.l2Entries);
      const l2off = await this.writableL2(l1i);
      const t = await this.l2.get(l2off);
      const old = this.entry(t, vc % this.l2Entries);
      this.dropEntry(old, false);
      writeCompressedL2(t.dv, vc % this.l2Entries, this.ext, this.clusterBits, host, packed.length);
      t.dirty = true;
      await this.maybeFlushFrees();
    });
  }

  /**
   * Byte-granular space for compressed data, packed into partly used clusters as qemu does. Every
   * host cluster a compressed cluster touches gets one reference from it.
   */
  private async allocBytes(n: number): Promise<number> {
    const cs = this.clusterSize;
    let start = this.compressFree;
    if (start && cs - (start % cs) >= n) await this.rc.update(Math.floor(start / cs), 1);
    else start = await this.rc.alloc(Math.ceil(n / cs));
    const end = start + n;
    this.compressFree = end % cs === 0 ? 0 : end;
    return start;
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    return this.zeroRange(offset, length, false, 'write-zeroes');
  }

  async discard(offset: number, length: number): Promise<void> {
    return this.zeroRange(offset, length, true, 'discard');
  }

  private async zeroRange(offset: number, length: number, discard: boolean, what: string): Promise<void> {
    this.checkWritable();
    checkRange(this, offset, length, what);
    return this.serialize(async () => {
      await this.markDirty();
      for (const w = new BlockWalk(this.clusterSize, offset, length); w.next(); ) {
        // Part of a cluster: a discard is advisory and never writes (it could allocate a cluster).
        if (!w.whole(this.size)) {
          if (!discard) await this.writeInCluster(w.pos, new Uint8Array(w.length));
        } else await this.zeroCluster(w.index, discard);
      }
    });
  }

  /** Makes a whole cluster read as zeros (or, for a v2 discard over a backing file, as the backing file). */
  private async zeroCluster(vc: number, discard: boolean): Promise<void> {
    const l1i = Math.floor(vc / this.l2Entries);
    const l2i = vc % this.l2Entries;
    const useZeroFlag = this.version === 3 && this.backing !== undefined;
    if (!(this.l1[l1i] ?? 0) && !this.backing) return; // already reads as zeros
    if (this.version === 2 && this.backing && !discard) {
      await this.writeInCluster(
        vc * this.clusterSize,
        new Uint8Array(Math.min(this.clusterSize, this.size - vc * this.clusterSize)),
      );
      return;
    }
    const l2off = await this.writableL2(l1i);
    const t = await this.l2.get(l2off);
    const e = this.entry(t, l2i);
    this.dropEntry(e, false);
    if (useZeroFlag) {
      if (this.ext) writeL2(t.dv, l2i, true, 0, false, false, 0, FULL);
      else writeL2(t.dv, l2i, false, 0, false, true);
    } else writeL2(t.dv, l2i, this.ext, 0, false, false, 0, 0);
    t.dirty = true;
    await this.maybeFlushFrees();
  }

  /**
   * Drops every mapping of the active layer so it reads through to its backing file again, as
   * qemu-img commit leaves an overlay (qemu's qcow2 make_empty). Each L2 table leaves the L1
   * table; a table only this layer used takes the references to its clusters with it, one that a
   * snapshot shares keeps them. Ordering as for any change: the cleared L1 entries are written
   * (flushMetadata) before the decrements that may free the tables and their clusters.
   */
  async makeEmpty(): Promise<void> {
    this.checkWritable();
    return this.serialize(async () => {
      await this.markDirty();
      const cs = this.clusterSize;
      for (let l1i = 0; l1i < this.l1.length; l1i++) {
        const off = this.l2Offset(l1i);
        if (!off) continue;
        if ((this.l1Copied[l1i] ?? false) || (await this.rc.get(off / cs)) === 1) {
          const t = await this.l2.get(off);
          for (let i = 0; i < this.l2Entries; i++) this.dropEntry(this.entry(t, i), false);
        }
        this.pendingFrees.push([off, cs]);
        this.setL1(l1i, 0, false);
        // Long tables of frees are applied as they come (each pass writes the L1 entries first).
        if (this.pendingFrees.length >= 4096) await this.flushMetadata();
      }
      await this.flushMetadata();
      await this.barrier();
    });
  }

  // ---------------------------------------------------------------- status

  async blockStatus(offset: number, length: number): Promise<ExtentStatus> {
    checkRange(this, offset, length, 'block-status');
    return this.serialize(async (): Promise<ExtentStatus> => {
      const run = await this.mapRun(offset, length);
      switch (run.kind) {
        case 'data':
          return { offset, length: run.length, data: true, zero: false, depth: 0, hostOffset: run.host };
        case 'compressed':
          return { offset, length: run.length, data: true, zero: false, depth: 0 };
        case 'zero':
          return { offset, length: run.length, data: false, zero: true, depth: 0, recorded: true };
        case 'unalloc': {
          const b = this.backing;
          if (!b || offset >= b.size) return { offset, length: run.length, data: false, zero: true, depth: 0 };
          const st = await b.blockStatus(offset, Math.min(run.length, b.size - offset));
          return { ...st, offset, depth: st.depth + 1 };
        }
      }
    }, 'shared');
  }

  // ---------------------------------------------------------------- flush, close

  async flush(): Promise<void> {
    if (this.readOnly) return Promise.resolve();
    return this.serialize(() => this.flushAll());
  }

  /** Everything to disk, in dependency order (see the top of this file). */
  async flushAll(): Promise<void> {
    if (this.readOnly) return;
    await this.flushMetadata();
    await this.store.flush();
  }

  private async flushMetadata(): Promise<void> {
    if (this.rc.cache.hasDirty()) {
      await this.rc.flush();
      await this.barrier();
    }
    await this.l2.flush();
    if (this.l1Dirty.size > 0) {
      for (const i of [...this.l1Dirty].sort((a, b) => a - b)) {
        await this.store.write(this.header.l1TableOffset + i * 8, encodeL1(this.l1[i]!, this.l1Copied[i]!));
      }
      this.l1Dirty.clear();
    }
    if (this.pendingFrees.length > 0) {
      await this.barrier();
      await this.applyFrees();
      await this.rc.flush();
    }
  }

  private async applyFrees(): Promise<void> {
    const frees = this.pendingFrees;
    this.pendingFrees = [];
    const cs = this.clusterSize;
    for (const [off, len] of frees) {
      for (let c = off / cs; c < (off + len) / cs; c++) {
        if ((await this.rc.update(c, -1)) === 0) {
          this.l2.drop(c * cs);
          this.rc.cache.drop(c * cs);
          if (this.lastCompressed && Math.floor(this.lastCompressed.host / cs) === c) this.lastCompressed = undefined;
          if (this.compressFree && Math.floor(this.compressFree / cs) === c) this.compressFree = 0;
        }
      }
    }
  }

  /** Long runs of discards would otherwise pin many clusters until the next flush. */
  private async maybeFlushFrees(): Promise<void> {
    if (this.pendingFrees.length < 4096) return;
    // Writes in flight still link into L2 tables the flush would write.
    await this.drainWrites();
    await this.flushMetadata();
  }

  async close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.serialize(async () => {
      try {
        if (!this.readOnly) {
          await this.flushAll();
          if (this.markedDirty) {
            this.header.incompatible &= ~INCOMPAT_DIRTY;
            await this.writeFeatures();
            await this.store.flush();
          }
        }
      } finally {
        this.closed = true;
        await this.store.close();
        await this.backing?.close();
      }
    });
  }

  // ---------------------------------------------------------------- header updates

  async writeHeaderBytes(offset: number, bytes: Uint8Array): Promise<void> {
    await this.store.write(offset, bytes);
  }

  async writeFeatures(): Promise<void> {
    if (this.version !== 3) return;
    const b = new Uint8Array(24);
    const dv = new DataView(b.buffer);
    setU64(dv, 0, this.header.incompatible);
    setU64(dv, 8, this.header.compatible);
    setU64(dv, 16, this.header.autoclear);
    await this.writeHeaderBytes(72, b);
  }

  /** With lazy refcounts the image is marked dirty before its first change (qemu repairs dirty images on open). */
  private async markDirty(): Promise<void> {
    if (this.markedDirty || this.version !== 3 || !(this.header.compatible & COMPAT_LAZY_REFCOUNTS)) return;
    this.markedDirty = true;
    this.header.incompatible |= INCOMPAT_DIRTY;
    await this.writeFeatures();
    await this.barrier();
  }

  checkWritable(): void {
    if (this.readOnly) throw new StorageError('read-only', `${this.store.name} is opened read-only`);
    if (this.header.incompatible & INCOMPAT_CORRUPT)
      throw new StorageError('corrupt', `${this.store.name} is marked corrupt`);
  }

  // ---------------------------------------------------------------- resize

  async resize(newSize: number): Promise<void> {
    this.checkWritable();
    if (!Number.isSafeInteger(newSize) || newSize < 0) throw new StorageError('out-of-range', `bad size ${newSize}`);
    return this.serialize(async () => {
      await this.markDirty();
      const cs = this.clusterSize;
      if (newSize < this.size) {
        // Refuse to drop data: everything past the new end must be unallocated.
        const firstWhole = Math.ceil(newSize / cs) * cs;
        for (let pos = firstWhole; pos < this.size;) {
          const run = await this.mapRun(pos, this.size - pos);
          if (
            run.kind === 'data' ||
            run.kind === 'compressed' ||
            (run.kind === 'unalloc' && this.backing && pos < this.backing.size)
          ) {
            throw new StorageError('unsupported', `qcow2: cannot shrink to ${newSize}: data at ${pos} would be lost`);
          }
          pos += run.length;
        }
        if (newSize % cs !== 0 && firstWhole <= this.size) {
          // The partial last cluster keeps no stale bytes that a later grow would expose.
          await this.writeInCluster(newSize, new Uint8Array(Math.min(firstWhole, this.size) - newSize));
        }
        for (let pos = firstWhole; pos < this.size; pos += cs) await this.zeroClusterForShrink(pos / cs);
      } else {
        const need = Math.ceil(newSize / (cs * this.l2Entries));
        if (need > this.l1.length) await this.growL1(need);
      }
      this.size = this.header.size = newSize;
      await this.flushMetadata();
      const b = new Uint8Array(8);
      setU64(new DataView(b.buffer), 0, newSize);
      await this.writeHeaderBytes(24, b);
      await this.store.flush();
    });
  }

  private async zeroClusterForShrink(vc: number): Promise<void> {
    const l1i = Math.floor(vc / this.l2Entries);
    if (!(this.l1[l1i] ?? 0)) return;
    const t = await this.l2.get(await this.writableL2(l1i));
    const e = this.entry(t, vc % this.l2Entries);
    if (e.zeroFlag || e.zero) {
      writeL2(t.dv, vc % this.l2Entries, this.ext, 0, false, false);
      t.dirty = true;
    }
  }

  /** Moves the active L1 table to a bigger place; the header switches once the copy is complete. */
  async growL1(entries: number): Promise<void> {
    const cs = this.clusterSize;
    if (entries * 8 > MAX_L1_BYTES)
      throw new StorageError('too-large', `qcow2: L1 table of ${entries} entries is too large`);
    await this.flushMetadata();
    const clusters = Math.ceil((entries * 8) / cs);
    const off = await this.rc.alloc(clusters);
    const raw = new Uint8Array(clusters * cs);
    for (let i = 0; i < this.l1.length; i++) raw.set(encodeL1(this.l1[i]!, this.l1Copied[i]!), i * 8);
    await this.rc.flush();
    await this.store.write(off, raw);
    await this.barrier();
    const hb = new Uint8Array(12);
    const dv = new DataView(hb.buffer);
    dv.setUint32(0, entries);
    setU64(dv, 4, off);
    await this.writeHeaderBytes(36, hb);
    await this.barrier();
    const oldOff = this.header.l1TableOffset;
    const oldClusters = Math.ceil((this.l1.length * 8) / cs);
    this.header.l1TableOffset = off;
    this.header.l1Size = entries;
    while (this.l1.length < entries) {
      this.l1.push(0);
      this.l1Copied.push(false);
    }
    if (oldOff && oldClusters > 0) {
      for (let i = 0; i < oldClusters; i++) await this.rc.update(oldOff / cs + i, -1);
      await this.rc.flush();
    }
  }

  // ---------------------------------------------------------------- check, snapshots

  async check(repair?: 'leaks' | 'all'): Promise<CheckResult> {
    if (repair) this.checkWritable();
    return this.serialize(async () => {
      if (!this.readOnly) await this.flushMetadata();
      return checkImage(this, repair);
    });
  }

  async listSnapshots(): Promise<SnapshotInfo[]> {
    return Promise.resolve(this.snapshots.map((s) => snapshotInfo(s, this.size)));
  }

  async createSnapshot(
    name: string,
    opts: { dateSec?: number; dateNsec?: number; vmClockNsec?: number } = {},
  ): Promise<SnapshotInfo> {
    this.checkWritable();
    return this.serialize(async () => {
      return snapshotInfo(await createSnapshot(this, name, opts), this.size);
    });
  }

  async applySnapshot(nameOrId: string): Promise<void> {
    this.checkWritable();
    return this.serialize(async () => {
      await applySnapshot(this, nameOrId);
    });
  }

  async deleteSnapshot(nameOrId: string): Promise<void> {
    this.checkWritable();
    return this.serialize(async () => {
      await deleteSnapshot(this, nameOrId);
    });
  }

  /** Called by snapshot code after it rewrote metadata behind the caches' back. */
  flushMetadataForSnapshots(): Promise<void> {
    return this.flushMetadata();
  }

  /** Reads an L1 table (active or a snapshot's) into offsets. */
  async readL1Table(offset: number, entries: number): Promise<{ offsets: number[]; copied: boolean[] }> {
    const raw = new Uint8Array(entries * 8);
    if (entries) await this.store.read(offset, raw);
    const dv = new DataView(raw.buffer);
    const offsets: number[] = [];
    const copied: boolean[] = [];
    for (let i = 0; i < entries; i++) {
      const e = readL1(dv, i);
      offsets.push(e.offset);
      copied.push(e.copied);
    }
    return { offsets, copied };
  }
}

function snapshotInfo(s: SnapshotEntry, size: number): SnapshotInfo {
  return {
    id: s.id,
    name: s.name,
    vmStateSize: s.vmStateSize,
    dateSec: s.dateSec,
    dateNsec: s.dateNsec,
    vmClockNsec: s.vmClockNsec,
    diskSize: s.diskSize ?? size,
  };
}

/** Waits for every request (none may still run afterwards), then throws the first failure. */
async function allSettledOrThrow(pending: Promise<void>[]): Promise<void> {
  if (pending.length === 1) return pending[0];
  const failed = (await Promise.allSettled(pending)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
