/**
 * The BAT consistency rules of `img check` (and of every open): each block the BAT says is in the
 * file must lie inside it, clear of the header section, the log, the region-table regions (BAT,
 * metadata, any other), and of every other block. qemu-img checks the first three for fully
 * present payload blocks; we also check partially present blocks and sector bitmaps
 * (differencing images), states MS-VHDX leaves undefined, and blocks that share file space, since
 * any of these makes reads wrong or writes destroy other data.
 */
import {
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PAYLOAD_BLOCK_PARTIALLY_PRESENT,
  SB_BLOCK_NOT_PRESENT,
  SB_BLOCK_PRESENT,
  bitmapIndex,
  payloadIndex,
} from './bat.ts';
import type { Bat, BatGeometry } from './bat.ts';
import { MiB } from './layout.ts';

/** A stretch of the file that holds VHDX structures, which no block may overlap. */
export interface ReservedRange {
  /** What it is, as messages name it: 'the header section', 'the log', 'the BAT region', ... */
  name: string;
  start: number;
  length: number;
}

export interface BatCheckInput {
  bat: Bat;
  geometry: BatGeometry;
  virtualSize: number;
  fileSize: number;
  hasParent: boolean;
  reserved: readonly ReservedRange[];
}

/** Largest byte offset qemu accepts before a block's end would overflow a signed 64-bit offset. */
const INT64_MAX = 2 ** 63 - 1;

/** States of payload entries that MS-VHDX defines (4 and 5 are reserved). */
const DEFINED_PAYLOAD_STATES = new Set([0, 1, 2, 3, 6, 7]);

/** An entry's file offset exactly, also beyond 2^53 where Bat.offset rounds. */
function exactOffset(bat: Bat, idx: number): string {
  const e = bat.entry(idx);
  const v = new DataView(e.buffer, e.byteOffset, 8).getBigUint64(0, true);
  return String(v & ~0xfffffn);
}

/** Messages kept per check; a BAT damaged wholesale still counts every problem, but lists only these. */
export const MAX_MESSAGES = 1000;

export interface BatProblems {
  /** Every problem found (qemu-img's corruption count). */
  count: number;
  /** One message per problem, in BAT order then overlap order, at most MAX_MESSAGES + 1 (a summary of the rest). */
  messages: string[];
}

/** What messages call an entry: "BAT entry 3 (block 3)" or "BAT entry 512 (sector bitmap 0)". */
function label(g: BatGeometry, idx: number): string {
  const chunk = Math.floor(idx / (g.chunkRatio + 1));
  const pos = idx % (g.chunkRatio + 1);
  return pos === g.chunkRatio
    ? `BAT entry ${idx} (sector bitmap ${chunk})`
    : `BAT entry ${idx} (block ${chunk * g.chunkRatio + pos})`;
}

export function findBatProblems(c: BatCheckInput): BatProblems {
  const { bat, geometry: g } = c;
  let count = 0;
  const messages: string[] = [];
  // Messages are built only while they are kept: a BAT of millions of bad entries stays cheap.
  const report = (idx: number, what: () => string): void => {
    if (++count <= MAX_MESSAGES) messages.push(`VHDX ${label(g, idx)}: ${what()}`);
  };
  // Entries that point into the file without a problem of their own, for the overlap check.
  const starts: number[] = [];
  const lengths: number[] = [];
  const indices: number[] = [];

  /**
   * The checks common to every entry that points into the file; `need` is its length in the
   * file. Only entries without a problem of their own take part in the block-overlap check, so a
   * block placed over the metadata (say) is one problem, as qemu-img counts it, not two.
   */
  const place = (idx: number, need: number, span: number): void => {
    const offset = bat.offset(idx);
    const before = count;
    if (offset > INT64_MAX - g.blockSize) report(idx, () => `offset ${exactOffset(bat, idx)} overflows`);
    if (offset >= c.fileSize) {
      report(
        idx,
        () =>
          `start offset ${exactOffset(bat, idx)} points after end of file (${c.fileSize}); ` +
          'the image has probably been truncated',
      );
    } else if (offset + need > c.fileSize) {
      report(
        idx,
        () =>
          `end offset ${offset + need - 1} points after end of file (${c.fileSize}); ` +
          'the image has probably been truncated',
      );
    }
    for (const r of c.reserved) {
      if (offset < r.start + r.length && r.start < offset + span) {
        report(idx, () => `[${offset}, ${offset + span}) overlaps ${r.name} [${r.start}, ${r.start + r.length})`);
        break;
      }
    }
    if (count === before) {
      starts.push(offset);
      lengths.push(span);
      indices.push(idx);
    }
  };

  for (let block = 0; block < g.dataBlocks; block++) {
    const idx = payloadIndex(g, block);
    const state = bat.state(idx);
    if (!DEFINED_PAYLOAD_STATES.has(state)) {
      report(idx, () => `undefined state ${state}`);
    } else if (state === PAYLOAD_BLOCK_PARTIALLY_PRESENT && !c.hasParent) {
      report(idx, () => 'PARTIALLY_PRESENT in an image that has no parent');
    } else if (state === PAYLOAD_BLOCK_FULLY_PRESENT || state === PAYLOAD_BLOCK_PARTIALLY_PRESENT) {
      // The last block may stop at the end of the disk (qemu once created such files).
      place(idx, Math.min(g.blockSize, c.virtualSize - block * g.blockSize), g.blockSize);
    }
  }
  // Sector bitmaps only mean something in differencing images; elsewhere they are ignored.
  for (let chunk = 0; c.hasParent && chunk * g.chunkRatio < g.dataBlocks; chunk++) {
    const idx = bitmapIndex(g, chunk);
    const state = bat.state(idx);
    if (state === SB_BLOCK_PRESENT) place(idx, MiB, MiB);
    else if (state !== SB_BLOCK_NOT_PRESENT) report(idx, () => `undefined state ${state}`);
  }

  // Blocks that share file space: sorted by offset, each is compared with the furthest-reaching
  // earlier one, which finds at least one partner for every block that overlaps any other.
  const order = [...starts.keys()].sort((a, b) => starts[a]! - starts[b]! || indices[a]! - indices[b]!);
  let reach = -1;
  for (const i of order) {
    const start = starts[i]!;
    const end = start + lengths[i]!;
    if (reach >= 0 && start < starts[reach]! + lengths[reach]!) {
      const partner = indices[reach]!;
      report(indices[i]!, () => `[${start}, ${end}) overlaps ${label(g, partner)} in the file`);
    }
    if (reach < 0 || end > starts[reach]! + lengths[reach]!) reach = i;
  }
  if (count > MAX_MESSAGES) messages.push(`VHDX BAT: ${count - MAX_MESSAGES} more problems not listed`);
  return { count, messages };
}
