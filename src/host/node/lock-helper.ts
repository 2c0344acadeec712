/**
 * The lock holder: one long-lived perl child per virtkit process (per thread that locks) that
 * takes and holds the OFD byte-range locks of image-lock.ts for every image this process opens.
 * Node has no fcntl(), and a perl spawn per image open cost ~9 ms (fork of a large process plus
 * perl's start-up), which doubled the cost of a small conversion; one child answering over a pipe
 * costs one round trip (~0.1 ms) per image after the first.
 *
 * The child opens our descriptor through /proc/<our pid>/fd/<fd>: the same file (inode) as ours,
 * whatever happened to its name since, but its own open file description, so the locks belong to
 * the child and last until we ask it to close that description (when the store closes) or the
 * child ends. It ends when its standard input reaches end of file, i.e. as soon as this process
 * ends, however it ends (the kernel closes our end of the pipe): a killed virtkit leaves no
 * stale locks and no stray process; a virtkit that ends normally ends it first. It never keeps
 * this process alive: the child and its pipes are unreferenced except while a request is waiting
 * for its answer.
 *
 * Protocol, one line each way: "L id fd perms unshared" answers "id ok" | "id conflict want I" |
 * "id conflict share I" | "id conflict take B" | "id unsupported: why" | "id failed: why";
 * "R id" (close that description, releasing its locks) answers "id released".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { LockMode, LockOutcome, LockRunner } from './lock-types.ts';

/** A request without an answer after this long ends the child (its locks go; the caller warns). */
const TIMEOUT_MS = 20_000;
/** Longest answer line accepted: answers are short. */
const MAX_LINE = 512;

/*
 * struct flock on 64-bit Linux is { short l_type; short l_whence; [pad 4] off_t l_start; off_t
 * l_len; pid_t l_pid; [pad 4] }; F_OFD_GETLK 36 and F_OFD_SETLK 37 are the same on every Linux
 * architecture, and so are F_RDLCK 0 / F_WRLCK 1 / F_UNLCK 2 on the ones listed in LOCKABLE_ARCHES.
 * No modules (Fcntl, Errno and Config cost perl 2-5 ms of start-up): the errno numbers come from
 * Node's os.constants on the command line. Closing a description releases all its locks, so a
 * failed attempt needs no unlocking.
 */
const PERL_SCRIPT = String.raw`
$| = 1;
my ($EAGAIN, $EACCES, $EINVAL, $ENOLCK, $EOPNOTSUPP, $ENOSYS, $EBADF) = @ARGV;
my $pp = getppid();
my %held;
sub fl { return pack('s s x4 q q i x4', $_[0], 0, $_[1], 1, 0); }
sub bits { my $m = shift; return grep { $m & (1 << $_) } 0 .. 3; }
sub unsup { my $e = shift; return $e == $EINVAL || $e == $ENOLCK || $e == $EOPNOTSUPP || $e == $ENOSYS || $e == $EBADF; }
sub lockit {
  my ($id, $fd, $perms, $unshared) = @_;
  my $fh;
  open($fh, '<', "/proc/$pp/fd/$fd") or return "failed: open /proc/$pp/fd/$fd: $!";
  for my $b ((map { 100 + $_ } bits($perms)), (map { 200 + $_ } bits($unshared))) {
    my $f = fl(0, $b);
    if (!fcntl($fh, 37, $f)) {
      my $e = $! + 0; my $why = "$!"; close($fh);
      return "unsupported: $why" if unsup($e);
      return "conflict take $b" if $e == $EAGAIN || $e == $EACCES;
      return "failed: setlk $b: $why";
    }
  }
  for my $pass ([$perms, 200, 'want'], [$unshared, 100, 'share']) {
    for my $i (bits($pass->[0])) {
      my $f = fl(1, $pass->[1] + $i);
      if (!fcntl($fh, 36, $f)) { my $why = "$!"; close($fh); return "failed: getlk: $why"; }
      if (unpack('s', $f) != 2) { close($fh); return "conflict $pass->[2] $i"; }
    }
  }
  $held{$id} = $fh;
  return 'ok';
}
while (my $line = <STDIN>) {
  my ($op, $id, @args) = split(' ', $line);
  if ($op eq 'R') { close(delete $held{$id}) if exists $held{$id}; print "$id released\n"; }
  else { print "$id ", lockit($id, @args), "\n"; }
}
`;

/** 64-bit Linux architectures whose lock-type constants and struct flock match the script. */
const LOCKABLE_ARCHES = new Set(['x64', 'arm64', 'riscv64', 'ppc64', 's390x', 'loong64']);

interface Pending {
  resolve(line: string): void;
}

/** The child and its requests; a new one is started when the previous one has ended. */
class LockHelper {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  /** Ids whose locks the child holds: if it ends, these are lost. */
  private readonly held = new Set<number>();
  private nextId = 1;
  private buffered = '';
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Set when perl cannot be run at all: every later request gets this answer at once. */
  private broken: string | undefined;
  /** Told when locks the child held were lost (it ended while holding them). */
  onLost: (text: string) => void = () => {};

  /*
   * The child would end by itself a moment after this process, but it should not outlive it even
   * by that moment (a caller timing or supervising virtkit sees a process left behind). When the
   * process is about to end naturally and no lock is held, the child is told to end and waited
   * for; on process.exit() (or with locks held) it is killed as the process exits.
   */
  private readonly beforeExit = (): void => {
    const c = this.child;
    if (!c || this.held.size > 0 || this.pending.size > 0) return;
    // Let go of it first: should anything lock again after all, a new child serves it.
    this.child = undefined;
    process.off('beforeExit', this.beforeExit);
    process.off('exit', this.atExit);
    c.stdin!.end();
    c.ref(); // the loop now waits for its exit, and the process then ends
  };
  private readonly atExit = (): void => {
    this.child?.kill('SIGKILL');
  };

  async lock(fd: number, mode: LockMode): Promise<LockOutcome & { release?: () => Promise<void> }> {
    if (this.broken) return { status: 'unsupported', detail: this.broken };
    const id = this.nextId++;
    const answer = await this.request(id, `L ${id} ${fd} ${mode.perms} ${mode.unshared}`);
    const m = /^(ok|conflict|unsupported|failed):? ?(.*)$/.exec(answer);
    const status = (m?.[1] ?? 'failed') as LockOutcome['status'];
    const detail = m?.[1] === 'conflict' ? `conflict ${m[2]}` : (m?.[2] ?? answer);
    if (status !== 'ok') return { status, detail };
    this.held.add(id);
    const child = this.child;
    let released = false;
    return {
      status,
      detail,
      release: async () => {
        if (released) return;
        released = true;
        // A child that has ended since took the locks with it (and said so).
        if (!this.held.delete(id) || this.child !== child) return;
        await this.request(id, `R ${id}`);
      },
    };
  }

  private request(id: number, line: string): Promise<string> {
    const child = this.child ?? this.start();
    if (!child) return Promise.resolve(`unsupported: ${this.broken}`);
    return new Promise((resolve) => {
      this.pending.set(id, { resolve });
      this.keepAlive(true);
      child.stdin!.write(`${line}\n`);
    });
  }

  private start(): ChildProcess | undefined {
    if (process.platform !== 'linux' || !LOCKABLE_ARCHES.has(process.arch)) {
      this.broken = `no OFD locks on ${process.platform}/${process.arch}`;
      return undefined;
    }
    const e = constants.errno;
    const args = [e.EAGAIN, e.EACCES, e.EINVAL, e.ENOLCK, e.EOPNOTSUPP, e.ENOSYS, e.EBADF].map(String);
    let child: ChildProcess;
    try {
      child = spawn('perl', ['-e', PERL_SCRIPT, ...args], { stdio: ['pipe', 'pipe', 'ignore'] });
    } catch (err) {
      this.broken = `cannot run perl: ${(err as Error).message}`;
      return undefined;
    }
    this.child = child;
    this.buffered = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => this.onData(child, s));
    // Writes to a child that has just ended fail with EPIPE; its exit answers the requests.
    child.stdin!.on('error', () => {});
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'EACCES') this.broken = `cannot run perl: ${err.message}`;
      this.ended(child, `cannot run perl: ${err.message}`);
    });
    child.once('exit', (code, signal) => this.ended(child, `the lock helper ended with ${signal ?? `status ${code}`}`));
    process.on('beforeExit', this.beforeExit);
    process.on('exit', this.atExit);
    this.keepAlive(false);
    return child;
  }

  private onData(child: ChildProcess, s: string): void {
    this.buffered += s;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const sp = line.indexOf(' ');
      const id = Number(line.slice(0, sp));
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      p.resolve(line.slice(sp + 1));
    }
    if (this.buffered.length > MAX_LINE) child.kill('SIGKILL');
    this.keepAlive(this.pending.size > 0);
  }

  private ended(child: ChildProcess, why: string): void {
    if (this.child !== child) return;
    this.child = undefined;
    process.off('beforeExit', this.beforeExit);
    process.off('exit', this.atExit);
    if (this.held.size > 0) this.onLost(`${why}; the locks on ${this.held.size} open image(s) were released early`);
    this.held.clear();
    const waiting = [...this.pending.values()];
    this.pending.clear();
    this.keepAlive(false);
    for (const p of waiting) p.resolve(this.broken ? `unsupported: ${this.broken}` : `failed: ${why}`);
  }

  /**
   * Referenced only while an answer is awaited, so a pending lock keeps the process alive to
   * hear it, and an idle helper never does. The timer bounds the wait.
   */
  private keepAlive(waiting: boolean): void {
    const c = this.child;
    if (waiting && c) {
      c.ref();
      (c.stdout as { ref?: () => void } | null)?.ref?.();
      // Re-armed on every request and answer: it fires only after TIMEOUT_MS of silence.
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => c.kill('SIGKILL'), TIMEOUT_MS);
    } else {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      if (c) {
        c.unref();
        (c.stdout as { unref?: () => void } | null)?.unref?.();
        (c.stdin as { unref?: () => void } | null)?.unref?.();
      }
    }
  }
}

let helper: LockHelper | undefined;

/** The LockRunner of this process: the shared child, started on first use. */
export function helperRunner(onLost: (text: string) => void): LockRunner {
  return (fd, mode) => {
    helper ??= new LockHelper();
    helper.onLost = onLost;
    return helper.lock(fd, mode);
  };
}
