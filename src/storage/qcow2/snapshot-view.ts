/**
 * A read-only view of an internal snapshot: the image reads as the disk did when the snapshot
 * was taken. The backup code uses it to copy a snapshot out of a disk that a running VM keeps
 * writing: the snapshot's L1 table, its L2 tables and its data clusters all have a reference
 * from the snapshot, and the writer copies any cluster with more than one reference before
 * changing it (image.ts writableL2, exclusive), so nothing the view reads changes under it for
 * as long as the snapshot exists.
 */
import { StorageError } from '../types.ts';
import type { Qcow2Image } from './image.ts';

/** Points `img` (opened read-only, used by nobody else) at snapshot `nameOrId`'s tables. */
export async function viewSnapshot(img: Qcow2Image, nameOrId: string): Promise<void> {
  if (!img.readOnly) throw new StorageError('unsupported', 'qcow2: a snapshot view needs an image opened read-only');
  const s = img.snapshots.find((x) => x.id === nameOrId) ?? img.snapshots.find((x) => x.name === nameOrId);
  if (!s) throw new StorageError('not-found', `qcow2: no snapshot '${nameOrId}'`);
  const { offsets } = await img.readL1Table(s.l1Offset, s.l1Size);
  img.l1 = offsets;
  img.l1Copied = offsets.map(() => false);
  img.size = s.diskSize ?? img.size;
  img.l2.clear();
}
