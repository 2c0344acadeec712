/**
 * The daemon's state directory (docs/manager.md): where it is, its layout, the pid file that
 * keeps a second daemon off the same directory, and the bearer token for TCP clients.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { describeError } from '../host/node/errno-words.ts';

/** $XDG_DATA_HOME/virtkit, else ~/.local/share/virtkit. */
export function defaultStateDir(): string {
  const xdg = process.env.XDG_DATA_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.local', 'share'), 'virtkit');
}

/** A problem with the state directory the user must fix (one line, exit status 1 from the CLI). */
export class StateDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateDirError';
  }
}

export class StateDir {
  readonly root: string;
  constructor(root: string) {
    this.root = resolve(root);
  }
  get db(): string {
    return join(this.root, 'virtkit.db');
  }
  get socket(): string {
    return join(this.root, 'virtkit.sock');
  }
  get tokenFile(): string {
    return join(this.root, 'token');
  }
  get pidFile(): string {
    return join(this.root, 'daemon.pid');
  }
  get vmsDir(): string {
    return join(this.root, 'vms');
  }
  /** templates/<name>/: a template's read-only disks. */
  templateDir(name: string): string {
    return join(this.root, 'templates', name);
  }
  vmDir(id: string): string {
    return join(this.vmsDir, id);
  }

  /** Creates the directory (mode 0700: it holds the token and every VM's sockets) and vms/. */
  prepare(): void {
    try {
      mkdirSync(this.vmsDir, { recursive: true, mode: 0o700 });
      chmodSync(this.root, 0o700);
    } catch (e) {
      throw new StateDirError(`cannot use state directory ${this.root}: ${describeError(e)}`);
    }
    // Unix socket paths must fit in sun_path (108 bytes): vms/<id>/console.sock is the longest.
    const longest = join(this.vmDir('0123456789ab'), 'console.sock');
    if (Buffer.byteLength(longest) > 107)
      throw new StateDirError(
        `state directory ${this.root} is too deep: VM socket paths would exceed the 107 bytes a unix socket path may have`,
      );
  }

  /**
   * Takes the pid file, or throws when a live daemon holds it. A pid file left by a daemon that
   * died (kill -9) names a dead process, or a live one that is not a virtkit daemon (the pid was
   * reused): either way it is taken over.
   */
  acquirePid(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(this.pidFile, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
          throw new StateDirError(`cannot write ${this.pidFile}: ${describeError(e)}`);
      }
      const pid = Number(readFileOr(this.pidFile, '').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isVirtkitDaemon(pid))
        throw new StateDirError(
          `another virtkit daemon (pid ${pid}) is using ${this.root}; stop it first or give another --state-dir`,
        );
      try {
        unlinkSync(this.pidFile);
      } catch {
        // another starter removed it first: the next attempt decides
      }
    }
    throw new StateDirError(`another virtkit daemon is starting on ${this.root}`);
  }

  /** Removes the pid file if it is still ours. */
  releasePid(): void {
    if (Number(readFileOr(this.pidFile, '').trim()) === process.pid) {
      try {
        unlinkSync(this.pidFile);
      } catch {
        // gone already
      }
    }
  }

  /** The bearer token for TCP clients: created on first use (32 random bytes, hex), mode 0600. */
  token(): string {
    const existing = readFileOr(this.tokenFile, '').trim();
    if (/^[0-9a-f]{64}$/.test(existing)) return existing;
    const token = randomBytes(32).toString('hex');
    writeFileSync(this.tokenFile, `${token}\n`, { mode: 0o600 });
    chmodSync(this.tokenFile, 0o600);
    return token;
  }
}

function readFileOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** The process's arguments from /proc (Linux), or undefined when it is gone or unreadable. */
export function processArgs(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!raw) return undefined; // a zombie has an empty command line
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/** True when pid is a live process (signal 0 reaches it; EPERM means it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return processArgs(pid) !== undefined || !isLinux();
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const isLinux = () => process.platform === 'linux';

function isVirtkitDaemon(pid: number): boolean {
  if (!pidAlive(pid)) return false;
  const args = processArgs(pid);
  if (!args) return !isLinux(); // no /proc: trust the pid file
  return args.some((a) => /virtkit|main\.(ts|js)$/.test(a)) && args.includes('daemon');
}
