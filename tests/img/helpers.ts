/**
 * Shared by the img differential tests: scratch directories, running qemu-img/qemu-io, running
 * `virtkit img` in-process (no tsx start-up per call) with its output captured, and file hashes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImg } from '../../src/cli/img.ts';
import { CliError } from '../../src/cli/errors.ts';
import { formats } from '../../src/storage/registry.ts';
import { nodeImgContext } from '../../src/host/node/img-host.ts';

export function scratch(prefix = 'virtkit-img-'): { dir: string; path(name: string): string; done(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, path: (n) => join(dir, n), done: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

export function qemuImg(...args: string[]): Result {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** qemu-img that must succeed; returns stdout. */
export function qemu(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8' });
}

export function qemuJson(...args: string[]): unknown {
  return JSON.parse(qemu(...args));
}

/** Writes a pattern with qemu-io: e.g. io(file, 'qcow2', 'write -P 0x11 0 64k'). */
export function qemuIo(file: string, format: string, ...cmds: string[]): void {
  execFileSync('qemu-io', ['-f', format, ...cmds.flatMap((c) => ['-c', c]), file], { encoding: 'utf8' });
}

/** Runs `virtkit img ARGS` in this process, capturing stdout/stderr and the exit status. */
export async function virtkit(...args: string[]): Promise<Result> {
  let stdout = '';
  let stderr = '';
  let status: number;
  try {
    status = await runImg(args, {
      ctx: nodeImgContext(),
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
    });
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    stderr += `virtkit img: ${e.message}\n`;
    status = e.exitCode;
  }
  return { status, stdout, stderr };
}

/** The whole CLI as a child process (for exit statuses through bin/virtkit). */
export function virtkitProcess(...args: string[]): Result {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, '../../bin/virtkit'), 'img', ...args], {
    encoding: 'utf8',
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Formats both virtkit (registered, creatable) and this qemu-img support. */
export function creatableFormats(): string[] {
  return formats.filter((f) => typeof f.create === 'function').map((f) => f.name);
}

/** Bytes qemu-img map reports as data for an image. */
export function qemuDataBytes(file: string): number {
  const map = qemuJson('map', '--output=json', file) as { length: number; data: boolean }[];
  return map.filter((e) => e.data).reduce((n, e) => n + e.length, 0);
}
