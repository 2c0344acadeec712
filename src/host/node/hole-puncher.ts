/**
 * Punching holes in a host file from Node, which has no fallocate(): util-linux's `fallocate
 * --punch-hole --keep-size` (essential on Debian) run as a child process. The child gets our
 * descriptor as its fd 3 and opens /dev/fd/3, so it acts on the file we have open even if the
 * path was renamed or replaced meanwhile.
 *
 * A process per range is costly, so requests queue: at most MAX_RUNNING children per file, and a
 * queued range that overlaps or touches another merges with it (a guest fstrim sends runs of
 * neighbouring ranges). The queue holds at most MAX_QUEUED ranges; past that, and once the host
 * has failed a punch (no fallocate, a file system without holes), requests answer false at once
 * and the caller falls back (discard: nothing; write-zeroes: read and write).
 */
import { spawn } from 'node:child_process';

/** Children punching one file at once: a guest cannot fork the host without bound. */
const MAX_RUNNING = 2;
/** Ranges waiting per file (the virtio queue bounds them too; this is the store's own bound). */
const MAX_QUEUED = 256;
/** A child that takes longer is killed and the punch counts as failed. */
const TIMEOUT_MS = 60_000;

interface Pending {
  start: number;
  end: number;
  done: Array<(ok: boolean) => void>;
}

export class HolePuncher {
  private readonly queue: Pending[] = [];
  private running = 0;
  /** False after the first failure, or from the start where the method cannot work. */
  private usable = process.platform === 'linux';

  /** `run` replaces the child process in tests. */
  constructor(
    private readonly fd: number,
    private readonly run: (offset: number, length: number) => Promise<boolean> = (o, l) => this.runOne(o, l),
  ) {}

  /** Resolves true once [offset, offset+length) is a hole, false if it could not be punched. */
  punch(offset: number, length: number): Promise<boolean> {
    if (!this.usable) return Promise.resolve(false);
    if (length <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      let p: Pending = { start: offset, end: offset + length, done: [resolve] };
      // Merge with every queued range it overlaps or touches (the merged range may touch more).
      for (let i = 0; i < this.queue.length; ) {
        const q = this.queue[i]!;
        if (q.start <= p.end && p.start <= q.end) {
          p = { start: Math.min(p.start, q.start), end: Math.max(p.end, q.end), done: q.done.concat(p.done) };
          this.queue.splice(i, 1);
          i = 0;
        } else i++;
      }
      if (this.queue.length >= MAX_QUEUED) {
        for (const d of p.done) d(false);
        return;
      }
      this.queue.push(p);
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < MAX_RUNNING && this.queue.length > 0) {
      const p = this.queue.shift()!;
      this.running++;
      void this.run(p.start, p.end - p.start).then((ok) => {
        this.running--;
        if (!ok) this.usable = false;
        for (const d of p.done) d(ok);
        if (!this.usable) this.failQueued();
        else this.pump();
      });
    }
  }

  private failQueued(): void {
    for (const p of this.queue.splice(0)) for (const d of p.done) d(false);
  }

  private runOne(offset: number, length: number): Promise<boolean> {
    return new Promise((resolve) => {
      const args = ['--punch-hole', '--keep-size', '--offset', String(offset), '--length', String(length), '/dev/fd/3'];
      let child;
      try {
        child = spawn('fallocate', args, { stdio: ['ignore', 'ignore', 'ignore', this.fd], timeout: TIMEOUT_MS });
      } catch {
        resolve(false);
        return;
      }
      child.once('error', () => resolve(false)); // no such program, or it could not start
      child.once('close', (code) => resolve(code === 0));
    });
  }
}
