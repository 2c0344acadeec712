import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asm, li64, load, machine, poke64, RAM_BASE } from '../test-support.ts';
import type { Tier } from '../tier.ts';

/** OP-FP R-type word: funct5, fmt (0 S, 1 D), rm/funct3. */
function fop(funct5: number, fmt: number, rd: number, rs1: number, rs2: number, rm: number): number {
  return (((funct5 << 2) | fmt) << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | 0x53;
}
function fmadd(fmt: number, rd: number, rs1: number, rs2: number, rs3: number, rm: number): number {
  return (rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | 0x43;
}
const DYN = 7;
const DATA = RAM_BASE + 0x8000;
const ITER = 3000;

/**
 * A loop of F and D instructions whose values drift (f1 += 0.1 each iteration), so exact and
 * inexact results, NX first clear then raised, integer conversions, singles and FP loads and
 * stores all occur. frm is set first (rounding-mode dependent ops use the dynamic mode).
 */
function fpLoop(frm: number): number[] {
  return [
    asm.lui(5, 6),
    asm.csrrs(0, 0x300, 5), // mstatus.FS = Dirty
    asm.addi(5, 0, frm),
    asm.csrrw(0, 0x002, 5), // frm
    ...li64(10, DATA | 0, 0),
    ...li64(9, ITER, 0),
    asm.fld(1, 10, 0),
    asm.fld(2, 10, 8),
    asm.fld(15, 10, 32),
    fop(0x1a, 0, 11, 0, 0, 0), // fcvt.s.w f11, x0: a NaN-boxed 0.0f
    // loop:
    fop(0x00, 1, 3, 1, 2, DYN), // fadd.d f3 = f1 + f2
    fop(0x02, 1, 4, 3, 1, DYN), // fmul.d f4 = f3 * f1
    fop(0x03, 1, 5, 4, 2, DYN), // fdiv.d f5 = f4 / f2
    fop(0x0b, 1, 6, 5, 0, DYN), // fsqrt.d f6 = sqrt(f5)
    fmadd(1, 7, 1, 2, 7, DYN), // fmadd.d f7 += f1 * f2
    fop(0x01, 1, 8, 7, 3, 0), // fsub.d f8 = f7 - f3 (static RNE)
    fop(0x18, 1, 12, 3, 0, 1), // fcvt.w.d x12, f3, rtz
    asm.add(13, 13, 12),
    fop(0x1a, 1, 9, 13, 2, DYN), // fcvt.d.l f9, x13
    fop(0x08, 0, 10, 7, 1, DYN), // fcvt.s.d f10, f7
    fop(0x00, 0, 11, 11, 10, DYN), // fadd.s f11 += f10
    fop(0x02, 0, 12, 10, 10, DYN), // fmul.s f12 = f10 * f10
    fmadd(0, 13, 10, 10, 11, DYN), // fmadd.s f13 = f10 * f10 + f11
    fop(0x04, 1, 14, 8, 8, 1), // fsgnjn.d f14 = -f8
    fop(0x14, 1, 14, 1, 2, 1), // flt.d x14, f1, f2
    asm.add(15, 15, 14),
    fop(0x05, 1, 16, 1, 2, 0), // fmin.d f16
    fop(0x1c, 1, 17, 6, 0, 0), // fmv.x.d x17, f6
    asm.xor(16, 16, 17),
    asm.fsd(7, 10, 16),
    asm.fsw(11, 10, 24),
    asm.fld(17, 10, 16),
    fop(0x00, 1, 1, 1, 15, DYN), // fadd.d f1 += 0.1
    asm.addi(9, 9, -1),
    asm.bne(9, 0, -4 * 27),
    asm.ebreak(),
  ];
}

function run(tier: Tier, frm: number) {
  const m = machine();
  m.hart.tier = tier;
  if (tier !== 'interp') m.hart.jitThreshold = 0;
  poke64(m.bus, DATA, 0, 0x3ff80000); // 1.5
  poke64(m.bus, DATA + 8, 0, 0x40020000); // 2.25
  poke64(m.bus, DATA + 32, 0x9999999a, 0x3fb99999); // 0.1
  load(m.bus, RAM_BASE, fpLoop(frm));
  let n = 0;
  while (m.hart.mcauseLo !== 3 && n < 200_000) n += Math.max(1, m.hart.run(10_000));
  assert.equal(m.hart.mcauseLo, 3, `${tier}: reached the ebreak`);
  return m;
}

for (const frm of [0, 1]) {
  test(`F/D code ${frm === 0 ? 'runs translated by the wasm tier' : 'with frm = RTZ hands dynamic-rm ops back'} and matches the interpreter (frm ${frm})`, () => {
    const ref = run('interp', frm);
    const m = run('wasm', frm);
    assert.deepEqual(Array.from(m.hart.f), Array.from(ref.hart.f), 'f registers');
    for (let r = 1; r < 32; r++) assert.equal(m.hart.readReg(r), ref.hart.readReg(r), `x${r}`);
    assert.equal(m.hart.fflags, ref.hart.fflags, 'fflags');
    assert.equal(ref.hart.fflags, 1, 'NX only');
    for (let i = 0; i < 8; i++)
      assert.equal(m.bus.ramI32[(DATA - RAM_BASE) / 4 + i], ref.bus.ramI32[(DATA - RAM_BASE) / 4 + i]);
    assert.equal(m.hart.instret, ref.hart.instret);
    const share = m.hart.jitRan / m.hart.instret;
    if (frm === 0) {
      // Every instruction of the loop, FP included, ran in translated code (a hand-back is
      // counted by the interpreter, not in jitRan).
      assert.ok(share > 0.99, `translated share ${share}`);
    } else {
      // The 9 dynamic-rm instructions that round are the interpreter's under RTZ.
      assert.ok(share > 0.5 && share < 0.8, `translated share ${share}`);
    }
  });
}

test('translated FP code traps when mstatus.FS is Off and dirties FS from Initial', () => {
  for (const fs of [0, 1]) {
    const m = machine();
    m.hart.tier = 'wasm';
    m.hart.jitThreshold = 0;
    load(m.bus, RAM_BASE, [
      asm.lui(5, fs << 1), // FS = Initial (0x2000) or Off
      asm.csrrs(0, 0x300, 5),
      asm.addi(6, 0, 3),
      fop(0x1e, 1, 1, 6, 0, 0), // fmv.d.x f1, x6
      fop(0x1a, 1, 2, 6, 0, DYN), // fcvt.d.w f2, x6
      asm.ebreak(),
    ]);
    m.hart.run(100);
    if (fs === 0) {
      assert.equal(m.hart.mcauseLo, 2, 'illegal instruction');
      assert.equal(m.hart.mepcLo, (RAM_BASE + 12) | 0);
    } else {
      assert.equal(m.hart.mcauseLo, 3, 'reached the ebreak');
      assert.equal(m.hart.mstatus & 0x6000, 0x6000, 'FS Dirty');
      assert.equal(m.hart.f[2], 3);
      assert.equal(m.hart.f[5], 0x40080000, 'f2 = 3.0');
    }
  }
});

test('each arithmetic fast path raises NX exactly when the result is inexact, translated', () => {
  const ops: [string, (d: number, a: number, b: number) => number][] = [
    ['fadd', (d, a, b) => fop(0x00, 0, d, a, b, DYN)],
    ['fsub', (d, a, b) => fop(0x01, 0, d, a, b, 0)],
    ['fmul', (d, a, b) => fop(0x02, 0, d, a, b, DYN)],
    ['fdiv', (d, a, b) => fop(0x03, 0, d, a, b, DYN)],
    ['fsqrt', (d, a) => fop(0x0b, 0, d, a, 0, DYN)],
    ['fmadd', (d, a, b) => fmadd(0, d, a, b, b, DYN)],
  ];
  // [f1, f2]: exact results for every op above (2.25 and 0.75), then inexact ones (0.1 and 3).
  const cases: [number, number, number, number, number][] = [
    [0, 0x40020000, 0, 0x3fe80000, 0],
    [0x9999999a, 0x3fb99999, 0, 0x40080000, 1],
  ];
  for (const [name, enc] of ops) {
    for (const dbl of [true, false]) {
      for (const [l1, h1, l2, h2, nx] of cases) {
        const words = (w: number) => [
          asm.lui(5, 6),
          asm.csrrs(0, 0x300, 5),
          ...li64(10, DATA | 0, 0),
          asm.fld(1, 10, 0),
          asm.fld(2, 10, 8),
          fop(0x08, 0, 3, 1, 1, 0), // fcvt.s.d f3, f1 (0.1 rounds: NX, cleared below)
          fop(0x08, 0, 4, 2, 1, 0), // fcvt.s.d f4, f2
          asm.csrrw(0, 0x001, 0),
          asm.addi(9, 0, 50),
          w,
          asm.addi(9, 9, -1),
          asm.bne(9, 0, -8),
          asm.ebreak(),
        ];
        const insn = dbl ? enc(5, 1, 2) | (1 << 25) : enc(5, 3, 4);
        const got = (['interp', 'wasm'] as Tier[]).map((tier) => {
          const m = machine();
          m.hart.tier = tier;
          if (tier !== 'interp') m.hart.jitThreshold = 0;
          poke64(m.bus, DATA, l1, h1);
          poke64(m.bus, DATA + 8, l2, h2);
          load(m.bus, RAM_BASE, words(insn));
          m.hart.run(1000);
          assert.equal(m.hart.mcauseLo, 3, `${name} ${tier}: reached the ebreak`);
          return { fflags: m.hart.fflags, f5: [m.hart.f[10], m.hart.f[11]], share: m.hart.jitRan / m.hart.instret };
        });
        const what = `${name}.${dbl ? 'd' : 's'} ${nx ? 'inexact' : 'exact'}`;
        assert.equal(got[0]!.fflags, nx, `${what}: interpreter fflags`);
        assert.equal(got[1]!.fflags, nx, `${what}: wasm fflags`);
        assert.deepEqual(got[1]!.f5, got[0]!.f5, `${what}: result`);
        assert.ok(got[1]!.share > 0.8, `${what}: translated share ${got[1]!.share}`);
      }
    }
  }
});

test('fused multiply-add rounds once (the round-to-odd step decides exact-midpoint cases), translated', () => {
  // a*b = 2^-53 (1 + ε) with a tiny error pl (sign of ε) beyond the 2^-53 tie of c + 2^-53:
  // rounding th + tl + pl in two steps would land on the tie and round to even, the wrong way.
  const cases: { a: [number, number]; b: [number, number]; c: [number, number]; z: [number, number] }[] = [
    // (1 + 2^-52)(1 - 2^-53) 2^-53 + 1 = 1 + 2^-53 + (2^-106 - 2^-158): up to 1 + 2^-52
    { a: [1, 0x3ca00000], b: [-1, 0x3fefffff], c: [0, 0x3ff00000], z: [1, 0x3ff00000] },
    // (1 + 2^-52)(1 - 2^-52) 2^-53 + (1 + 2^-52) = 1 + 2^-52 + 2^-53 - 2^-157: down to 1 + 2^-52
    { a: [1, 0x3ca00000], b: [-2, 0x3fefffff], c: [1, 0x3ff00000], z: [1, 0x3ff00000] },
    // the same product + 1 = 1 + 2^-53 - 2^-157: tl + pl rounds up to 2^-53 (away from the exact
    // value), round-to-odd steps back below; down to 1
    { a: [1, 0x3ca00000], b: [-2, 0x3fefffff], c: [0, 0x3ff00000], z: [0, 0x3ff00000] },
  ];
  for (const [i, k] of cases.entries()) {
    for (const negate of [false, true]) {
      // fmadd.d f5 = f1*f2 + f3, or fnmadd.d f5 = -(f1*f2) - f3 (the negated result)
      const insn = (3 << 27) | (1 << 25) | (2 << 20) | (1 << 15) | (DYN << 12) | (5 << 7) | (negate ? 0x4f : 0x43);
      for (const tier of ['interp', 'wasm'] as Tier[]) {
        const m = machine();
        m.hart.tier = tier;
        if (tier !== 'interp') m.hart.jitThreshold = 0;
        poke64(m.bus, DATA, k.a[0], k.a[1]);
        poke64(m.bus, DATA + 8, k.b[0], k.b[1]);
        poke64(m.bus, DATA + 16, k.c[0], k.c[1]);
        load(m.bus, RAM_BASE, [
          asm.lui(5, 6),
          asm.csrrs(0, 0x300, 5),
          ...li64(10, DATA | 0, 0),
          asm.fld(1, 10, 0),
          asm.fld(2, 10, 8),
          asm.fld(3, 10, 16),
          asm.addi(9, 0, 50),
          insn | 0,
          asm.addi(9, 9, -1),
          asm.bne(9, 0, -8),
          asm.ebreak(),
        ]);
        m.hart.run(1000);
        const what = `case ${i}${negate ? ' negated' : ''} ${tier}`;
        assert.equal(m.hart.mcauseLo, 3, `${what}: reached the ebreak`);
        assert.equal(m.hart.f[10], k.z[0], `${what}: low word`);
        assert.equal(m.hart.f[11], negate ? k.z[1] | 0x80000000 : k.z[1], `${what}: high word`);
        assert.equal(m.hart.fflags, 1, `${what}: NX`);
        if (tier === 'wasm') assert.ok(m.hart.jitRan / m.hart.instret > 0.8, `${what}: translated`);
      }
    }
  }
});
