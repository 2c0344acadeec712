/**
 * The single rounding step every inexact FP result goes through (the slow, exact path), plus the
 * bit-level helpers shared by the FPU modules.
 *
 * An exact intermediate result is described as (sign, M, E, rc): the magnitude is (M + rho) * 2^E
 * where M is an integer in [2^52, 2^53) held in a double and rho in [0, 1) is the part below M's
 * lowest bit, known only by its class rc (0: rho = 0, 1: 0 < rho < 1/2, 2: rho = 1/2,
 * 3: rho > 1/2). That is the same information as 53 bits plus round and sticky bits, and it is
 * enough to round correctly to single or double in every mode with exact flags.
 */

/** fflags bits. */
export const NV = 16;
export const DZ = 8;
export const OF = 4;
export const UF = 2;
export const NX = 1;

/** Rounding modes (instruction rm / fcsr.frm encoding). */
export const RNE = 0;
export const RTZ = 1;
export const RDN = 2;
export const RUP = 3;
export const RMM = 4;

/** Canonical NaNs. */
export const CNAN_S = 0x7fc00000;
export const CNAN_D_HI = 0x7ff80000;

/**
 * Result of the current operation: raw bits (single: lo holds the 32-bit pattern) and the flags it
 * raised. A plain object with fixed shape so the engine passes results without allocating.
 */
export const res = { hi: 0, lo: 0, flags: 0 };

/** Powers of two 2^0 .. 2^64, exact. */
export const POW2 = new Float64Array(65);
for (let i = 0; i <= 64; i++) POW2[i] = 2 ** i;

const TWO52 = 2 ** 52;
const TWO32 = 2 ** 32;

// Scratch views moving between raw bits and JS numbers. The host byte order decides which 32-bit
// half of the double is the high word.
const scratch = new ArrayBuffer(8);
export const F64 = new Float64Array(scratch);
export const F32 = new Float32Array(scratch);
export const I32 = new Int32Array(scratch);
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
export const LO = LITTLE ? 0 : 1;
export const HI = LITTLE ? 1 : 0;

/** Raw double bits -> number. */
export function bitsToD(hi: number, lo: number): number {
  I32[HI] = hi;
  I32[LO] = lo;
  return F64[0];
}

/** Raw single bits -> number (exact). */
export function bitsToS(bits: number): number {
  I32[0] = bits;
  return F32[0];
}

/** Set res to a double value's bits (never call with NaN: NaNs are written as canonical constants). */
export function setD(v: number): void {
  F64[0] = v;
  res.hi = I32[HI];
  res.lo = I32[LO];
}

/** Set res to a single value's bits (v must already be representable as a float32, not NaN). */
export function setS(v: number): void {
  F32[0] = v;
  res.lo = I32[0];
  res.hi = -1;
}

export function setNaN(dbl: boolean): void {
  if (dbl) {
    res.hi = CNAN_D_HI;
    res.lo = 0;
  } else {
    res.hi = -1;
    res.lo = CNAN_S;
  }
}

export function setZero(neg: number, dbl: boolean): void {
  if (dbl) {
    res.hi = neg ? 0x80000000 | 0 : 0;
    res.lo = 0;
  } else {
    res.hi = -1;
    res.lo = neg ? 0x80000000 | 0 : 0;
  }
}

export function setInf(neg: number, dbl: boolean): void {
  if (dbl) {
    res.hi = neg ? 0xfff00000 | 0 : 0x7ff00000;
    res.lo = 0;
  } else {
    res.hi = -1;
    res.lo = neg ? 0xff800000 | 0 : 0x7f800000;
  }
}

/** Result of an overflow: infinity or the largest finite value, depending on the mode. */
export function setOverflow(neg: number, dbl: boolean, rm: number): void {
  res.flags |= OF | NX;
  if (rm === RTZ || (rm === RDN && !neg) || (rm === RUP && neg)) {
    if (dbl) {
      res.hi = (neg ? 0x80000000 : 0) | 0x7fefffff;
      res.lo = -1;
    } else {
      res.hi = -1;
      res.lo = (neg ? 0x80000000 : 0) | 0x7f7fffff;
    }
  } else {
    setInf(neg, dbl);
  }
}

let lastInexact = false;

/**
 * Drops the low d bits of M (with rc below them) and rounds in mode rm. Returns the rounded
 * integer (it may carry to the next power of two); lastInexact tells whether anything was dropped.
 */
function roundMant(M: number, d: number, rc: number, neg: number, rm: number): number {
  let q: number;
  let cls: number;
  if (d === 0) {
    q = M;
    cls = rc;
  } else {
    if (d > 54) d = 54; // everything is below half of the kept unit from here on
    const p = POW2[d];
    q = Math.floor(M / p);
    const r = M - q * p;
    const h = p * 0.5;
    if (r < h) cls = r !== 0 || rc !== 0 ? 1 : 0;
    else if (r === h) cls = rc !== 0 ? 3 : 2;
    else cls = 3;
  }
  lastInexact = cls !== 0;
  if (cls !== 0) {
    switch (rm) {
      case RNE:
        if (cls === 3 || (cls === 2 && q % 2 === 1)) q += 1;
        break;
      case RDN:
        if (neg) q += 1;
        break;
      case RUP:
        if (!neg) q += 1;
        break;
      case RMM:
        if (cls >= 2) q += 1;
        break;
    }
  }
  return q;
}

function pack(neg: number, biased: number, field: number, dbl: boolean): void {
  if (dbl) {
    const fh = Math.floor(field / TWO32);
    res.hi = (neg ? 0x80000000 : 0) | (biased * 0x100000 + fh);
    res.lo = (field - fh * TWO32) | 0;
  } else {
    res.hi = -1;
    res.lo = (neg ? 0x80000000 : 0) | (biased * 0x800000 + field);
  }
}

/**
 * Rounds the exact value (-1)^neg * (M + rho) * 2^E (rho described by rc, see the file comment) to
 * single or double in mode rm; writes res and ORs OF/UF/NX into res.flags. Tininess is detected
 * after rounding, as RISC-V specifies: the result is tiny when rounding to the target precision
 * with an unbounded exponent range still gives a magnitude below the smallest normal.
 */
export function roundPack(neg: number, M: number, E: number, rc: number, dbl: boolean, rm: number): void {
  const p = dbl ? 53 : 24;
  const emin = dbl ? -1022 : -126;
  let e = E + 52; // exponent of M's leading bit
  if (e >= emin) {
    let q = roundMant(M, 53 - p, rc, neg, rm);
    const inexact = lastInexact;
    if (q === POW2[p]) {
      q = POW2[p - 1];
      e++;
    }
    if (e > (dbl ? 1023 : 127)) {
      setOverflow(neg, dbl, rm);
      return;
    }
    if (inexact) res.flags |= NX;
    pack(neg, e + (dbl ? 1023 : 127), q - POW2[p - 1], dbl);
    return;
  }
  // Subnormal range: fewer bits survive. q counts units of the smallest subnormal; q = 2^(p-1)
  // means rounding reached the smallest normal, which the packed layout expresses by itself.
  const q = roundMant(M, 53 - p + (emin - e), rc, neg, rm);
  if (lastInexact) {
    let tiny = true;
    if (e === emin - 1 && roundMant(M, 53 - p, rc, neg, rm) === POW2[p]) tiny = false;
    res.flags |= tiny ? UF | NX : NX;
  }
  pack(neg, 0, q, dbl);
}

/** Class of an operand. */
export const ZERO = 0;
export const FINITE = 1;
export const INF = 2;
export const QNAN = 3;
export const SNAN = 4;

/**
 * Unpacked operands (three slots: rs1, rs2, rs3): class, sign, and for finite nonzero values the
 * normalised 53-bit integer significand M in [2^52, 2^53) and the exponent E of its lowest bit.
 * Single values use the same 53-bit form (their significand shifted left by 29).
 */
export const uCls = new Int32Array(3);
export const uNeg = new Int32Array(3);
export const uM = new Float64Array(3);
export const uE = new Int32Array(3);

/** Unpacks a double given as raw hi/lo words into slot i. */
export function unpackD(i: number, hi: number, lo: number): void {
  uNeg[i] = hi >>> 31;
  const exp = (hi >>> 20) & 0x7ff;
  const mh = hi & 0xfffff;
  if (exp === 0x7ff) {
    if ((mh | lo) === 0) uCls[i] = INF;
    else uCls[i] = mh & 0x80000 ? QNAN : SNAN;
    return;
  }
  if (exp === 0) {
    if ((mh | lo) === 0) {
      uCls[i] = ZERO;
      return;
    }
    // Subnormal: normalise so that the leading bit is bit 52.
    const top = mh !== 0 ? 63 - Math.clz32(mh) : 31 - Math.clz32(lo);
    const sh = 52 - top;
    uCls[i] = FINITE;
    uM[i] = (mh * TWO32 + (lo >>> 0)) * POW2[sh];
    uE[i] = -1074 - sh;
    return;
  }
  uCls[i] = FINITE;
  uM[i] = (mh + 0x100000) * TWO32 + (lo >>> 0);
  uE[i] = exp - 1075;
}

/** Unpacks a single given as its 32-bit pattern into slot i. */
export function unpackS(i: number, bits: number): void {
  uNeg[i] = bits >>> 31;
  const exp = (bits >>> 23) & 0xff;
  const m = bits & 0x7fffff;
  if (exp === 0xff) {
    if (m === 0) uCls[i] = INF;
    else uCls[i] = m & 0x400000 ? QNAN : SNAN;
    return;
  }
  if (exp === 0) {
    if (m === 0) {
      uCls[i] = ZERO;
      return;
    }
    const sh = 52 - (31 - Math.clz32(m));
    uCls[i] = FINITE;
    uM[i] = m * POW2[sh];
    uE[i] = -149 - sh;
    return;
  }
  uCls[i] = FINITE;
  uM[i] = (m + 0x800000) * POW2[29];
  uE[i] = exp - 150 - 29;
}

/**
 * Rounds a positive approximation x (a normal double) of an exact value x0 * 2^E0 where dir is the
 * sign of (exact - x): used by division and square root, whose double result is the
 * round-to-nearest value and whose exact value is never a midpoint.
 */
export function roundApprox(neg: number, x: number, E0: number, dir: number, dbl: boolean, rm: number): void {
  F64[0] = x;
  const hi = I32[HI];
  const ex = ((hi >>> 20) & 0x7ff) - 1023;
  let M = ((hi & 0xfffff) + 0x100000) * TWO32 + (I32[LO] >>> 0);
  let E = E0 + ex - 52;
  let rc = 0;
  if (dir > 0) rc = 1;
  else if (dir < 0) {
    rc = 3;
    if (M > TWO52) M -= 1;
    else {
      // Just below a power of two: the exact value lives in the binade below, with finer units.
      // (Defensive: quotients and roots of significands never come this close to 2^k.)
      M = TWO52 * 2 - 1;
      E -= 1;
    }
  }
  roundPack(neg, M, E, rc, dbl, rm);
}
