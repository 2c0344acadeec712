/**
 * Internal snapshots. A snapshot is a copy of the active L1 table; every L2 table and data
 * cluster reachable from it gains a reference, so later guest writes copy instead of overwriting.
 *
 * Order of writes, so a crash leaves at worst leaks: refcount increments, then the new L1 copy,
 * then the new snapshot table, then the header switch; decrements only after nothing on disk
 * refers to the clusters any more.
 */
import { StorageError } from '../types.ts';
import { setU64 } from './header.ts';
import { alignedL2Offset, compressedClusters, encodeL1, readL2, readL2Aligned, writeL2 } from './l2-entry.ts';
import type { Qcow2Metadata } from './metadata.ts';
import { serializeSnapshotTable, type SnapshotEntry } from './snapshot-table.ts';

/** Adds `delta` to every L2 table and data cluster reachable from an L1 table. */
async function updateTreeRefcounts(img: Qcow2Metadata, l1: number[], delta: number): Promise<void> {
  const cs = img.clusterSize;
  for (const [i, l2off] of l1.entries()) {
    if (!alignedL2Offset(l2off, i, cs)) continue;
    const t = await img.l2.get(l2off);
    const entries: [number, number][] = [];
    for (let j = 0; j < img.l2Entries; j++) {
      const e = readL2Aligned(t.dv, j, img.ext, img.clusterBits, l2off);
      if (e.compressed) {
        const [first, count] = compressedClusters(e, img.clusterBits);
        entries.push([first, count]);
      } else if (e.host) entries.push([e.host / cs, 1]);
    }
    for (const [first, count] of entries) for (let c = first; c < first + count; c++) await img.rc.update(c, delta);
    await img.rc.update(l2off / cs, delta);
  }
}

/** Sets COPIED flags in the active L1/L2 tables to match refcount == 1. */
async function refreshCopiedFlags(img: Qcow2Metadata): Promise<void> {
  const cs = img.clusterSize;
  for (let i = 0; i < img.l1.length; i++) {
    const l2off = img.l1[i]!;
    if (!l2off) continue;
    const own = (await img.rc.get(l2off / cs)) === 1;
    if (own !== img.l1Copied[i]) {
      img.l1Copied[i] = own;
      img.l1Dirty.add(i);
    }
    const t = await img.l2.get(l2off);
    for (let j = 0; j < img.l2Entries; j++) {
      const e = readL2(t.dv, j, img.ext, img.clusterBits);
      if (e.compressed || !e.host) continue;
      const mine = (await img.rc.get(e.host / cs)) === 1;
      if (mine !== e.copied) {
        const t2 = await img.l2.get(l2off);
        writeL2(t2.dv, j, img.ext, e.host, mine, e.zeroFlag, e.alloc, e.zero);
        t2.dirty = true;
      }
    }
  }
}

/** Writes the snapshot table to new clusters, switches the header to it, frees the old one. */
async function writeSnapshotTable(img: Qcow2Metadata, entries: SnapshotEntry[]): Promise<void> {
  const cs = img.clusterSize;
  const data = serializeSnapshotTable(entries);
  const oldOff = img.header.snapshotsOffset;
  const oldLen = img.snapshots.length ? serializeSnapshotTable(img.snapshots).length : 0;
  let off = 0;
  if (data.length) {
    off = await img.rc.alloc(Math.ceil(data.length / cs));
    await img.rc.flush();
    await img.store.write(off, data);
    await img.barrier();
  }
  const hb = new Uint8Array(12);
  const dv = new DataView(hb.buffer);
  dv.setUint32(0, entries.length);
  setU64(dv, 4, off);
  await img.writeHeaderBytes(60, hb);
  await img.barrier();
  img.header.nbSnapshots = entries.length;
  img.header.snapshotsOffset = off;
  img.snapshots = entries;
  if (oldLen) {
    for (let c = oldOff / cs; c < Math.ceil((oldOff + oldLen) / cs); c++) await img.rc.update(c, -1);
  }
}

function find(img: Qcow2Metadata, nameOrId: string): SnapshotEntry {
  const s = img.snapshots.find((x) => x.id === nameOrId) ?? img.snapshots.find((x) => x.name === nameOrId);
  if (!s) throw new StorageError('not-found', `qcow2: no snapshot '${nameOrId}'`);
  return s;
}

export async function createSnapshot(
  img: Qcow2Metadata,
  name: string,
  opts: { dateSec?: number; dateNsec?: number; vmClockNsec?: number },
): Promise<SnapshotEntry> {
  if (img.snapshots.some((s) => s.name === name))
    throw new StorageError('unsupported', `qcow2: snapshot '${name}' already exists`);
  if (img.snapshots.length >= 65536) throw new StorageError('too-large', 'qcow2: too many snapshots');
  const cs = img.clusterSize;
  await img.flushMetadataForSnapshots();
  await updateTreeRefcounts(img, img.l1, 1);
  const l1Bytes = img.l1.length * 8;
  const l1Off = l1Bytes ? await img.rc.alloc(Math.ceil(l1Bytes / cs)) : 0;
  await img.rc.flush();
  await img.barrier();
  if (l1Bytes) {
    const raw = new Uint8Array(l1Bytes);
    img.l1.forEach((o, i) => raw.set(encodeL1(o, false), i * 8));
    await img.store.write(l1Off, raw);
  }
  const now = Date.now();
  const maxId = img.snapshots.reduce((m, s) => Math.max(m, Number.parseInt(s.id, 10) || 0), 0);
  const entry: SnapshotEntry = {
    l1Offset: l1Off,
    l1Size: img.l1.length,
    id: String(maxId + 1),
    name,
    dateSec: opts.dateSec ?? Math.floor(now / 1000),
    dateNsec: opts.dateNsec ?? (now % 1000) * 1e6,
    vmClockNsec: opts.vmClockNsec ?? 0,
    vmStateSize: 0,
    diskSize: img.size,
    extraRest: new Uint8Array(0),
    icount: -1n,
  };
  await img.barrier();
  await writeSnapshotTable(img, [...img.snapshots, entry]);
  await refreshCopiedFlags(img);
  await img.flushAll();
  return entry;
}

export async function applySnapshot(img: Qcow2Metadata, nameOrId: string): Promise<void> {
  const s = find(img, nameOrId);
  const cs = img.clusterSize;
  await img.flushMetadataForSnapshots();
  const { offsets } = await img.readL1Table(s.l1Offset, s.l1Size);
  const newSize = s.diskSize ?? img.size;
  const need = Math.max(offsets.length, Math.ceil(newSize / (cs * img.l2Entries)));
  if (need > img.l1.length) await img.growL1(need);
  await updateTreeRefcounts(img, offsets, 1);
  await img.rc.flush();
  await img.barrier();
  const old = img.l1.slice();
  const raw = new Uint8Array(img.l1.length * 8);
  for (let i = 0; i < img.l1.length; i++) {
    img.l1[i] = offsets[i] ?? 0;
    img.l1Copied[i] = false;
    raw.set(encodeL1(img.l1[i]!, false), i * 8);
  }
  await img.store.write(img.header.l1TableOffset, raw);
  await img.barrier();
  await updateTreeRefcounts(img, old, -1);
  if (newSize !== img.size) {
    img.size = img.header.size = newSize;
    const b = new Uint8Array(8);
    setU64(new DataView(b.buffer), 0, newSize);
    await img.writeHeaderBytes(24, b);
  }
  await dropFreed(img);
  await refreshCopiedFlags(img);
  await img.flushAll();
}

export async function deleteSnapshot(img: Qcow2Metadata, nameOrId: string): Promise<void> {
  const s = find(img, nameOrId);
  const cs = img.clusterSize;
  await img.flushMetadataForSnapshots();
  const { offsets } = await img.readL1Table(s.l1Offset, s.l1Size);
  await writeSnapshotTable(
    img,
    img.snapshots.filter((x) => x !== s),
  );
  await updateTreeRefcounts(img, offsets, -1);
  for (let c = s.l1Offset / cs; s.l1Size && c < Math.ceil((s.l1Offset + s.l1Size * 8) / cs); c++)
    await img.rc.update(c, -1);
  await dropFreed(img);
  await refreshCopiedFlags(img);
  await img.flushAll();
}

/** Cached L2 tables whose clusters were just freed must not be written back over reused space. */
async function dropFreed(img: Qcow2Metadata): Promise<void> {
  await img.l2.flush();
  img.l2.clear();
}
