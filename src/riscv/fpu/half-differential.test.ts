/**
 * Differential test of half precision (Zfh, Zfhmin) against qemu-riscv64 with `-cpu rv64,Zfh=true`:
 * the same reference program as the F/D test (testdata/fpref.c executes each vector's instruction
 * word), vectors from testdata/half-vectors.ts. Needs qemu-user and gcc-riscv64-linux-gnu; fails
 * (never skips) without them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { executeFp } from './execute.ts';
import type { FpContext } from './context.ts';
import { HalfVectorGen, halfOps } from './testdata/half-vectors.ts';
import type { Vector } from './testdata/vectors.ts';

const SOURCE = fileURLToPath(new URL('./testdata/fpref.c', import.meta.url));
const PER_OP = Number(process.env.FPU_DIFF_PER_OP ?? 1500);

function hex32(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0');
}

function runOurs(v: Vector): string {
  const ctx: FpContext = { x: new Int32Array(64), f: new Int32Array(64), frm: v.frm, fflags: 0 };
  for (let i = 0; i < 3; i++) {
    ctx.f[2 * (i + 1) + 1] = v.src[2 * i]!;
    ctx.f[2 * (i + 1)] = v.src[2 * i + 1]!;
  }
  ctx.x[11] = v.src[6]!;
  ctx.x[10] = v.src[7]!;
  ctx.f[9] = 0x5a5a5a5a;
  ctx.f[8] = 0x5a5a5a5a;
  ctx.x[15] = 0xa5a5a5a5 | 0;
  ctx.x[14] = 0xa5a5a5a5 | 0;
  if (!executeFp(ctx, v.insn)) return 'ILL';
  return `${hex32(ctx.f[9]!)}${hex32(ctx.f[8]!)} ${hex32(ctx.x[15]!)}${hex32(ctx.x[14]!)} ${ctx.fflags.toString(16)}`;
}

test('half precision (Zfh) matches qemu-riscv64 on seeded vectors for every operation', () => {
  for (const tool of ['riscv64-linux-gnu-gcc', 'qemu-riscv64']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0)
      assert.fail(`${tool} is not available: install gcc-riscv64-linux-gnu and qemu-user to run this test`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-fpu-h-'));
  try {
    const exe = join(dir, 'fpref');
    const cc = spawnSync('riscv64-linux-gnu-gcc', ['-O1', '-static', '-o', exe, SOURCE], { encoding: 'utf8' });
    assert.equal(cc.status, 0, `compiling ${SOURCE} failed:\n${cc.stderr}`);
    const gen = new HalfVectorGen(20261207);
    const vectors: Vector[] = [];
    for (const op of halfOps()) for (let i = 0; i < PER_OP; i++) vectors.push(gen.vector(op));
    const input = vectors
      .map((v) => {
        const s = v.src;
        return `${v.insn.toString(16)} ${v.frm} ${hex32(s[0]!)}${hex32(s[1]!)} ${hex32(s[2]!)}${hex32(s[3]!)} ${hex32(s[4]!)}${hex32(s[5]!)} ${hex32(s[6]!)}${hex32(s[7]!)}`;
      })
      .join('\n');
    const r = spawnSync('qemu-riscv64', ['-cpu', 'rv64,Zfh=true', exe], {
      input: input + '\n',
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    assert.equal(r.status, 0, `qemu-riscv64 failed: ${r.stderr}`);
    const expected = r.stdout.trim().split('\n');
    assert.equal(expected.length, vectors.length);
    const failures: string[] = [];
    const perOp = new Map<string, number>();
    for (let i = 0; i < vectors.length; i++) {
      const v = vectors[i]!;
      const got = runOurs(v);
      if (got !== expected[i]) {
        perOp.set(v.name, (perOp.get(v.name) ?? 0) + 1);
        const s = v.src;
        if (failures.length < 25)
          failures.push(
            `${v.name} insn=${hex32(v.insn)} frm=${v.frm} f1=${hex32(s[0]!)}${hex32(s[1]!)} f2=${hex32(s[2]!)}${hex32(s[3]!)} f3=${hex32(s[4]!)}${hex32(s[5]!)} x5=${hex32(s[6]!)}${hex32(s[7]!)}\n    qemu: ${expected[i]}\n    ours: ${got}`,
          );
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
