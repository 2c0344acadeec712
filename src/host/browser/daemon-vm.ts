/**
 * A VM that `virtkit daemon` moved into this tab (docs/manager.md, "Moving a VM into a browser
 * tab"): the attachments its snapshot is restored with (the daemon's disks through RemoteDisk,
 * its NICs unplugged), and the configuration the snapshot that sends it back records, in
 * `virtkit run`'s form, since a `virtkit run --restore` on the daemon's side is what resumes it.
 *
 * The snapshot comes from the daemon but is read as untrusted all the same (readSavedConfig), and
 * each disk is checked against its recorded identity before the guest runs: the daemon's disk
 * must be the one the RAM image expects.
 */
import { StateError, StateReader } from '../../memory/state.ts';
import { fingerprintDisk, identityMismatch } from '../../vmm/disk-identity.ts';
import { buildSavedConfig, readSavedConfig, type SavedConfigRecord, type SavedDisk } from '../../vmm/saved-config.ts';
import type { RestoreAttachments } from '../../vmm/session.ts';
import type { VmSpecDisk } from '../../vmm/vm-spec.ts';
import { RemoteDisk, type RemoteFetch } from './remote-disk.ts';
import { UnpluggedNic } from './unplugged-nic.ts';

/** What the page learnt from the daemon's move (POST /v1/vms/{name}/browser). */
export interface RemoteVm {
  /** `ORIGIN/v1/vms/NAME/browser`. */
  base: string;
  token: string;
  session: string;
  disks: { index: number; size: number; format: string; readonly: boolean }[];
}

/** What a later send-back records besides the disks' identities, kept from the daemon's snapshot. */
export interface DaemonRecord {
  append: string;
  nets: string[];
  boot?: unknown;
  disks: { path: string; readOnly: boolean }[];
}

/** The snapshot's disks opened through the daemon, checked, with the record a send-back keeps. */
export async function adoptAttachments(
  saved: unknown,
  remote: RemoteVm,
  fetch: RemoteFetch,
  translate: boolean,
): Promise<{ attachments: RestoreAttachments; record: DaemonRecord }> {
  let cfg;
  try {
    cfg = readSavedConfig(new StateReader('snapshot', saved, undefined, 'meta.config'));
  } catch (e) {
    if (e instanceof StateError) throw new Error(e.message);
    throw e;
  }
  if (cfg.disks.length !== remote.disks.length)
    throw new Error(`the snapshot has ${cfg.disks.length} disk(s), the daemon serves ${remote.disks.length}`);
  const headers = { authorization: `Bearer ${remote.token}`, 'x-virtkit-session': remote.session };
  const disks: VmSpecDisk[] = [];
  for (const [i, d] of cfg.disks.entries()) {
    const r = remote.disks[i]!;
    if (r.index !== i || r.readonly !== d.readOnly)
      throw new Error(`disk ${i}: the daemon serves it ${r.readonly ? 'read-only' : 'writable'}, the snapshot differs`);
    const backend = new RemoteDisk({
      base: remote.base,
      index: i,
      size: r.size,
      format: r.format,
      readOnly: r.readonly,
      headers,
      fetch,
    });
    if (!d.identity) throw new Error(`disk ${i} (${d.path}): the snapshot records no identity for it`);
    const why = identityMismatch(d.identity, await fingerprintDisk(backend));
    if (why) throw new Error(`disk ${i} (${d.path}) is not the snapshot's disk: ${why}`);
    disks.push({ backend, readOnly: d.readOnly, source: d.path });
  }
  return {
    attachments: {
      disks,
      nics: cfg.nets.map(() => ({ backend: new UnpluggedNic() })),
      append: cfg.append,
      translate,
    },
    record: {
      append: cfg.append,
      nets: cfg.nets,
      ...(cfg.boot !== undefined ? { boot: cfg.boot } : {}),
      disks: cfg.disks.map((d) => ({ path: d.path, readOnly: d.readOnly })),
    },
  };
}

/** The configuration of the snapshot that sends the VM back: each disk's identity as it is now. */
export async function sendBackConfig(record: DaemonRecord, disks: readonly VmSpecDisk[]): Promise<SavedConfigRecord> {
  const out: SavedDisk[] = [];
  for (const [i, d] of record.disks.entries()) {
    const identity = await fingerprintDisk(disks[i]!.backend);
    out.push({ path: d.path, format: identity.format, readOnly: d.readOnly, identity });
  }
  return buildSavedConfig({
    append: record.append,
    nets: record.nets,
    disks: out,
    ...(record.boot !== undefined ? { boot: record.boot } : {}),
  });
}
