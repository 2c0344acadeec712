/** `img snapshot`: internal snapshots (qcow2): list, create, apply, delete. */
import { hasSnapshots, StorageError, type BlockBackend, type SnapshotBackend, type SnapshotInfo } from '../types.ts';
import type { ImgContext } from './context.ts';
import { openChain } from './open-chain.ts';

export type SnapshotAction = { op: 'list' } | { op: 'create' | 'apply' | 'delete'; name: string };

export interface SnapshotOptions {
  format?: string;
  /** Creation time for `create` (seconds since the epoch); the caller's clock, the core has none. */
  now?: { sec: number; nsec: number };
}

export async function imgSnapshot(
  ctx: ImgContext,
  path: string,
  action: SnapshotAction,
  opts: SnapshotOptions = {},
): Promise<SnapshotInfo[]> {
  // Snapshots live in the top image only; its backing chain is neither needed nor touched.
  const img = await openChain(ctx, path, { format: opts.format, readOnly: action.op === 'list', backing: false });
  try {
    const b: BlockBackend = img.backend;
    if (!hasSnapshots(b))
      throw new StorageError('unsupported', `format '${b.format}' does not support internal snapshots`);
    const s: SnapshotBackend = b;
    switch (action.op) {
      case 'list':
        return await s.listSnapshots();
      case 'create':
        return [
          await s.createSnapshot(action.name, { dateSec: opts.now?.sec, dateNsec: opts.now?.nsec, vmClockNsec: 0 }),
        ];
      case 'apply':
        await s.applySnapshot(action.name);
        break;
      case 'delete':
        await s.deleteSnapshot(action.name);
        break;
    }
    await b.flush();
    return [];
  } finally {
    await img.close();
  }
}
