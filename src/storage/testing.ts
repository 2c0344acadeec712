/**
 * Test support shared by the formats' differential tests against qemu-img (vhd/, vmdk/, ...):
 * a scratch directory, running the qemu tools, a recognisable test pattern, whole-disk reads.
 * Node-only (it runs qemu): imported by *.test.ts files, never by the platform-neutral core.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { BlockBackend } from './types.ts';

/** A fresh temporary directory, removed when the test file's tests are done. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs a tool (qemu-img, qemu-io) and returns its stdout; a failure throws with its stderr. */
export function run(tool: string, ...args: string[]): string {
  return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** qemu-img info's virtual size of an image. */
export function qemuVirtualSize(path: string, fmt: string): number {
  return JSON.parse(run('qemu-img', 'info', '-f', fmt, '--output=json', path))['virtual-size'] as number;
}

export interface PatternOptions {
  /** Seed of the random-looking bytes. */
  seed: number;
  /** Per 4 KiB block: this many bytes of the block number, then `random` random-looking bytes. */
  counter: number;
  random: number;
  /** A range [start, end) of zeros (whole blocks or grains of the format, to test holes). */
  zeros: [number, number];
}

/** A recognisable pattern: per-4K counters, a random-looking run, and a zero hole. */
export function patternBytes(size: number, o: PatternOptions): Uint8Array {
  const b = new Uint8Array(size);
  let x = o.seed;
  for (let i = 0; i < size; i += 4096) {
    b.fill((i >> 12) & 0xff, i, Math.min(size, i + o.counter));
    for (let k = i + o.counter; k < Math.min(size, i + o.counter + o.random); k++) {
      x = (x * 1103515245 + 12345) >>> 0;
      b[k] = x >>> 24;
    }
  }
  b.fill(0, o.zeros[0], o.zeros[1]);
  return b;
}

/** The whole disk, read a MiB at a time. */
export async function readAll(b: BlockBackend): Promise<Uint8Array> {
  const out = new Uint8Array(b.size);
  for (let off = 0; off < b.size; off += 1 << 20)
    await b.read(off, out.subarray(off, Math.min(b.size, off + (1 << 20))));
  return out;
}
