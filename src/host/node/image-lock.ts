/**
 * Image locking compatible with QEMU's, so virtkit, qemu-system-* and qemu-img respect each
 * other's open images. The scheme (QEMU's file-posix driver, checked by tracing qemu 7.2):
 * open-file-description (OFD) byte-range locks, all of them shared (F_RDLCK), on the image file
 * itself (and on every file of its chain and extents):
 *
 *   byte 100 + i   held while this opener USES permission i
 *   byte 200 + i   held while this opener REFUSES TO SHARE permission i
 *
 * with i = 0 consistent read, 1 write, 2 write unchanged, 3 resize. An opener first takes its
 * bytes, then tests for conflicts with F_OFD_GETLK (which ignores its own locks): someone else
 * holding 200+i for a permission it wants ("Failed to get "write" lock"), or 100+i for one it
 * refuses ("Failed to get shared "write" lock"). Two openers racing both see the conflict, so
 * the race fails safe. OFD locks belong to the open file description, so they are released when
 * the last descriptor of it closes: closing the store releases them.
 *
 * Node has no fcntl(), so the locks are taken and held by one long-lived perl child (perl is
 * Essential on Debian) serving every image of this process: lock-helper.ts. The locks then belong
 * to the child's own open file description of the same file, which it closes when the store
 * closes, and which goes when this process ends. Where perl is missing, the platform is not 64-bit
 * Linux or the file system refuses OFD locks, we warn once and run unlocked, as QEMU does on file
 * systems without locking.
 */
import { StorageError } from '../../storage/types.ts';
import { helperRunner } from './lock-helper.ts';
import type { LockMode, LockRunner } from './lock-types.ts';

/** QEMU's BLK_PERM_* bits, in QEMU's order (the lock byte offsets depend on it). */
export const PERM_CONSISTENT_READ = 1;
export const PERM_WRITE = 2;
export const PERM_WRITE_UNCHANGED = 4;
export const PERM_RESIZE = 8;
const PERM_NAMES = ['consistent read', 'write', 'write unchanged', 'resize'];


/**
 * What QEMU takes for the usual openers (strace of qemu-img 7.2 and qemu-system-riscv64):
 * - writable (qemu-img commit/snapshot -c/resize/rebase, a read-write -drive): uses consistent
 *   read, write and resize; refuses to share write and resize.
 * - read-only (qemu-img check/convert source/snapshot -l, backing files, readonly=on -drive):
 *   uses consistent read; refuses to share write and resize.
 * - read-only with force-share (-U): uses consistent read, refuses nothing.
 */
export function lockModeFor(readOnly: boolean, forceShare = false): LockMode {
  if (!readOnly) {
    if (forceShare) throw new StorageError('unsupported', 'force-share=on can only be used with read-only images');
    return { perms: PERM_CONSISTENT_READ | PERM_WRITE | PERM_RESIZE, unshared: PERM_WRITE | PERM_RESIZE };
  }
  return { perms: PERM_CONSISTENT_READ, unshared: forceShare ? 0 : PERM_WRITE | PERM_RESIZE };
}

export type { LockMode, LockOutcome, LockRunner } from './lock-types.ts';

let warned = false;
const stderrWarning = (text: string): void => {
  process.stderr.write(`virtkit: warning: ${text}\n`);
};
let lockWarning = stderrWarning;
/** Where the one warning goes (tests replace it; undefined restores stderr), and warn again. */
export function setLockWarning(fn: ((text: string) => void) | undefined): void {
  lockWarning = fn ?? stderrWarning;
  warned = false;
}

const lost = (text: string): void => lockWarning(`image locks lost: ${text}`);

/**
 * Takes QEMU-compatible locks on the file open as `fd` (the file `name`), held until the returned
 * function is called (when the store closes). Throws StorageError('locked') with qemu-img's
 * wording when another opener conflicts; where locking cannot work, warns once and returns
 * undefined (the file is used unlocked).
 */
export async function lockImageFd(
  fd: number,
  mode: LockMode,
  name: string,
  run: LockRunner = helperRunner(lost),
): Promise<(() => Promise<void>) | undefined> {
  if (mode.perms === 0 && mode.unshared === 0) return undefined; // qemu-img info -U: no bytes at all
  const r = await run(fd, mode);
  if (r.status === 'ok') return r.release;
  if (r.status === 'conflict') {
    const m = /^conflict (want|share|take) (\d+)/.exec(r.detail);
    const bit = m ? Number(m[2]) % 100 : 1;
    const shared = m?.[1] === 'share' ? 'shared ' : '';
    throw new StorageError(
      'locked',
      `Failed to get ${shared}"${PERM_NAMES[bit] ?? 'write'}" lock\nIs another process using the image [${name}]?`,
    );
  }
  if (!warned) {
    warned = true;
    lockWarning(`image locking is unavailable (${r.detail}); '${name}' and other images are used without locks`);
  }
  return undefined;
}
