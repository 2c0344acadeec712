/**
 * The VHDX metadata log (MS-VHDX 2.3): a circular buffer of entries, each a header sector with
 * descriptors followed by 4 KiB data sectors. Opening an image whose header names a non-zero
 * LogGuid means a writer stopped before its metadata updates reached their places: we find the
 * active sequence, verify it, and replay it (into the file, or into an in-memory overlay for
 * read-only opens).
 *
 * buildLogEntry writes entries in the same layout; the tests use it to craft pending logs.
 */
import { StorageError } from '../types.ts';
import type { ByteStore } from '../types.ts';
import { crc32c } from './crc32c.ts';
import { guidEqual } from './guid.ts';
import { writeZeroPieces } from '../block-walk.ts';

const SIG_LOGE = 0x65676f6c; // "loge"
const SIG_ZERO = 0x6f72657a; // "zero"
const SIG_DESC = 0x63736564; // "desc"
const SIG_DATA = 0x61746164; // "data"
const SECTOR = 4096;
const ENTRY_HEADER = 64;
const DESCRIPTOR = 32;
/** Bytes a data sector carries itself; the first 8 and last 4 of the 4 KiB live in its descriptor. */
const DATA_PAYLOAD = 4084;

/** One 4 KiB write or one zeroed range, in replay order. */
export type LogOp = { offset: number; data: Uint8Array } | { offset: number; zeroLength: number };

export interface LogEntry {
  /** Offset of the entry inside the log region. */
  at: number;
  length: number;
  tail: number;
  sequence: bigint;
  flushedFileOffset: number;
  lastFileOffset: number;
  ops: LogOp[];
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Reads `len` bytes of the circular log starting at `at` (relative), wrapping at the end. */
async function readLog(
  store: ByteStore,
  logOffset: number,
  logLength: number,
  at: number,
  len: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(len);
  const first = Math.min(len, logLength - at);
  await store.read(logOffset + at, out.subarray(0, first));
  if (first < len) await store.read(logOffset, out.subarray(first));
  return out;
}

/** Parses and fully verifies the entry at `at`; null when there is no valid entry there. */
async function readEntry(
  store: ByteStore,
  logOffset: number,
  logLength: number,
  logGuid: Uint8Array,
  at: number,
): Promise<LogEntry | null> {
  const head = await readLog(store, logOffset, logLength, at, SECTOR);
  const hv = view(head);
  if (hv.getUint32(0, true) !== SIG_LOGE) return null;
  const length = hv.getUint32(8, true);
  const tail = hv.getUint32(12, true);
  const count = hv.getUint32(24, true);
  if (length === 0 || length % SECTOR !== 0 || length > logLength) return null;
  if (tail % SECTOR !== 0 || tail >= logLength) return null;
  if (!guidEqual(head.subarray(32, 48), logGuid)) return null;
  const descBytes = Math.ceil((ENTRY_HEADER + count * DESCRIPTOR) / SECTOR) * SECTOR;
  if (descBytes > length) return null;
  const entry = length === SECTOR ? head : await readLog(store, logOffset, logLength, at, length);
  const ev = view(entry);
  if (ev.getUint32(4, true) !== crc32c(entry, 4)) return null;
  const sequence = ev.getBigUint64(16, true);
  const flushed = ev.getBigUint64(48, true);
  const last = ev.getBigUint64(56, true);
  if (flushed > BigInt(Number.MAX_SAFE_INTEGER) || last > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  const ops: LogOp[] = [];
  let dataAt = descBytes;
  for (let i = 0; i < count; i++) {
    const o = ENTRY_HEADER + i * DESCRIPTOR;
    const sig = ev.getUint32(o, true);
    const fileOffset = ev.getBigUint64(o + 16, true);
    if (ev.getBigUint64(o + 24, true) !== sequence) return null;
    if (fileOffset % 4096n !== 0n || fileOffset > BigInt(Number.MAX_SAFE_INTEGER)) return null;
    if (sig === SIG_ZERO) {
      const zl = ev.getBigUint64(o + 8, true);
      if (zl % 4096n !== 0n || fileOffset + zl > BigInt(Number.MAX_SAFE_INTEGER)) return null;
      ops.push({ offset: Number(fileOffset), zeroLength: Number(zl) });
    } else if (sig === SIG_DESC) {
      if (dataAt + SECTOR > length) return null;
      const sector = entry.subarray(dataAt, dataAt + SECTOR);
      const sv = view(sector);
      if (sv.getUint32(0, true) !== SIG_DATA) return null;
      const seq = (BigInt(sv.getUint32(4, true)) << 32n) | BigInt(sv.getUint32(4092, true));
      if (seq !== sequence) return null;
      const data = new Uint8Array(SECTOR);
      data.set(entry.subarray(o + 8, o + 16), 0); // LeadingBytes
      data.set(sector.subarray(8, 8 + DATA_PAYLOAD), 8);
      data.set(entry.subarray(o + 4, o + 8), 4092); // TrailingBytes
      ops.push({ offset: Number(fileOffset), data });
      dataAt += SECTOR;
    } else {
      return null;
    }
  }
  if (dataAt !== length) return null;
  return { at, length, tail, sequence, flushedFileOffset: Number(flushed), lastFileOffset: Number(last), ops };
}

/**
 * Finds the active sequence: among valid entries, the one with the highest sequence number whose
 * Tail leads, through entries with consecutive sequence numbers, exactly to it. Returns the
 * entries oldest first, or [] when the log holds no valid sequence.
 */
export async function findActiveSequence(
  store: ByteStore,
  logOffset: number,
  logLength: number,
  logGuid: Uint8Array,
): Promise<LogEntry[]> {
  const cache = new Map<number, LogEntry | null>();
  const entryAt = async (at: number) => {
    if (!cache.has(at)) cache.set(at, await readEntry(store, logOffset, logLength, logGuid, at));
    return cache.get(at)!;
  };
  const heads: LogEntry[] = [];
  for (let at = 0; at < logLength; at += SECTOR) {
    const e = await entryAt(at);
    if (e) heads.push(e);
  }
  heads.sort((a, b) => (a.sequence > b.sequence ? -1 : a.sequence < b.sequence ? 1 : 0));
  // Each walk is bounded by the number of sectors in the log, and in any real log the first
  // candidate succeeds; the budget stops crafted logs from making this quadratic.
  let budget = 4 * (logLength / SECTOR) + 1024;
  for (const head of heads) {
    const seq: LogEntry[] = [];
    let at = head.tail;
    for (;;) {
      if (--budget < 0) throw new StorageError('corrupt', 'vhdx: log has too many candidate sequences');
      const e = await entryAt(at);
      if (!e || (seq.length > 0 && e.sequence !== seq[seq.length - 1]!.sequence + 1n)) break;
      seq.push(e);
      if (e === head || seq.length > logLength / SECTOR) break;
      at = (at + e.length) % logLength;
    }
    if (seq.length > 0 && seq[seq.length - 1] === head) return seq;
  }
  return [];
}

/** Checks a sequence against the file before anything is replayed. */
export function checkSequence(seq: LogEntry[], fileSize: number, maxFileSize: number): number {
  const head = seq[seq.length - 1]!;
  if (head.flushedFileOffset > fileSize) {
    throw new StorageError(
      'corrupt',
      `vhdx: log FlushedFileOffset ${head.flushedFileOffset} is past the end of the file (${fileSize}); the file was truncated`,
    );
  }
  if (head.lastFileOffset > maxFileSize)
    throw new StorageError('too-large', `vhdx: log LastFileOffset ${head.lastFileOffset} is implausibly large`);
  let end = Math.max(fileSize, head.lastFileOffset);
  for (const e of seq) {
    for (const op of e.ops) {
      const opEnd = op.offset + ('data' in op ? op.data.length : op.zeroLength);
      if (opEnd > maxFileSize)
        throw new StorageError('too-large', `vhdx: log descriptor writes up to ${opEnd}, past any plausible file size`);
      end = Math.max(end, opEnd);
    }
  }
  return end;
}

/** Where a replay goes: the file itself, or an OverlayStore for read-only opens. */
export interface ReplayTarget {
  write(offset: number, data: Uint8Array): Promise<void>;
  zero(offset: number, length: number): Promise<void>;
  size(): Promise<number>;
  truncate(size: number): Promise<void>;
}

/** Applies the sequence, oldest entry first, then grows the file to the head's LastFileOffset. */
export async function replaySequence(seq: LogEntry[], target: ReplayTarget, newSize: number): Promise<void> {
  for (const e of seq) {
    for (const op of e.ops) {
      if ('data' in op) await target.write(op.offset, op.data);
      else await target.zero(op.offset, op.zeroLength);
    }
  }
  if ((await target.size()) < newSize) await target.truncate(newSize);
}

/** A ReplayTarget over a writable store, zeroing in 1 MiB pieces. */
export function storeTarget(store: ByteStore): ReplayTarget {
  return {
    write: (o, d) => store.write(o, d),
    size: () => store.size(),
    truncate: (n) => store.truncate(n),
    zero: (offset, length) => writeZeroPieces((o, d) => store.write(o, d), offset, length),
  };
}

export interface BuildEntryOptions {
  logGuid: Uint8Array;
  sequence: bigint;
  tail: number;
  flushedFileOffset: number;
  lastFileOffset: number;
  ops: LogOp[];
}

/** Serializes one log entry (used by tests to craft images with a pending log). */
export function buildLogEntry(o: BuildEntryOptions): Uint8Array {
  const dataOps = o.ops.filter((op): op is { offset: number; data: Uint8Array } => 'data' in op);
  const descBytes = Math.ceil((ENTRY_HEADER + o.ops.length * DESCRIPTOR) / SECTOR) * SECTOR;
  const length = descBytes + dataOps.length * SECTOR;
  const b = new Uint8Array(length);
  const dv = view(b);
  dv.setUint32(0, SIG_LOGE, true);
  dv.setUint32(8, length, true);
  dv.setUint32(12, o.tail, true);
  dv.setBigUint64(16, o.sequence, true);
  dv.setUint32(24, o.ops.length, true);
  b.set(o.logGuid, 32);
  dv.setBigUint64(48, BigInt(o.flushedFileOffset), true);
  dv.setBigUint64(56, BigInt(o.lastFileOffset), true);
  let dataAt = descBytes;
  o.ops.forEach((op, i) => {
    const d = ENTRY_HEADER + i * DESCRIPTOR;
    dv.setBigUint64(d + 16, BigInt(op.offset), true);
    dv.setBigUint64(d + 24, o.sequence, true);
    if ('data' in op) {
      if (op.data.length !== SECTOR) throw new Error('log data ops are exactly 4 KiB');
      dv.setUint32(d, SIG_DESC, true);
      b.set(op.data.subarray(4092, 4096), d + 4);
      b.set(op.data.subarray(0, 8), d + 8);
      dv.setUint32(dataAt, SIG_DATA, true);
      dv.setUint32(dataAt + 4, Number(o.sequence >> 32n), true);
      b.set(op.data.subarray(8, 4092), dataAt + 8);
      dv.setUint32(dataAt + 4092, Number(o.sequence & 0xffffffffn), true);
      dataAt += SECTOR;
    } else {
      dv.setUint32(d, SIG_ZERO, true);
      dv.setBigUint64(d + 8, BigInt(op.zeroLength), true);
    }
  });
  dv.setUint32(4, crc32c(b, 4), true);
  return b;
}
