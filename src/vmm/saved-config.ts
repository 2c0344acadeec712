/**
 * `virtkit run`'s configuration as a snapshot stores it (meta.config). It is untrusted (snapshots
 * travel between machines and the browser), so it never names a host resource a restore opens:
 * the disks and NICs come from the restoring command line and are checked against what is
 * recorded here (disk identities, counts). Paths are kept for messages and for the browser,
 * which matches a disk by its file name among the files the user picked.
 *
 * version: absent (1) in the first snapshots; 2 adds `boot` (boot-record.ts); 3 adds each disk's
 * `identity` (disk-identity.ts). The browser reads `disks` (path, format, readOnly) and `append`.
 *
 * The page (host/browser/vm-controller.ts) writes the same `append` and its own disk records
 * under `web`; it writes `disks` (empty) only when it has no disks, so `virtkit run --restore`
 * refuses a page snapshot whose disks (URLs, in-tab changes) it could not reopen. Both front ends
 * read a snapshot's configuration here.
 */
import { StateReader } from '../memory/state.ts';
import { readDiskIdentity, type DiskIdentity } from './disk-identity.ts';

export const SAVED_CONFIG_VERSION = 3;
/** The board has 8 virtio slots, two of them taken by the entropy source and the console. */
const MAX_DEVICES = 6;
const MAX_TEXT = 64 * 1024;

export interface SavedDisk {
  /** Where the disk was when saved: informational, never opened. */
  path: string;
  format?: string;
  readOnly: boolean;
  /** Absent in snapshots before version 3: such a disk cannot be verified. */
  identity?: DiskIdentity;
  /**
   * The internal qcow2 snapshot taken with this state (QMP x-virtkit-savevm): the disk must be
   * reverted to it before a restore (`virtkit img snapshot -a NAME`). Informational: a restore
   * checks the disk by its identity, and only names this in its message when that fails.
   */
  diskSnapshot?: string;
}

export interface SavedConfig {
  version: number;
  disks: SavedDisk[];
  /** The NIC specs as given when saved: informational (the count must match on restore). */
  nets: string[];
  append: string;
  /** Where the boot files came from (boot-record.ts); parsed only when the guest reboots. */
  boot?: unknown;
  /** The page's disk records, as saved: only the page reads them (and checks them itself). */
  web?: unknown;
}

export interface ReadConfigOptions {
  /** Read as the page: a page snapshot with disks has `web` and no `disks` (read as none here). */
  page?: boolean;
}

/** Reads meta.config; a malformed field is a StateError naming it ("snapshot: meta.config.disks[0].readOnly: ..."). */
export function readSavedConfig(r: StateReader, o: ReadConfigOptions = {}): SavedConfig {
  if (r.value === undefined) r.fail('missing: the snapshot has no virtkit run configuration');
  const pageDisks = o.page === true && !r.has('disks') && r.has('web');
  const v = r.raw('version');
  if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 1 && (v as number) <= SAVED_CONFIG_VERSION))
    r.fail(
      `snapshot configuration version ${JSON.stringify(v)?.slice(0, 20)} is not supported (this virtkit reads 1..${SAVED_CONFIG_VERSION})`,
      'version',
    );
  const version = (v as number | undefined) ?? 1;
  const disks = (pageDisks ? [] : r.items('disks', MAX_DEVICES)).map((d): SavedDisk => {
    const out: SavedDisk = { path: d.str('path', 4096), readOnly: d.bool('readOnly') };
    if (d.has('format')) out.format = d.str('format', 16);
    if (version >= 3) out.identity = readDiskIdentity(d.field('identity'));
    if (d.has('diskSnapshot')) out.diskSnapshot = d.str('diskSnapshot', 256);
    return out;
  });
  const nets = r.has('nets') ? r.items('nets', MAX_DEVICES).map((n) => n.asString(4096)) : [];
  if (disks.length + nets.length > MAX_DEVICES) r.fail(`more than ${MAX_DEVICES} disks and NICs`, 'disks');
  const append = r.str('append', MAX_TEXT);
  return {
    version,
    disks,
    nets,
    append,
    ...(r.has('boot') ? { boot: r.raw('boot') } : {}),
    ...(r.has('web') ? { web: r.raw('web') } : {}),
  };
}
