/**
 * A copy-on-write overlay's changes as a JSON-able record inside a snapshot's configuration, so a
 * restored guest finds the disk contents its filesystem expects (the base, a URL or a picked
 * file, cannot hold them). The record is versioned: snapshots without it (older pages, Node)
 * restore with an empty overlay, and a future format is refused by name.
 *
 * Blocks are stored as two base64 strings: their indices (u32 little-endian, ascending) and their
 * bytes deflated together (fflate, level 1: disk blocks compress well and saving should be quick).
 */
import { deflateSync, inflateSync } from 'fflate';
import { decodeBase64, encodeBase64 } from './base64.ts';
import { OVERLAY_BLOCK, type OverlayContents } from './overlay-store.ts';

export const OVERLAY_RECORD_FORMAT = 1;
/**
 * Most written bytes one disk's record may carry. The record lives in a JSON string, which
 * engines cap near 512 M characters; this keeps it (base64 of at most this much) well below,
 * and bounds what a corrupt snapshot can make a restore allocate.
 */
export const MAX_OVERLAY_RECORD_BYTES = 256 * 1024 * 1024;

export interface OverlayRecord {
  format: number;
  baseSize: number;
  baseLength: number;
  length: number;
  /** base64 of u32 LE block indices, ascending. */
  blocks: string;
  /** base64 of the blocks' bytes in index order, deflated. */
  data: string;
}

export class OverlayRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OverlayRecordError';
  }
}

export function encodeOverlayRecord(c: OverlayContents, what: string): OverlayRecord {
  const bytes = c.blocks.length * OVERLAY_BLOCK;
  if (bytes > MAX_OVERLAY_RECORD_BYTES)
    throw new OverlayRecordError(
      `${what} holds ${mib(bytes)} of changes made in this tab, more than a snapshot can carry (${mib(MAX_OVERLAY_RECORD_BYTES)})`,
    );
  const index = new Uint8Array(c.blocks.length * 4);
  const iv = new DataView(index.buffer);
  const data = new Uint8Array(bytes);
  c.blocks.forEach(([i, block], n) => {
    iv.setUint32(n * 4, i, true);
    data.set(block, n * OVERLAY_BLOCK);
  });
  return {
    format: OVERLAY_RECORD_FORMAT,
    baseSize: c.baseSize,
    baseLength: c.baseLength,
    length: c.length,
    blocks: encodeBase64(index),
    data: encodeBase64(deflateSync(data, { level: 1 })),
  };
}

/** Parses a record; every malformed field is an OverlayRecordError naming it and the disk. */
export function decodeOverlayRecord(value: unknown, what: string): OverlayContents {
  const fail = (why: string) => new OverlayRecordError(`${what}: the snapshot's saved disk changes ${why}`);
  if (!value || typeof value !== 'object') throw fail('are not a record');
  const r = value as Partial<Record<keyof OverlayRecord, unknown>>;
  if (r.format !== OVERLAY_RECORD_FORMAT)
    throw fail(
      typeof r.format === 'number'
        ? `use format ${r.format}; this page reads format ${OVERLAY_RECORD_FORMAT}`
        : 'have no format number',
    );
  for (const k of ['baseSize', 'baseLength', 'length'] as const) {
    const n = r[k];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw fail(`have a bad ${k}`);
  }
  if (typeof r.blocks !== 'string' || typeof r.data !== 'string') throw fail('lack their blocks');
  let index: Uint8Array;
  let packed: Uint8Array;
  try {
    index = decodeBase64(r.blocks);
    packed = decodeBase64(r.data);
  } catch (e) {
    throw fail(`are damaged (${(e as Error).message})`);
  }
  if (index.length % 4 !== 0) throw fail('have a damaged block list');
  const count = index.length / 4;
  // Checked before inflating: the output buffer is the one allocation a record can ask for.
  if (count * OVERLAY_BLOCK > MAX_OVERLAY_RECORD_BYTES) throw fail(`are larger than ${mib(MAX_OVERLAY_RECORD_BYTES)}`);
  // One spare byte: fflate stops quietly at the end of a given buffer, so a stream longer than
  // the block list says shows up as a full buffer.
  const room = new Uint8Array(count * OVERLAY_BLOCK + 1);
  let got: Uint8Array;
  try {
    got = inflateSync(packed, { out: room });
  } catch {
    throw fail('are damaged (deflate stream)');
  }
  if (got.length !== count * OVERLAY_BLOCK) throw fail('are damaged (wrong length)');
  const data = room.subarray(0, got.length);
  if (got.buffer !== room.buffer) data.set(got);
  const iv = new DataView(index.buffer, index.byteOffset, index.length);
  const blocks: OverlayContents['blocks'] = [];
  for (let n = 0; n < count; n++)
    blocks.push([iv.getUint32(n * 4, true), data.subarray(n * OVERLAY_BLOCK, (n + 1) * OVERLAY_BLOCK)]);
  return { baseSize: r.baseSize as number, baseLength: r.baseLength as number, length: r.length as number, blocks };
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(n % 1048576 ? 1 : 0)} MiB`;
}
