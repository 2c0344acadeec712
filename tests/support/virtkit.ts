/**
 * Helpers for tests that drive the public CLI: run bin/virtkit with arguments and piped input,
 * collect its output, and make sure the default guest is cached (fetched through the project's
 * own `guest fetch`, i.e. apt-get download with a private configuration).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { appendFileSync } from 'node:fs';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const VIRTKIT = fileURLToPath(new URL('../../bin/virtkit', import.meta.url));

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `virtkit ARGS` with `input` on stdin; kills it after timeoutMs. `env` adds to the environment. */
export function virtkit(
  args: string[],
  input = '',
  timeoutMs = 600_000,
  env: Record<string, string> = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [VIRTKIT, ...args], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

let fetched = false;
/** Fetches the default guest once per process (a no-op when cached). */
export function ensureGuest(): void {
  if (fetched) return;
  const r = spawnSync(process.execPath, [VIRTKIT, 'guest', 'fetch'], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`virtkit guest fetch failed (${r.status}): ${r.stderr}`);
  fetched = true;
}

/** The default guest's shell prompt (PS1 'virtkit:\\w# '). */
export const GUEST_PROMPT = /virtkit:\S*# /;
/** The kernel's boot banner: once per boot. */
export const KERNEL_BANNER = /Linux version \d/g;

/** Lines of guest output after the echo of `marker`, for commands like `echo @@; uname -m`. */
export function after(stdout: string, marker: string): string {
  const i = stdout.lastIndexOf(marker);
  return i < 0 ? '' : stdout.slice(i + marker.length);
}

/**
 * A `virtkit` process driven step by step through a pipe, for conversations a script piped up
 * front cannot have (typing after a reboot): wait for output, then send the next line.
 */
export class VirtkitSession {
  stdout = '';
  stderr = '';
  readonly result: Promise<RunResult>;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly killTimer: NodeJS.Timeout;
  private exited: RunResult | undefined;
  private waiters: Array<() => void> = [];
  private readonly logTo: string | undefined;

  /**
   * Starts `virtkit ARGS`; the whole session is killed after timeoutMs. With `logTo`, everything
   * the process prints is also appended to that file as it arrives, so a long session can be
   * watched (tail -f) and a stalled one read afterwards.
   */
  constructor(args: string[], timeoutMs = 600_000, logTo?: string) {
    this.child = spawn(process.execPath, [VIRTKIT, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.logTo = logTo;
    this.child.stdin.on('error', () => {});
    this.killTimer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const changed = () => {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    };
    this.child.stdout.on('data', (d) => {
      this.stdout += d;
      this.note(d);
      changed();
    });
    this.child.stderr.on('data', (d) => {
      this.stderr += d;
      this.note(d);
      changed();
    });
    this.result = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        clearTimeout(this.killTimer);
        this.exited = { code, signal, stdout: this.stdout, stderr: this.stderr };
        resolve(this.exited);
        changed();
      });
    });
  }

  /**
   * Waits for `pattern` in stdout at or after index `after`; returns the index just past the
   * match. Rejects with the output's tail if the process exits first.
   */
  async waitFor(pattern: RegExp, after = 0): Promise<number> {
    const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')); // no lastIndex state
    for (;;) {
      const m = re.exec(this.stdout.slice(after));
      if (m) return after + m.index + m[0].length;
      if (this.exited)
        throw new Error(
          `virtkit exited (${this.exited.code ?? this.exited.signal}) before ${pattern}\n${this.stderr}\n${this.stdout.slice(-2000)}`,
        );
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  send(text: string): void {
    this.child.stdin.write(text);
  }

  /** Appends a line to the session log (when there is one): the test's own steps among the output. */
  mark(step: string): void {
    this.note(`\n[test ${new Date().toISOString()}] ${step}\n`);
  }

  private note(text: string | Buffer): void {
    if (this.logTo) appendFileSync(this.logTo, text);
  }

  /** Sends the process a signal. */
  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Closes stdin and waits for the process to exit. */
  end(): Promise<RunResult> {
    this.child.stdin.end();
    return this.result;
  }
}
