/**
 * Hand-picked corner cases for the FPU, with expected values worked out from IEEE 754 and the
 * RISC-V F/D chapter (the differential test against qemu covers the random bulk).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { executeFp } from './execute.ts';
import type { FpContext } from './context.ts';

const NV = 16;
const DZ = 8;
const OF = 4;
const UF = 2;
const NX = 1;
const [RNE, RTZ, RDN, RUP, RMM, DYN] = [0, 1, 2, 3, 4, 7];
const S = 0;
const D = 1;

const F64 = new Float64Array(1);
const I32 = new Int32Array(F64.buffer);
const F32 = new Float32Array(1);
const U32 = new Int32Array(F32.buffer);

function newCtx(frm = 0): FpContext {
  return { x: new Int32Array(64), f: new Int32Array(64), frm, fflags: 0 };
}
function putD(c: FpContext, r: number, v: number): void {
  F64[0] = v;
  c.f[2 * r] = I32[0];
  c.f[2 * r + 1] = I32[1];
}
function putDBits(c: FpContext, r: number, hi: number, lo: number): void {
  c.f[2 * r] = lo;
  c.f[2 * r + 1] = hi;
}
function putS(c: FpContext, r: number, v: number): void {
  F32[0] = v;
  putSBits(c, r, U32[0]);
}
function putSBits(c: FpContext, r: number, bits: number): void {
  c.f[2 * r] = bits;
  c.f[2 * r + 1] = -1;
}
function getD(c: FpContext, r: number): number {
  I32[0] = c.f[2 * r];
  I32[1] = c.f[2 * r + 1];
  return F64[0];
}
function getDBits(c: FpContext, r: number): string {
  return (c.f[2 * r + 1] >>> 0).toString(16).padStart(8, '0') + (c.f[2 * r] >>> 0).toString(16).padStart(8, '0');
}
function getSBits(c: FpContext, r: number): number {
  assert.equal(c.f[2 * r + 1], -1, 'single results are NaN-boxed');
  return c.f[2 * r] >>> 0;
}
function getS(c: FpContext, r: number): number {
  U32[0] = getSBits(c, r);
  return F32[0];
}
function getX(c: FpContext, r: number): bigint {
  return (BigInt(c.x[2 * r + 1]) << 32n) | BigInt(c.x[2 * r] >>> 0);
}
function putX(c: FpContext, r: number, v: bigint): void {
  c.x[2 * r] = Number(BigInt.asIntN(32, v));
  c.x[2 * r + 1] = Number(BigInt.asIntN(32, v >> 32n));
}

/** R-type OP-FP encoding. */
function op(funct5: number, fmt: number, rs2: number, rs1: number, rm: number, rd: number): number {
  return ((funct5 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | 0x53) >>> 0;
}
function fmaOp(opcode: number, fmt: number, rs3: number, rs2: number, rs1: number, rm: number, rd: number): number {
  return ((rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | opcode) >>> 0;
}
const FADD = 0x00;
const FSUB = 0x01;
const FMUL = 0x02;
const FDIV = 0x03;
const FSGNJ = 0x04;
const FMINMAX = 0x05;
const FCVT_FF = 0x08;
const FSQRT = 0x0b;
const FCMP = 0x14;
const FCVT_IF = 0x18; // float -> int
const FCVT_FI = 0x1a; // int -> float
const FMVX = 0x1c;
const FMVF = 0x1e;

/** Runs a binary double op on (a, b) in mode rm; returns [result, flags]. */
function binD(funct5: number, a: number, b: number, rm: number): [number, number] {
  const c = newCtx();
  putD(c, 1, a);
  putD(c, 2, b);
  assert.ok(executeFp(c, op(funct5, D, funct5 === FSQRT ? 0 : 2, 1, rm, 3)));
  return [getD(c, 3), c.fflags];
}
function binS(funct5: number, a: number, b: number, rm: number): [number, number] {
  const c = newCtx();
  putS(c, 1, a);
  putS(c, 2, b);
  assert.ok(executeFp(c, op(funct5, S, funct5 === FSQRT ? 0 : 2, 1, rm, 3)));
  return [getS(c, 3), c.fflags];
}

test('fadd.d rounds a halfway sum in every mode', () => {
  const half = 2 ** -53; // half an ulp of 1
  assert.deepEqual(binD(FADD, 1, half, RNE), [1, NX]);
  assert.deepEqual(binD(FADD, 1, half, RTZ), [1, NX]);
  assert.deepEqual(binD(FADD, 1, half, RDN), [1, NX]);
  assert.deepEqual(binD(FADD, 1, half, RUP), [1 + 2 ** -52, NX]);
  assert.deepEqual(binD(FADD, 1, half, RMM), [1 + 2 ** -52, NX]);
  // Odd neighbour: ties to even goes up.
  assert.deepEqual(binD(FADD, 1 + 2 ** -52, half, RNE), [1 + 2 ** -51, NX]);
  // Just below a power of two: the result lives in the finer binade below.
  assert.deepEqual(binD(FSUB, 1, 2 ** -80, RTZ), [1 - 2 ** -53, NX]);
  assert.deepEqual(binD(FSUB, 1, 2 ** -80, RNE), [1, NX]);
  assert.deepEqual(binD(FADD, -1, -half, RMM), [-(1 + 2 ** -52), NX]);
  assert.deepEqual(binD(FADD, -1, -half, RDN), [-(1 + 2 ** -52), NX]);
  assert.deepEqual(binD(FADD, 3, 4, RNE), [7, 0]);
});

test('exact zero sums are +0, or -0 when rounding down', () => {
  for (const rm of [RNE, RTZ, RUP, RMM]) assert.ok(Object.is(binD(FSUB, 5, 5, rm)[0], 0));
  assert.ok(Object.is(binD(FSUB, 5, 5, RDN)[0], -0));
  assert.ok(Object.is(binD(FADD, -0, 0, RDN)[0], -0));
  assert.ok(Object.is(binD(FADD, -0, 0, RNE)[0], 0));
  assert.ok(Object.is(binD(FADD, -0, -0, RUP)[0], -0));
  assert.ok(Object.is(binS(FSUB, 1.5, 1.5, RDN)[0], -0));
});

test('overflow gives infinity or the largest finite value depending on mode and sign', () => {
  const max = Number.MAX_VALUE;
  assert.deepEqual(binD(FMUL, max, 2, RNE), [Infinity, OF | NX]);
  assert.deepEqual(binD(FMUL, max, 2, RMM), [Infinity, OF | NX]);
  assert.deepEqual(binD(FMUL, max, 2, RUP), [Infinity, OF | NX]);
  assert.deepEqual(binD(FMUL, max, 2, RTZ), [max, OF | NX]);
  assert.deepEqual(binD(FMUL, max, 2, RDN), [max, OF | NX]);
  assert.deepEqual(binD(FMUL, -max, 2, RDN), [-Infinity, OF | NX]);
  assert.deepEqual(binD(FMUL, -max, 2, RUP), [-max, OF | NX]);
  const maxS = 3.4028234663852886e38;
  assert.deepEqual(binS(FADD, maxS, maxS, RTZ), [maxS, OF | NX]);
  assert.deepEqual(binS(FADD, maxS, maxS, RNE), [Infinity, OF | NX]);
  // Within half an ulp above the largest single: rounds back down, no overflow.
  assert.deepEqual(binS(FADD, maxS, 2 ** 102, RNE), [maxS, NX]);
  assert.deepEqual(binS(FADD, maxS, 2 ** 103, RNE), [Infinity, OF | NX]);
});

test('underflow: tininess is detected after rounding', () => {
  const minN = 2 ** -126;
  // (2^-126 (1 + 2^-13)) * (1 - 2^-13) = 2^-126 (1 - 2^-26): rounds to the smallest normal even
  // with an unbounded exponent, so it is not tiny: NX only.
  assert.deepEqual(binS(FMUL, minN * (1 + 2 ** -13), 1 - 2 ** -13, RNE), [minN, NX]);
  // In RTZ the same product is tiny (largest subnormal).
  assert.deepEqual(binS(FMUL, minN * (1 + 2 ** -13), 1 - 2 ** -13, RTZ), [minN - 2 ** -149, UF | NX]);
  // 2^-126 (1 - 2^-24) is a 24-bit value below 2^-126: tiny, and inexact as a subnormal (it is a
  // tie that rounds up to the smallest normal).
  assert.deepEqual(binS(FMUL, minN, 1 - 2 ** -24, RNE), [minN, UF | NX]);
  // Exact subnormal results raise nothing.
  assert.deepEqual(binS(FMUL, minN, 0.5, RNE), [2 ** -127, 0]);
  assert.deepEqual(binD(FMUL, 2 ** -1022, 0.25, RNE), [2 ** -1024, 0]);
  // Double: 2^-1022 (1 - 2^-53) is tiny; it rounds to 2^-1022.
  assert.deepEqual(binD(FMUL, 2 ** -1022, 1 - 2 ** -53, RNE), [2 ** -1022, UF | NX]);
  assert.deepEqual(binD(FMUL, 2 ** -1074, 0.5, RNE), [0, UF | NX]);
  assert.deepEqual(binD(FMUL, 2 ** -1074, 0.5, RUP), [2 ** -1074, UF | NX]);
  assert.deepEqual(binD(FMUL, 2 ** -1074, 0.75, RNE), [2 ** -1074, UF | NX]);
});

test('division and square root: special cases and directed rounding', () => {
  assert.deepEqual(binD(FDIV, 1, 0, RNE), [Infinity, DZ]);
  assert.deepEqual(binD(FDIV, -1, 0, RNE), [-Infinity, DZ]);
  assert.deepEqual(binD(FDIV, Infinity, 0, RNE), [Infinity, 0]);
  const c = newCtx();
  putD(c, 1, 0);
  putD(c, 2, 0);
  assert.ok(executeFp(c, op(FDIV, D, 2, 1, RNE, 3)));
  assert.equal(getDBits(c, 3), '7ff8000000000000');
  assert.equal(c.fflags, NV);
  assert.deepEqual(binD(FDIV, 1, 3, RNE), [1 / 3, NX]);
  assert.deepEqual(binD(FDIV, 1, 3, RUP), [1 / 3 + 2 ** -54, NX]);
  assert.deepEqual(binD(FDIV, 1, 3, RTZ), [1 / 3, NX]);
  // RN(2/3) is below 2/3 (the next bits are 0101...).
  assert.deepEqual(binD(FDIV, 2, 3, RUP), [2 / 3 + 2 ** -53, NX]);
  assert.deepEqual(binD(FDIV, 2, 3, RDN), [2 / 3, NX]);
  assert.deepEqual(binD(FDIV, -2, 3, RDN), [-2 / 3 - 2 ** -53, NX]);
  // (1 - 2^-53) / (1 + 2^-52) = 1 - 3 * 2^-53 + about 2^-105.
  assert.deepEqual(binD(FDIV, 1 - 2 ** -53, 1 + 2 ** -52, RTZ), [1 - 3 * 2 ** -53, NX]);
  assert.deepEqual(binD(FDIV, 1 - 2 ** -53, 1 + 2 ** -52, RUP), [1 - 2 ** -52, NX]);
  // In single, RN(1/3) is above 1/3 (the 25th bit is 1).
  assert.deepEqual(binS(FDIV, 1, 3, RUP), [Math.fround(1 / 3), NX]);
  assert.deepEqual(binS(FDIV, 1, 3, RDN), [Math.fround(1 / 3) - 2 ** -25, NX]);
  // Square root.
  const s = newCtx();
  putD(s, 1, -1);
  assert.ok(executeFp(s, op(FSQRT, D, 0, 1, RNE, 3)));
  assert.equal(getDBits(s, 3), '7ff8000000000000');
  assert.equal(s.fflags, NV);
  assert.deepEqual(binD(FSQRT, -0, 0, RNE)[0], -0);
  assert.deepEqual(binD(FSQRT, 2, 0, RNE), [Math.SQRT2, NX]);
  // RN(sqrt 2) is above sqrt 2 in double and below it in single.
  assert.deepEqual(binD(FSQRT, 2, 0, RUP), [Math.SQRT2, NX]);
  assert.deepEqual(binD(FSQRT, 2, 0, RDN), [Math.SQRT2 - 2 ** -52, NX]);
  assert.deepEqual(binD(FSQRT, 2 ** -1074, 0, RNE), [2 ** -537, 0]);
  assert.deepEqual(binS(FSQRT, 2, 0, RUP), [Math.fround(Math.SQRT2) + 2 ** -23, NX]);
  assert.deepEqual(binS(FSQRT, 2, 0, RDN), [Math.fround(Math.SQRT2), NX]);
  assert.deepEqual(binS(FSQRT, 0.25, 0, RDN), [0.5, 0]);
});

test('fused multiply-add rounds once and follows the RISC-V invalid rules', () => {
  const run = (opcode: number, a: number, b: number, cc: number, rm: number): [number, number] => {
    const c = newCtx();
    putD(c, 1, a);
    putD(c, 2, b);
    putD(c, 3, cc);
    assert.ok(executeFp(c, fmaOp(opcode, D, 3, 2, 1, rm, 4)));
    return [getD(c, 4), c.fflags];
  };
  // (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104 exactly; a separate multiply would round it to 0.
  assert.deepEqual(run(0x47, 1 + 2 ** -52, 1 - 2 ** -52, 1, RNE), [-(2 ** -104), 0]);
  // (1 + 2^-52)^2 - 1 = 2^-51 (1 + 2^-53): a tie, to even in RNE, away in RMM.
  assert.deepEqual(run(0x43, 1 + 2 ** -52, 1 + 2 ** -52, -1, RNE), [2 ** -51, NX]);
  assert.deepEqual(run(0x43, 1 + 2 ** -52, 1 + 2 ** -52, -1, RMM), [2 ** -51 + 2 ** -103, NX]);
  // fnmadd = -(a*b) - c; fnmsub = -(a*b) + c.
  assert.deepEqual(run(0x4f, 2, 3, 1, RNE), [-7, 0]);
  assert.deepEqual(run(0x4b, 2, 3, 1, RNE), [-5, 0]);
  // (1 + 2^-52)^2 + 2^-200 in RUP: exact 1 + 2^-51 + 2^-104 + tiny -> next up.
  assert.deepEqual(run(0x43, 1 + 2 ** -52, 1 + 2 ** -52, 2 ** -200, RUP), [1 + 2 ** -51 + 2 ** -52, NX]);
  assert.deepEqual(run(0x43, 1 + 2 ** -52, 1 + 2 ** -52, 2 ** -200, RTZ), [1 + 2 ** -51, NX]);
  // A tiny product below a large addend acts as a sticky bit.
  assert.deepEqual(run(0x43, 2 ** -600, 2 ** -600, 1, RUP), [1 + 2 ** -52, NX]);
  assert.deepEqual(run(0x43, -(2 ** -600), 2 ** -600, 1, RDN), [1 - 2 ** -53, NX]);
  assert.deepEqual(run(0x43, -(2 ** -600), 2 ** -600, 1, RNE), [1, NX]);
  // (1 + 2^-52)^2 + 4 = 5 + 2^-51 + 2^-104: just above a tie, so RNE rounds up. Rounding the
  // low part (2^-51 + 2^-104) to nearest first would land exactly on the tie and round down.
  assert.deepEqual(run(0x43, 1 + 2 ** -52, 1 + 2 ** -52, 4, RNE), [5 + 2 ** -50, NX]);
  assert.deepEqual(run(0x43, 1 + 2 ** -52, -(1 + 2 ** -52), -4, RNE), [-(5 + 2 ** -50), NX]);
  // Exact cancellation.
  assert.ok(Object.is(run(0x43, 2, 3, -6, RNE)[0], 0));
  assert.ok(Object.is(run(0x43, 2, 3, -6, RDN)[0], -0));
  // inf * 0 + qNaN is invalid (NV) in RISC-V; the result is the canonical NaN.
  const c = newCtx();
  putD(c, 1, Infinity);
  putD(c, 2, 0);
  putDBits(c, 3, 0x7ff80000, 1);
  assert.ok(executeFp(c, fmaOp(0x43, D, 3, 2, 1, RNE, 4)));
  assert.equal(getDBits(c, 4), '7ff8000000000000');
  assert.equal(c.fflags, NV);
  // inf - inf.
  assert.deepEqual(run(0x43, Infinity, 1, -Infinity, RNE)[1], NV);
  // qNaN addend alone: no flag.
  const q = newCtx();
  putD(q, 1, 1);
  putD(q, 2, 1);
  putDBits(q, 3, 0x7ff80000, 1);
  assert.ok(executeFp(q, fmaOp(0x43, D, 3, 2, 1, RNE, 4)));
  assert.equal(q.fflags, 0);
  // Single: product exact in a double, sum halfway between two singles in the double result.
  const s = newCtx();
  putS(s, 1, 1 + 2 ** -23);
  putS(s, 2, 1 + 2 ** -23);
  putS(s, 3, 2 ** -60);
  // (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46; plus 2^-60: RNE -> 1 + 2^-22, RUP -> 1 + 2^-22 + 2^-23.
  assert.ok(executeFp(s, fmaOp(0x43, S, 3, 2, 1, RUP, 4)));
  assert.equal(getS(s, 4), 1 + 2 ** -22 + 2 ** -23);
  assert.equal(s.fflags, NX);
  const t = newCtx();
  putS(t, 1, 1 + 2 ** -12);
  putS(t, 2, 2 ** -12);
  putS(t, 3, 1);
  assert.ok(executeFp(t, fmaOp(0x43, S, 3, 2, 1, RNE, 4)));
  // (1 + 2^-12) 2^-12 + 1 = 1 + 2^-12 + 2^-24: 2^-24 is the tie bit, ties to even keeps 1 + 2^-12.
  assert.equal(getS(t, 4), 1 + 2 ** -12);
  const u = newCtx();
  putS(u, 1, 2 ** -12);
  putS(u, 2, 2 ** -12 + 2 ** -35);
  putS(u, 3, 1);
  // 2^-24 + 2^-47 + 1: above the tie by 2^-47 -> rounds up to 1 + 2^-23. The double sum alone
  // (1 + 2^-24 + 2^-47) is not a tie here, but 1 + 2^-24 + 2^-80 would round to the tie in a
  // double: the next case covers that double-rounding trap.
  assert.ok(executeFp(u, fmaOp(0x43, S, 3, 2, 1, RNE, 4)));
  assert.equal(getS(u, 4), 1 + 2 ** -23);
  assert.equal(u.fflags, NX);
  // 2^-24 (1 + 2^-23) * (1 + 2^-23)... use a = 2^-12 (1 + 2^-23), b = 2^-12 (1 - 2^-23):
  // a*b = 2^-24 (1 - 2^-46) = 2^-24 - 2^-70; plus 1: the double sum rounds to the tie 1 + 2^-24
  // (the 2^-70 is lost), but the exact value is below the tie, so RNE must give 1.
  const w = newCtx();
  putS(w, 1, 2 ** -12 * (1 + 2 ** -23));
  putS(w, 2, 2 ** -12 * (1 - 2 ** -23));
  putS(w, 3, 1 + 2 ** -22);
  assert.ok(executeFp(w, fmaOp(0x43, S, 3, 2, 1, RNE, 4)));
  // exact: 1 + 2^-22 + 2^-24 - 2^-70: below the tie between 1 + 2^-22 and 1 + 2^-22 + 2^-23.
  assert.equal(getS(w, 4), 1 + 2 ** -22);
  assert.equal(w.fflags, NX);
  putS(w, 2, 2 ** -12 * (1 + 2 ** -23)); // now 2^-24 + 2^-46 + 2^-70: above the tie
  assert.ok(executeFp(w, fmaOp(0x43, S, 3, 2, 1, RNE, 4)));
  assert.equal(getS(w, 4), 1 + 2 ** -22 + 2 ** -23);
});

test('fmin/fmax treat -0 < +0, return the non-NaN operand and signal on sNaN', () => {
  assert.ok(Object.is(binD(FMINMAX, 0, -0, 0)[0], -0));
  assert.ok(Object.is(binD(FMINMAX, -0, 0, 1)[0], 0));
  assert.deepEqual(binD(FMINMAX, NaN, 3, 0), [3, 0]);
  assert.deepEqual(binD(FMINMAX, 3, NaN, 1), [3, 0]);
  const c = newCtx();
  putDBits(c, 1, 0x7ff00000, 5); // sNaN
  putD(c, 2, -2);
  assert.ok(executeFp(c, op(FMINMAX, D, 2, 1, 1, 3)));
  assert.equal(getD(c, 3), -2);
  assert.equal(c.fflags, NV);
  const n = newCtx();
  putDBits(n, 1, 0x7ff80000, 5);
  putDBits(n, 2, 0xfff80000 | 0, 7);
  assert.ok(executeFp(n, op(FMINMAX, D, 2, 1, 0, 3)));
  assert.equal(getDBits(n, 3), '7ff8000000000000');
  assert.equal(n.fflags, 0);
});

test('comparisons: feq is quiet, flt/fle signal on any NaN; rd = x0 is never written', () => {
  const cmp = (rm: number, a: number, b: number, bHiBits?: number): [bigint, number] => {
    const c = newCtx();
    putD(c, 1, a);
    if (bHiBits !== undefined) putDBits(c, 2, bHiBits, 1);
    else putD(c, 2, b);
    assert.ok(executeFp(c, op(FCMP, D, 2, 1, rm, 10)));
    return [getX(c, 10), c.fflags];
  };
  assert.deepEqual(cmp(2, 1, 1), [1n, 0]);
  assert.deepEqual(cmp(2, -0, 0), [1n, 0]);
  assert.deepEqual(cmp(1, -0, 0), [0n, 0]);
  assert.deepEqual(cmp(0, -0, 0), [1n, 0]);
  assert.deepEqual(cmp(2, 1, 0, 0x7ff80000), [0n, 0]); // qNaN: feq quiet
  assert.deepEqual(cmp(2, 1, 0, 0x7ff00000), [0n, NV]); // sNaN: feq signals
  assert.deepEqual(cmp(1, 1, 0, 0x7ff80000), [0n, NV]);
  assert.deepEqual(cmp(0, 1, 0, 0x7ff80000), [0n, NV]);
  const z = newCtx();
  putD(z, 1, 1);
  putD(z, 2, 1);
  assert.ok(executeFp(z, op(FCMP, D, 2, 1, 2, 0)));
  assert.equal(z.x[0], 0);
  assert.equal(z.x[1], 0);
});

test('fclass reports all ten classes', () => {
  const cls = (hi: number, lo: number, fmt: number): number => {
    const c = newCtx();
    if (fmt === D) putDBits(c, 1, hi, lo);
    else putSBits(c, 1, hi);
    assert.ok(executeFp(c, op(FMVX, fmt, 0, 1, 1, 5)));
    return c.x[10];
  };
  assert.equal(cls(0xfff00000 | 0, 0, D), 1 << 0);
  assert.equal(cls(0xbff00000 | 0, 0, D), 1 << 1);
  assert.equal(cls(0x800fffff | 0, 0, D), 1 << 2);
  assert.equal(cls(0x80000000 | 0, 0, D), 1 << 3);
  assert.equal(cls(0, 0, D), 1 << 4);
  assert.equal(cls(0, 1, D), 1 << 5);
  assert.equal(cls(0x00100000, 0, D), 1 << 6);
  assert.equal(cls(0x7ff00000, 0, D), 1 << 7);
  assert.equal(cls(0x7ff00000, 1, D), 1 << 8);
  assert.equal(cls(0x7ff80000, 0, D), 1 << 9);
  assert.equal(cls(0x807fffff | 0, 0, S), 1 << 2);
  assert.equal(cls(0x00800000, 0, S), 1 << 6);
  assert.equal(cls(0x7fa00000, 0, S), 1 << 8);
  // An unboxed single reads as the canonical (quiet) NaN.
  const c = newCtx();
  c.f[2] = 0x3f800000;
  c.f[3] = 0;
  assert.ok(executeFp(c, op(FMVX, S, 0, 1, 1, 5)));
  assert.equal(c.x[10], 1 << 9);
});

test('NaN-boxing: unboxed single operands read as the canonical NaN; results are boxed', () => {
  const c = newCtx();
  c.f[2] = 0x3f800000; // 1.0f but high word 0: not boxed
  c.f[3] = 0;
  putS(c, 2, 1);
  assert.ok(executeFp(c, op(FADD, S, 2, 1, RNE, 3)));
  assert.equal(getSBits(c, 3), 0x7fc00000);
  assert.equal(c.fflags, 0);
  // fsgnjn.s of an unboxed value: canonical NaN with the flipped sign of rs2 (+1 -> negative).
  assert.ok(executeFp(c, op(FSGNJ, S, 2, 1, 1, 4)));
  assert.equal(getSBits(c, 4), 0xffc00000);
  // fsgnjx.s / fsgnj.d are pure bit operations.
  putSBits(c, 5, 0xff800001 | 0);
  putS(c, 6, -2);
  assert.ok(executeFp(c, op(FSGNJ, S, 6, 5, 2, 7)));
  assert.equal(getSBits(c, 7), 0x7f800001);
  putDBits(c, 8, 0x7ff00000, 9);
  putD(c, 9, -1);
  assert.ok(executeFp(c, op(FSGNJ, D, 9, 8, 0, 10)));
  assert.equal(getDBits(c, 10), 'fff0000000000009');
  assert.equal(c.fflags, 0);
});

test('fmv moves raw bits; fmv.x.w sign-extends', () => {
  const c = newCtx();
  putSBits(c, 1, 0x80000001 | 0);
  assert.ok(executeFp(c, op(FMVX, S, 0, 1, 0, 5)));
  assert.equal(getX(c, 5), -0x7fffffffn);
  c.f[5] = 0x12345678; // unboxed: fmv.x.w still moves the low word
  c.f[4] = 0x7f800001;
  assert.ok(executeFp(c, op(FMVX, S, 0, 2, 0, 6)));
  assert.equal(getX(c, 6), 0x7f800001n);
  putX(c, 7, 0x1234567887654321n);
  assert.ok(executeFp(c, op(FMVF, S, 0, 7, 0, 3)));
  assert.equal(getSBits(c, 3), 0x87654321);
  assert.ok(executeFp(c, op(FMVF, D, 0, 7, 0, 4)));
  assert.equal(getDBits(c, 4), '1234567887654321');
  assert.ok(executeFp(c, op(FMVX, D, 0, 4, 0, 8)));
  assert.equal(getX(c, 8), 0x1234567887654321n);
});

test('fcvt to integers: every mode, saturation, NV without NX', () => {
  const cvt = (fmt: number, kind: number, v: number, rm: number, frm = 0): [bigint, number] => {
    const c = newCtx(frm);
    if (fmt === D) putD(c, 1, v);
    else putS(c, 1, v);
    assert.ok(executeFp(c, op(FCVT_IF, fmt, kind, 1, rm, 10)));
    return [getX(c, 10), c.fflags];
  };
  const W = 0;
  const WU = 1;
  const L = 2;
  const LU = 3;
  assert.deepEqual(cvt(D, W, 2.5, RNE), [2n, NX]);
  assert.deepEqual(cvt(D, W, 3.5, RNE), [4n, NX]);
  assert.deepEqual(cvt(D, W, 2.5, RMM), [3n, NX]);
  assert.deepEqual(cvt(D, W, -2.5, RMM), [-3n, NX]);
  assert.deepEqual(cvt(D, W, -2.5, RDN), [-3n, NX]);
  assert.deepEqual(cvt(D, W, -2.5, RUP), [-2n, NX]);
  assert.deepEqual(cvt(D, W, -2.5, RTZ), [-2n, NX]);
  assert.deepEqual(cvt(D, W, -2.5, DYN, RDN), [-3n, NX]);
  assert.deepEqual(cvt(D, W, 2 ** 31, RNE), [0x7fffffffn, NV]);
  assert.deepEqual(cvt(D, W, 2147483647.4, RNE), [0x7fffffffn, NX]);
  assert.deepEqual(cvt(D, W, 2147483647.5, RNE), [0x7fffffffn, NV]);
  assert.deepEqual(cvt(D, W, -2147483648.9, RTZ), [-0x80000000n, NX]);
  assert.deepEqual(cvt(D, W, -2147483648.9, RNE), [-0x80000000n, NV]);
  assert.deepEqual(cvt(D, W, NaN, RNE), [0x7fffffffn, NV]);
  assert.deepEqual(cvt(D, W, -Infinity, RNE), [-0x80000000n, NV]);
  assert.deepEqual(cvt(D, WU, -0.4, RNE), [0n, NX]); // rounds to zero: not invalid
  assert.deepEqual(cvt(D, WU, -0.6, RNE), [0n, NV]);
  assert.deepEqual(cvt(D, WU, -1, RTZ), [0n, NV]);
  assert.deepEqual(cvt(D, WU, 4294967295, RNE), [-1n, 0]); // 32-bit results are sign-extended
  assert.deepEqual(cvt(D, WU, 2 ** 32, RNE), [-1n, NV]);
  assert.deepEqual(cvt(D, WU, NaN, RNE), [-1n, NV]);
  assert.deepEqual(cvt(D, L, 2 ** 63, RNE), [0x7fffffffffffffffn, NV]);
  assert.deepEqual(cvt(D, L, -(2 ** 63), RNE), [-0x8000000000000000n, 0]);
  assert.deepEqual(cvt(D, L, 2 ** 62 + 2 ** 10, RNE), [2n ** 62n + 1024n, 0]);
  assert.deepEqual(cvt(D, L, NaN, RNE), [0x7fffffffffffffffn, NV]);
  assert.deepEqual(cvt(D, LU, 2 ** 64, RNE), [-1n, NV]);
  assert.deepEqual(cvt(D, LU, 2 ** 64 - 2 ** 11, RNE), [-(2n ** 11n), 0]);
  assert.deepEqual(cvt(D, LU, -Infinity, RNE), [0n, NV]);
  assert.deepEqual(cvt(D, LU, 0.5, RUP), [1n, NX]);
  assert.deepEqual(cvt(S, W, -0.5, RDN), [-1n, NX]);
  assert.deepEqual(cvt(S, L, 2 ** 63, RNE), [0x7fffffffffffffffn, NV]);
  assert.deepEqual(cvt(S, LU, 2 ** 63, RNE), [-(2n ** 63n), 0]);
});

test('fcvt from integers rounds 32- and 64-bit values in every mode', () => {
  const cvt = (fmt: number, kind: number, v: bigint, rm: number): [number, number] => {
    const c = newCtx();
    putX(c, 5, v);
    assert.ok(executeFp(c, op(FCVT_FI, fmt, kind, 5, rm, 1)));
    return [fmt === D ? getD(c, 1) : getS(c, 1), c.fflags];
  };
  const W = 0;
  const WU = 1;
  const L = 2;
  const LU = 3;
  assert.deepEqual(cvt(D, W, -7n, RNE), [-7, 0]);
  assert.deepEqual(cvt(D, W, 0xffffffff80000000n, RNE), [-(2 ** 31), 0]);
  assert.deepEqual(cvt(D, WU, 0xffffffffn, RNE), [2 ** 32 - 1, 0]);
  assert.deepEqual(cvt(S, W, 16777217n, RNE), [16777216, NX]);
  assert.deepEqual(cvt(S, W, 16777217n, RUP), [16777218, NX]);
  assert.deepEqual(cvt(S, W, 16777219n, RNE), [16777220, NX]);
  assert.deepEqual(cvt(S, W, -16777217n, RDN), [-16777218, NX]);
  assert.deepEqual(cvt(S, WU, 0xffffffffn, RTZ), [2 ** 32 - 256, NX]);
  assert.deepEqual(cvt(D, L, 2n ** 53n + 1n, RNE), [2 ** 53, NX]);
  assert.deepEqual(cvt(D, L, 2n ** 53n + 1n, RUP), [2 ** 53 + 2, NX]);
  assert.deepEqual(cvt(D, L, 2n ** 53n + 1n, RMM), [2 ** 53 + 2, NX]);
  assert.deepEqual(cvt(D, L, 2n ** 63n - 1n, RNE), [2 ** 63, NX]);
  assert.deepEqual(cvt(D, L, 2n ** 63n - 1n, RTZ), [2 ** 63 - 1024, NX]);
  assert.deepEqual(cvt(D, L, -(2n ** 63n), RNE), [-(2 ** 63), 0]);
  assert.deepEqual(cvt(D, L, -(2n ** 63n) + 1n, RUP), [-(2 ** 63) + 1024, NX]);
  assert.deepEqual(cvt(D, LU, 2n ** 64n - 1n, RNE), [2 ** 64, NX]);
  assert.deepEqual(cvt(D, LU, 2n ** 64n - 1n, RTZ), [2 ** 64 - 2048, NX]);
  assert.deepEqual(cvt(S, L, 2n ** 63n - 1n, RTZ), [2 ** 63 - 2 ** 39, NX]);
  assert.deepEqual(cvt(S, LU, 2n ** 64n - 1n, RNE), [2 ** 64, NX]);
  assert.ok(Object.is(cvt(D, L, 0n, RDN)[0], 0));
});

test('fcvt.s.d and fcvt.d.s: rounding, NaNs, overflow, underflow', () => {
  const sd = (hi: number, lo: number, rm: number): [string, number] => {
    const c = newCtx();
    putDBits(c, 1, hi, lo);
    assert.ok(executeFp(c, op(FCVT_FF, S, 1, 1, rm, 2)));
    return [getSBits(c, 2).toString(16), c.fflags];
  };
  // 1 + 2^-24 (halfway): RNE -> 1, RMM -> 1 + 2^-23.
  assert.deepEqual(sd(0x3ff00000, 0x10000000, RNE), ['3f800000', NX]);
  assert.deepEqual(sd(0x3ff00000, 0x10000000, RMM), ['3f800001', NX]);
  assert.deepEqual(sd(0x3ff00000, 0x10000000, RUP), ['3f800001', NX]);
  assert.deepEqual(sd(0x7ff00000, 1, RNE), ['7fc00000', NV]); // sNaN
  assert.deepEqual(sd(0xfff80000 | 0, 123, RNE), ['7fc00000', 0]); // qNaN payload dropped
  assert.deepEqual(sd(0x7fefffff, -1, RNE), ['7f800000', OF | NX]);
  assert.deepEqual(sd(0x7fefffff, -1, RTZ), ['7f7fffff', OF | NX]);
  assert.deepEqual(sd(0x00000000, 1, RNE), ['0', UF | NX]);
  assert.deepEqual(sd(0x80000000 | 0, 1, RDN), ['80000001', UF | NX]);
  assert.deepEqual(sd(0x36a00000, 0, RNE), ['1', 0]); // 2^-149 exactly
  const ds = newCtx();
  putSBits(ds, 1, 0x7f800001);
  assert.ok(executeFp(ds, op(FCVT_FF, D, 0, 1, RNE, 2)));
  assert.equal(getDBits(ds, 2), '7ff8000000000000');
  assert.equal(ds.fflags, NV);
  putSBits(ds, 3, 1); // smallest subnormal single becomes a normal double, exactly
  ds.fflags = 0;
  assert.ok(executeFp(ds, op(FCVT_FF, D, 0, 3, RNE, 4)));
  assert.equal(getD(ds, 4), 2 ** -149);
  assert.equal(ds.fflags, 0);
});

test('illegal encodings and reserved rounding modes return false', () => {
  const c = newCtx();
  // A hart without Zfh/Zfhmin (the rv64gc model): fmt H and fcvt.s.h are illegal.
  const noHalf = { ...newCtx(), ext: 0 };
  assert.equal(executeFp(noHalf, op(FADD, 2, 2, 1, RNE, 3)), false); // fmt H
  assert.equal(executeFp(noHalf, op(FCVT_FF, S, 2, 1, RNE, 3)), false); // fcvt.s.h
  assert.equal(executeFp(noHalf, fmaOp(0x43, 2, 3, 2, 1, RNE, 4)), false); // fmadd.h
  assert.equal(executeFp(c, op(FADD, 3, 2, 1, RNE, 3)), false); // fmt Q
  assert.equal(executeFp(c, op(FADD, D, 2, 1, 5, 3)), false);
  assert.equal(executeFp(c, op(FADD, D, 2, 1, 6, 3)), false);
  c.frm = 5;
  assert.equal(executeFp(c, op(FADD, D, 2, 1, DYN, 3)), false);
  assert.equal(executeFp(c, fmaOp(0x43, S, 3, 2, 1, DYN, 4)), false);
  assert.equal(executeFp(c, op(FADD, D, 2, 1, RNE, 3)), true); // static rm ignores frm
  c.frm = 0;
  assert.equal(executeFp(c, op(FSQRT, D, 1, 1, RNE, 3)), false);
  assert.equal(executeFp(c, op(FSGNJ, D, 2, 1, 3, 3)), false);
  assert.equal(executeFp(c, op(FMINMAX, D, 2, 1, 2, 3)), false);
  assert.equal(executeFp(c, op(FCMP, D, 2, 1, 3, 3)), false);
  assert.equal(executeFp(c, op(FCVT_FF, S, 3, 1, RNE, 3)), false); // fcvt.s.q
  assert.equal(executeFp(c, op(FCVT_FF, D, 1, 1, RNE, 3)), false); // fcvt.d.d
  assert.equal(executeFp(c, op(FCVT_IF, D, 4, 1, RNE, 3)), false);
  assert.equal(executeFp(c, op(FMVX, D, 0, 1, 2, 3)), false);
  assert.equal(executeFp(c, op(FMVF, D, 0, 1, 1, 3)), false);
  assert.equal(executeFp(c, op(0x06, D, 2, 1, RNE, 3)), false);
  assert.equal(executeFp(c, fmaOp(0x43, 3, 3, 2, 1, RNE, 4)), false); // fmadd.q
  assert.equal(executeFp(c, 0x00000013), false); // not an FP opcode
  assert.equal(c.fflags, 0);
});

test('flags accumulate into fflags across instructions', () => {
  const c = newCtx();
  putD(c, 1, 1);
  putD(c, 2, 0);
  putD(c, 3, 3);
  assert.ok(executeFp(c, op(FDIV, D, 2, 1, RNE, 4)));
  assert.ok(executeFp(c, op(FDIV, D, 3, 1, RNE, 4)));
  assert.equal(c.fflags, DZ | NX);
});

test('the double fma fast path agrees with the exact limb engine on structured random operands', async () => {
  const { exactSum } = await import('./exact.ts');
  const { res, unpackD, uM, uE, uNeg, uCls } = await import('./round.ts');
  const { makeRng } = await import('./testdata/vectors.ts');
  const rnd = makeRng(7);
  // Values with 1..53 significant bits, so exact results, ties and cancellations all occur.
  const rv = (): number => {
    const bits = 1 + (rnd() % 53);
    let m = 1;
    for (let i = 1; i < bits; i++) if (rnd() & 1) m += 2 ** -i;
    return (rnd() & 1 ? -1 : 1) * m * 2 ** ((rnd() % 40) - 20);
  };
  const c = newCtx();
  const insn = fmaOp(0x43, D, 3, 2, 1, RNE, 4);
  let checked = 0;
  for (let i = 0; i < 100000; i++) {
    const a = rv();
    const b = rv();
    const k = rnd() % 4;
    let addend: number;
    if (k === 0) addend = rv();
    else if (k === 1) addend = -(a * b) * (1 + ((rnd() % 64) - 32) * 2 ** -52);
    else if (k === 2) addend = -(a * b) + rv() * 2 ** -(rnd() % 80);
    else addend = a * b * 2 ** ((rnd() % 120) - 60) * (rnd() & 1 ? 1 : -1);
    putD(c, 1, a);
    putD(c, 2, b);
    putD(c, 3, addend);
    c.fflags = 0;
    assert.ok(executeFp(c, insn));
    unpackD(0, c.f[3], c.f[2]);
    unpackD(1, c.f[5], c.f[4]);
    unpackD(2, c.f[7], c.f[6]);
    if (uCls[0] !== 1 || uCls[1] !== 1 || uCls[2] !== 1) continue;
    res.flags = 0;
    exactSum(uNeg[0] ^ uNeg[1], uM[0], uM[1], uE[0] + uE[1], true, uNeg[2], uM[2], uE[2], true, RNE);
    const ctxt = `${a} * ${b} + ${addend}`;
    assert.equal(c.f[9], res.hi, ctxt);
    assert.equal(c.f[8], res.lo, ctxt);
    assert.equal(c.fflags, res.flags, ctxt);
    checked++;
  }
  assert.ok(checked > 90000);
});
