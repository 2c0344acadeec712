/**
 * The differential fuzzer's floating point (fuzz.ts): random F/D/Zfh instructions (arithmetic,
 * square root, fused multiply-add, sign injection, min/max, compares, classification, every
 * conversion, moves, loads and stores incl. compressed, fcsr/frm/fflags accesses) with every
 * static rounding mode, the dynamic one and the reserved ones (illegal), and register values
 * drawn from a pool of special bit patterns (signed zeros, infinities, quiet and signalling NaNs
 * with payloads, subnormals, the extremes, integer-conversion boundaries) and random ones, incl.
 * singles and halves that are not properly NaN-boxed. Test-only code.
 */
import type { Rng } from './fuzz.ts';

const FMT_S = 0;
const FMT_D = 1;
const FMT_H = 2;

const R = (f7: number, rs2: number, rs1: number, f3: number, rd: number, op: number): number =>
  ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const Iw = (imm: number, rs1: number, f3: number, rd: number, op: number): number =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const Sw = (imm: number, rs2: number, rs1: number, f3: number, op: number): number =>
  ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op) >>> 0;

/** Special doubles as [lo, hi]. */
const D_SPECIAL: readonly [number, number][] = [
  [0, 0],
  [0, 0x80000000],
  [0, 0x7ff00000], // +inf
  [0, 0xfff00000], // -inf
  [0, 0x7ff80000], // canonical qNaN
  [1, 0x7ff00000], // sNaN
  [0x1234, 0xfff8abcd], // negative qNaN with payload
  [0x5678, 0x7ff4000f], // sNaN with payload
  [1, 0], // smallest subnormal
  [-1, 0x000fffff], // largest subnormal
  [1, 0x800fffff],
  [0, 0x00100000], // smallest normal
  [-1, 0x7fefffff], // largest finite
  [-1, 0xffefffff],
  [0, 0x3ff00000], // 1
  [0, 0xbff80000], // -1.5
  [0, 0x3fe00000], // 0.5
  [0, 0x40040000], // 2.5
  [0, 0xc0040000], // -2.5
  [0, 0x41e00000], // 2^31
  [0x00200000, 0xc1e00000], // -(2^31 + 1)
  [0, 0x41f00000], // 2^32
  [0, 0x43e00000], // 2^63
  [0, 0xc3e00000], // -2^63
  [0, 0x43f00000], // 2^64
  [-1, 0x43efffff], // just below 2^63
  [0, 0x3ca00000], // 2^-53
];
/** Special singles (low word; boxed with an all-ones high word). */
const S_SPECIAL: readonly number[] = [
  0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc12345, 0x7fa00000, 1, 0x80000001, 0x007fffff,
  0x00800000, 0x7f7fffff, 0xff7fffff, 0x3f800000, 0xbfc00000, 0x3f000000, 0x40200000, 0xc0200000, 0x4f000000,
  0xcf000001, 0x4f800000, 0x5f000000, 0xdf000000, 0x5f800000, 0x5effffff, 0x33800000,
];
/** Special halves (low 16 bits; boxed with ones above). */
const H_SPECIAL: readonly number[] = [
  0, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfe55, 0x7d00, 1, 0x8001, 0x03ff, 0x0400, 0x7bff, 0xfbff, 0x3c00, 0xbe00,
  0x3800, 0x4100, 0xc100, 0x7800, 0x1400,
];

/** A random FP register value as [lo, hi] (the register file's layout). */
export function fpValue(r: Rng): [number, number] {
  const k = r.int(10);
  if (k < 3) {
    const v = r.pick(D_SPECIAL);
    return [v[0] | 0, v[1] | 0];
  }
  if (k === 3) return [r.next() | 0, r.next() | 0];
  // Singles and halves: properly NaN-boxed, except sometimes (then they read as the canonical NaN).
  const box = r.chance(0.85) ? -1 : r.chance(0.5) ? r.next() | 0 : 0x7fffffff;
  if (k < 7) return [(r.chance(0.8) ? r.pick(S_SPECIAL) : r.next()) | 0, box];
  const h = r.chance(0.8) ? r.pick(H_SPECIAL) : r.int(0x10000);
  return [(r.chance(0.9) ? 0xffff0000 | h : (r.next() << 16) | h) | 0, box];
}

/** A rounding-mode field: mostly static modes and dynamic, sometimes a reserved one (illegal). */
function rm(r: Rng): number {
  const k = r.int(20);
  if (k === 0) return 5 + r.int(2);
  if (k < 8) return 7;
  return r.int(5);
}

function fmt(r: Rng): number {
  const k = r.int(10);
  return k < 4 ? FMT_D : k < 8 ? FMT_S : FMT_H;
}

/**
 * One random FP instruction. `ptr` holds a pointer into the data pages (x8); `mem` gives a
 * random load/store offset off it. Integer destinations come from `dests`.
 */
export function randomFpInsn(
  r: Rng,
  ptr: number,
  mem: () => number,
  dests: readonly number[],
): (number | { c: number })[] {
  const fd = r.int(32);
  const f1 = r.int(32);
  const f2 = r.int(32);
  const f3 = r.int(32);
  const xd = r.pick(dests);
  const xs = r.int(32);
  const t = fmt(r);
  const op = (f5: number, rs2: number, rs1: number, fn3: number, rd: number) =>
    R((f5 << 2) | t, rs2, rs1, fn3, rd, 0x53);
  switch (r.int(16)) {
    case 0:
    case 1: // add, sub, mul, div
      return [op(r.int(4), f2, f1, rm(r), fd)];
    case 2: // sqrt
      return [op(0x0b, 0, f1, rm(r), fd)];
    case 3:
    case 4: {
      // fmadd, fmsub, fnmsub, fnmadd
      const o = r.pick([0x43, 0x47, 0x4b, 0x4f]);
      return [((f3 << 27) | (t << 25) | (f2 << 20) | (f1 << 15) | (rm(r) << 12) | (fd << 7) | o) >>> 0];
    }
    case 5: // fsgnj, fsgnjn, fsgnjx; fmin, fmax
      return [r.chance(0.5) ? op(0x04, f2, f1, r.int(3), fd) : op(0x05, f2, f1, r.int(2), fd)];
    case 6: // feq, flt, fle
      return [op(0x14, f2, f1, r.int(3), xd)];
    case 7: // fclass, fmv.x.*
      return [op(0x1c, 0, f1, r.int(2), xd)];
    case 8: // fmv.*.x
      return [op(0x1e, 0, xs, 0, fd)];
    case 9: // fcvt.{w,wu,l,lu}.fmt
      return [op(0x18, r.int(4), f1, rm(r), xd)];
    case 10: // fcvt.fmt.{w,wu,l,lu}
      return [op(0x1a, r.int(4), xs, rm(r), fd)];
    case 11: {
      // fcvt between formats
      let src = fmt(r);
      if (src === t) src = (t + 1) % 3;
      return [op(0x08, src, f1, rm(r), fd)];
    }
    case 12: {
      // loads: flh/flw/fld (f3 1/2/3)
      const w = r.pick([1, 2, 3]);
      return [Iw(mem(), ptr, w, fd, 0x07)];
    }
    case 13: {
      const w = r.pick([1, 2, 3]);
      return [Sw(mem(), f2, ptr, w, 0x27)];
    }
    case 14: {
      // c.fld / c.fsd off x8 (offsets multiple of 8 below 256; f3 1 / 5)
      const off = r.int(32) * 8;
      const rr = 8 + r.int(8);
      const f3c = r.chance(0.5) ? 1 : 5;
      return [{ c: (f3c << 13) | (((off >> 3) & 7) << 10) | (((off >> 6) & 3) << 5) | ((rr - 8) << 2) }];
    }
    default: {
      // fcsr (3), frm (2), fflags (1): csrrw/csrrs/csrrc and the immediate forms (fsrm, fsflags...)
      const csr = 1 + r.int(3);
      const f3c = 1 + r.int(3) + (r.chance(0.5) ? 4 : 0);
      const src = f3c >= 5 ? r.int(32) : xs;
      return [Iw(csr, src, f3c, xd, 0x73)];
    }
  }
}
