/**
 * Entry point of the FPU: executes one OP-FP (0x53) or fused multiply-add (0x43, 0x47, 0x4b, 0x4f)
 * instruction of the F and D extensions. Returns false when the encoding is illegal (the hart then
 * raises an illegal-instruction trap). The hart checks mstatus.FS before calling and marks FS
 * dirty afterwards.
 *
 * Results are IEEE 754 exact, as RISC-V specifies them (canonical NaNs, tininess after rounding,
 * NaN-boxed singles). Common cases (round-to-nearest-even, operands and result away from the
 * overflow/underflow edges) run on plain JS doubles with a cheap exactness test for NX; every
 * other case goes through the exact slow path in exact.ts and round.ts. See docs/fpu.md.
 */
import type { FpContext } from './context.ts';
import { executeHalf } from './half.ts';
import { divExact, exactSum, floatToInt, intToFloat, sqrtExact, twoProd, twoProdErr } from './exact.ts';
import {
  CNAN_S,
  DZ,
  INF,
  NV,
  NX,
  QNAN,
  RDN,
  RNE,
  SNAN,
  ZERO,
  F64,
  HI,
  I32,
  LO,
  bitsToD,
  bitsToS,
  res,
  roundPack,
  setD,
  setInf,
  setNaN,
  setS,
  setZero,
  uCls,
  uE,
  uM,
  uNeg,
  unpackD,
  unpackS,
} from './round.ts';

const ADD = 0;
const SUB = 1;
const MUL = 2;
const DIV = 3;
const SQRT = 4;

const MIN_NORMAL_S = 2 ** -126;
const MAX_SAFE_S = 2 ** 127;
const LOW_SAFE_D = 2 ** -960; // error terms of products stay normal above this
const HIGH_SAFE_D = 2 ** 990; // Veltkamp splitting and 2Sum cannot overflow below this

/** A single-precision operand's bits; an improperly NaN-boxed register reads as the canonical NaN. */
function readS(f: Int32Array, r: number): number {
  return f[2 * r + 1] === -1 ? f[2 * r] : CNAN_S;
}

function writeRes(f: Int32Array, rd: number): void {
  f[2 * rd] = res.lo;
  f[2 * rd + 1] = res.hi;
}

function writeX(ctx: FpContext, rd: number, hi: number, lo: number): void {
  if (rd !== 0) {
    ctx.x[2 * rd] = lo;
    ctx.x[2 * rd + 1] = hi;
  }
}

/** Sets res to the rounded sum a + b of two doubles (RNE); false when the fast path cannot decide. */
function fastAddD(a: number, b: number): boolean {
  const r = a + b;
  const ar = Math.abs(r);
  if (!(ar < HIGH_SAFE_D) || !(Math.abs(a) < HIGH_SAFE_D)) return false;
  // 2Sum: the exact rounding error of r.
  const bb = r - a;
  const err = a - (r - bb) + (b - bb);
  if (err !== 0) res.flags |= NX;
  setD(r);
  return true;
}

function fastMulD(a: number, b: number): boolean {
  const r = a * b;
  if (r === 0) {
    if (a !== 0 && b !== 0) return false; // underflow
    setD(r);
    return true;
  }
  const ar = Math.abs(r);
  if (!(ar >= LOW_SAFE_D && ar < HIGH_SAFE_D)) return false;
  if (!(Math.abs(a) < HIGH_SAFE_D && Math.abs(b) < HIGH_SAFE_D)) return false;
  twoProd(a, b);
  if (twoProdErr() !== 0) res.flags |= NX;
  setD(r);
  return true;
}

function fastDivD(a: number, b: number): boolean {
  const q = a / b;
  const aa = Math.abs(a);
  const ab = Math.abs(b);
  const aq = Math.abs(q);
  if (!(aa >= LOW_SAFE_D && aa < HIGH_SAFE_D && ab >= LOW_SAFE_D && ab < HIGH_SAFE_D)) return false;
  if (!(aq >= LOW_SAFE_D && aq < HIGH_SAFE_D)) return false;
  twoProd(q, b);
  if (a - q * b !== 0 || twoProdErr() !== 0) res.flags |= NX;
  setD(q);
  return true;
}

function fastSqrtD(a: number): boolean {
  if (!(a >= LOW_SAFE_D && a < HIGH_SAFE_D)) return false;
  const s = Math.sqrt(a);
  twoProd(s, s);
  if (a - s * s !== 0 || twoProdErr() !== 0) res.flags |= NX;
  setD(s);
  return true;
}

/** Single-precision fast paths (RNE): the double result rounded by Math.fround is correctly
 * rounded here (53 >= 2 * 24 + 2, so double rounding is innocuous for + - * / sqrt). */
function fastS(kind: number, a: number, b: number): boolean {
  let r: number;
  let fr: number;
  switch (kind) {
    case ADD:
    case SUB: {
      if (kind === SUB) b = -b;
      r = a + b;
      fr = Math.fround(r);
      if (fr - fr !== 0) return false; // NaN, infinity or overflow
      // Sums of singles never underflow inexactly (tiny sums are exact).
      if (fr !== r) res.flags |= NX;
      else {
        const bb = r - a;
        if (a - (r - bb) + (b - bb) !== 0) res.flags |= NX;
      }
      break;
    }
    case MUL:
      r = a * b; // exact: 24 + 24 bits
      fr = Math.fround(r);
      if (fr - fr !== 0) return false;
      if (fr !== r) {
        if (Math.abs(r) < MIN_NORMAL_S) return false; // possible underflow
        res.flags |= NX;
      }
      break;
    case DIV:
      r = a / b;
      fr = Math.fround(r);
      if (fr - fr !== 0) return false;
      if (fr === 0) {
        if (a !== 0) return false;
      } else if (!(Math.abs(fr) > MIN_NORMAL_S)) return false;
      else if (fr * b !== a) res.flags |= NX; // fr * b is exact
      break;
    default: // SQRT
      if (!(a >= 0) || a - a !== 0) return false;
      fr = Math.fround(Math.sqrt(a));
      if (fr * fr !== a) res.flags |= NX;
      break;
  }
  setS(fr);
  return true;
}

/** Slow path of add/sub/mul/div/sqrt for operands already unpacked into slots 0 and 1. */
function slowArith(kind: number, dbl: boolean, rm: number): void {
  const c0 = uCls[0];
  const c1 = kind === SQRT ? ZERO : uCls[1];
  if (c0 >= QNAN || c1 >= QNAN) {
    if (c0 === SNAN || c1 === SNAN) res.flags |= NV;
    setNaN(dbl);
    return;
  }
  const n0 = uNeg[0];
  switch (kind) {
    case ADD:
    case SUB: {
      const n1 = uNeg[1] ^ (kind === SUB ? 1 : 0);
      if (c0 === INF) {
        if (c1 === INF && n0 !== n1) {
          res.flags |= NV;
          setNaN(dbl);
        } else setInf(n0, dbl);
      } else if (c1 === INF) setInf(n1, dbl);
      else if (c0 === ZERO) {
        if (c1 === ZERO) setZero(n0 === n1 ? n0 : rm === RDN ? 1 : 0, dbl);
        else roundPack(n1, uM[1], uE[1], 0, dbl, rm); // exact copy
      } else if (c1 === ZERO) roundPack(n0, uM[0], uE[0], 0, dbl, rm);
      else exactSum(n0, uM[0], 1, uE[0], true, n1, uM[1], uE[1], dbl, rm);
      return;
    }
    case MUL: {
      const n = n0 ^ uNeg[1];
      if (c0 === INF || c1 === INF) {
        if (c0 === ZERO || c1 === ZERO) {
          res.flags |= NV;
          setNaN(dbl);
        } else setInf(n, dbl);
      } else if (c0 === ZERO || c1 === ZERO) setZero(n, dbl);
      else exactSum(n, uM[0], uM[1], uE[0] + uE[1], false, 0, 0, 0, dbl, rm);
      return;
    }
    case DIV: {
      const n = n0 ^ uNeg[1];
      if (c0 === INF) {
        if (c1 === INF) {
          res.flags |= NV;
          setNaN(dbl);
        } else setInf(n, dbl);
      } else if (c1 === INF) setZero(n, dbl);
      else if (c1 === ZERO) {
        if (c0 === ZERO) {
          res.flags |= NV;
          setNaN(dbl);
        } else {
          res.flags |= DZ;
          setInf(n, dbl);
        }
      } else if (c0 === ZERO) setZero(n, dbl);
      else divExact(n, uM[0], uE[0], uM[1], uE[1], dbl, rm);
      return;
    }
    default: // SQRT
      if (c0 === ZERO) setZero(n0, dbl);
      else if (n0) {
        res.flags |= NV;
        setNaN(dbl);
      } else if (c0 === INF) setInf(0, dbl);
      else sqrtExact(uM[0], uE[0], dbl, rm);
  }
}

function arith(f: Int32Array, kind: number, rs1: number, rs2: number, dbl: boolean, rm: number): void {
  if (dbl) {
    const ah = f[2 * rs1 + 1];
    const al = f[2 * rs1];
    const bh = f[2 * rs2 + 1];
    const bl = f[2 * rs2];
    if (rm === RNE) {
      const a = bitsToD(ah, al);
      const b = bitsToD(bh, bl);
      let done: boolean;
      switch (kind) {
        case ADD:
          done = fastAddD(a, b);
          break;
        case SUB:
          done = fastAddD(a, -b);
          break;
        case MUL:
          done = fastMulD(a, b);
          break;
        case DIV:
          done = fastDivD(a, b);
          break;
        default:
          done = fastSqrtD(a);
      }
      if (done) return;
    }
    unpackD(0, ah, al);
    unpackD(1, bh, bl);
  } else {
    const ab = readS(f, rs1);
    const bb = readS(f, rs2);
    if (rm === RNE) {
      // NaN operands fail every fast-path test (NaN compares false), so they reach slowArith.
      if (fastS(kind, bitsToS(ab), bitsToS(bb))) return;
    }
    unpackS(0, ab);
    unpackS(1, bb);
  }
  slowArith(kind, dbl, rm);
}

/** Single FMA fast path (RNE): the product is exact in a double, 2Sum gives the exact sum as
 * r + err, and only an r exactly halfway between two singles needs err to break the tie. */
function fastFmaS(a: number, b: number, c: number): boolean {
  const p = a * b;
  const r = p + c;
  const bb = r - p;
  const err = p - (r - bb) + (c - bb);
  if (r === 0) {
    if (err !== 0 || p !== p || c !== c) return false;
    setS(r);
    return true;
  }
  const ar = Math.abs(r);
  if (!(ar >= 2 ** -125 && ar < MAX_SAFE_S)) return false;
  let fr = Math.fround(r);
  if (err !== 0) {
    res.flags |= NX;
    if (fr !== r) {
      const m = r + (r - fr); // the other neighbour when r is a midpoint
      if (Math.fround(m) === m && err > 0 === m > fr) fr = m;
    }
  } else if (fr !== r) res.flags |= NX;
  setS(fr);
  return true;
}

const FMA_LOW_D = 2 ** -900;

/**
 * Double FMA fast path (RNE), after Boldo and Melquiond: the exact product ph + pl (Dekker),
 * th + tl = c + ph (2Sum), v = tl + pl rounded to odd (emulated from its 2Sum error), and
 * z = RN(th + v) is the correctly rounded a*b + c when nothing underflows or overflows.
 * Inexact iff the round-to-odd step or the last addition lost something: when tl + pl is not a
 * double, tl != 0 rules out cancellation in c + ph, so z is within a factor 2 of th and z - th
 * (exact by Sterbenz) cannot equal tl + pl.
 */
function fastFmaD(a: number, b: number, c: number): boolean {
  const ph = a * b;
  const aph = Math.abs(ph);
  if (!(aph >= FMA_LOW_D && aph < HIGH_SAFE_D)) return false;
  if (!(Math.abs(a) < HIGH_SAFE_D && Math.abs(b) < HIGH_SAFE_D && Math.abs(c) < HIGH_SAFE_D)) return false;
  twoProd(a, b);
  const pl = twoProdErr();
  const th = c + ph;
  let bb = th - c;
  const tl = c - (th - bb) + (ph - bb);
  const s = tl + pl;
  bb = s - tl;
  const e = tl - (s - bb) + (pl - bb);
  let v = s;
  if (e !== 0) {
    F64[0] = s;
    const lo = I32[LO];
    if ((lo & 1) === 0) {
      // Round to odd: step to the neighbour on e's side, whose last bit is odd.
      if (e > 0 === s > 0) I32[LO] = lo + 1;
      else if (lo === 0) {
        I32[LO] = -1;
        I32[HI] -= 1;
      } else I32[LO] = lo - 1;
      v = F64[0];
    }
  }
  const z = th + v;
  const az = Math.abs(z);
  if (!(az >= FMA_LOW_D && az < HIGH_SAFE_D)) return false;
  bb = z - th;
  const err2 = th - (z - bb) + (v - bb);
  if (e !== 0 || err2 !== 0) res.flags |= NX;
  setD(z);
  return true;
}

function fma(f: Int32Array, insn: number, dbl: boolean, rm: number): void {
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  const rs3 = insn >>> 27;
  const op = insn & 0x7f;
  const flipP = op === 0x4b || op === 0x4f ? 1 : 0;
  const flipC = op === 0x47 || op === 0x4f ? 1 : 0;
  if (dbl) {
    if (rm === RNE) {
      const a = bitsToD(f[2 * rs1 + 1], f[2 * rs1]);
      const b = bitsToD(f[2 * rs2 + 1], f[2 * rs2]);
      const c = bitsToD(f[2 * rs3 + 1], f[2 * rs3]);
      if (fastFmaD(flipP ? -a : a, b, flipC ? -c : c)) return;
    }
    unpackD(0, f[2 * rs1 + 1], f[2 * rs1]);
    unpackD(1, f[2 * rs2 + 1], f[2 * rs2]);
    unpackD(2, f[2 * rs3 + 1], f[2 * rs3]);
  } else {
    const ab = readS(f, rs1);
    const bb = readS(f, rs2);
    const cb = readS(f, rs3);
    if (rm === RNE) {
      const a = bitsToS(ab);
      const b = bitsToS(bb);
      const c = bitsToS(cb);
      if (fastFmaS(flipP ? -a : a, b, flipC ? -c : c)) return;
    }
    unpackS(0, ab);
    unpackS(1, bb);
    unpackS(2, cb);
  }
  const c0 = uCls[0];
  const c1 = uCls[1];
  const c2 = uCls[2];
  const infTimesZero = (c0 === INF && c1 === ZERO) || (c0 === ZERO && c1 === INF);
  if (c0 >= QNAN || c1 >= QNAN || c2 >= QNAN) {
    // RISC-V: inf * 0 is invalid even when the addend is a quiet NaN.
    if (c0 === SNAN || c1 === SNAN || c2 === SNAN || infTimesZero) res.flags |= NV;
    setNaN(dbl);
    return;
  }
  const negP = uNeg[0] ^ uNeg[1] ^ flipP;
  const negC = uNeg[2] ^ flipC;
  if (c0 === INF || c1 === INF) {
    if (infTimesZero || (c2 === INF && negC !== negP)) {
      res.flags |= NV;
      setNaN(dbl);
    } else setInf(negP, dbl);
  } else if (c2 === INF) setInf(negC, dbl);
  else if (c0 === ZERO || c1 === ZERO) {
    if (c2 === ZERO) setZero(negP === negC ? negP : rm === RDN ? 1 : 0, dbl);
    else roundPack(negC, uM[2], uE[2], 0, dbl, rm); // exact copy of the addend
  } else if (c2 === ZERO) exactSum(negP, uM[0], uM[1], uE[0] + uE[1], false, 0, 0, 0, dbl, rm);
  else exactSum(negP, uM[0], uM[1], uE[0] + uE[1], true, negC, uM[2], uE[2], dbl, rm);
}

/** fmin/fmax (IEEE 754-2019 minimumNumber/maximumNumber, as RISC-V F/D 2.2 define them). */
function minMax(f: Int32Array, rs1: number, rs2: number, dbl: boolean, max: boolean): void {
  let ah: number, al: number, bh: number, bl: number;
  let a: number, b: number;
  if (dbl) {
    ah = f[2 * rs1 + 1];
    al = f[2 * rs1];
    bh = f[2 * rs2 + 1];
    bl = f[2 * rs2];
    unpackD(0, ah, al);
    unpackD(1, bh, bl);
    a = bitsToD(ah, al);
    b = bitsToD(bh, bl);
  } else {
    ah = -1;
    bh = -1;
    al = readS(f, rs1);
    bl = readS(f, rs2);
    unpackS(0, al);
    unpackS(1, bl);
    a = bitsToS(al);
    b = bitsToS(bl);
  }
  const c0 = uCls[0];
  const c1 = uCls[1];
  if (c0 === SNAN || c1 === SNAN) res.flags |= NV;
  let pickA: boolean;
  if (c0 >= QNAN) {
    if (c1 >= QNAN) {
      setNaN(dbl);
      return;
    }
    pickA = false;
  } else if (c1 >= QNAN) pickA = true;
  else if (a === b)
    pickA = max ? uNeg[0] === 0 : uNeg[0] === 1; // -0 < +0
  else pickA = max ? a > b : a < b;
  res.hi = pickA ? ah : bh;
  res.lo = pickA ? al : bl;
}

/** feq/flt/fle: returns 0 or 1. feq is quiet (NV on signalling NaNs only); flt/fle signal on any NaN. */
function compare(f: Int32Array, rs1: number, rs2: number, dbl: boolean, which: number): number {
  let a: number, b: number;
  if (dbl) {
    const ah = f[2 * rs1 + 1];
    const al = f[2 * rs1];
    const bh = f[2 * rs2 + 1];
    const bl = f[2 * rs2];
    a = bitsToD(ah, al);
    b = bitsToD(bh, bl);
    if (a !== a || b !== b) {
      unpackD(0, ah, al);
      unpackD(1, bh, bl);
    }
  } else {
    const ab = readS(f, rs1);
    const bb = readS(f, rs2);
    a = bitsToS(ab);
    b = bitsToS(bb);
    if (a !== a || b !== b) {
      unpackS(0, ab);
      unpackS(1, bb);
    }
  }
  if (a !== a || b !== b) {
    if (which !== 2 || uCls[0] === SNAN || uCls[1] === SNAN) res.flags |= NV;
    return 0;
  }
  if (which === 2) return a === b ? 1 : 0;
  if (which === 1) return a < b ? 1 : 0;
  return a <= b ? 1 : 0;
}

/** fclass: the 10-bit class mask. */
function fclass(f: Int32Array, rs1: number, dbl: boolean): number {
  if (dbl) unpackD(0, f[2 * rs1 + 1], f[2 * rs1]);
  else unpackS(0, readS(f, rs1));
  const neg = uNeg[0];
  switch (uCls[0]) {
    case INF:
      return neg ? 1 : 1 << 7;
    case ZERO:
      return neg ? 1 << 3 : 1 << 4;
    case SNAN:
      return 1 << 8;
    case QNAN:
      return 1 << 9;
  }
  const subnormal = uE[0] < (dbl ? -1074 : -178);
  if (subnormal) return neg ? 1 << 2 : 1 << 5;
  return neg ? 1 << 1 : 1 << 6;
}

/** fcvt.s.d (toSingle) and fcvt.d.s. */
function convertFF(f: Int32Array, rs1: number, toSingle: boolean, rm: number): void {
  if (toSingle) {
    const hi = f[2 * rs1 + 1];
    const lo = f[2 * rs1];
    if (rm === RNE) {
      const v = bitsToD(hi, lo);
      const fr = Math.fround(v);
      if (Math.abs(fr) > MIN_NORMAL_S && fr - fr === 0) {
        if (fr !== v) res.flags |= NX;
        setS(fr);
        return;
      }
    }
    unpackD(0, hi, lo);
  } else {
    unpackS(0, readS(f, rs1));
  }
  const dbl = !toSingle;
  switch (uCls[0]) {
    case SNAN:
      res.flags |= NV;
      setNaN(dbl);
      return;
    case QNAN:
      setNaN(dbl);
      return;
    case INF:
      setInf(uNeg[0], dbl);
      return;
    case ZERO:
      setZero(uNeg[0], dbl);
      return;
  }
  roundPack(uNeg[0], uM[0], uE[0], 0, dbl, rm);
}

/** fcvt.{s,d}.{w,wu,l,lu}: kind 0..3 = W, WU, L, LU. */
function convertIF(ctx: FpContext, rs1: number, kind: number, dbl: boolean, rm: number): void {
  const lo = ctx.x[2 * rs1];
  let hi = ctx.x[2 * rs1 + 1];
  let v: number;
  if (kind === 0) {
    v = lo;
    hi = lo >> 31;
  } else if (kind === 1) {
    v = lo >>> 0;
    hi = 0;
  } else {
    v = hi * 4294967296 + (lo >>> 0); // exact when the value is small (used only then, or as != 0)
  }
  const small = kind < 2 || (kind === 2 ? hi >= -0x200000 && hi < 0x200000 : hi >= 0 && hi < 0x200000);
  if (small) {
    // v is exact.
    if (dbl) {
      setD(v);
      return;
    }
    if (rm === RNE) {
      const fr = Math.fround(v);
      if (fr !== v) res.flags |= NX;
      setS(fr);
      return;
    }
  }
  if (v === 0) {
    setZero(0, dbl);
    return;
  }
  // Magnitude as two unsigned 32-bit halves.
  let neg = 0;
  let mlo = lo >>> 0;
  let mhi = hi >>> 0;
  if (kind !== 1 && kind !== 3 && hi < 0) {
    neg = 1;
    mlo = -lo >>> 0;
    mhi = (~hi + (mlo === 0 ? 1 : 0)) >>> 0;
  }
  intToFloat(neg, mhi, mlo, dbl, rm);
}

/** Rounding mode of an instruction: its rm field, or frm when rm = 7; -1 when reserved. */
function roundingMode(ctx: FpContext, insn: number): number {
  let rm = (insn >>> 12) & 7;
  if (rm === 7) rm = ctx.frm;
  return rm > 4 ? -1 : rm;
}

export function executeFp(ctx: FpContext, insn: number): boolean {
  const op = insn & 0x7f;
  const fmt = (insn >>> 25) & 3;
  if (fmt > 1) return fmt === 2 && executeHalf(ctx, insn); // H (half.ts); Q is not implemented
  const dbl = fmt === 1;
  const f = ctx.f;
  const rd = (insn >>> 7) & 31;
  res.flags = 0;
  if (op !== 0x53) {
    if (op !== 0x43 && op !== 0x47 && op !== 0x4b && op !== 0x4f) return false;
    const rm = roundingMode(ctx, insn);
    if (rm < 0) return false;
    fma(f, insn, dbl, rm);
    writeRes(f, rd);
    ctx.fflags |= res.flags;
    return true;
  }
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  const funct3 = (insn >>> 12) & 7;
  switch (insn >>> 27) {
    case 0x00: // fadd
    case 0x01: // fsub
    case 0x02: // fmul
    case 0x03: // fdiv
    case 0x0b: {
      // fsqrt
      const kind = insn >>> 27 === 0x0b ? SQRT : insn >>> 27;
      if (kind === SQRT && rs2 !== 0) return false;
      const rm = roundingMode(ctx, insn);
      if (rm < 0) return false;
      arith(f, kind, rs1, rs2, dbl, rm);
      writeRes(f, rd);
      break;
    }
    case 0x04: {
      // fsgnj, fsgnjn, fsgnjx: pure bit operations (singles read NaN-boxed inputs)
      if (funct3 > 2) return false;
      let ah: number, bh: number, al: number;
      if (dbl) {
        ah = f[2 * rs1 + 1];
        al = f[2 * rs1];
        bh = f[2 * rs2 + 1];
      } else {
        ah = readS(f, rs1);
        bh = readS(f, rs2);
        al = 0;
      }
      let h: number;
      if (funct3 === 0) h = (ah & 0x7fffffff) | (bh & 0x80000000);
      else if (funct3 === 1) h = (ah & 0x7fffffff) | (~bh & 0x80000000);
      else h = ah ^ (bh & 0x80000000);
      if (dbl) {
        f[2 * rd] = al;
        f[2 * rd + 1] = h;
      } else {
        f[2 * rd] = h;
        f[2 * rd + 1] = -1;
      }
      return true;
    }
    case 0x05: // fmin, fmax
      if (funct3 > 1) return false;
      minMax(f, rs1, rs2, dbl, funct3 === 1);
      writeRes(f, rd);
      break;
    case 0x08: {
      // fcvt.s.d (fmt S, rs2 = 1) and fcvt.d.s (fmt D, rs2 = 0); fcvt.s.h / fcvt.d.h (rs2 = 2)
      if (rs2 === 2) return executeHalf(ctx, insn);
      if (rs2 !== (dbl ? 0 : 1)) return false;
      const rm = roundingMode(ctx, insn);
      if (rm < 0) return false;
      convertFF(f, rs1, !dbl, rm);
      writeRes(f, rd);
      break;
    }
    case 0x14: {
      // fle (0), flt (1), feq (2)
      if (funct3 > 2) return false;
      const v = compare(f, rs1, rs2, dbl, funct3);
      writeX(ctx, rd, 0, v);
      break;
    }
    case 0x18: {
      // fcvt.{w,wu,l,lu}.{s,d}
      if (rs2 > 3) return false;
      const rm = roundingMode(ctx, insn);
      if (rm < 0) return false;
      const v = dbl ? bitsToD(f[2 * rs1 + 1], f[2 * rs1]) : bitsToS(readS(f, rs1));
      floatToInt(v, rs2, rm);
      writeX(ctx, rd, res.hi, res.lo);
      break;
    }
    case 0x1a: {
      // fcvt.{s,d}.{w,wu,l,lu}
      if (rs2 > 3) return false;
      const rm = roundingMode(ctx, insn);
      if (rm < 0) return false;
      convertIF(ctx, rs1, rs2, dbl, rm);
      writeRes(f, rd);
      break;
    }
    case 0x1c: {
      // fmv.x.w / fmv.x.d (funct3 0), fclass (funct3 1)
      if (rs2 !== 0) return false;
      if (funct3 === 0) {
        if (dbl) writeX(ctx, rd, f[2 * rs1 + 1], f[2 * rs1]);
        else writeX(ctx, rd, f[2 * rs1] >> 31, f[2 * rs1]);
      } else if (funct3 === 1) writeX(ctx, rd, 0, fclass(f, rs1, dbl));
      else return false;
      return true;
    }
    case 0x1e: {
      // fmv.w.x / fmv.d.x
      if (rs2 !== 0 || funct3 !== 0) return false;
      f[2 * rd] = ctx.x[2 * rs1];
      f[2 * rd + 1] = dbl ? ctx.x[2 * rs1 + 1] : -1;
      return true;
    }
    default:
      return false;
  }
  ctx.fflags |= res.flags;
  return true;
}
