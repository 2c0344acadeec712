/**
 * Consistency check, counting like `qemu-img check`: every reference from the header, the
 * refcount structures, the active and snapshot L1/L2 tables is counted; each cluster's stored
 * refcount is compared with its reference count (higher = leak, lower = corruption), and the
 * active tables' COPIED flags are compared with refcount == 1. Leaks can be repaired (refcounts
 * lowered); 'all' also raises too-low refcounts and fixes COPIED flags.
 */
import type { CheckResult } from '../types.ts';
import { compressedClusters, encodeL1, readL2, writeL2 } from './l2-entry.ts';
import type { Qcow2Metadata } from './metadata.ts';
import { serializeSnapshotTable } from './snapshot-table.ts';

export async function checkImage(img: Qcow2Metadata, repair?: 'leaks' | 'all'): Promise<CheckResult> {
  const cs = img.clusterSize;
  const fileSize = await img.store.size();
  const nbClusters = Math.ceil(fileSize / cs);
  const res: CheckResult = {
    leaks: 0,
    corruptions: 0,
    leaksFixed: 0,
    corruptionsFixed: 0,
    allocatedClusters: 0,
    totalClusters: Math.ceil(img.size / cs),
    fragmentedClusters: 0,
    compressedClusters: 0,
    imageEndOffset: 0,
    messages: [],
  };
  // Reference counts of the clusters inside the file; references past its end (only a damaged
  // image has them) are kept sparsely, so a hostile entry cannot make us allocate by its value.
  const refs = new Float64Array(Math.max(nbClusters, 1));
  const beyond = new Map<number, number>();
  const inc = (offset: number, bytes: number): void => {
    if (bytes <= 0) return;
    const first = Math.floor(offset / cs);
    const last = Math.floor((offset + bytes - 1) / cs);
    for (let c = first; c <= last; c++) {
      if (c < nbClusters) refs[c]!++;
      else beyond.set(c, (beyond.get(c) ?? 0) + 1);
    }
  };

  inc(0, cs); // header
  inc(img.rc.tableOffset, img.rc.tableClusters * cs);
  for (let i = 0; i < img.rc.table.length; i++) {
    const off = img.rc.table[i]!;
    if (!off) continue;
    if (off % cs) {
      res.corruptions++;
      res.messages.push(`ERROR refcount block ${i} is not cluster aligned; refcount table entry corrupted`);
    } else if (off >= fileSize) {
      res.corruptions++;
      res.messages.push(`ERROR refcount block ${i} is outside image`);
    } else inc(off, cs);
  }

  // Active L1 (with allocation statistics), then each snapshot's.
  const nextContig = { value: 0 };
  const walk = async (l1: number[], stats: boolean): Promise<void> => {
    for (let i = 0; i < l1.length; i++) {
      const l2off = l1[i]!;
      if (!l2off) continue;
      if (l2off % cs) {
        res.corruptions++;
        res.messages.push(`ERROR l2_offset=${l2off.toString(16)}: Table is not cluster aligned; L1 entry corrupted`);
        continue;
      }
      inc(l2off, cs);
      const t = await img.l2.get(l2off);
      for (let j = 0; j < img.l2Entries; j++) {
        const e = readL2(t.dv, j, img.ext, img.clusterBits);
        if (e.compressed) {
          const [first, count] = compressedClusters(e, img.clusterBits);
          inc(first * cs, count * cs);
          if (stats) {
            res.allocatedClusters++;
            res.compressedClusters++;
            res.fragmentedClusters++;
          }
          continue;
        }
        if (img.ext && (e.alloc & e.zero) !== 0) {
          res.corruptions++;
          res.messages.push(`ERROR invalid subcluster allocation bitmap in L2 table at ${l2off}, entry ${j}`);
        }
        if (!e.host) continue;
        if (e.host % cs) {
          res.corruptions++;
          res.messages.push(
            `ERROR offset=${e.host.toString(16)}: Cluster is not properly aligned; L2 entry corrupted.`,
          );
          continue;
        }
        if (stats) {
          res.allocatedClusters++;
          if (nextContig.value && e.host !== nextContig.value) res.fragmentedClusters++;
          nextContig.value = e.host + cs;
        }
        inc(e.host, cs);
      }
    }
  };
  await walk(img.l1, true);
  inc(img.header.l1TableOffset, img.l1.length * 8);
  for (const s of img.snapshots) {
    const { offsets } = await img.readL1Table(s.l1Offset, s.l1Size);
    inc(s.l1Offset, s.l1Size * 8);
    await walk(offsets, false);
  }
  if (img.snapshots.length) {
    inc(img.header.snapshotsOffset, serializeSnapshotTable(img.snapshots).length);
  }

  // Compare with stored refcounts.
  let highest = 0;
  for (let c = 0; c < nbClusters; c++) {
    const stored = await img.rc.get(c);
    const want = refs[c] ?? 0;
    if (stored > 0 || want > 0) highest = c;
    if (stored === want) continue;
    const fixLeak = stored > want && repair !== undefined;
    const fixCorrupt = stored < want && repair === 'all';
    const label = fixLeak || fixCorrupt ? 'Repairing' : stored < want ? 'ERROR' : 'Leaked';
    res.messages.push(`${label} cluster ${c} refcount=${stored} reference=${want}`);
    if (fixLeak || fixCorrupt) {
      if (stored === 0) {
        // The block describing this cluster may not exist; allocate new ones past every reference.
        img.rc.freeHint = Math.max(img.rc.freeHint, refs.length);
      }
      await img.rc.update(c, want - stored);
      if (fixLeak) res.leaksFixed++;
      else res.corruptionsFixed++;
    } else if (stored < want) res.corruptions++;
    else res.leaks++;
  }

  // References past the end of the file: counted as corruptions, never repaired (that would
  // grow the refcount structures to wherever a damaged entry points).
  for (const c of [...beyond.keys()].sort((a, b) => a - b)) {
    const stored = await img.rc.get(c);
    const want = beyond.get(c)!;
    if (stored >= want) continue;
    res.messages.push(`ERROR cluster ${c} refcount=${stored} reference=${want} (beyond the end of the image)`);
    res.corruptions++;
  }

  // COPIED flags of the active tables.
  for (let i = 0; i < img.l1.length; i++) {
    const l2off = img.l1[i]!;
    if (!l2off || l2off % cs) continue;
    const rc = await img.rc.get(l2off / cs);
    if ((rc === 1) !== img.l1Copied[i]) {
      res.messages.push(`ERROR OFLAG_COPIED L2 cluster: l1_index=${i} l1_entry=${l2off.toString(16)} refcount=${rc}`);
      if (repair === 'all') {
        img.l1Copied[i] = rc === 1;
        await img.store.write(img.header.l1TableOffset + i * 8, encodeL1(l2off, rc === 1));
        res.corruptionsFixed++;
      } else res.corruptions++;
    }
    const t = await img.l2.get(l2off);
    for (let j = 0; j < img.l2Entries; j++) {
      const e = readL2(t.dv, j, img.ext, img.clusterBits);
      if (e.compressed || !e.host || e.host % cs) continue;
      const drc = await img.rc.get(e.host / cs);
      if ((drc === 1) !== e.copied) {
        res.messages.push(`ERROR OFLAG_COPIED data cluster: l2_entry=${e.host.toString(16)} refcount=${drc}`);
        if (repair === 'all') {
          writeL2(t.dv, j, img.ext, e.host, drc === 1, e.zeroFlag, e.alloc, e.zero);
          t.dirty = true;
          res.corruptionsFixed++;
        } else res.corruptions++;
      }
    }
  }
  if (repair) await img.flushAll();
  res.imageEndOffset = (highest + 1) * cs;
  return res;
}
