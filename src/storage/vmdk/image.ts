/**
 * A VMDK disk as a BlockBackend: a row of extents (sparse, flat or zero) laid end to end, and
 * for delta disks a parent image that unallocated grains read through to.
 */
import type { BlockBackend, CheckableBackend, CheckResult, ExtentStatus } from '../types.ts';
import { StorageError, checkRange } from '../types.ts';
import type { Descriptor } from './descriptor.ts';
import type { Extent, Fallback } from './extent.ts';
import { Serial } from '../serial.ts';

export interface PlacedExtent {
  start: number;
  extent: Extent;
  /** The extent line's type (SPARSE, FLAT, ...) when a descriptor file names it; qemu shows '' otherwise. */
  type?: string;
  /** The extent's file as the descriptor file names it (relative to it); none for the image's own file. */
  file?: string;
}

/** One extent as `qemu-img info` lists it (format-specific "extents"). */
export interface VmdkExtentInfo {
  virtualSize: number;
  /** As the descriptor names it (resolve it against the image's path); undefined: the image's own file. */
  filename?: string;
  clusterSize?: number;
  format: string;
  compressed: boolean;
}

export class VmdkImage implements BlockBackend, CheckableBackend {
  readonly format = 'vmdk';
  readonly size: number;
  /**
   * The grain size, when every extent is sparse with the same grain (qemu-img info's
   * cluster-size); undefined for flat extents.
   */
  readonly clusterSize?: number;
  private readonly serial = new Serial();
  private closed = false;

  constructor(
    readonly name: string,
    readonly descriptor: Descriptor,
    private readonly extents: PlacedExtent[],
    readonly readOnly: boolean,
    readonly backing?: BlockBackend,
    /** Closed last: the descriptor file when it is not itself an extent. */
    private readonly extra?: { close(): Promise<void> },
  ) {
    const last = extents[extents.length - 1];
    this.size = last ? last.start + last.extent.size : 0;
    const grain = extents[0]?.extent.grainBytes;
    if (grain !== undefined && extents.every((p) => p.extent.grainBytes === grain)) this.clusterSize = grain;
  }

  /** The extents in disk order, with the files that hold them. */
  extentInfo(): VmdkExtentInfo[] {
    return this.extents.map(({ extent, type, file }) => ({
      virtualSize: extent.size,
      filename: file,
      clusterSize: extent.grainBytes,
      format: type ?? '',
      compressed: extent.compressed ?? false,
    }));
  }

  /** The content identifier a child delta disk records as its parentCID. */
  get cid(): number {
    return this.descriptor.cid;
  }

  private checkArgs(offset: number, length: number): void {
    if (this.closed) throw new StorageError('io', `VMDK ${this.name}: image is closed`);
    checkRange(this, offset, length, `VMDK ${this.name}: request`);
  }

  private checkWritable(): void {
    if (this.readOnly) throw new StorageError('read-only', `VMDK ${this.name} is read-only`);
  }

  private fallback(start: number): Fallback {
    return async (off, buf) => {
      const pos = start + off;
      const b = this.backing;
      if (!b || pos >= b.size) {
        buf.fill(0);
        return;
      }
      const n = Math.min(buf.length, b.size - pos);
      await b.read(pos, buf.subarray(0, n));
      buf.fill(0, n);
    };
  }

  /** Calls fn for each extent piece of [offset, offset+length). */
  private async each(
    offset: number,
    length: number,
    fn: (p: PlacedExtent, inExtent: number, done: number, n: number) => Promise<void>,
  ): Promise<void> {
    let done = 0;
    let i = this.find(offset);
    while (done < length) {
      const p = this.extents[i]!;
      const inExtent = offset + done - p.start;
      const n = Math.min(length - done, p.extent.size - inExtent);
      if (n > 0) await fn(p, inExtent, done, n);
      done += Math.max(n, 0);
      i++;
    }
  }

  private find(offset: number): number {
    let lo = 0;
    let hi = this.extents.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.extents[mid]!.start <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    this.checkArgs(offset, buf.length);
    await this.each(offset, buf.length, (p, inExt, done, n) =>
      p.extent.read(inExt, buf.subarray(done, done + n), this.fallback(p.start)),
    );
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.checkArgs(offset, data.length);
    this.checkWritable();
    await this.serial.run(() =>
      this.each(offset, data.length, (p, inExt, done, n) =>
        p.extent.write(inExt, data.subarray(done, done + n), this.fallback(p.start)),
      ),
    );
  }

  private async zero(offset: number, length: number, discard: boolean): Promise<void> {
    this.checkArgs(offset, length);
    this.checkWritable();
    await this.serial.run(() =>
      this.each(offset, length, (p, inExt, _done, n) =>
        p.extent.zero(inExt, n, discard, !!this.backing, this.fallback(p.start)),
      ),
    );
  }

  discard(offset: number, length: number): Promise<void> {
    return this.zero(offset, length, true);
  }

  writeZeroes(offset: number, length: number): Promise<void> {
    return this.zero(offset, length, false);
  }

  async blockStatus(offset: number, length: number): Promise<ExtentStatus> {
    this.checkArgs(offset, length);
    const p = this.extents[this.find(offset)]!;
    const inExt = offset - p.start;
    const run = await p.extent.status(inExt, Math.min(length, p.extent.size - inExt));
    if (run.kind === 'data') {
      const st: ExtentStatus = { offset, length: run.length, data: true, zero: false, depth: 0 };
      if (run.hostOffset !== undefined) st.hostOffset = run.hostOffset;
      // The data is in the extent's file, which is not the descriptor's when it stands alone.
      if (p.file !== undefined) st.file = p.file;
      return st;
    }
    const b = this.backing;
    if (run.kind === 'zero') return { offset, length: run.length, data: false, zero: true, depth: 0, recorded: true };
    if (!b || offset >= b.size) return { offset, length: run.length, data: false, zero: true, depth: 0 };
    const st = await b.blockStatus(offset, Math.min(run.length, b.size - offset));
    return { ...st, offset, depth: st.depth + 1 };
  }

  /**
   * qemu-img check for VMDK: every allocated grain of every sparse extent must start inside its
   * file. Like qemu-img, the first one that does not ends the check as failed (a StorageError
   * naming the disk sector; the CLI reports "check not completed", exit status 1). Grain
   * directories and tables outside the file already fail at open. Nothing is repaired, and there
   * is nothing to count as leaked (qemu reports no cluster statistics for VMDK either).
   */
  readonly canRepair = false;

  async check(repair?: 'leaks' | 'all'): Promise<CheckResult> {
    if (repair !== undefined) throw new StorageError('unsupported', `VMDK ${this.name}: check cannot repair`);
    if (this.closed) throw new StorageError('io', `VMDK ${this.name}: image is closed`);
    await this.serial.run(async () => {
      for (const p of this.extents) {
        const bad = await p.extent.firstGrainPastEnd?.();
        if (bad !== undefined) {
          throw new StorageError(
            'corrupt',
            `VMDK ${this.name}: cluster offset for sector ${(p.start + bad) / 512} points after EOF`,
          );
        }
      }
    });
    return {
      leaks: 0,
      corruptions: 0,
      leaksFixed: 0,
      corruptionsFixed: 0,
      allocatedClusters: 0,
      totalClusters: 0,
      fragmentedClusters: 0,
      compressedClusters: 0,
      imageEndOffset: 0,
      messages: [],
    };
  }

  async flush(): Promise<void> {
    if (this.readOnly) return;
    await this.serial.run(async () => {
      for (const p of this.extents) await p.extent.flush();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    let err: unknown;
    try {
      await this.flush();
    } catch (e) {
      err = e;
    }
    this.closed = true;
    for (const p of this.extents) await p.extent.close().catch((e) => (err ??= e));
    await this.extra?.close().catch((e) => (err ??= e));
    await this.backing?.close().catch((e) => (err ??= e));
    if (err) throw err;
  }
}
