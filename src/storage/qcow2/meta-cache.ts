/**
 * A write-back LRU cache of cluster-sized metadata tables (L2 tables, refcount blocks).
 *
 * Write ordering is the point: before a dirty table is written out (on eviction or flush) the
 * cache calls `beforeWrite`, which the image uses to flush what this table depends on (an L2 table
 * may only reach the disk after the refcount increments for the clusters it points to).
 */
import type { ByteStore } from '../types.ts';

export interface CachedTable {
  readonly offset: number;
  readonly buf: Uint8Array;
  readonly dv: DataView;
  dirty: boolean;
}

export class MetaCache {
  private readonly map = new Map<number, CachedTable>();
  /** Tables that must stay cached (a write in flight will link its clusters into them), with counts. */
  private readonly pins = new Map<number, number>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly store: ByteStore,
    private readonly tableBytes: number,
    private readonly capacity: number,
    private readonly beforeWrite: () => Promise<void>,
  ) {}

  async get(offset: number): Promise<CachedTable> {
    const hit = this.getCached(offset);
    if (hit) return hit;
    this.misses++;
    const buf = new Uint8Array(this.tableBytes);
    await this.store.read(offset, buf);
    return this.insert(offset, buf, false);
  }

  /**
   * The table if it is cached (counted and made most recently used, as get() does), without a
   * promise: hot loops (a cluster at a time) take this path and await get() only on a miss.
   */
  getCached(offset: number): CachedTable | undefined {
    const hit = this.map.get(offset);
    if (!hit) return undefined;
    this.hits++;
    // Re-insert: Map iteration order is the LRU order.
    this.map.delete(offset);
    this.map.set(offset, hit);
    return hit;
  }

  /** Adds a table whose content the caller provides (new or copied), dirty so it gets written. */
  async put(offset: number, buf: Uint8Array): Promise<CachedTable> {
    this.map.delete(offset);
    return this.insert(offset, buf, true);
  }

  /** Keeps a cached table from eviction until as many unpin() calls; the table must be cached. */
  pin(offset: number): void {
    this.pins.set(offset, (this.pins.get(offset) ?? 0) + 1);
  }

  unpin(offset: number): void {
    const n = (this.pins.get(offset) ?? 0) - 1;
    if (n > 0) this.pins.set(offset, n);
    else this.pins.delete(offset);
  }

  peek(offset: number): CachedTable | undefined {
    return this.map.get(offset);
  }

  /** Forgets a table whose cluster was freed, without writing it. */
  drop(offset: number): void {
    this.map.delete(offset);
  }

  hasDirty(): boolean {
    for (const t of this.map.values()) if (t.dirty) return true;
    return false;
  }

  async flush(): Promise<void> {
    const dirty = [...this.map.values()].filter((t) => t.dirty).sort((a, b) => a.offset - b.offset);
    if (dirty.length === 0) return;
    await this.beforeWrite();
    for (const t of dirty) await this.writeBack(t);
  }

  clear(): void {
    this.map.clear();
  }

  private async insert(offset: number, buf: Uint8Array, dirty: boolean): Promise<CachedTable> {
    const t: CachedTable = { offset, buf, dv: new DataView(buf.buffer, buf.byteOffset, buf.byteLength), dirty };
    this.map.set(offset, t);
    while (this.map.size > this.capacity) {
      // The least recently used table that is not pinned; pinned ones may exceed the capacity
      // for a while (there are at most as many as writes in flight).
      let oldest: CachedTable | undefined;
      for (const c of this.map.values()) {
        if (!this.pins.has(c.offset)) {
          oldest = c;
          break;
        }
      }
      if (!oldest || oldest === t) break;
      if (oldest.dirty) {
        await this.beforeWrite();
        await this.writeBack(oldest);
      }
      this.map.delete(oldest.offset);
    }
    return t;
  }

  private async writeBack(t: CachedTable): Promise<void> {
    if (!t.dirty) return;
    t.dirty = false;
    await this.store.write(t.offset, t.buf);
  }
}
