/**
 * Differential test of the FPU against real RISC-V semantics: testdata/fpref.c is compiled with
 * the Debian cross compiler and run under qemu-riscv64 (user mode), which executes each vector's
 * instruction word and reports the destination registers and fflags. Every F/D operation, both
 * precisions, every rounding mode (static and dynamic, plus reserved ones), seeded and
 * deterministic. Needs the Debian packages qemu-user and gcc-riscv64-linux-gnu.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executeFp } from './execute.ts';
import type { FpContext } from './context.ts';
import { allOps, VectorGen, type Vector } from './testdata/vectors.ts';
import { buildReference, hex32, runReference } from './testdata/testing.ts';

const PER_OP = Number(process.env.FPU_DIFF_PER_OP ?? 700);

function runOurs(v: Vector): string {
  const ctx: FpContext = { x: new Int32Array(64), f: new Int32Array(64), frm: v.frm, fflags: 0 };
  for (let i = 0; i < 3; i++) {
    ctx.f[2 * (i + 1) + 1] = v.src[2 * i];
    ctx.f[2 * (i + 1)] = v.src[2 * i + 1];
  }
  ctx.x[11] = v.src[6];
  ctx.x[10] = v.src[7];
  ctx.f[9] = 0x5a5a5a5a;
  ctx.f[8] = 0x5a5a5a5a;
  ctx.x[15] = 0xa5a5a5a5 | 0;
  ctx.x[14] = 0xa5a5a5a5 | 0;
  if (!executeFp(ctx, v.insn)) return 'ILL';
  return `${hex32(ctx.f[9])}${hex32(ctx.f[8])} ${hex32(ctx.x[15])}${hex32(ctx.x[14])} ${ctx.fflags.toString(16)}`;
}

function describe(v: Vector): string {
  const s = v.src;
  return `${v.name} insn=${hex32(v.insn)} rm=${(v.insn >>> 12) & 7} frm=${v.frm} f1=${hex32(s[0])}${hex32(s[1])} f2=${hex32(s[2])}${hex32(s[3])} f3=${hex32(s[4])}${hex32(s[5])} x5=${hex32(s[6])}${hex32(s[7])}`;
}

test('FPU matches qemu-riscv64 on seeded vectors for every F/D operation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-fpu-'));
  try {
    const exe = buildReference(dir);
    const gen = new VectorGen(20240611);
    const vectors: Vector[] = [];
    for (const op of allOps()) for (let i = 0; i < PER_OP; i++) vectors.push(gen.vector(op));
    const expected = runReference(exe, vectors);
    const failures: string[] = [];
    const perOp = new Map<string, number>();
    for (let i = 0; i < vectors.length; i++) {
      const got = runOurs(vectors[i]);
      if (got !== expected[i]) {
        perOp.set(vectors[i].name, (perOp.get(vectors[i].name) ?? 0) + 1);
        if (failures.length < 25) failures.push(`${describe(vectors[i])}\n    qemu: ${expected[i]}\n    ours: ${got}`);
      }
    }
    assert.equal(
      failures.length,
      0,
      `${[...perOp].map(([k, n]) => `${k}:${n}`).join(' ')} mismatches of ${vectors.length}\n${failures.join('\n')}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
