/**
 * Test harness for the manager: a real `virtkit daemon` process on a temporary state directory,
 * and HTTP over its unix socket. Every daemon and VM process a test starts is killed in after().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/virtkit', import.meta.url));

export interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

export function httpRequest(
  target: { socketPath: string } | { host: string; port: number },
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request(
      {
        ...target,
        method,
        path,
        headers: { ...(data !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

export class TestDaemon {
  proc: ChildProcess | undefined;
  log = '';
  readonly root: string;
  readonly stateDir: string;

  constructor(root?: string) {
    this.root = root ?? mkdtempSync(join(tmpdir(), 'vkd-'));
    this.stateDir = join(this.root, 's');
  }

  get socket(): string {
    return join(this.stateDir, 'virtkit.sock');
  }

  async start(extra: string[] = []): Promise<void> {
    this.log = ''; // a restart must wait for its own 'listening' line
    const proc = spawn(process.execPath, [BIN, 'daemon', '--state-dir', this.stateDir, ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    proc.stdout!.on('data', (c: Buffer) => (this.log += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (this.log += c.toString()));
    const deadline = Date.now() + 60_000;
    while (!/listening on .*virtkit\.sock/.test(this.log)) {
      if (proc.exitCode !== null) throw new Error(`daemon exited ${proc.exitCode}: ${this.log}`);
      if (Date.now() > deadline) throw new Error(`daemon did not start: ${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    if (extra.includes('--listen'))
      while (!/listening on http/.test(this.log)) await new Promise((r) => setTimeout(r, 50));
  }

  req(method: string, path: string, body?: unknown): Promise<Answer> {
    return httpRequest({ socketPath: this.socket }, method, path, body);
  }

  token(): string {
    return readFileSync(join(this.stateDir, 'token'), 'utf8').trim();
  }

  /** SIGTERM (or `signal`) and wait for the exit; resolves to the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
    const done = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill(signal);
    return done;
  }

  /** Kills every VM process recorded under the state dir, then the daemon, then removes the dir. */
  async cleanup(): Promise<void> {
    await this.stop('SIGKILL');
    for (const pid of vmPids(this.stateDir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** pids in STATE/vms/<id>/vm.pid that are still alive. */
export function vmPids(stateDir: string): number[] {
  const out: number[] = [];
  const vms = join(stateDir, 'vms');
  if (!existsSync(vms)) return out;
  for (const id of readdirSync(vms)) {
    try {
      const pid = Number(readFileSync(join(vms, id, 'vm.pid'), 'utf8').trim());
      if (pid > 0) out.push(pid);
    } catch {
      // no pid file
    }
  }
  return out;
}

/** The guest shell asks for the cursor position (ESC[6n) after its prompt; nobody answers here. */
const stripQueries = (s: string) => s.split('\u001b[6n').join('');

export async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 240_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Opens a typing console on VM `name` of daemon `d`, waits for the shell prompt (a silent
 * console gets an Enter), types `cmd` and waits until what follows matches `answer`.
 */
export async function guestShell(d: TestDaemon, name: string, cmd: string, answer: RegExp): Promise<string> {
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(`ws+unix://${d.socket}:/v1/vms/${name}/console?mode=type`);
  let text = '';
  ws.on('message', (m: Buffer) => (text += stripQueries(m.toString('latin1'))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  try {
    ws.send(Buffer.from('\n'));
    await until('a shell prompt', () => /# $/m.test(text));
    const mark = text.length;
    ws.send(Buffer.from(`${cmd}\n`));
    await until(`${answer}`, () => answer.test(text.slice(mark)));
    return text.slice(mark);
  } finally {
    ws.close();
  }
}
