/**
 * A VHD image as a BlockBackend: fixed (raw data + footer at the end), dynamic (sparse blocks
 * through a block allocation table) and differencing (dynamic + a parent image, with a per-block
 * sector bitmap saying which sectors this file holds).
 *
 * Crash safety: a new block's data, bitmap and the moved footer are written first; the BAT entry
 * that points at the block is written only in flush(), after a store flush, so a crash can leak
 * a block but never expose one whose contents were not yet durable.
 */
import type { BlockBackend, ByteStore, ExtentStatus, ImageIdentity } from '../types.ts';
import { StorageError, checkRange } from '../types.ts';
import { DISK_DIFFERENCING, FOOTER_SIZE } from './footer.ts';
import { Serial } from '../serial.ts';
import { discardBytes, zeroBytes } from '../zero-range.ts';
import { BlockWalk, writeZeroPieces } from '../block-walk.ts';

export const UNALLOCATED = 0xffffffff;
const SECTOR = 512;
/** Bitmaps kept in memory at most (512 bytes each for the usual 2 MiB blocks). */
const BITMAP_CACHE_LIMIT = 4096;

export interface DynamicLayout {
  blockSize: number;
  bitmapSize: number;
  batOffset: number;
  bat: Uint32Array;
  /** Where the next block goes (the current footer position or the end of the data). */
  allocOffset: number;
  /** File length as last known, to zero any stale bytes a new block would otherwise expose. */
  fileEnd: number;
}

export interface VhdParts {
  store: ByteStore;
  readOnly: boolean;
  size: number;
  diskType: number;
  footer: Uint8Array;
  dyn?: DynamicLayout;
  backing?: BlockBackend;
  /** The footer's unique ID and the file's time stamp, which a differencing child records. */
  identity: ImageIdentity;
}

export class VhdImage implements BlockBackend {
  readonly format = 'vpc';
  readonly readOnly: boolean;
  readonly size: number;
  readonly backing?: BlockBackend;
  readonly identity: ImageIdentity;
  readonly diskType: number;
  /** The block size of a dynamic or differencing disk (qemu-img info's cluster-size); fixed disks have none. */
  readonly clusterSize?: number;
  private readonly store: ByteStore;
  private readonly footer: Uint8Array;
  private readonly dyn?: DynamicLayout;
  private readonly dirtyBat = new Set<number>();
  private readonly bitmaps = new Map<number, Uint8Array>();
  private readonly serial = new Serial();
  /** Data runs' host offsets are offsets of the store's own bytes (FileMappedBackend, img/capabilities.ts). */
  readonly dataInFile = true;
  /** A fixed disk's data is the file up to the footer (FilePrefixBackend: map shows the file's holes). */
  get dataIsFilePrefix(): boolean {
    return !this.dyn;
  }
  /** Data writes of dynamic disks running outside the serial section (settle, never reject). */
  private readonly dataWrites = new Set<Promise<void>>();
  private closed = false;

  constructor(p: VhdParts) {
    this.store = p.store;
    this.readOnly = p.readOnly;
    this.size = p.size;
    this.diskType = p.diskType;
    this.footer = p.footer;
    this.dyn = p.dyn;
    this.clusterSize = p.dyn?.blockSize;
    this.backing = p.backing;
    this.identity = p.identity;
  }

  private checkArgs(offset: number, length: number): void {
    if (this.closed) throw new StorageError('io', `VHD ${this.store.name}: image is closed`);
    checkRange(this, offset, length, `VHD ${this.store.name}: request`);
  }

  private checkWritable(): void {
    if (this.readOnly) throw new StorageError('read-only', `VHD ${this.store.name} is read-only`);
  }

  private get differencing(): boolean {
    return this.diskType === DISK_DIFFERENCING;
  }

  private blockHost(block: number): number {
    return this.dyn!.bat[block]! * SECTOR;
  }

  private async bitmap(block: number): Promise<Uint8Array> {
    let bm = this.bitmaps.get(block);
    if (bm) return bm;
    bm = new Uint8Array(this.dyn!.bitmapSize);
    await this.store.read(this.blockHost(block), bm);
    // A concurrent write may have cached (and marked sectors in) this bitmap meanwhile: keep that one.
    const cached = this.bitmaps.get(block);
    if (cached) return cached;
    if (this.bitmaps.size >= BITMAP_CACHE_LIMIT) this.bitmaps.delete(this.bitmaps.keys().next().value!);
    this.bitmaps.set(block, bm);
    return bm;
  }

  private async readBacking(offset: number, buf: Uint8Array): Promise<void> {
    const b = this.backing;
    if (!b || offset >= b.size) {
      buf.fill(0);
      return;
    }
    const n = Math.min(buf.length, b.size - offset);
    await b.read(offset, buf.subarray(0, n));
    buf.fill(0, n);
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    this.checkArgs(offset, buf.length);
    const dyn = this.dyn;
    if (!dyn) return this.store.read(offset, buf);
    for (const w = new BlockWalk(dyn.blockSize, offset, buf.length); w.next(); ) {
      const { index: block, inBlock } = w;
      const part = buf.subarray(w.done, w.done + w.length);
      if (dyn.bat[block] === UNALLOCATED) {
        if (this.differencing) await this.readBacking(w.pos, part);
        else part.fill(0);
      } else if (!this.differencing) {
        // Like qemu, a dynamic disk's allocated block is read whole; its bitmap is all ones.
        await this.store.read(this.blockHost(block) + dyn.bitmapSize + inBlock, part);
      } else {
        await this.readDiffBlock(block, inBlock, part, w.pos);
      }
    }
  }

  /** Reads a run inside an allocated differencing block, sector by sector from this file or the parent. */
  private async readDiffBlock(block: number, inBlock: number, part: Uint8Array, pos: number): Promise<void> {
    const dyn = this.dyn!;
    const bm = await this.bitmap(block);
    let i = 0;
    while (i < part.length) {
      const sector = Math.floor((inBlock + i) / SECTOR);
      const mine = (bm[sector >> 3]! & (0x80 >> (sector & 7))) !== 0;
      let j = Math.min(part.length, (sector + 1) * SECTOR - inBlock);
      while (j < part.length) {
        const s = Math.floor((inBlock + j) / SECTOR);
        if (((bm[s >> 3]! & (0x80 >> (s & 7))) !== 0) !== mine) break;
        j = Math.min(part.length, (s + 1) * SECTOR - inBlock);
      }
      const sub = part.subarray(i, j);
      if (mine) await this.store.read(this.blockHost(block) + dyn.bitmapSize + inBlock + i, sub);
      else await this.readBacking(pos + i, sub);
      i = j;
    }
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.checkArgs(offset, data.length);
    this.checkWritable();
    if (!this.dyn) return this.store.write(offset, data);
    if (this.differencing) {
      await this.serial.run(() => this.writeDynamic(offset, data));
      return;
    }
    // A dynamic disk's blocks never move and its bitmaps are all ones, so only allocation needs
    // the serial section; the data goes out after it, overlapping other writes' data (a
    // conversion keeps several in flight). flush() and close() wait for it.
    const pieces = await this.serial.run(() => this.allocateFor(offset, data));
    const io = Promise.allSettled(pieces.map(([host, part]) => this.store.write(host, part)));
    const settled = io.then(() => undefined);
    this.dataWrites.add(settled);
    try {
      const failed = (await io).find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      this.dataWrites.delete(settled);
    }
  }

  /** Allocates the blocks [offset, +data.length) needs and says where each part of data goes. */
  private async allocateFor(offset: number, data: Uint8Array): Promise<[number, Uint8Array][]> {
    const dyn = this.dyn!;
    const pieces: [number, Uint8Array][] = [];
    for (const w = new BlockWalk(dyn.blockSize, offset, data.length); w.next(); ) {
      if (dyn.bat[w.index] === UNALLOCATED) await this.allocate(w.index);
      // One piece per block: a bitmap sits between consecutive blocks in the file.
      pieces.push([this.blockHost(w.index) + dyn.bitmapSize + w.inBlock, data.subarray(w.done, w.done + w.length)]);
    }
    return pieces;
  }

  /** Waits for the data writes running outside the serial section. */
  private async drainWrites(): Promise<void> {
    while (this.dataWrites.size > 0) await Promise.all([...this.dataWrites]);
  }

  private async writeDynamic(offset: number, data: Uint8Array): Promise<void> {
    const dyn = this.dyn!;
    for (const w = new BlockWalk(dyn.blockSize, offset, data.length); w.next(); )
      await this.writeInBlock(w.index, w.inBlock, data.subarray(w.done, w.done + w.length));
  }

  private async writeInBlock(block: number, inBlock: number, data: Uint8Array): Promise<void> {
    const dyn = this.dyn!;
    // Differencing bitmaps have sector granularity: widen a partial-sector write with the current contents.
    if (this.differencing && (inBlock % SECTOR !== 0 || data.length % SECTOR !== 0)) {
      const start = inBlock - (inBlock % SECTOR);
      const end = Math.ceil((inBlock + data.length) / SECTOR) * SECTOR;
      const wide = new Uint8Array(end - start);
      await this.read(block * dyn.blockSize + start, wide);
      wide.set(data, inBlock - start);
      inBlock = start;
      data = wide;
    }
    if (dyn.bat[block] === UNALLOCATED) await this.allocate(block);
    const host = this.blockHost(block);
    await this.store.write(host + dyn.bitmapSize + inBlock, data);
    if (this.differencing) await this.markSectors(block, inBlock, data.length);
  }

  private async markSectors(block: number, inBlock: number, length: number): Promise<void> {
    const bm = await this.bitmap(block);
    const first = inBlock / SECTOR;
    const last = (inBlock + length) / SECTOR;
    let lo = bm.length;
    let hi = -1;
    for (let s = first; s < last; s++) {
      const bit = 0x80 >> (s & 7);
      if (!(bm[s >> 3]! & bit)) {
        bm[s >> 3]! |= bit;
        lo = Math.min(lo, s >> 3);
        hi = Math.max(hi, s >> 3);
      }
    }
    // The bitmap follows the data it describes, so a crash cannot expose unwritten sectors.
    if (hi >= 0) {
      const a = lo - (lo % SECTOR);
      const b = Math.min(bm.length, hi - (hi % SECTOR) + SECTOR);
      await this.store.write(this.blockHost(block) + a, bm.subarray(a, b));
    }
  }

  /** Puts a new block where the footer is, moves the footer after it; the BAT entry waits for flush(). */
  private async allocate(block: number): Promise<void> {
    const dyn = this.dyn!;
    const at = dyn.allocOffset;
    if ((at + dyn.bitmapSize) / SECTOR > 0xfffffffe) {
      throw new StorageError('too-large', `VHD ${this.store.name}: file would exceed the BAT's 2 TiB addressing`);
    }
    const bm = new Uint8Array(dyn.bitmapSize);
    if (!this.differencing) bm.fill(0xff);
    const end = at + dyn.bitmapSize + dyn.blockSize;
    // The three writes are disjoint and none depends on another (the BAT entry, which makes the
    // block visible, waits for flush), so they go out together: an allocation costs one round trip.
    const writes = [this.store.write(at, bm), this.store.write(end, this.footer)];
    // Bytes that were in the file past the bitmap (stale data, not just the old footer) must read as zeros.
    if (dyn.fileEnd > at + dyn.bitmapSize) {
      const stale = new Uint8Array(Math.min(dyn.fileEnd, end) - at - dyn.bitmapSize);
      writes.push(this.store.write(at + dyn.bitmapSize, stale));
    }
    const failed = (await Promise.allSettled(writes)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    dyn.fileEnd = Math.max(dyn.fileEnd, end + FOOTER_SIZE);
    dyn.allocOffset = end;
    dyn.bat[block] = at / SECTOR;
    this.bitmaps.set(block, bm);
    this.dirtyBat.add(block);
  }

  async flush(): Promise<void> {
    if (this.readOnly) return;
    await this.serial.run(async () => {
      await this.drainWrites();
      if (this.dirtyBat.size === 0) return this.store.flush();
      await this.store.flush();
      const dyn = this.dyn!;
      const sectors = new Set([...this.dirtyBat].map((b) => Math.floor((b * 4) / SECTOR)));
      this.dirtyBat.clear();
      for (const s of sectors) {
        const first = (s * SECTOR) / 4;
        const count = Math.min(SECTOR / 4, dyn.bat.length - first);
        const out = new Uint8Array(count * 4);
        const dv = new DataView(out.buffer);
        for (let i = 0; i < count; i++) dv.setUint32(i * 4, dyn.bat[first + i]!);
        await this.store.write(dyn.batOffset + s * SECTOR, out);
      }
      await this.store.flush();
    });
  }

  async discard(offset: number, length: number): Promise<void> {
    await this.zeroRange(offset, length, true);
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    await this.zeroRange(offset, length, false);
  }

  private async zeroRange(offset: number, length: number, discard: boolean): Promise<void> {
    this.checkArgs(offset, length);
    this.checkWritable();
    const dyn = this.dyn;
    // A fixed disk is a raw image followed by its footer.
    if (!dyn) return (discard ? discardBytes : zeroBytes)(this.store, offset, length);
    for (const w = new BlockWalk(dyn.blockSize, offset, length); w.next(); ) {
      const block = w.index;
      const whole = w.whole(this.size);
      if (whole && !this.differencing) {
        // A dynamic disk's unallocated block reads as zeros; the block's space is leaked, as a format without reuse must.
        if (dyn.bat[block] !== UNALLOCATED) {
          dyn.bat[block] = UNALLOCATED;
          this.bitmaps.delete(block);
          this.dirtyBat.add(block);
        }
      } else if (whole && discard && this.differencing) {
        // Discarding in a differencing disk reveals the parent again, which the format defines.
        if (dyn.bat[block] !== UNALLOCATED) {
          dyn.bat[block] = UNALLOCATED;
          this.bitmaps.delete(block);
          this.dirtyBat.add(block);
        }
      } else if (!this.differencing && dyn.bat[block] === UNALLOCATED) {
        // Already zeros.
      } else if (discard) {
        // Part of a block: discard is advisory and never writes (in a differencing disk it would allocate).
      } else {
        await writeZeroPieces((at, zeros) => this.write(at, zeros), w.pos, w.length);
      }
    }
  }

  async blockStatus(offset: number, length: number): Promise<ExtentStatus> {
    this.checkArgs(offset, length);
    const dyn = this.dyn;
    if (!dyn) return { offset, length, data: true, zero: false, depth: 0, hostOffset: offset };
    const block = Math.floor(offset / dyn.blockSize);
    const inBlock = offset % dyn.blockSize;
    const max = Math.min(length, dyn.blockSize - inBlock);
    if (dyn.bat[block] !== UNALLOCATED) {
      const host = this.blockHost(block) + dyn.bitmapSize + inBlock;
      if (!this.differencing) return { offset, length: max, data: true, zero: false, depth: 0, hostOffset: host };
      const bm = await this.bitmap(block);
      const bit = (s: number) => (bm[s >> 3]! & (0x80 >> (s & 7))) !== 0;
      const first = Math.floor(inBlock / SECTOR);
      const mine = bit(first);
      let n = Math.min(max, (first + 1) * SECTOR - inBlock);
      while (n < max && bit(Math.floor((inBlock + n) / SECTOR)) === mine) n = Math.min(max, n + SECTOR);
      if (mine) return { offset, length: n, data: true, zero: false, depth: 0, hostOffset: host };
      return this.backingStatus(offset, n);
    }
    // Merge a run of unallocated blocks.
    let n = max;
    let b = block + 1;
    while (n < length && b < dyn.bat.length && dyn.bat[b] === UNALLOCATED) {
      n = Math.min(length, n + dyn.blockSize);
      b++;
    }
    if (this.differencing) return this.backingStatus(offset, n);
    // A dynamic disk's unallocated block reads as zeros by definition: qemu reports it as zeros it knows.
    return { offset, length: n, data: false, zero: true, depth: 0, recorded: true };
  }

  private async backingStatus(offset: number, length: number): Promise<ExtentStatus> {
    const b = this.backing;
    if (!b || offset >= b.size) return { offset, length, data: false, zero: true, depth: 0 };
    const st = await b.blockStatus(offset, Math.min(length, b.size - offset));
    return { ...st, offset, depth: st.depth + 1 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      await this.store.close();
      await this.backing?.close();
    }
  }
}
