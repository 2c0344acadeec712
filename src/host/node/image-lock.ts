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
 * Node has no fcntl(), so a perl child (perl is Essential on Debian) gets our descriptor as its
 * fd 3, fdopens that very descriptor (not /dev/fd/3, which would be a new open file description
 * and its locks would die with the child) and sets the locks on our open file description. One
 * child per opened file; none on close. Where perl is missing, the platform is not 64-bit Linux
 * or the file system refuses OFD locks, we warn once and run unlocked, as QEMU does on file
 * systems without locking.
 */
import { spawn } from 'node:child_process';
import { StorageError } from '../../storage/types.ts';

/** QEMU's BLK_PERM_* bits, in QEMU's order (the lock byte offsets depend on it). */
export const PERM_CONSISTENT_READ = 1;
export const PERM_WRITE = 2;
export const PERM_WRITE_UNCHANGED = 4;
export const PERM_RESIZE = 8;
const PERM_NAMES = ['consistent read', 'write', 'write unchanged', 'resize'];

export interface LockMode {
  /** Permissions this opener uses (bytes 100+i). */
  perms: number;
  /** Permissions this opener refuses to share with others (bytes 200+i). */
  unshared: number;
}

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

/** What one locking attempt found (the child's exit status and first output line). */
export interface LockOutcome {
  status: 'ok' | 'conflict' | 'unsupported' | 'failed';
  detail: string;
}
export type LockRunner = (fd: number, mode: LockMode) => Promise<LockOutcome>;

/** A child that takes longer is killed; the file is then used unlocked (with the warning). */
const TIMEOUT_MS = 20_000;
/** Bytes of the child's output kept: one short line is expected. */
const MAX_OUTPUT = 512;

/*
 * The child: argv = perms unshared (bit masks). Exit 0 locked, 10 conflict ("want I" / "share
 * I"), 11 OFD locks unsupported here, 12 another failure. struct flock on 64-bit Linux is
 * { short l_type; short l_whence; [pad 4] off_t l_start; off_t l_len; pid_t l_pid; [pad 4] };
 * F_OFD_GETLK 36 and F_OFD_SETLK 37 are the same on every Linux architecture; lock types come
 * from Fcntl (they differ on a few architectures).
 */
const PERL_SCRIPT = String.raw`
use strict; use Config; use Fcntl qw(F_RDLCK F_WRLCK F_UNLCK SEEK_SET);
if ($^O ne 'linux' || $Config{ptrsize} != 8) { print "unsupported platform $^O/$Config{ptrsize}\n"; exit 11; }
my ($perms, $unshared) = @ARGV;
open(my $fh, '<&=', 3) or do { print "fdopen: $!\n"; exit 12; };
sub fl { my ($type, $start) = @_; return pack('s s x4 q q i x4', $type, SEEK_SET, $start, 1, 0); }
sub bits { my ($m) = @_; return grep { $m & (1 << $_) } 0 .. 3; }
my @taken;
sub release { for my $b (@taken) { my $f = fl(F_UNLCK, $b); fcntl($fh, 37, $f); } }
sub unsup { return $!{EINVAL} || $!{ENOLCK} || $!{EOPNOTSUPP} || $!{ENOSYS} || $!{EBADF}; }
for my $b ((map { 100 + $_ } bits($perms)), (map { 200 + $_ } bits($unshared))) {
  my $f = fl(F_RDLCK, $b);
  if (!fcntl($fh, 37, $f)) {
    my $why = "$!"; my $u = unsup(); my $c = $!{EAGAIN} || $!{EACCES}; release();
    if ($u) { print "unsupported: $why\n"; exit 11; }
    if ($c) { print "conflict take $b\n"; exit 10; }
    print "setlk $b: $why\n"; exit 12;
  }
  push @taken, $b;
}
sub held { my ($b) = @_; my $f = fl(F_WRLCK, $b);
  if (!fcntl($fh, 36, $f)) { my $why = "$!"; release(); print "getlk $b: $why\n"; exit 12; }
  my ($type) = unpack('s', $f); return $type != F_UNLCK; }
for my $i (bits($perms)) { if (held(200 + $i)) { release(); print "conflict want $i\n"; exit 10; } }
for my $i (bits($unshared)) { if (held(100 + $i)) { release(); print "conflict share $i\n"; exit 10; } }
exit 0;
`;

function runPerl(fd: number, mode: LockMode): Promise<LockOutcome> {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn('perl', ['-e', PERL_SCRIPT, String(mode.perms), String(mode.unshared)], {
        stdio: ['ignore', 'pipe', 'pipe', fd],
        timeout: TIMEOUT_MS,
      });
    } catch (e) {
      resolve({ status: 'unsupported', detail: `cannot run perl: ${(e as Error).message}` });
      return;
    }
    let out = '';
    const keep = (b: Buffer) => {
      if (out.length < MAX_OUTPUT) out += b.toString('utf8', 0, Math.min(b.length, MAX_OUTPUT - out.length));
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('error', (e) => resolve({ status: 'unsupported', detail: `cannot run perl: ${e.message}` }));
    child.once('close', (code, signal) => {
      const detail = out.trim().split('\n')[0] ?? '';
      if (code === 0) resolve({ status: 'ok', detail });
      else if (code === 10) resolve({ status: 'conflict', detail });
      else if (code === 11) resolve({ status: 'unsupported', detail });
      else resolve({ status: 'failed', detail: detail || `perl ended with ${signal ?? `status ${code}`}` });
    });
  });
}

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

/**
 * Takes QEMU-compatible locks on the open file description behind `fd` (the file `name`).
 * Throws StorageError('locked') with qemu-img's wording when another opener conflicts; where
 * locking cannot work, warns once and returns (the file is used unlocked).
 */
export async function lockImageFd(fd: number, mode: LockMode, name: string, run: LockRunner = runPerl): Promise<void> {
  if (mode.perms === 0 && mode.unshared === 0) return; // qemu-img info -U: no bytes at all
  const r = await run(fd, mode);
  if (r.status === 'ok') return;
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
}
