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
import { ROOT, VIRTKIT } from './virtkit.ts';

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

/** The Debian login prompt on the serial console (systemd's serial getty). */
export const LOGIN_PROMPT = /login: $/m;
/** root's shell prompt in the Debian system. */
export const ROOT_PROMPT = /root@[\w-]+:[^\n#]*# $/m;
