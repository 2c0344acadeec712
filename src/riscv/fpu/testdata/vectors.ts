/**
 * Deterministic test-vector generator for the FPU differential test: instruction encodings with
 * operand bit patterns biased toward the hard cases (signed zeros, subnormals, the overflow and
 * underflow edges, halfway cases, cancellation, NaN payloads, integer conversion bounds).
 *
 * Register convention shared with fpref.c: f1, f2, f3 and x5 are the sources; f4 or x7 the
 * destination.
 */

/** One vector: the instruction word, fcsr.frm, and the 64-bit sources as hi/lo int32 halves. */
export interface Vector {
  insn: number;
  frm: number;
  /** f1, f2, f3, x5 as [hi, lo] pairs (8 entries). */
  src: Int32Array;
  /** Short name of the operation, for messages. */
  name: string;
}

/** mulberry32: a small seeded PRNG returning uint32. */
export function makeRng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

export interface OpSpec {
  name: string;
  /** 'r' = OP-FP R-type, 'fma' = R4-type. */
  form: 'r' | 'fma';
  /** funct7 (R-type, including fmt) or the major opcode (fma). */
  code: number;
  /** fixed rs2 for unary ops, or -1 when rs2 = f2. */
  rs2: number;
  /** fixed funct3 (for ops where it selects the operation), or -1 when it is a rounding mode. */
  funct3: number;
  dbl: boolean;
  intSrc?: boolean;
  intDst?: boolean;
}

function r(name: string, funct5: number, dbl: boolean, rs2 = -1, funct3 = -1, extra: Partial<OpSpec> = {}): OpSpec {
  return {
    name: name + (dbl ? '.d' : '.s'),
    form: 'r',
    code: (funct5 << 2) | (dbl ? 1 : 0),
    rs2,
    funct3,
    dbl,
    ...extra,
  };
}

/** Every F/D operation, both precisions. */
export function allOps(): OpSpec[] {
  const ops: OpSpec[] = [];
  for (const dbl of [false, true]) {
    ops.push(r('fadd', 0x00, dbl), r('fsub', 0x01, dbl), r('fmul', 0x02, dbl), r('fdiv', 0x03, dbl));
    ops.push(r('fsqrt', 0x0b, dbl, 0));
    ops.push(r('fsgnj', 0x04, dbl, -1, 0), r('fsgnjn', 0x04, dbl, -1, 1), r('fsgnjx', 0x04, dbl, -1, 2));
    ops.push(r('fmin', 0x05, dbl, -1, 0), r('fmax', 0x05, dbl, -1, 1));
    ops.push(r('fle', 0x14, dbl, -1, 0, { intDst: true }), r('flt', 0x14, dbl, -1, 1, { intDst: true }));
    ops.push(r('feq', 0x14, dbl, -1, 2, { intDst: true }));
    ops.push(r('fclass', 0x1c, dbl, 0, 1, { intDst: true }));
    ops.push(r('fmv.x', 0x1c, dbl, 0, 0, { intDst: true }), r('fmv.f.x', 0x1e, dbl, 0, 0, { intSrc: true }));
    ['w', 'wu', 'l', 'lu'].forEach((t, i) => {
      ops.push(r('fcvt.' + t, 0x18, dbl, i, -1, { intDst: true }));
      ops.push(r('fcvt.from.' + t, 0x1a, dbl, i, -1, { intSrc: true }));
    });
    ops.push(r(dbl ? 'fcvt.d.s' : 'fcvt.s.d', 0x08, dbl, dbl ? 0 : 1));
    for (const [name, code] of [
      ['fmadd', 0x43],
      ['fmsub', 0x47],
      ['fnmsub', 0x4b],
      ['fnmadd', 0x4f],
    ] as const) {
      ops.push({ name: name + (dbl ? '.d' : '.s'), form: 'fma', code, rs2: -1, funct3: -1, dbl });
    }
  }
  return ops;
}

export function encode(op: OpSpec, rm: number): number {
  const funct3 = op.funct3 >= 0 ? op.funct3 : rm;
  const rd = op.intDst ? 7 : 4;
  const rs1 = op.intSrc ? 5 : 1;
  if (op.form === 'fma') {
    return ((3 << 27) | ((op.dbl ? 1 : 0) << 25) | (2 << 20) | (1 << 15) | (funct3 << 12) | (4 << 7) | op.code) >>> 0;
  }
  const rs2 = op.rs2 >= 0 ? op.rs2 : 2;
  return ((op.code << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | 0x53) >>> 0;
}

const F64 = new Float64Array(1);
const I32 = new Int32Array(F64.buffer);
const F32 = new Float32Array(1);
const U32 = new Int32Array(F32.buffer);

function dBits(v: number, out: Int32Array, i: number): void {
  F64[0] = v;
  out[i] = I32[1];
  out[i + 1] = I32[0];
}
function dVal(hi: number, lo: number): number {
  I32[1] = hi;
  I32[0] = lo;
  return F64[0];
}
function sBits(v: number): number {
  F32[0] = v;
  return U32[0];
}
function sVal(b: number): number {
  U32[0] = b;
  return F32[0];
}

/** Generates vectors for one operation. */
export class VectorGen {
  private readonly rnd: () => number;
  constructor(seed: number) {
    this.rnd = makeRng(seed);
  }
  private u(n: number): number {
    return this.rnd() % n;
  }

  /** An interesting double bit pattern written to out[i] (hi), out[i + 1] (lo). */
  private double(out: Int32Array, i: number): void {
    const sign = this.u(2) << 31;
    const k = this.u(22) - 2;
    let exp: number;
    let mh = this.rnd() & 0xfffff;
    let ml = this.rnd() | 0;
    if (k <= 0) {
      const specials = [
        [0, 0],
        [0x7ff00000, 0],
        [0x7ff80000, 0],
        [0x7ff00000, 1],
        [0x7ff40000, 0x1234],
        [0x7ffc0000, 5],
        [0x7fefffff, -1],
        [0x00100000, 0],
        [0x000fffff, -1],
        [0, 1],
        [0x3ff00000, 0],
        [0x43e00000, 0],
        [0x41e00000, 0],
        [0x41f00000, 0],
        [0x43f00000, 0],
      ];
      const s = specials[this.u(specials.length)];
      out[i] = s[0] | sign;
      out[i + 1] = s[1];
      return;
    }
    if (k === 1) exp = 0;
    else if (k === 2) exp = 1 + this.u(3);
    else if (k === 3) exp = 0x7fe - this.u(3);
    else if (k === 4) exp = 1 + this.u(0x7fe);
    else if (k === 5)
      exp = 1023 + 31 + this.u(3) - 1; // near 2^31 .. 2^33
    else if (k === 6)
      exp = 1023 + 62 + this.u(3) - 1; // near 2^63 .. 2^64
    else if (k === 7) exp = 0x3ff + this.u(40) - 20;
    else exp = 0x3ff + this.u(8) - 4;
    const m = this.u(6);
    if (m === 0) {
      // Few significant bits: exact and halfway cases.
      mh &= 0xff000;
      ml = 0;
    } else if (m === 1) {
      ml = this.u(2) ? 0 : -1;
    } else if (m === 2) {
      mh = this.u(2) ? 0xfffff : 0;
      ml = this.u(2) ? -1 : 0x800;
    }
    out[i] = sign | (exp << 20) | mh;
    out[i + 1] = ml;
  }

  /** An interesting single bit pattern (32 bits). */
  private single(): number {
    const sign = this.u(2) << 31;
    const k = this.u(22) - 2;
    if (k <= 0) {
      const specials = [
        0, 0x7f800000, 0x7fc00000, 0x7f800001, 0x7fa00123, 0x7fe00005, 0x7f7fffff, 0x00800000, 0x007fffff, 1,
        0x3f800000, 0x4f000000, 0x4f800000, 0x5f000000, 0x5f800000,
      ];
      return specials[this.u(specials.length)] | sign;
    }
    let exp: number;
    if (k === 1) exp = 0;
    else if (k === 2) exp = 1 + this.u(3);
    else if (k === 3) exp = 0xfe - this.u(3);
    else if (k === 4) exp = 1 + this.u(0xfe);
    else if (k === 5) exp = 127 + 31 + this.u(3) - 1;
    else if (k === 6) exp = 127 + 62 + this.u(3) - 1;
    else if (k === 7) exp = 127 + this.u(30) - 15;
    else exp = 127 + this.u(8) - 4;
    let m = this.rnd() & 0x7fffff;
    const mm = this.u(6);
    if (mm === 0) m &= 0x7f0000;
    else if (mm === 1) m |= 0x7ffff0;
    else if (mm === 2) m = this.u(2) ? 0x7fffff : 0;
    return sign | (exp << 23) | m;
  }

  private fpSrc(dbl: boolean, out: Int32Array, i: number): void {
    if (dbl) this.double(out, i);
    else {
      out[i + 1] = this.single();
      // Mostly properly NaN-boxed; sometimes not (the operand then reads as the canonical NaN).
      out[i] = this.u(40) === 0 ? this.rnd() | 0 : -1;
    }
  }

  private intSrc(out: Int32Array, i: number): void {
    const k = this.u(8);
    let hi = this.rnd() | 0;
    let lo = this.rnd() | 0;
    if (k === 0) {
      hi = lo >> 31; // 32-bit value sign-extended
    } else if (k === 1) {
      hi = this.u(2) ? 0 : -1;
      lo = this.rnd() & (this.u(2) ? 0xffffff : 0x1ffffff);
      if (hi) lo = -lo;
    } else if (k === 2) {
      const vals = [0, 1, -1, 0x7fffffff, 0x80000000 | 0, 0x1000001, 0xffffff];
      lo = vals[this.u(vals.length)];
      hi = this.u(3) === 0 ? 0x80000000 | 0 : this.u(2) ? 0 : -1;
    } else if (k === 3) {
      // Values near 2^53 / 2^63 with long tails of ones (rounding cases).
      hi = this.u(2) ? 0x7fffffff : 0x001fffff;
      lo = this.u(2) ? -1 : 0xfffff800 | 0;
    }
    out[i] = hi;
    out[i + 1] = lo;
  }

  /** Derives f3 (fma) or f2 so that heavy cancellation or exact results happen. */
  private derive(op: OpSpec, src: Int32Array): void {
    const dbl = op.dbl;
    const a = dbl ? dVal(src[0], src[1]) : sVal(src[1]);
    const b = dbl ? dVal(src[2], src[3]) : sVal(src[3]);
    let t: number;
    if (op.form === 'fma') t = -(a * b);
    else if (op.name.startsWith('fadd')) t = -a;
    else if (op.name.startsWith('fsub')) t = a;
    else if (op.name.startsWith('fdiv')) t = a * b;
    else if (op.name.startsWith('fsqrt')) t = a * a;
    else return;
    if (!dbl) t = Math.fround(t);
    const idx = op.form === 'fma' ? 4 : op.name.startsWith('fdiv') || op.name.startsWith('fsqrt') ? 0 : 2;
    if (dbl) {
      dBits(t, src, idx);
      if (this.u(2)) src[idx + 1] ^= 1 << this.u(4);
    } else {
      let bits = sBits(t);
      if (this.u(2)) bits ^= 1 << this.u(3);
      src[idx] = -1;
      src[idx + 1] = bits;
    }
  }

  /** Derives an operand so that the exact result lies close to the underflow or overflow edge. */
  private edge(op: OpSpec, src: Int32Array): void {
    const single = !op.dbl || op.name === 'fcvt.s.d.s';
    const edges = single ? [2 ** -126, 2 ** 128, 2 ** -149] : [2 ** -1022, 2 ** 1024 * (1 - 2 ** -60), 2 ** -1074];
    const e = edges[this.u(3)];
    const wiggle = 1 + (this.u(2) ? 1 : -1) * (this.rnd() / 2 ** 32) * 2 ** -(this.u(40) + (single ? 18 : 45));
    const target = e * wiggle * (this.u(2) ? 1 : -1);
    const dbl = op.dbl;
    const a = dbl ? dVal(src[0], src[1]) : sVal(src[1]);
    const b = dbl ? dVal(src[2], src[3]) : sVal(src[3]);
    let idx: number;
    let t: number;
    if (op.form === 'fma') {
      idx = 4;
      t = target - a * b;
    } else if (op.name.startsWith('fmul')) {
      idx = 2;
      t = target / a;
    } else if (op.name.startsWith('fdiv')) {
      idx = 2;
      t = a / target;
    } else if (op.name.startsWith('fadd')) {
      idx = 2;
      t = target - a;
    } else if (op.name === 'fcvt.s.d.s') {
      idx = 0;
      t = target;
      dBits(t, src, idx);
      return;
    } else return;
    if (!dbl) t = Math.fround(t);
    if (t !== t || t - t !== 0) return;
    if (dbl) dBits(t, src, idx);
    else {
      src[idx] = -1;
      src[idx + 1] = sBits(t);
    }
  }

  vector(op: OpSpec): Vector {
    // Mostly dynamic rounding with every valid frm; some static modes; a few reserved ones.
    let rm = 7;
    let frm = this.u(5);
    const c = this.u(40);
    if (c < 12) rm = this.u(5);
    else if (c === 12) rm = 5 + this.u(2);
    else if (c === 13) frm = 5 + this.u(3);
    const src = new Int32Array(8);
    this.fpSrc(op.dbl, src, 0);
    this.fpSrc(op.dbl, src, 2);
    this.fpSrc(op.dbl, src, 4);
    this.intSrc(src, 6);
    const d = this.u(6);
    if (d < 2) this.derive(op, src);
    else if (d === 2) this.edge(op, src);
    return { insn: encode(op, rm), frm, src, name: op.name };
  }
}
