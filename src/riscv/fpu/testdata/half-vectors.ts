/**
 * Test vectors for half precision (Zfh/Zfhmin) in the format of vectors.ts (fpref.c runs them):
 * f1, f2, f3 and x5 sources, f4 or x7 destination. Operands are biased toward the hard cases of
 * binary16: signed zeros, subnormals (2^-24..2^-14), the overflow edge (65504..65520), halfway
 * cases, cancellation, NaN payloads and NaN-boxing, integers around the half range.
 */
import { makeRng, type Vector } from './vectors.ts';

export interface HalfOp {
  name: string;
  form: 'r' | 'fma';
  /** funct7 (R-type) or the major opcode (fma). */
  code: number;
  rs2: number;
  funct3: number;
  /** Source kind of f1: 'h' half, 's' single, 'd' double, 'x' integer (x5). */
  src: 'h' | 's' | 'd' | 'x';
  intDst?: boolean;
}

function r(name: string, funct5: number, rs2 = -1, funct3 = -1, extra: Partial<HalfOp> = {}): HalfOp {
  return { name, form: 'r', code: (funct5 << 2) | 2, rs2, funct3, src: 'h', ...extra };
}

export function halfOps(): HalfOp[] {
  const ops: HalfOp[] = [
    r('fadd.h', 0x00),
    r('fsub.h', 0x01),
    r('fmul.h', 0x02),
    r('fdiv.h', 0x03),
    r('fsqrt.h', 0x0b, 0),
    r('fsgnj.h', 0x04, -1, 0),
    r('fsgnjn.h', 0x04, -1, 1),
    r('fsgnjx.h', 0x04, -1, 2),
    r('fmin.h', 0x05, -1, 0),
    r('fmax.h', 0x05, -1, 1),
    r('fle.h', 0x14, -1, 0, { intDst: true }),
    r('flt.h', 0x14, -1, 1, { intDst: true }),
    r('feq.h', 0x14, -1, 2, { intDst: true }),
    r('fclass.h', 0x1c, 0, 1, { intDst: true }),
    r('fmv.x.h', 0x1c, 0, 0, { intDst: true }),
    r('fmv.h.x', 0x1e, 0, 0, { src: 'x' }),
    r('fcvt.h.s', 0x08, 0, -1, { src: 's' }),
    r('fcvt.h.d', 0x08, 1, -1, { src: 'd' }),
    { name: 'fcvt.s.h', form: 'r', code: 0x20, rs2: 2, funct3: -1, src: 'h' },
    { name: 'fcvt.d.h', form: 'r', code: 0x21, rs2: 2, funct3: -1, src: 'h' },
  ];
  ['w', 'wu', 'l', 'lu'].forEach((t, i) => {
    ops.push(r(`fcvt.${t}.h`, 0x18, i, -1, { intDst: true }));
    ops.push(r(`fcvt.h.${t}`, 0x1a, i, -1, { src: 'x' }));
  });
  for (const [name, code] of [
    ['fmadd.h', 0x43],
    ['fmsub.h', 0x47],
    ['fnmsub.h', 0x4b],
    ['fnmadd.h', 0x4f],
  ] as const) {
    ops.push({ name, form: 'fma', code, rs2: -1, funct3: -1, src: 'h' });
  }
  return ops;
}

function encode(op: HalfOp, rm: number): number {
  const funct3 = op.funct3 >= 0 ? op.funct3 : rm;
  const rd = op.intDst ? 7 : 4;
  const rs1 = op.src === 'x' ? 5 : 1;
  if (op.form === 'fma')
    return ((3 << 27) | (2 << 25) | (2 << 20) | (1 << 15) | (funct3 << 12) | (4 << 7) | op.code) >>> 0;
  const rs2 = op.rs2 >= 0 ? op.rs2 : 2;
  return ((op.code << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | 0x53) >>> 0;
}

const F64 = new Float64Array(1);
const I32 = new Int32Array(F64.buffer);
const F32 = new Float32Array(1);
const U32 = new Int32Array(F32.buffer);

/** Value of a half (exact). */
function hVal(h: number): number {
  const e = (h >>> 10) & 31;
  const m = h & 1023;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 31) return m ? NaN : s * Infinity;
  return e === 0 ? s * m * 2 ** -24 : s * (1024 + m) * 2 ** (e - 25);
}

/** A half near v (truncated; enough for deriving operands). */
function hNear(v: number): number {
  if (v !== v) return 0x7e00;
  const s = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return s | 0x7c00;
  if (a < 2 ** -14) return s | Math.floor(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  return s | ((e + 15) << 10) | (Math.floor(a / 2 ** (e - 10)) - 1024);
}

export class HalfVectorGen {
  private readonly rnd: () => number;
  constructor(seed: number) {
    this.rnd = makeRng(seed);
  }
  private u(n: number): number {
    return this.rnd() % n;
  }

  private half(): number {
    const sign = this.u(2) << 15;
    const k = this.u(16);
    if (k < 3) {
      const sp = [0, 0x7c00, 0x7e00, 0x7c01, 0x7d23, 0x7f00, 0x7bff, 0x0400, 0x03ff, 1, 0x3c00, 0x7bfe, 0x0401, 0x3800];
      return sign | sp[this.u(sp.length)]!;
    }
    let e: number;
    if (k === 3) e = 0;
    else if (k === 4) e = 1 + this.u(2);
    else if (k === 5) e = 30 - this.u(2);
    else e = 15 + this.u(12) - 6;
    let m = this.rnd() & 1023;
    const mm = this.u(5);
    if (mm === 0) m &= 0x3c0;
    else if (mm === 1) m = this.u(2) ? 1023 : 0;
    return sign | (e << 10) | m;
  }

  /** f register source [hi, lo] for a half: NaN-boxed, rarely not. */
  private boxH(out: Int32Array, i: number, h: number): void {
    if (this.u(40) === 0) {
      out[i] = this.u(2) ? 0 : this.rnd() | 0;
      out[i + 1] = this.u(2) ? h : this.rnd() | 0;
    } else {
      out[i] = -1;
      out[i + 1] = h | -0x10000;
    }
  }

  private single(): number {
    const k = this.u(6);
    if (k === 0) {
      const sp = [
        0, 0x7f800000, 0x7fc00000, 0x7f800001, 0x7fa00123, 0x477fe000, 0x477ff000, 0x38800000, 0x33800000, 0x33000000,
        0x477fefff,
      ];
      return sp[this.u(sp.length)]! | (this.u(2) << 31) | 0;
    }
    const sign = this.u(2) << 31;
    const e = 127 + this.u(50) - 30;
    return sign | (e << 23) | (this.rnd() & (this.u(3) === 0 ? 0x7fe000 : 0x7fffff)) | 0;
  }

  private int(out: Int32Array, i: number): void {
    const k = this.u(4);
    let hi = this.rnd() | 0;
    let lo = this.rnd() | 0;
    if (k === 0) {
      lo = (this.rnd() % 140000) - 70000;
      hi = lo >> 31;
    } else if (k === 1) {
      lo = this.rnd() & 0x1ffff;
      hi = 0;
    } else if (k === 2) {
      hi = lo >> 31;
    }
    out[i] = hi;
    out[i + 1] = lo;
  }

  vector(op: HalfOp): Vector {
    let rm = 7;
    let frm = this.u(5);
    const c = this.u(40);
    if (c < 12) rm = this.u(5);
    else if (c === 12) rm = 5 + this.u(2);
    else if (c === 13) frm = 5 + this.u(3);
    const src = new Int32Array(8);
    const hs = [this.half(), this.half(), this.half()];
    // Derived operands: cancellation, exact and near-edge results.
    const d = this.u(6);
    const a = hVal(hs[0]!);
    const b = hVal(hs[1]!);
    if (d === 0) {
      if (op.form === 'fma') hs[2] = hNear(-(a * b)) ^ (this.u(2) ? this.u(4) : 0);
      else if (op.name === 'fadd.h') hs[1] = hs[0]! ^ 0x8000 ^ (this.u(2) ? this.u(4) : 0);
      else if (op.name === 'fdiv.h') hs[0] = hNear(a * b) ^ (this.u(2) ? this.u(2) : 0);
      else if (op.name === 'fsqrt.h') hs[0] = hNear(a * a) ^ (this.u(2) ? this.u(2) : 0);
    } else if (d === 1) {
      const edges = [65504, 65520, 2 ** -14, 2 ** -24, 2 ** -25, 3 * 2 ** -25];
      const t =
        edges[this.u(edges.length)]! * (1 + (this.u(2) ? 1 : -1) * 2 ** -(this.u(14) + 1)) * (this.u(2) ? 1 : -1);
      if (op.name === 'fmul.h' && a !== 0) hs[1] = hNear(t / a);
      else if (op.name === 'fdiv.h') hs[1] = hNear(a / t);
      else if (op.name === 'fadd.h') hs[1] = hNear(t - a);
      else if (op.form === 'fma') hs[2] = hNear(t - a * b);
    }
    this.boxH(src, 0, hs[0]!);
    this.boxH(src, 2, hs[1]!);
    this.boxH(src, 4, hs[2]!);
    if (op.src === 's') {
      src[0] = this.u(30) === 0 ? 0 : -1;
      src[1] = this.single();
    } else if (op.src === 'd') {
      F32[0] = 0;
      U32[0] = this.single();
      F64[0] = F32[0]! * (this.u(2) ? 1 + 2 ** -(20 + this.u(30)) : 1);
      src[0] = I32[1]!;
      src[1] = I32[0]!;
    }
    this.int(src, 6);
    return { insn: encode(op, rm), frm, src, name: op.name };
  }
}
