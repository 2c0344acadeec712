/**
 * Refcounts: the refcount table (kept whole in memory) and refcount blocks (through a write-back
 * cache), entry widths 1..64 bits, and cluster allocation.
 *
 * Ordering rules kept here: a new refcount block reaches the disk before the table entry that
 * points at it; a relocated table is complete before the header switches to it. Decrements are
 * the image's business (it defers them until the L2/L1 entries that dropped the cluster are out).
 */
import { StorageError, type ByteStore } from '../types.ts';
import { setU64 } from './header.ts';
import { MetaCache, type CachedTable } from './meta-cache.ts';

export class Refcounts {
  readonly bits: number;
  readonly perBlock: number;
  readonly max: number;
  readonly cache: MetaCache;
  /** Host offsets of refcount blocks (0 = none). */
  table: number[];
  private tableDirty = false;
  /** Lowest cluster index that may be free (allocation scans from here). */
  freeHint = 0;

  constructor(
    private readonly store: ByteStore,
    readonly clusterBits: number,
    refcountOrder: number,
    public tableOffset: number,
    public tableClusters: number,
    table: number[],
    cacheBlocks: number,
    /** Persists a relocated table in the header (offset + clusters). */
    private readonly writeHeaderTable: (offset: number, clusters: number) => Promise<void>,
    beforeWrite: () => Promise<void> = async () => {},
  ) {
    this.bits = 1 << refcountOrder;
    this.perBlock = (2 ** clusterBits * 8) / this.bits;
    this.max = this.bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** this.bits - 1;
    this.table = table;
    this.cache = new MetaCache(store, 2 ** clusterBits, cacheBlocks, beforeWrite);
  }

  get clusterSize(): number {
    return 2 ** this.clusterBits;
  }

  static async load(
    store: ByteStore,
    clusterBits: number,
    refcountOrder: number,
    tableOffset: number,
    tableClusters: number,
    fileSize: number,
    cacheBlocks: number,
    writeHeaderTable: (offset: number, clusters: number) => Promise<void>,
  ): Promise<Refcounts> {
    const cs = 2 ** clusterBits;
    const raw = new Uint8Array(tableClusters * cs);
    await store.read(tableOffset, raw);
    const dv = new DataView(raw.buffer);
    const table: number[] = new Array(raw.length / 8);
    for (let i = 0; i < table.length; i++) {
      const hi = dv.getUint32(i * 8);
      const lo = dv.getUint32(i * 8 + 4);
      const off = hi * 0x100000000 + lo;
      // Unaligned or out-of-file blocks are reported by check(); for I/O they must not be used.
      if (
        off !== 0 &&
        (off % cs !== 0 || hi >= 0x200000 || off + cs > Math.max(fileSize, off + cs) || off >= fileSize)
      ) {
        throw new StorageError('corrupt', `qcow2: refcount table entry ${i} (0x${off.toString(16)}) is invalid`);
      }
      table[i] = off;
    }
    return new Refcounts(
      store,
      clusterBits,
      refcountOrder,
      tableOffset,
      tableClusters,
      table,
      cacheBlocks,
      writeHeaderTable,
    );
  }

  static readEntry(dv: DataView, buf: Uint8Array, bits: number, i: number): number {
    switch (bits) {
      case 8:
        return buf[i]!;
      case 16:
        return dv.getUint16(i * 2);
      case 32:
        return dv.getUint32(i * 4);
      case 64: {
        const hi = dv.getUint32(i * 8);
        return hi >= 0x200000 ? Number.MAX_SAFE_INTEGER : hi * 0x100000000 + dv.getUint32(i * 8 + 4);
      }
      default: {
        const bit = i * bits;
        return (buf[bit >> 3]! >> (bit & 7)) & ((1 << bits) - 1);
      }
    }
  }

  static writeEntry(dv: DataView, buf: Uint8Array, bits: number, i: number, v: number): void {
    switch (bits) {
      case 8:
        buf[i] = v;
        return;
      case 16:
        dv.setUint16(i * 2, v);
        return;
      case 32:
        dv.setUint32(i * 4, v);
        return;
      case 64:
        setU64(dv, i * 8, v);
        return;
      default: {
        const bit = i * bits;
        const mask = ((1 << bits) - 1) << (bit & 7);
        buf[bit >> 3] = (buf[bit >> 3]! & ~mask) | ((v << (bit & 7)) & mask);
      }
    }
  }

  /** Number of clusters the current table can describe. */
  get coverage(): number {
    return this.table.length * this.perBlock;
  }

  async get(cluster: number): Promise<number> {
    const known = this.peek(cluster);
    if (known !== undefined) return known;
    const t = await this.cache.get(this.table[Math.floor(cluster / this.perBlock)]!);
    return Refcounts.readEntry(t.dv, t.buf, this.bits, cluster % this.perBlock);
  }

  /**
   * A cluster's refcount when no I/O is needed to know it (no block: 0; a cached block), else
   * undefined. Allocation goes a cluster at a time, so it avoids a promise per cluster.
   */
  peek(cluster: number): number | undefined {
    const off = this.table[Math.floor(cluster / this.perBlock)] ?? 0;
    if (off === 0) return 0;
    const t = this.cache.getCached(off);
    return t && Refcounts.readEntry(t.dv, t.buf, this.bits, cluster % this.perBlock);
  }

  /** Adds delta to a cluster's refcount, creating the refcount block if needed. */
  async update(cluster: number, delta: number): Promise<number> {
    const known = this.updateCached(cluster, delta);
    if (known !== undefined) return known;
    const block = Math.floor(cluster / this.perBlock);
    if (!(this.table[block] ?? 0)) {
      if (delta < 0)
        throw new StorageError('corrupt', `qcow2: freeing cluster ${cluster}, which has no refcount block`);
      await this.createBlock(block);
    }
    return this.apply(await this.cache.get(this.table[block]!), cluster, delta);
  }

  /** update() when the cluster's refcount block is cached (no promise); undefined when it is not. */
  updateCached(cluster: number, delta: number): number | undefined {
    const off = this.table[Math.floor(cluster / this.perBlock)] ?? 0;
    const t = off ? this.cache.getCached(off) : undefined;
    return t && this.apply(t, cluster, delta);
  }

  private apply(t: CachedTable, cluster: number, delta: number): number {
    const i = cluster % this.perBlock;
    const v = Refcounts.readEntry(t.dv, t.buf, this.bits, i) + delta;
    if (v < 0) throw new StorageError('corrupt', `qcow2: refcount of cluster ${cluster} would drop below zero`);
    if (v > this.max)
      throw new StorageError('too-large', `qcow2: refcount of cluster ${cluster} overflows ${this.bits} bits`);
    Refcounts.writeEntry(t.dv, t.buf, this.bits, i, v);
    t.dirty = true;
    if (v === 0 && cluster < this.freeHint) this.freeHint = cluster;
    return v;
  }

  /** Finds `n` contiguous clusters with refcount 0 at or after the hint (uncovered clusters are free). */
  async findFree(n: number, from = this.freeHint): Promise<number> {
    let start = from;
    let run = 0;
    for (let c = from; ; c++) {
      const block = Math.floor(c / this.perBlock);
      if (!(this.table[block] ?? 0)) {
        // The whole block is free: jump to its end (or finish the run).
        const blockEnd = (block + 1) * this.perBlock;
        if (run === 0) start = c;
        run += blockEnd - c;
        if (run >= n) return start;
        c = blockEnd - 1;
        continue;
      }
      if ((this.peek(c) ?? (await this.get(c))) === 0) {
        if (run === 0) start = c;
        if (++run >= n) return start;
      } else run = 0;
    }
  }

  /** Allocates n contiguous clusters (refcount 1 each) and returns the host offset of the first. */
  async alloc(n: number): Promise<number> {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const start = await this.findFree(n);
      let created = false;
      const first = Math.floor(start / this.perBlock);
      const last = Math.floor((start + n - 1) / this.perBlock);
      for (let b = first; b <= last; b++) {
        if (!(this.table[b] ?? 0)) {
          await this.createBlock(b);
          created = true;
        }
      }
      // A new refcount block may have landed inside the run: look again.
      if (created) continue;
      for (let i = 0; i < n; i++) if (this.updateCached(start + i, 1) === undefined) await this.update(start + i, 1);
      this.freeHint = start + n;
      return start * this.clusterSize;
    }
    throw new StorageError('io', 'qcow2: cluster allocation does not converge');
  }

  /**
   * Creates refcount block `block`. The block goes in the first free cluster; if that cluster is
   * one the new block describes, the block counts itself.
   */
  private async createBlock(block: number): Promise<void> {
    if (block >= this.table.length) await this.growTable(block + 1);
    if (this.table[block]) return; // growing the table may have created it
    for (let attempt = 0; attempt < 100; attempt++) {
      const c = await this.findFree(1);
      const cb = Math.floor(c / this.perBlock);
      const buf = new Uint8Array(this.clusterSize);
      if (cb === block) {
        const dv = new DataView(buf.buffer);
        Refcounts.writeEntry(dv, buf, this.bits, c % this.perBlock, 1);
      } else if (this.table[cb]) {
        await this.update(c, 1);
      } else {
        await this.createBlock(cb);
        continue;
      }
      await this.cache.put(c * this.clusterSize, buf);
      // The block must be on disk before the table entry pointing at it.
      await this.cache.flush();
      this.table[block] = c * this.clusterSize;
      this.tableDirty = true;
      await this.writeTableEntry(block);
      return;
    }
    throw new StorageError('io', 'qcow2: refcount block allocation does not converge');
  }

  private async writeTableEntry(i: number): Promise<void> {
    const b = new Uint8Array(8);
    setU64(new DataView(b.buffer), 0, this.table[i]!);
    await this.store.write(this.tableOffset + i * 8, b);
  }

  /**
   * Moves the table to a bigger place. The new table and the refcount blocks describing it are
   * laid out together in free space, written, and only then does the header point at them.
   */
  private async growTable(minEntries: number): Promise<void> {
    const cs = this.clusterSize;
    const perCluster = cs / 8;
    let entries = Math.max(minEntries, Math.ceil(this.table.length * 1.5));
    entries = Math.ceil(entries / perCluster) * perCluster;
    for (let attempt = 0; attempt < 100; attempt++) {
      const tableClusters = entries / perCluster;
      if (tableClusters * cs > 8 * 1024 * 1024)
        throw new StorageError('too-large', 'qcow2: refcount table would exceed 8 MiB');
      // Find the extra refcount blocks needed to describe [start, start + total).
      let extra = 0;
      let start = 0;
      let newBlocks: number[] = [];
      for (let k = 0; k < 100; k++) {
        start = await this.findFree(tableClusters + extra);
        newBlocks = [];
        const end = start + tableClusters + extra;
        for (let b = Math.floor(start / this.perBlock); b <= Math.floor((end - 1) / this.perBlock); b++) {
          if (!(this.table[b] ?? 0)) newBlocks.push(b);
        }
        if (newBlocks.length <= extra) break;
        extra = newBlocks.length;
      }
      if (newBlocks.some((b) => b >= entries) || minEntries > entries) {
        entries += perCluster;
        continue;
      }
      const total = tableClusters + extra;
      const newTable = this.table.slice();
      while (newTable.length < entries) newTable.push(0);
      const blockBufs = new Map<number, Uint8Array>();
      newBlocks.forEach((b, i) => {
        newTable[b] = (start + tableClusters + i) * cs;
        blockBufs.set(b, new Uint8Array(cs));
      });
      for (let c = start; c < start + total; c++) {
        const b = Math.floor(c / this.perBlock);
        const nb = blockBufs.get(b);
        if (nb) Refcounts.writeEntry(new DataView(nb.buffer), nb, this.bits, c % this.perBlock, 1);
        else await this.update(c, 1);
      }
      for (const [b, buf] of blockBufs) await this.cache.put(newTable[b]!, buf);
      await this.cache.flush();
      const raw = new Uint8Array(tableClusters * cs);
      const dv = new DataView(raw.buffer);
      newTable.forEach((v, i) => setU64(dv, i * 8, v));
      await this.store.write(start * cs, raw);
      await this.store.flush();
      const oldOffset = this.tableOffset;
      const oldClusters = this.tableClusters;
      await this.writeHeaderTable(start * cs, tableClusters);
      this.table = newTable;
      this.tableOffset = start * cs;
      this.tableClusters = tableClusters;
      for (let i = 0; i < oldClusters; i++) await this.update(oldOffset / cs + i, -1);
      return;
    }
    throw new StorageError('io', 'qcow2: refcount table growth does not converge');
  }

  async flush(): Promise<void> {
    await this.cache.flush();
    this.tableDirty = false;
  }
}
