/**
 * The VM process's side of backups (docs/manager.md "Backups"): dirty bitmaps on its writable
 * qcow2 disks, and the QMP commands the daemon drives:
 *
 * - `x-virtkit-backup-point {tag, state-file?}`: in one pause (I/O drained, disks flushed) take
 *   an internal snapshot `tag` in every writable qcow2 disk (and with `state-file`, the RAM and
 *   device state as x-virtkit-savevm writes it), hand over each disk's dirty bitmap since the
 *   previous point and clear it. Answer `{generation, point, disks: [{index, snapshot, size,
 *   granularity, dirty}]}`: `generation` is random per VM process, `point` counts the points of
 *   this process (1 = the first, whose bitmap covers only what was written since the process
 *   started), `dirty` is the bitmap in base64 (bit i = byte i>>3, LSB first).
 * - `x-virtkit-snapshot-delete {tag}`: deletes the internal snapshot `tag` from every writable
 *   qcow2 disk (those without it are skipped) once the daemon has copied it.
 */
import { randomBytes } from 'node:crypto';
import { hasSnapshots, StorageError, type BlockBackend } from '../storage/types.ts';
import { DirtyBitmap, trackWrites } from '../vmm/dirty-bitmap.ts';
import { QmpError, type QmpMonitor } from '../vmm/qmp/monitor.ts';

const TAG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class BackupTracking {
  readonly generation = randomBytes(8).toString('hex');
  private points = 0;
  private readonly bitmaps = new Map<BlockBackend, DirtyBitmap>();

  /** Starts tracking a writable qcow2 disk (others are never backed up incrementally). */
  track(backend: BlockBackend): void {
    if (backend.readOnly || !hasSnapshots(backend) || this.bitmaps.has(backend)) return;
    const cs = (backend as { clusterSize?: unknown }).clusterSize;
    this.bitmaps.set(backend, trackWrites(backend, typeof cs === 'number' ? cs : 65536));
  }

  register(
    m: QmpMonitor,
    deps: {
      disks: () => { backend: BlockBackend; readOnly: boolean; path: string }[];
      /** Pauses, drains and flushes, runs fn, resumes (VmSession.quiesce). */
      quiesce: <T>(fn: () => Promise<T>) => Promise<T>;
      /** x-virtkit-savevm's writer, with a hook run inside its pause after the disk snapshots. */
      saveWithState: (tag: string, stateFile: string, atPoint: () => void) => Promise<void>;
    },
  ): void {
    m.register('x-virtkit-backup-point', {
      args: { tag: { type: 'string' }, 'state-file': { type: 'string', optional: true } },
      run: async (args) => {
        const tag = args.tag as string;
        if (!TAG.test(tag))
          throw new QmpError('GenericError', `tag ${JSON.stringify(tag)}: use 1-64 letters, digits, '.', '_' or '-'`);
        const disks = deps.disks();
        for (const [i, d] of disks.entries()) {
          if (d.readOnly) continue;
          if (!hasSnapshots(d.backend))
            throw new QmpError(
              'GenericError',
              `disk ${i} (${d.path}) is ${d.backend.format}, not qcow2: a backup point needs an internal snapshot in every writable disk`,
            );
          if ((await d.backend.listSnapshots()).some((x) => x.name === tag))
            throw new QmpError('GenericError', `disk ${d.path} already has a snapshot named '${tag}'`);
        }
        let taken: (Uint8Array | undefined)[] = [];
        const take = () => {
          taken = disks.map((d) => this.bitmaps.get(d.backend)?.takeAndReset());
        };
        const giveBack = () => {
          for (const [i, d] of disks.entries()) {
            const bits = taken[i];
            if (bits) this.bitmaps.get(d.backend)?.giveBack(bits);
          }
          taken = [];
        };
        try {
          if (args['state-file'] !== undefined) {
            await deps.saveWithState(tag, args['state-file'] as string, take);
          } else {
            const created: BlockBackend[] = [];
            try {
              await deps.quiesce(async () => {
                for (const d of disks) {
                  if (d.readOnly || !hasSnapshots(d.backend)) continue;
                  await d.backend.createSnapshot(tag);
                  created.push(d.backend);
                  await d.backend.flush();
                }
                take();
              });
            } catch (e) {
              for (const b of created) if (hasSnapshots(b)) await b.deleteSnapshot(tag).catch(() => {});
              throw e;
            }
          }
        } catch (e) {
          giveBack();
          if (e instanceof QmpError) throw e;
          throw new QmpError('GenericError', `backup point failed: ${(e as Error).message ?? String(e)}`);
        }
        this.points++;
        return {
          generation: this.generation,
          point: this.points,
          disks: disks.map((d, i) => {
            const bm = this.bitmaps.get(d.backend);
            const bits = taken[i];
            return {
              index: i,
              snapshot: !d.readOnly && hasSnapshots(d.backend),
              size: d.backend.size,
              ...(bm && bits ? { granularity: bm.granularity, dirty: Buffer.from(bits).toString('base64') } : {}),
            };
          }),
        };
      },
    });
    m.register('x-virtkit-snapshot-delete', {
      args: { tag: { type: 'string' } },
      run: async (args) => {
        const tag = args.tag as string;
        for (const d of deps.disks()) {
          if (d.readOnly || !hasSnapshots(d.backend)) continue;
          try {
            await d.backend.deleteSnapshot(tag);
          } catch (e) {
            if (!(e instanceof StorageError && e.code === 'not-found'))
              throw new QmpError('GenericError', `deleting snapshot '${tag}' from ${d.path} failed: ${(e as Error).message}`);
          }
        }
        return {};
      },
    });
  }
}
