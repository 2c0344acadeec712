/**
 * The parts of an open qcow2 image that the whole-image metadata operations (check.ts,
 * snapshots.ts) work on: geometry, the active L1 table, the L2 and refcount caches, the snapshot
 * list and the few image methods they need. Qcow2Image implements it; the interface lets those
 * files be typed without importing image.ts, which calls them.
 */
import type { ByteStore } from '../types.ts';
import type { Qcow2Header } from './header.ts';
import type { MetaCache } from './meta-cache.ts';
import type { Refcounts } from './refcount.ts';
import type { SnapshotEntry } from './snapshot-table.ts';

export interface Qcow2Metadata {
  readonly store: ByteStore;
  readonly header: Qcow2Header;
  readonly clusterSize: number;
  readonly clusterBits: number;
  /** L2 entries per table. */
  readonly l2Entries: number;
  /** Extended L2 entries (subclusters). */
  readonly ext: boolean;
  /** Virtual disk size in bytes. */
  size: number;
  /** Active L1 table: L2 table offsets, their COPIED flags, entries to write back. */
  l1: number[];
  l1Copied: boolean[];
  readonly l1Dirty: Set<number>;
  readonly l2: MetaCache;
  readonly rc: Refcounts;
  snapshots: SnapshotEntry[];

  /** Flushes the store between dependent metadata writes (when barriers are on). */
  barrier(): Promise<void>;
  /** Everything to disk, in dependency order. */
  flushAll(): Promise<void>;
  /** Called by snapshot code after it rewrote metadata behind the caches' back. */
  flushMetadataForSnapshots(): Promise<void>;
  /** Moves the active L1 table to a bigger place. */
  growL1(entries: number): Promise<void>;
  /** Reads an L1 table (active or a snapshot's) into offsets. */
  readL1Table(offset: number, entries: number): Promise<{ offsets: number[]; copied: boolean[] }>;
  writeHeaderBytes(offset: number, bytes: Uint8Array): Promise<void>;
}
