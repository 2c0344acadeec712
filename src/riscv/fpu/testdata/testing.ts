/**
 * The qemu-riscv64 reference of the FPU differential tests (Node-only test support, hence the
 * name: tsconfig.core.json leaves testing.ts files out): builds testdata/fpref.c with the
 * Debian cross compiler and runs vectors through it (one output line per vector: "f4 x7 fflags"
 * in hexadecimal, or "ILL"). Fails, never skips, when the tools are missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Vector } from './vectors.ts';

const SOURCE = fileURLToPath(new URL('./fpref.c', import.meta.url));

export function hex32(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0');
}

/** Compiles fpref.c into dir; returns the executable's path. */
export function buildReference(dir: string): string {
  for (const tool of ['riscv64-linux-gnu-gcc', 'qemu-riscv64']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      assert.fail(
        `${tool} is not available: install the Debian packages gcc-riscv64-linux-gnu and qemu-user ` +
          `(apt-get install -y gcc-riscv64-linux-gnu qemu-user) to run the FPU differential test`,
      );
    }
  }
  const exe = join(dir, 'fpref');
  const cc = spawnSync('riscv64-linux-gnu-gcc', ['-O1', '-static', '-o', exe, SOURCE], { encoding: 'utf8' });
  assert.equal(cc.status, 0, `compiling ${SOURCE} failed:\n${cc.stderr}`);
  return exe;
}

/** The reference's output line per vector (qemuArgs: e.g. ['-cpu', 'rv64,Zfh=true']). */
export function runReference(exe: string, vectors: Vector[], qemuArgs: string[] = []): string[] {
  const input = vectors
    .map((v) => {
      const s = v.src;
      return `${v.insn.toString(16)} ${v.frm} ${hex32(s[0]!)}${hex32(s[1]!)} ${hex32(s[2]!)}${hex32(s[3]!)} ${hex32(s[4]!)}${hex32(s[5]!)} ${hex32(s[6]!)}${hex32(s[7]!)}`;
    })
    .join('\n');
  const r = spawnSync('qemu-riscv64', [...qemuArgs, exe], {
    input: input + '\n',
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  assert.equal(r.status, 0, `qemu-riscv64 failed: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, vectors.length, 'reference output has one line per vector');
  return lines;
}
