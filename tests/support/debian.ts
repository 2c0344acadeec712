/**
 * The Debian system guest for tests and benchmarks: built once with `virtkit guest fetch debian`
 * into a cache of its own (so the test knows its passwords and SSH key, and a user's own build
 * in the default cache is never replaced), then reused by every test file and bench that needs it.
 *
 * The test cache borrows the default cache's downloaded packages and default guest by hard link
 * (no second download). Its location: $VIRTKIT_TEST_DEBIAN_CACHE, else ~/.cache/virtkit-debian-test.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, linkSync, copyFileSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import assert from 'node:assert/strict';
import { ROOT, VIRTKIT, type VirtkitSession } from './virtkit.ts';

export const TEST_ROOT_PASSWORD = 'virtkit-test-root';
export const TEST_USER = 'tester';
export const TEST_USER_PASSWORD = 'virtkit-test-user';

export interface TestDebian {
  cache: string;
  /** The read-only base image. */
  base: string;
  /** Private key whose public half is in root's and the user's authorized_keys. */
  key: string;
  env: Record<string, string>;
}

function defaultCache(): string {
  if (process.env.VIRTKIT_CACHE) return process.env.VIRTKIT_CACHE;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg ? xdg : join(homedir(), '.cache'), 'virtkit');
}

/** Hard-links (or copies) every file of `from` into `to` that `to` lacks. */
function seed(from: string, to: string): void {
  if (!existsSync(from)) return;
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    if (existsSync(dst) || !statSync(src).isFile()) continue;
    try {
      linkSync(src, dst);
    } catch {
      copyFileSync(src, dst);
    }
  }
}

/** Builds the test's Debian system if its cache lacks it (tens of minutes the first time). */
export function ensureTestDebian(): TestDebian {
  const cache = process.env.VIRTKIT_TEST_DEBIAN_CACHE ?? join(homedir(), '.cache', 'virtkit-debian-test');
  const env = { VIRTKIT_CACHE: cache };
  mkdirSync(cache, { recursive: true });
  const from = defaultCache();
  seed(join(from, 'debs'), join(cache, 'debs'));
  seed(join(from, 'guests', 'debian-trixie-riscv64'), join(cache, 'guests', 'debian-trixie-riscv64'));
  const key = join(cache, 'test-key');
  if (!existsSync(key)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'virtkit-test', '-f', key]);
  const r = spawnSync(
    process.execPath,
    [
      VIRTKIT,
      'guest',
      'fetch',
      'debian',
      '--user',
      TEST_USER,
      '--password',
      TEST_USER_PASSWORD,
      '--root-password',
      TEST_ROOT_PASSWORD,
      '--ssh-key',
      `${key}.pub`,
    ],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 90 * 60_000,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  if (r.status !== 0) throw new Error(`virtkit guest fetch debian failed (${r.status ?? r.signal}): ${r.stdout}`);
  const info = JSON.parse(readFileSync(join(cache, 'guests', 'debian-trixie-riscv64-system', 'system.json'), 'utf8'));
  const base = join(cache, 'guests', 'debian-trixie-riscv64-system', 'base.qcow2');
  if (info.user !== TEST_USER) throw new Error(`the test cache ${cache} holds a Debian system built for another user`);
  return { cache, base, key, env };
}

/** A TCP port free on 127.0.0.1 right now (for hostfwd). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The Debian login prompt on the serial console: systemd's serial getty on ttyS0 prints a banner
 * naming the line, then the prompt. The getty on the virtio console (hvc0) prints its own banner
 * and prompt on the same output at about the same time, and under load the two interleave
 * ("... ttyS0", "... hvc0", "login: ", "login: "), so anything may come between the banner and
 * the prompt.
 */
export const SERIAL_LOGIN = /ttyS0[\s\S]*? login: /;
/** root's shell prompt in the Debian system. */
export const ROOT_PROMPT = /root@[\w-]+:[^\n#]*# $/m;

/** waitFor with a bound: the index past the match, or -1 after `ms` without one. */
export async function waitWithin(s: VirtkitSession, pattern: RegExp, from: number, ms: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<number>((resolve) => (timer = setTimeout(() => resolve(-1), ms)));
  try {
    return await Promise.race([s.waitFor(pattern, from), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * waitFor with a bound that fails the test when it passes: the error names what was awaited and
 * shows the console's tail, so a stalled step reports where it stalled instead of hanging.
 */
export async function expectWithin(s: VirtkitSession, pattern: RegExp, from: number, ms: number): Promise<number> {
  const at = await waitWithin(s, pattern, from, ms);
  if (at < 0)
    throw new Error(`no ${pattern} within ${ms / 1000} s; the console's last 3000 characters:\n${s.stdout.slice(-3000)}`);
  return at;
}

/**
 * Logs in as root on the serial console; returns the index past the shell prompt. systemd also
 * starts a getty on the virtio console (hvc0), whose prompt shows on the same output but takes
 * no input, so this waits for ttyS0's own prompt; and agetty flushes input that arrived before
 * it opened the line, so a login name that got no "Password:" is typed again.
 */
export async function loginRoot(s: VirtkitSession, from: number, ms = 20 * 60_000): Promise<number> {
  let at = await expectWithin(s, SERIAL_LOGIN, from, ms);
  for (let attempt = 0; ; attempt++) {
    s.send('root\n');
    const pw = await waitWithin(s, /Password: $/m, at, 120_000);
    if (pw >= 0) {
      at = pw;
      break;
    }
    assert.ok(attempt < 5, `no Password: prompt after typing root ${attempt + 1} times:\n${s.stdout.slice(-2000)}`);
  }
  s.send(`${TEST_ROOT_PASSWORD}\n`);
  return expectWithin(s, ROOT_PROMPT, at, 5 * 60_000);
}
