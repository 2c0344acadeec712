/**
 * Helpers for tests that drive the public CLI: run bin/virtkit with arguments and piped input,
 * collect its output, and make sure the default guest is cached (fetched through the project's
 * own `guest fetch`, i.e. apt-get download with a private configuration).
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const VIRTKIT = fileURLToPath(new URL('../../bin/virtkit', import.meta.url));

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `virtkit ARGS` with `input` on stdin; kills it after timeoutMs. */
export function virtkit(args: string[], input = '', timeoutMs = 600_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [VIRTKIT, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
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

/** Lines of guest output after the echo of `marker`, for commands like `echo @@; uname -m`. */
export function after(stdout: string, marker: string): string {
  const i = stdout.lastIndexOf(marker);
  return i < 0 ? '' : stdout.slice(i + marker.length);
}
