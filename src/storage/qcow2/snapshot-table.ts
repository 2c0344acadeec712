/**
 * The qcow2 internal snapshot table: parsing (bounded: entry count, sizes, and offsets are checked
 * before anything is read) and serialising, with unknown extra data preserved.
 */
import { utf8Decode, utf8Encode } from '../text.ts';
import { StorageError, type ByteStore } from '../types.ts';
import { MAX_L1_BYTES, setU64 } from './header.ts';

export const MAX_SNAPSHOT_TABLE = 64 * 1024 * 1024;
export const MAX_EXTRA_DATA = 1024;

export interface SnapshotEntry {
  l1Offset: number;
  l1Size: number;
  id: string;
  name: string;
  dateSec: number;
  dateNsec: number;
  vmClockNsec: number;
  vmStateSize: number;
  /** From the extra data (v3 requires it); undefined in old v2 entries. */
  diskSize?: number;
  /** Extra data bytes beyond the fields above, kept verbatim. */
  extraRest: Uint8Array;
  icount: bigint;
}

function corrupt(msg: string): StorageError {
  return new StorageError('corrupt', `qcow2: snapshot table: ${msg}`);
}

function u64(dv: DataView, off: number): number {
  const hi = dv.getUint32(off);
  if (hi >= 0x200000) throw corrupt('64-bit field too large');
  return hi * 0x100000000 + dv.getUint32(off + 4);
}

export async function readSnapshotTable(
  store: ByteStore,
  offset: number,
  count: number,
  clusterSize: number,
  fileSize: number,
): Promise<SnapshotEntry[]> {
  if (count === 0) return [];
  const avail = Math.min(fileSize - offset, MAX_SNAPSHOT_TABLE);
  if (avail < count * 40) throw corrupt(`${count} entries do not fit in the file`);
  // Read in growing pieces: the table's length is only known by walking it.
  const buf = new Uint8Array(Math.min(avail, Math.max(count * 64, 4096)));
  let have = buf.length;
  let data = buf;
  await store.read(offset, data);
  const ensure = async (end: number): Promise<DataView> => {
    if (end > avail) throw corrupt('entries run past the end of the file or the 64 MiB limit');
    if (end > have) {
      const bigger = new Uint8Array(Math.min(avail, Math.max(end, have * 2)));
      bigger.set(data);
      await store.read(offset + have, bigger.subarray(have));
      data = bigger;
      have = bigger.length;
    }
    return new DataView(data.buffer, data.byteOffset, data.byteLength);
  };
  const out: SnapshotEntry[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    let dv = await ensure(pos + 40);
    const extraSize = dv.getUint32(pos + 36);
    if (extraSize > MAX_EXTRA_DATA)
      throw new StorageError('too-large', `qcow2: snapshot ${i}: extra_data_size ${extraSize} is too large`);
    const idSize = dv.getUint16(pos + 12);
    const nameSize = dv.getUint16(pos + 14);
    const len = 40 + extraSize + idSize + nameSize;
    dv = await ensure(pos + len);
    const l1Offset = u64(dv, pos);
    const l1Size = dv.getUint32(pos + 8);
    if (l1Size * 8 > MAX_L1_BYTES)
      throw new StorageError('too-large', `qcow2: snapshot ${i}: l1_size ${l1Size} is too large`);
    if (l1Offset % clusterSize !== 0) throw corrupt(`snapshot ${i}: L1 table offset is not cluster aligned`);
    if (l1Size > 0 && l1Offset + l1Size * 8 > fileSize) throw corrupt(`snapshot ${i}: L1 table is outside the file`);
    const e: SnapshotEntry = {
      l1Offset,
      l1Size,
      id: utf8Decode(data.subarray(pos + 40 + extraSize, pos + 40 + extraSize + idSize)),
      name: utf8Decode(data.subarray(pos + 40 + extraSize + idSize, pos + len)),
      dateSec: dv.getUint32(pos + 16),
      dateNsec: dv.getUint32(pos + 20),
      vmClockNsec: u64(dv, pos + 24),
      vmStateSize: dv.getUint32(pos + 32),
      extraRest: new Uint8Array(0),
      icount: -1n,
    };
    if (extraSize >= 8) e.vmStateSize = u64(dv, pos + 40);
    if (extraSize >= 16) e.diskSize = u64(dv, pos + 48);
    if (extraSize >= 24) {
      e.icount = (BigInt(dv.getUint32(pos + 56)) << 32n) | BigInt(dv.getUint32(pos + 60));
      e.extraRest = data.slice(pos + 64, pos + 40 + extraSize);
    }
    out.push(e);
    pos += Math.ceil(len / 8) * 8;
  }
  return out;
}

export function serializeSnapshotTable(entries: SnapshotEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const id = utf8Encode(e.id);
    const name = utf8Encode(e.name);
    const extra = 24 + e.extraRest.length;
    const len = 40 + extra + id.length + name.length;
    const b = new Uint8Array(Math.ceil(len / 8) * 8);
    const dv = new DataView(b.buffer);
    setU64(dv, 0, e.l1Offset);
    dv.setUint32(8, e.l1Size);
    dv.setUint16(12, id.length);
    dv.setUint16(14, name.length);
    dv.setUint32(16, e.dateSec);
    dv.setUint32(20, e.dateNsec);
    setU64(dv, 24, e.vmClockNsec);
    dv.setUint32(32, Math.min(e.vmStateSize, 0xffffffff));
    dv.setUint32(36, extra);
    setU64(dv, 40, e.vmStateSize);
    setU64(dv, 48, e.diskSize ?? 0);
    setU64(dv, 56, BigInt.asUintN(64, e.icount));
    b.set(e.extraRest, 64);
    b.set(id, 40 + extra);
    b.set(name, 40 + extra + id.length);
    parts.push(b);
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
