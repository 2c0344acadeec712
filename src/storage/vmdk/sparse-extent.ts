/**
 * A hosted sparse extent ("KDMV"): a grain directory (GD) of grain tables (GTs) mapping each grain
 * of the extent to a sector of the file (0 = unallocated, 1 = zero grain).
 *
 * - monolithicSparse: grains are allocated at the end of the file; both the GD/GTs and their
 *   redundant copies are kept in step. Data goes first; the GT/GD entries pointing at it are
 *   written in flush(), after a store flush, so a crash can leak grains but never expose garbage.
 * - streamOptimized: grains are deflate-compressed behind a marker. Any such file can be read;
 *   writing is append-only (each grain once, as a conversion writes), and every flush() appends
 *   the GTs, the GD, the footer and the end-of-stream marker that readers find from the end.
 */
import { unzlibSync, zlibSync } from 'fflate';
import type { ByteStore } from '../types.ts';
import { StorageError } from '../types.ts';
import type { Extent, ExtentRun, Fallback } from './extent.ts';
import { BlockWalk } from '../block-walk.ts';
import {
  buildMarker,
  buildSparseHeader,
  COMPRESS_DEFLATE,
  FLAG_COMPRESSED,
  FLAG_MARKERS,
  FLAG_RGD,
  FLAG_ZERO_GRAIN,
  GD_AT_END,
  MARKER_EOS,
  MARKER_FOOTER,
  MARKER_GD,
  MARKER_GT,
  parseSparseHeader,
  type SparseHeader,
} from './sparse-header.ts';

const SECTOR = 512;
/** 64 MiB grains at most: each read of a compressed grain inflates one whole grain. */
const MAX_GRAIN_SECTORS = 1 << 17;
const MAX_GD_BYTES = 64 << 20;
const GT_CACHE_LIMIT = 4096;

export interface SparseOpen {
  store: ByteStore;
  /** Bytes of the virtual disk this extent covers (from the descriptor; the header's capacity when alone). */
  size?: number;
  writable: boolean;
  where: string;
}

interface OpenGrain {
  index: number;
  buf: Uint8Array;
}

function readU32s(bytes: Uint8Array, count: number): Uint32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = dv.getUint32(i * 4, true);
  return out;
}

function u32Bytes(v: Uint32Array, byteLength = v.length * 4): Uint8Array {
  const b = new Uint8Array(byteLength);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < v.length; i++) dv.setUint32(i * 4, v[i]!, true);
  return b;
}

export class SparseExtent implements Extent {
  readonly size: number;
  readonly writable: boolean;
  readonly header: SparseHeader;
  private readonly store: ByteStore;
  private readonly where: string;
  readonly grainBytes: number;
  private readonly gtBytes: number;
  private readonly gd: Uint32Array;
  private readonly rgd?: Uint32Array;
  private readonly gdOffset: number;
  private readonly gts = new Map<number, Uint32Array>();
  private readonly dirtyGts = new Set<number>();
  private readonly dirtyGd = new Set<number>();
  readonly compressed: boolean;
  private readonly markers: boolean;
  /** Stream-optimized images with a footer can take appended grains. */
  private readonly streamWritable: boolean;
  private fileSize: number;
  private nextFree: number;
  private openGrain?: OpenGrain;
  /** Where the metadata tail written by the last flush starts (stream mode); the next grain replaces it. */
  private tailStart?: number;
  private streamDirty = false;
  private inflated?: { sector: number; data: Uint8Array };

  private constructor(
    o: SparseOpen,
    h: SparseHeader,
    fileSize: number,
    gd: Uint32Array,
    rgd: Uint32Array | undefined,
    gdOffset: number,
    footerLayout: boolean,
  ) {
    this.store = o.store;
    this.where = o.where;
    this.header = h;
    this.fileSize = fileSize;
    this.nextFree = Math.ceil(fileSize / SECTOR) * SECTOR;
    this.grainBytes = h.grainSize * SECTOR;
    this.gtBytes = h.numGTEsPerGT * 4;
    this.gd = gd;
    this.rgd = rgd;
    this.gdOffset = gdOffset;
    this.size = o.size ?? h.capacity * SECTOR;
    this.compressed = (h.flags & FLAG_COMPRESSED) !== 0;
    this.markers = (h.flags & FLAG_MARKERS) !== 0;
    this.streamWritable = this.compressed && this.markers && footerLayout;
    this.writable = o.writable;
  }

  static async open(o: SparseOpen): Promise<SparseExtent> {
    const { store, where } = o;
    const fileSize = await store.size();
    const hb = new Uint8Array(SECTOR);
    await store.read(0, hb);
    let h = parseSparseHeader(hb, where);
    const footerLayout = h.gdOffset === GD_AT_END;
    if (footerLayout) {
      // Stream-optimized: the footer (a copy of the header with the real gdOffset) sits before the end-of-stream marker.
      if (fileSize < 4 * SECTOR) throw new StorageError('corrupt', `VMDK ${where}: stream too short for a footer`);
      const tail = new Uint8Array(3 * SECTOR);
      await store.read(fileSize - 3 * SECTOR, tail);
      const tv = new DataView(tail.buffer);
      if (
        tv.getUint32(8, true) !== 0 ||
        tv.getUint32(12, true) !== MARKER_FOOTER ||
        tv.getUint32(1024 + 12, true) !== MARKER_EOS ||
        tv.getUint32(1024 + 8, true) !== 0
      ) {
        throw new StorageError(
          'corrupt',
          `VMDK ${where}: gdOffset says "at end" but there is no footer and end-of-stream marker`,
        );
      }
      h = parseSparseHeader(tail.subarray(SECTOR, 2 * SECTOR), `${where} footer`);
      if (h.gdOffset === GD_AT_END)
        throw new StorageError('corrupt', `VMDK ${where}: footer gdOffset is still "at end"`);
    }
    validate(h, where, o.size);
    const grainSpan = h.grainSize * h.numGTEsPerGT;
    const capSectors = Math.max(h.capacity, Math.ceil((o.size ?? 0) / SECTOR));
    const gdEntries = Math.ceil(capSectors / grainSpan);
    const gdBytes = gdEntries * 4;
    if (gdBytes > MAX_GD_BYTES)
      throw new StorageError('too-large', `VMDK ${where}: grain directory of ${gdBytes} bytes`);
    const loadDir = async (sector: number, field: string): Promise<Uint32Array> => {
      if (sector <= 0 || sector * SECTOR + gdBytes > fileSize) {
        throw new StorageError(
          'corrupt',
          `VMDK ${where}: ${field} ${sector} (${gdBytes}-byte directory) is outside the ${fileSize}-byte file`,
        );
      }
      const raw = new Uint8Array(gdBytes);
      await store.read(sector * SECTOR, raw);
      const dir = readU32s(raw, gdEntries);
      for (let i = 0; i < dir.length; i++) {
        if (dir[i] !== 0 && dir[i]! * SECTOR + h.numGTEsPerGT * 4 > fileSize) {
          throw new StorageError(
            'corrupt',
            `VMDK ${where}: ${field} entry ${i} (sector ${dir[i]}) points past the end of the file`,
          );
        }
      }
      return dir;
    };
    const gd = await loadDir(h.gdOffset, 'gdOffset');
    const compressed = (h.flags & FLAG_COMPRESSED) !== 0;
    const rgd =
      h.flags & FLAG_RGD && h.rgdOffset > 0 && !compressed ? await loadDir(h.rgdOffset, 'rgdOffset') : undefined;
    return new SparseExtent(o, h, fileSize, gd, rgd, h.gdOffset, footerLayout);
  }

  private async gt(index: number, create: boolean): Promise<Uint32Array | undefined> {
    let t = this.gts.get(index);
    if (t) return t;
    if (index >= this.gd.length) return undefined;
    const sector = this.gd[index]!;
    if (sector === 0) {
      if (!create) return undefined;
      t = new Uint32Array(this.header.numGTEsPerGT);
      if (!this.compressed) await this.allocateGt(index);
    } else {
      const raw = new Uint8Array(this.gtBytes);
      await this.store.read(sector * SECTOR, raw);
      t = readU32s(raw, this.header.numGTEsPerGT);
    }
    await this.evict();
    // A concurrent read may have loaded this table meanwhile, and a write may have changed that
    // copy since: the cached one is authoritative.
    const cached = this.gts.get(index);
    if (cached) return cached;
    this.gts.set(index, t);
    return t;
  }

  /** Keeps the GT cache bounded: clean tables go first; dirty ones are written out first when needed. */
  private async evict(): Promise<void> {
    if (this.compressed || this.gts.size < GT_CACHE_LIMIT) return;
    if (this.dirtyGts.size > GT_CACHE_LIMIT / 2) await this.flushMetadata();
    for (const k of this.gts.keys()) {
      if (this.gts.size < GT_CACHE_LIMIT) break;
      if (!this.dirtyGts.has(k)) this.gts.delete(k);
    }
  }

  /** A new, empty GT (and its redundant copy) at the end of the file; the GD entries follow in flush(). */
  private async allocateGt(index: number): Promise<void> {
    const bytes = Math.ceil(this.gtBytes / SECTOR) * SECTOR;
    const at = this.nextFree;
    const copies = this.rgd ? 2 : 1;
    this.checkAddressable(at + bytes * copies);
    await this.store.write(at, new Uint8Array(bytes * copies));
    this.nextFree += bytes * copies;
    this.gd[index] = at / SECTOR;
    if (this.rgd) this.rgd[index] = (at + bytes) / SECTOR;
    this.dirtyGd.add(index);
  }

  private checkAddressable(end: number): void {
    if (end / SECTOR > 0xffffffff)
      throw new StorageError('too-large', `VMDK ${this.where}: file would exceed what 32-bit grain entries address`);
  }

  private async entry(grain: number): Promise<number> {
    const t = await this.gt(Math.floor(grain / this.header.numGTEsPerGT), false);
    return t ? t[grain % this.header.numGTEsPerGT]! : 0;
  }

  private async setEntry(grain: number, value: number): Promise<void> {
    const gi = Math.floor(grain / this.header.numGTEsPerGT);
    const t = (await this.gt(gi, true))!;
    t[grain % this.header.numGTEsPerGT] = value;
    if (this.compressed) this.streamDirty = true;
    else this.dirtyGts.add(gi);
  }

  private grainHost(grain: number, e: number): number {
    const host = e * SECTOR;
    if (host >= this.fileSize && host >= this.nextFree) {
      throw new StorageError(
        'corrupt',
        `VMDK ${this.where}: grain table entry for grain ${grain} (sector ${e}) points past the end of the file`,
      );
    }
    return host;
  }

  /** Inflates one compressed grain (cached: sequential small reads hit the same grain). */
  private async inflate(grain: number, e: number): Promise<Uint8Array> {
    if (this.inflated?.sector === e) return this.inflated.data;
    const host = this.grainHost(grain, e);
    const maxCompressed = this.grainBytes + (this.grainBytes >> 3) + 4096;
    let payload: Uint8Array;
    if (this.markers) {
      const m = new Uint8Array(12);
      await this.store.read(host, m);
      const len = new DataView(m.buffer).getUint32(8, true);
      if (len === 0 || len > maxCompressed || host + 12 + len > this.fileSize) {
        throw new StorageError('corrupt', `VMDK ${this.where}: grain ${grain} marker size ${len} is invalid`);
      }
      payload = new Uint8Array(len);
      await this.store.read(host + 12, payload);
    } else {
      payload = new Uint8Array(Math.min(maxCompressed, this.fileSize - host));
      await this.store.read(host, payload);
    }
    const out = new Uint8Array(this.grainBytes);
    try {
      unzlibSync(payload, { out });
    } catch (err) {
      throw new StorageError(
        'corrupt',
        `VMDK ${this.where}: compressed grain ${grain} does not inflate: ${(err as Error).message}`,
      );
    }
    this.inflated = { sector: e, data: out };
    return out;
  }

  async read(offset: number, buf: Uint8Array, fallback: Fallback): Promise<void> {
    for (const w = new BlockWalk(this.grainBytes, offset, buf.length); w.next(); ) {
      const { index: grain, inBlock: inGrain, done, pos } = w;
      let n = w.length;
      if (this.openGrain?.index === grain) {
        buf.subarray(done, done + n).set(this.openGrain.buf.subarray(inGrain, inGrain + n));
      } else {
        const e = await this.entry(grain);
        // Following grains mapped alike (contiguous in the file, or all unallocated, or all zero)
        // are read with the same request: one store read per run instead of one per grain.
        for (let g = grain + 1; !this.compressed && done + n < buf.length; g++) {
          const next = await this.entry(g);
          if (e > 1 ? next !== e + (g - grain) * this.header.grainSize : next !== e) break;
          if (e > 1) this.grainHost(g, next);
          n += Math.min(this.grainBytes, buf.length - done - n);
        }
        const part = buf.subarray(done, done + n);
        if (e === 0) await fallback(pos, part);
        else if (e === 1) part.fill(0);
        else if (this.compressed) part.set((await this.inflate(grain, e)).subarray(inGrain, inGrain + n));
        else await this.store.read(this.grainHost(grain, e) + inGrain, part);
        w.take(n);
      }
    }
  }

  async write(offset: number, data: Uint8Array, fallback: Fallback): Promise<void> {
    this.assertWritable();
    for (const w = new BlockWalk(this.grainBytes, offset, data.length); w.next(); ) {
      const { index: grain, inBlock: inGrain } = w;
      const part = data.subarray(w.done, w.done + w.length);
      if (this.compressed) await this.streamWrite(grain, inGrain, part);
      else if (inGrain === 0 && w.length === this.grainBytes) {
        w.take(await this.writeGrains(grain, data.subarray(w.done)));
      } else {
        const e = await this.entry(grain);
        if (e > 1) await this.store.write(this.grainHost(grain, e) + inGrain, part);
        else await this.allocateGrain(grain, e, inGrain, part, fallback);
      }
    }
  }

  /**
   * Whole grains from `grain` on (data holds at least one), within one grain table, in one store
   * write: a run allocated at contiguous sectors is rewritten in place; a run of unallocated or
   * zero grains is appended at the end of the file together (its entries, as for single grains,
   * are written by flush() after the data). Returns the bytes written.
   */
  private async writeGrains(grain: number, data: Uint8Array): Promise<number> {
    const per = this.header.numGTEsPerGT;
    const base = grain % per;
    const max = Math.min(Math.floor(data.length / this.grainBytes), per - base);
    // The table first: a new one is appended before the grains, as for single grains.
    const t = (await this.gt(Math.floor(grain / per), true))!;
    const e0 = t[base]!;
    let count = 1;
    if (e0 > 1) {
      const host = this.grainHost(grain, e0);
      while (count < max && t[base + count] === e0 + count * this.header.grainSize) {
        this.grainHost(grain + count, t[base + count]!);
        count++;
      }
      await this.store.write(host, data.subarray(0, count * this.grainBytes));
      return count * this.grainBytes;
    }
    while (count < max && t[base + count]! <= 1) count++;
    const bytes = count * this.grainBytes;
    const host = this.nextFree;
    this.checkAddressable(host + bytes);
    await this.store.write(host, data.subarray(0, bytes));
    this.nextFree = host + bytes;
    this.fileSize = Math.max(this.fileSize, this.nextFree);
    for (let i = 0; i < count; i++) await this.setEntry(grain + i, host / SECTOR + i * this.header.grainSize);
    return bytes;
  }

  private assertWritable(): void {
    if (!this.writable) throw new StorageError('read-only', `VMDK extent ${this.where} is read-only`);
    if (this.compressed && !this.streamWritable) {
      throw new StorageError(
        'unsupported',
        `VMDK ${this.where}: this compressed extent has no footer layout; only streams created by virtkit or VMware can be appended to`,
      );
    }
  }

  private async allocateGrain(
    grain: number,
    e: number,
    inGrain: number,
    part: Uint8Array,
    fallback: Fallback,
  ): Promise<void> {
    const start = grain * this.grainBytes;
    const valid = Math.min(this.grainBytes, this.size - start);
    const buf = new Uint8Array(this.grainBytes);
    // A partial write into an unallocated grain of a delta disk keeps the parent's data around it.
    if (e === 0 && part.length < valid) await fallback(start, buf.subarray(0, valid));
    buf.set(part, inGrain);
    const at = this.nextFree;
    this.checkAddressable(at + this.grainBytes);
    await this.gt(Math.floor(grain / this.header.numGTEsPerGT), true);
    const host = this.nextFree;
    await this.store.write(host, buf);
    this.nextFree = host + this.grainBytes;
    this.fileSize = Math.max(this.fileSize, this.nextFree);
    await this.setEntry(grain, host / SECTOR);
  }

  private async streamWrite(grain: number, inGrain: number, part: Uint8Array): Promise<void> {
    if (this.openGrain?.index !== grain) {
      if ((await this.entry(grain)) !== 0) {
        throw new StorageError(
          'unsupported',
          `VMDK ${this.where}: streamOptimized grain ${grain} was already written (stream images are append-only)`,
        );
      }
      await this.commitOpenGrain();
      this.openGrain = { index: grain, buf: new Uint8Array(this.grainBytes) };
    }
    this.openGrain!.buf.set(part, inGrain);
  }

  private async commitOpenGrain(): Promise<void> {
    const g = this.openGrain;
    if (!g) return;
    this.openGrain = undefined;
    if (!g.buf.some((v) => v !== 0)) return; // zero grains stay unallocated, as in every stream writer
    const z = zlibSync(g.buf, { level: 6 });
    const rec = new Uint8Array(Math.ceil((12 + z.length) / SECTOR) * SECTOR);
    const dv = new DataView(rec.buffer);
    const lba = g.index * this.header.grainSize;
    dv.setUint32(0, lba >>> 0, true);
    dv.setUint32(4, Math.floor(lba / 2 ** 32), true);
    dv.setUint32(8, z.length, true);
    rec.set(z, 12);
    await this.dropTail();
    const at = this.nextFree;
    this.checkAddressable(at + rec.length);
    await this.store.write(at, rec);
    this.nextFree += rec.length;
    this.fileSize = Math.max(this.fileSize, this.nextFree);
    await this.setEntry(g.index, at / SECTOR);
  }

  /** The old metadata tail is replaced by new grains and written again at the next flush. */
  private async dropTail(): Promise<void> {
    if (this.tailStart === undefined) {
      this.tailStart = this.initialTail();
    }
    if (this.tailStart >= 0) {
      await this.store.truncate(this.tailStart);
      this.fileSize = this.tailStart;
      this.nextFree = this.tailStart;
      this.tailStart = -1;
    }
  }

  /** On the first append: an image without grains loses its whole tail; otherwise only the end-of-stream marker goes. */
  private initialTail(): number {
    const eos = this.fileSize - SECTOR;
    const empty = this.gd.every((s) => s === 0);
    if (!empty) return eos;
    const gdMarker = (this.gdOffset - 1) * SECTOR;
    const floor = Math.max(this.header.overHead * SECTOR, SECTOR);
    return gdMarker >= floor && gdMarker < eos ? gdMarker : eos;
  }

  async zero(offset: number, length: number, discard: boolean, hasParent: boolean, fallback: Fallback): Promise<void> {
    this.assertWritable();
    for (const w = new BlockWalk(this.grainBytes, offset, length); w.next(); ) {
      const grain = w.index;
      const whole = w.whole(this.size);
      const e = this.openGrain?.index === grain ? -1 : await this.entry(grain);
      if (e === 0 && !hasParent) {
        // Already zeros.
      } else if (e === 1) {
        // A zero grain.
      } else if (whole && !this.compressed && (!hasParent || discard)) {
        await this.setEntry(grain, 0); // unallocated reads as zeros, or as the parent when discarding
      } else if (whole && !this.compressed && hasParent && this.header.flags & FLAG_ZERO_GRAIN) {
        await this.setEntry(grain, 1);
      } else if (!discard) {
        await this.write(w.pos, new Uint8Array(w.length), fallback);
      } // else: part of a grain (or a compressed one); discard is advisory and never allocates
    }
  }

  async status(offset: number, length: number): Promise<ExtentRun> {
    const first = await this.grainRun(offset, length);
    let n = first.length;
    while (n < length) {
      const next = await this.grainRun(offset + n, length - n);
      if (next.kind !== first.kind) break;
      if (first.kind === 'data' && (first.hostOffset === undefined || next.hostOffset !== first.hostOffset + n)) break;
      n += next.length;
    }
    return { ...first, length: n };
  }

  private async grainRun(offset: number, length: number): Promise<ExtentRun> {
    const grain = Math.floor(offset / this.grainBytes);
    const inGrain = offset % this.grainBytes;
    const n = Math.min(length, this.grainBytes - inGrain);
    if (this.openGrain?.index === grain) return { length: n, kind: 'data' };
    const e = await this.entry(grain);
    if (e === 0) return { length: n, kind: 'unallocated' };
    if (e === 1) return { length: n, kind: 'zero' };
    if (this.compressed) return { length: n, kind: 'data' };
    return { length: n, kind: 'data', hostOffset: this.grainHost(grain, e) + inGrain };
  }

  async firstGrainPastEnd(): Promise<number | undefined> {
    const fileEnd = await this.store.size();
    const per = this.header.numGTEsPerGT;
    const grains = Math.ceil(this.size / this.grainBytes);
    for (let gi = 0; gi * per < grains; gi++) {
      // Through the cache: a table not yet flushed is what the image uses.
      const t = await this.gt(gi, false);
      if (!t) continue;
      for (let i = 0; i < per && gi * per + i < grains; i++) {
        const e = t[i]!;
        // 0: unallocated, 1: a zero grain; anything else is a sector of this file.
        if (e > 1 && e * SECTOR >= fileEnd) return (gi * per + i) * this.grainBytes;
      }
    }
    return undefined;
  }

  async flush(): Promise<void> {
    if (!this.writable) return;
    if (this.compressed) {
      if (this.streamWritable) await this.flushStream();
      return;
    }
    await this.flushMetadata();
  }

  /** Data first (store flush), then the GTs and GD entries that point at it, then another flush. */
  private async flushMetadata(): Promise<void> {
    await this.store.flush();
    if (this.dirtyGts.size === 0 && this.dirtyGd.size === 0) return;
    for (const gi of this.dirtyGts) {
      const bytes = u32Bytes(this.gts.get(gi)!);
      await this.store.write(this.gd[gi]! * SECTOR, bytes);
      if (this.rgd) await this.store.write(this.rgd[gi]! * SECTOR, bytes);
    }
    this.dirtyGts.clear();
    const sectors = new Set([...this.dirtyGd].map((i) => Math.floor((i * 4) / SECTOR)));
    this.dirtyGd.clear();
    for (const s of sectors) {
      const first = (s * SECTOR) / 4;
      const slice = this.gd.subarray(first, Math.min(this.gd.length, first + SECTOR / 4));
      await this.store.write(this.gdOffset * SECTOR + s * SECTOR, u32Bytes(slice));
      if (this.rgd) {
        await this.store.write(
          this.header.rgdOffset * SECTOR + s * SECTOR,
          u32Bytes(this.rgd.subarray(first, first + slice.length)),
        );
      }
    }
    await this.store.flush();
  }

  /** Appends GT markers + GTs, the GD marker + GD, the footer marker + footer and end-of-stream. */
  private async flushStream(): Promise<void> {
    await this.commitOpenGrain();
    if (!this.streamDirty) return this.store.flush();
    const at0 = this.nextFree;
    const gtSectors = Math.ceil(this.gtBytes / SECTOR);
    const parts: Uint8Array[] = [];
    let at = at0;
    const gd = new Uint32Array(this.gd.length);
    for (let i = 0; i < this.gd.length; i++) {
      const t = await this.gt(i, false);
      if (!t || !t.some((v) => v !== 0)) continue;
      parts.push(buildMarker(gtSectors, MARKER_GT), u32Bytes(t, gtSectors * SECTOR));
      gd[i] = at / SECTOR + 1;
      at += (1 + gtSectors) * SECTOR;
    }
    const gdSectors = Math.ceil((gd.length * 4) / SECTOR);
    parts.push(buildMarker(gdSectors, MARKER_GD), u32Bytes(gd, gdSectors * SECTOR));
    const gdSector = at / SECTOR + 1;
    at += (1 + gdSectors) * SECTOR;
    parts.push(
      buildMarker(1, MARKER_FOOTER),
      buildSparseHeader({ ...this.header, gdOffset: gdSector }),
      buildMarker(0, MARKER_EOS),
    );
    const total = parts.reduce((s, p) => s + p.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    this.checkAddressable(at0 + total);
    await this.store.write(at0, out);
    await this.store.flush();
    // In-memory GTs stay authoritative; the GD now names where they were written.
    for (let i = 0; i < gd.length; i++) if (gd[i] !== 0) this.gd[i] = gd[i]!;
    this.fileSize = at0 + total;
    this.tailStart = at0;
    this.streamDirty = false;
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.store.close();
    }
  }
}

function validate(h: SparseHeader, where: string, size: number | undefined): void {
  const g = h.grainSize;
  if (g < 1 || g > MAX_GRAIN_SECTORS || (g & (g - 1)) !== 0) {
    throw new StorageError(
      g > MAX_GRAIN_SECTORS ? 'too-large' : 'corrupt',
      `VMDK ${where}: grainSize ${g} is not a power of two up to ${MAX_GRAIN_SECTORS} sectors`,
    );
  }
  if (h.numGTEsPerGT < 1 || h.numGTEsPerGT > 512) {
    throw new StorageError('corrupt', `VMDK ${where}: numGTEsPerGT ${h.numGTEsPerGT} is not between 1 and 512`);
  }
  if (!Number.isSafeInteger(h.capacity * SECTOR))
    throw new StorageError('too-large', `VMDK ${where}: capacity ${h.capacity} sectors`);
  if (h.flags & FLAG_COMPRESSED && h.compressAlgorithm !== COMPRESS_DEFLATE) {
    throw new StorageError('unsupported', `VMDK ${where}: compressAlgorithm ${h.compressAlgorithm} is not deflate`);
  }
  if (size !== undefined && size > h.capacity * SECTOR) {
    throw new StorageError(
      'corrupt',
      `VMDK ${where}: descriptor extent of ${size} bytes exceeds the header capacity ${h.capacity} sectors`,
    );
  }
}
