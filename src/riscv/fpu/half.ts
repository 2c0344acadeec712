/**
 * Half precision (Zfh, and its subset Zfhmin: conversions and moves), bit-exact with IEEE 754
 * binary16 as RISC-V specifies it (the same results and fflags as SoftFloat / qemu).
 *
 * Method: every half is exactly a double, and so is the exact result of a half add, sub or mul
 * (at most 41 significant bits). For div, sqrt and fma the double result `r` is the exact value
 * rounded to nearest, and the side of the exact value relative to `r` (the sign of the error) is
 * known exactly: for fma from 2Sum, for div and sqrt from `a - r*b` and `a - r*r`, which are
 * exact whenever it matters, i.e. when r lies on the 12-bit grid of halves and their midpoints
 * (r then has at most 12 significant bits). roundHalf then rounds `r` plus that sign once, in
 * any mode, with tininess detected after rounding: a double with 53 bits carries far more than
 * the 11+2 bits plus sticky that rounding to half needs, and the error sign is the sticky bit
 * where r itself sits on the grid.
 *
 * Registers: a half is NaN-boxed in a 64-bit FP register (bits 63..16 all ones); an improperly
 * boxed operand reads as the canonical NaN (0x7e00), except for fmv.x.h and fsh, which move bits.
 */
import type { FpContext } from './context.ts';
import { floatToInt } from './exact.ts';
import { res, NV, DZ, OF, UF, NX, RNE, RTZ, RDN, RUP, F32, F64, I32, LO, HI } from './round.ts';
import { X_ZFH, X_ZFHMIN } from '../cpu-config.ts';

const CNAN_H = 0x7e00;
const MIN_NORMAL = 2 ** -14;
const MAX_HALF = 65504;
const TWO32 = 4294967296;

/** The half in register r, or the canonical NaN when it is not NaN-boxed. */
function readH(f: Int32Array, r: number): number {
  return f[2 * r + 1] === -1 && f[2 * r] >>> 16 === 0xffff ? f[2 * r] & 0xffff : CNAN_H;
}

function writeH(f: Int32Array, rd: number, bits: number): void {
  f[2 * rd] = bits | -0x10000;
  f[2 * rd + 1] = -1;
}

function isNaNH(h: number): boolean {
  return (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
}

function isSNaNH(h: number): boolean {
  return isNaNH(h) && (h & 0x200) === 0;
}

/** The exact value of a half. */
export function halfToNumber(h: number): number {
  const e = (h >>> 10) & 31;
  const m = h & 1023;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 31) return m !== 0 ? NaN : s * Infinity;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1024 + m) * 2 ** (e - 25);
}

/** floor(log2(a)) for a finite a > 0, exactly. */
function ilog2(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/**
 * Rounds the magnitude a (> 0) plus an error of sign es (-1, 0, 1; far smaller than a's last
 * bit) to an integer multiple of quantum q, in mode rm for a number of sign neg. Returns the
 * multiple; roundInexact tells whether it was inexact.
 */
let roundInexact = false;
function roundTo(a: number, es: number, q: number, neg: boolean, rm: number): number {
  let n = Math.floor(a / q); // a / q is exact: q is a power of two
  let frac = a / q - n;
  // rc: 0 exact, 1 below half, 2 half, 3 above half
  let rc: number;
  if (frac === 0) {
    if (es === 0) rc = 0;
    else if (es > 0) rc = 1;
    else {
      n -= 1; // just below a grid point
      frac = 1;
      rc = 3;
    }
  } else if (frac === 0.5) rc = es === 0 ? 2 : es > 0 ? 3 : 1;
  else rc = frac < 0.5 ? 1 : 3;
  roundInexact = rc !== 0;
  let up: boolean;
  switch (rm) {
    case RNE:
      up = rc === 3 || (rc === 2 && n % 2 === 1);
      break;
    case RTZ:
      up = false;
      break;
    case RDN:
      up = rc !== 0 && neg;
      break;
    case RUP:
      up = rc !== 0 && !neg;
      break;
    default: // RMM
      up = rc >= 2;
  }
  return up ? n + 1 : n;
}

/**
 * The half nearest (in mode rm) to the exact value r + (error of sign es), with fflags in
 * res.flags. r is finite; a zero r with es = 0 is an exact zero (its sign kept).
 */
export function roundHalf(r: number, es: number, rm: number): number {
  const neg = r < 0 || (r === 0 && (es < 0 || (es === 0 && 1 / r < 0)));
  const sign = neg ? 0x8000 : 0;
  if (r === 0 && es === 0) return sign;
  let a = Math.abs(r);
  let ea = neg ? -es : es; // the error's sign relative to the magnitude
  if (a === 0) {
    // Only an error term: a nonzero magnitude below every quantum (not produced by the callers,
    // whose exact results are never that small; kept for completeness).
    a = 2 ** -60;
    ea = 0;
  }
  const e = ilog2(a);
  // The quantum with an unbounded exponent: 11 significant bits in a's binade, or in the binade
  // below when a is a power of two and the exact value lies just under it.
  let qu = 2 ** (e - 10);
  if (ea < 0 && a === 2 ** e) qu /= 2;
  const q = a >= MIN_NORMAL ? Math.max(qu, 2 ** -24) : 2 ** -24;
  const n = roundTo(a, ea, q, neg, rm);
  const inexact = roundInexact;
  let v = n * q;
  let flags = 0;
  if (inexact) {
    flags |= NX;
    // Tiny after rounding: rounded with an unbounded exponent, still below the smallest normal.
    if (a < MIN_NORMAL && roundTo(a, ea, qu, neg, rm) * qu < MIN_NORMAL) flags |= UF;
  }
  if (v > MAX_HALF) {
    res.flags |= OF | NX;
    const toInf = rm === RNE || rm === 4 || (rm === RDN && neg) || (rm === RUP && !neg);
    return sign | (toInf ? 0x7c00 : 0x7bff);
  }
  res.flags |= flags;
  if (v < MIN_NORMAL) return sign | Math.round(v / 2 ** -24); // subnormal (or 0x0400 = 2^-14)
  const ev = ilog2(v);
  v = v / 2 ** (ev - 10) - 1024;
  return sign | ((ev + 15) << 10) | v;
}

/** Result of an operation on halves whose exact value is r + (error of sign es). */
function finish(r: number, es: number, rm: number, anySNaN: boolean): number {
  if (r !== r) {
    res.flags |= NV; // an invalid operation (quiet NaN operands were handled by the caller)
    return CNAN_H;
  }
  if (anySNaN) res.flags |= NV;
  if (r === Infinity) return 0x7c00;
  if (r === -Infinity) return 0xfc00;
  return roundHalf(r, es, rm);
}

/**
 * The sign of an exact zero sum x + y (IEEE 754): -0 when both addends are -0, or in RDN unless
 * both are +0; +0 otherwise.
 */
function zeroSum(x: number, y: number, rm: number): number {
  const xNeg = x === 0 && 1 / x < 0;
  const yNeg = y === 0 && 1 / y < 0;
  if (xNeg && yNeg) return 0x8000;
  if (rm !== RDN) return 0;
  return x === 0 && y === 0 && !xNeg && !yNeg ? 0 : 0x8000;
}

function sgn(v: number): number {
  return v > 0 ? 1 : v < 0 ? -1 : 0;
}

function roundingMode(ctx: FpContext, insn: number): number {
  let rm = (insn >>> 12) & 7;
  if (rm === 7) rm = ctx.frm;
  return rm > 4 ? -1 : rm;
}

function writeX(ctx: FpContext, rd: number, hi: number, lo: number): void {
  if (rd === 0) return;
  ctx.x[2 * rd] = lo;
  ctx.x[2 * rd + 1] = hi;
}

function fclassH(h: number): number {
  const neg = (h & 0x8000) !== 0;
  const e = (h >>> 10) & 31;
  const m = h & 1023;
  if (e === 31) {
    if (m === 0) return neg ? 1 : 1 << 7;
    return (m & 0x200) !== 0 ? 1 << 9 : 1 << 8;
  }
  if (e === 0) {
    if (m === 0) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}

/** Single bits (raw) -> the half nearest in mode rm. */
function fromNumber(v: number, isSNaN: boolean, rm: number): number {
  if (v !== v) {
    if (isSNaN) res.flags |= NV;
    return CNAN_H;
  }
  if (v === Infinity) return 0x7c00;
  if (v === -Infinity) return 0xfc00;
  return roundHalf(v, 0, rm);
}

/**
 * Executes a half-precision instruction (fmt H, or fcvt.s.h / fcvt.d.h). Returns false for an
 * illegal one: an unknown encoding, a reserved rounding mode, or an instruction of Zfh on a
 * hart with Zfhmin only (or neither).
 */
export function executeHalf(ctx: FpContext, insn: number): boolean {
  const ext = ctx.ext ?? X_ZFH | X_ZFHMIN;
  if ((ext & (X_ZFH | X_ZFHMIN)) === 0) return false;
  const full = (ext & X_ZFH) !== 0;
  const f = ctx.f;
  const op = insn & 0x7f;
  const rd = (insn >>> 7) & 31;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  const funct3 = (insn >>> 12) & 7;
  res.flags = 0;
  if (op !== 0x53) {
    // fmadd/fmsub/fnmsub/fnmadd.h
    if (!full || (op !== 0x43 && op !== 0x47 && op !== 0x4b && op !== 0x4f)) return false;
    const rm = roundingMode(ctx, insn);
    if (rm < 0) return false;
    const ha = readH(f, rs1);
    const hb = readH(f, rs2);
    const hc = readH(f, insn >>> 27);
    let a = halfToNumber(ha);
    const b = halfToNumber(hb);
    let c = halfToNumber(hc);
    if (op === 0x4b || op === 0x4f) a = -a; // fnmsub, fnmadd: -(a*b)
    if (op === 0x47 || op === 0x4f) c = -c; // fmsub, fnmadd: -c
    const snan = isSNaNH(ha) || isSNaNH(hb) || isSNaNH(hc);
    const p = a * b; // exact
    let bits: number;
    if (p !== p && a === a && b === b) {
      res.flags |= NV; // inf * 0, even with a quiet NaN addend
      bits = CNAN_H;
    } else if (a !== a || b !== b || c !== c) {
      if (snan) res.flags |= NV;
      bits = CNAN_H;
    } else {
      const s = p + c;
      let es = 0;
      if (s === s && Math.abs(s) !== Infinity) {
        const bb = s - p;
        es = sgn(p - (s - bb) + (c - bb)); // 2Sum: p + c = s + err exactly
      }
      bits = s === 0 && es === 0 ? zeroSum(p, c, rm) : finish(s, es, rm, false);
    }
    writeH(f, rd, bits);
    ctx.fflags |= res.flags;
    return true;
  }
  const f5 = insn >>> 27;
  const fmt = (insn >>> 25) & 3;
  if (f5 === 0x08) {
    // fcvt.s.h (fmt S), fcvt.d.h (fmt D): rs2 = 2; fcvt.h.s (rs2 0), fcvt.h.d (rs2 1): fmt H
    const rm = roundingMode(ctx, insn);
    if (rm < 0) return false;
    if (fmt === 2) {
      if (rs2 > 1) return false;
      let v: number;
      let snan: boolean;
      if (rs2 === 0) {
        const sb = f[2 * rs1 + 1] === -1 ? f[2 * rs1] : 0x7fc00000;
        I32[0] = sb;
        v = F32[0];
        snan = (sb & 0x7f800000) === 0x7f800000 && (sb & 0x7fffff) !== 0 && (sb & 0x400000) === 0;
      } else {
        I32[LO] = f[2 * rs1];
        I32[HI] = f[2 * rs1 + 1];
        v = F64[0];
        const h = f[2 * rs1 + 1];
        snan = (h & 0x7ff00000) === 0x7ff00000 && ((h & 0xfffff) !== 0 || f[2 * rs1] !== 0) && (h & 0x80000) === 0;
      }
      writeH(f, rd, fromNumber(v, snan, rm));
    } else {
      if (rs2 !== 2 || fmt > 1) return false;
      const h = readH(f, rs1);
      if (isNaNH(h)) {
        if (isSNaNH(h)) res.flags |= NV;
        if (fmt === 0) {
          f[2 * rd] = 0x7fc00000;
          f[2 * rd + 1] = -1;
        } else {
          f[2 * rd] = 0;
          f[2 * rd + 1] = 0x7ff80000;
        }
      } else {
        const v = halfToNumber(h); // exact in single and double
        if (fmt === 0) {
          F32[0] = v;
          f[2 * rd] = I32[0];
          f[2 * rd + 1] = -1;
        } else {
          F64[0] = v;
          f[2 * rd] = I32[LO];
          f[2 * rd + 1] = I32[HI];
        }
      }
    }
    ctx.fflags |= res.flags;
    return true;
  }
  if (fmt !== 2) return false;
  // fmv.x.h and fmv.h.x are Zfhmin; everything else below is Zfh.
  if (f5 === 0x1c && funct3 === 0 && rs2 === 0) {
    const v = (f[2 * rs1] << 16) >> 16; // the low 16 bits, sign-extended; no NaN-box check
    writeX(ctx, rd, v >> 31, v);
    return true;
  }
  if (f5 === 0x1e) {
    if (rs2 !== 0 || funct3 !== 0) return false;
    writeH(f, rd, ctx.x[2 * rs1] & 0xffff);
    return true;
  }
  if (!full) return false;
  const ha = readH(f, rs1);
  const hb = readH(f, rs2);
  switch (f5) {
    case 0x00: // fadd
    case 0x01: // fsub
    case 0x02: // fmul
    case 0x03: // fdiv
    case 0x0b: {
      // fsqrt
      if (f5 === 0x0b && rs2 !== 0) return false;
      const rm = roundingMode(ctx, insn);
      if (rm < 0) return false;
      const a = halfToNumber(ha);
      const b = halfToNumber(hb);
      const snan = isSNaNH(ha) || (f5 !== 0x0b && isSNaNH(hb));
      let bits: number;
      if (a !== a || (f5 !== 0x0b && b !== b)) {
        if (snan) res.flags |= NV;
        bits = CNAN_H;
      } else if (f5 === 0x00 || f5 === 0x01) {
        const bb = f5 === 0x01 ? -b : b;
        const r = a + bb; // exact
        bits = r === 0 ? zeroSum(a, bb, rm) : finish(r, 0, rm, false);
      } else if (f5 === 0x02) {
        bits = finish(a * b, 0, rm, false);
      } else if (f5 === 0x03) {
        if (b === 0 && a === a && a !== 0 && Math.abs(a) !== Infinity) res.flags |= DZ;
        const r = a / b;
        const es = r === r && Math.abs(r) !== Infinity && r !== 0 ? sgn(a - r * b) * sgn(b) : 0;
        bits = finish(r, es, rm, false);
      } else {
        const r = Math.sqrt(a);
        if (r === 0)
          bits = a === 0 && 1 / a < 0 ? 0x8000 : 0; // sqrt(-0) = -0
        else bits = finish(r, r === r && r !== Infinity ? sgn(a - r * r) : 0, rm, false);
      }
      writeH(f, rd, bits);
      break;
    }
    case 0x04: {
      // fsgnj, fsgnjn, fsgnjx
      if (funct3 > 2) return false;
      const s = funct3 === 0 ? hb & 0x8000 : funct3 === 1 ? ~hb & 0x8000 : (ha ^ hb) & 0x8000;
      writeH(f, rd, (ha & 0x7fff) | s);
      return true;
    }
    case 0x05: {
      // fmin, fmax (2.2: -0 < +0; one NaN -> the other; two -> canonical; sNaN -> NV)
      if (funct3 > 1) return false;
      if (isSNaNH(ha) || isSNaNH(hb)) res.flags |= NV;
      const an = isNaNH(ha);
      const bn = isNaNH(hb);
      let bits: number;
      if (an && bn) bits = CNAN_H;
      else if (an) bits = hb;
      else if (bn) bits = ha;
      else {
        const a = halfToNumber(ha);
        const b = halfToNumber(hb);
        let aLess = a < b || (a === b && (ha & 0x8000) !== 0);
        if (funct3 === 1) aLess = !aLess;
        bits = aLess ? ha : hb;
        if (a === b && (ha & 0x8000) === (hb & 0x8000)) bits = ha;
      }
      writeH(f, rd, bits);
      break;
    }
    case 0x14: {
      // fle (0), flt (1), feq (2)
      if (funct3 > 2) return false;
      const an = isNaNH(ha);
      const bn = isNaNH(hb);
      if (an || bn) {
        if (funct3 !== 2 || isSNaNH(ha) || isSNaNH(hb)) res.flags |= NV;
        writeX(ctx, rd, 0, 0);
        break;
      }
      const a = halfToNumber(ha);
      const b = halfToNumber(hb);
      const v = funct3 === 0 ? a <= b : funct3 === 1 ? a < b : a === b;
      writeX(ctx, rd, 0, v ? 1 : 0);
      break;
    }
    case 0x18: {
      // fcvt.{w,wu,l,lu}.h
      if (rs2 > 3) return false;
      const rm = roundingMode(ctx, insn);
      if (rm < 0) return false;
      floatToInt(halfToNumber(ha), rs2, rm);
      writeX(ctx, rd, res.hi, res.lo);
      break;
    }
    case 0x1a: {
      // fcvt.h.{w,wu,l,lu}
      if (rs2 > 3) return false;
      const rm = roundingMode(ctx, insn);
      if (rm < 0) return false;
      const lo = ctx.x[2 * rs1];
      const hi = ctx.x[2 * rs1 + 1];
      // Beyond 2^53 the double is inexact, but such magnitudes overflow a half in any case.
      const v =
        rs2 === 0 ? lo : rs2 === 1 ? lo >>> 0 : rs2 === 2 ? hi * TWO32 + (lo >>> 0) : (hi >>> 0) * TWO32 + (lo >>> 0);
      writeH(f, rd, v === 0 ? 0 : roundHalf(v, 0, rm));
      break;
    }
    case 0x1c: {
      // fclass.h (fmv.x.h handled above)
      if (rs2 !== 0 || funct3 !== 1) return false;
      writeX(ctx, rd, 0, fclassH(ha));
      return true;
    }
    default:
      return false;
  }
  ctx.fflags |= res.flags;
  return true;
}
