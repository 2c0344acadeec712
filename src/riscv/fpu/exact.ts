/**
 * Exact arithmetic for the slow path: every result is computed exactly (or as a correctly
 * rounded approximation plus the sign of its error) and then rounded once by roundPack.
 *
 * - Sums, products and fused multiply-adds use integer significands in 32-bit limbs (a fixed
 *   256-bit window, module-level buffers, no allocation, no BigInt).
 * - Division and square root take the round-to-nearest double quotient/root of the integer
 *   significands (always in range, so never subnormal) and recover the sign of the exact
 *   remainder with Dekker's error-free product.
 */
import { res, roundPack, roundApprox, NV, NX } from './round.ts';

const TWO32 = 2 ** 32;
const SPLIT = 134217729; // 2^27 + 1, Veltkamp's splitting constant for doubles

/** Error-free product: a * b = tpHi + tpLo exactly (valid away from overflow and underflow). */
let tpHi = 0;
let tpLo = 0;
export function twoProd(a: number, b: number): void {
  const p = a * b;
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  tpHi = p;
  tpLo = ah * bh - p + ah * bl + al * bh + al * bl;
}
export function twoProdErr(): number {
  return tpLo;
}

// Limb buffers: index 0 is the least significant 32 bits. 8 limbs are used; the spare ones absorb
// out-of-range zero writes.
const LA = new Uint32Array(12);
const LB = new Uint32Array(12);
const PL = new Float64Array(4);

/** Exact 106-bit product of two integers below 2^53, as four 32-bit limbs in PL. */
function productLimbs(ma: number, mb: number): void {
  const a1 = Math.floor(ma / TWO32);
  const a0 = ma - a1 * TWO32;
  const b1 = Math.floor(mb / TWO32);
  const b0 = mb - b1 * TWO32;
  // a0 * b0 needs 64 bits: split into 16-bit halves.
  const a0h = Math.floor(a0 / 65536);
  const a0l = a0 - a0h * 65536;
  const b0h = Math.floor(b0 / 65536);
  const b0l = b0 - b0h * 65536;
  const ll = a0l * b0l;
  const mid = a0h * b0l + a0l * b0h + Math.floor(ll / 65536);
  const h00 = a0h * b0h + Math.floor(mid / 65536);
  const l00 = (mid % 65536) * 65536 + (ll % 65536);
  const m1 = a1 * b0; // < 2^53: exact
  const m1h = Math.floor(m1 / TWO32);
  const m2 = a0 * b1;
  const m2h = Math.floor(m2 / TWO32);
  const m3 = a1 * b1; // < 2^42
  const m3h = Math.floor(m3 / TWO32);
  const t1 = h00 + (m1 - m1h * TWO32) + (m2 - m2h * TWO32);
  const c1 = Math.floor(t1 / TWO32);
  const t2 = m3 - m3h * TWO32 + m1h + m2h + c1;
  const c2 = Math.floor(t2 / TWO32);
  PL[0] = l00;
  PL[1] = t1 - c1 * TWO32;
  PL[2] = t2 - c2 * TWO32;
  PL[3] = m3h + c2;
}

/** T = (n limbs of PL) << s, T cleared first. */
function place(T: Uint32Array, n: number, s: number): void {
  T.fill(0);
  const ws = s >>> 5;
  const bs = s & 31;
  for (let i = 0; i < n; i++) {
    const v = PL[i];
    if (bs === 0) T[i + ws] |= v;
    else {
      T[i + ws] |= v << bs;
      T[i + ws + 1] |= v >>> (32 - bs);
    }
  }
}

function setSticky(T: Uint32Array): void {
  T.fill(0);
  T[0] = 1;
}

/**
 * Rounds the nonzero 256-bit magnitude in T (bit k weighs 2^(base + k)) with sign neg.
 * T is clobbered.
 */
function normalizeRound(T: Uint32Array, base: number, neg: number, dbl: boolean, rm: number): void {
  let i = 7;
  while (T[i] === 0) i--;
  const lead = 32 * i + 31 - Math.clz32(T[i]);
  // Shift left so that the leading bit becomes bit 255.
  const k = 255 - lead;
  const ws = k >>> 5;
  const bs = k & 31;
  if (k !== 0) {
    for (let j = 7; j >= 0; j--) {
      const src = j - ws;
      let v = 0;
      if (src >= 0) {
        v = T[src] << bs;
        if (bs !== 0 && src >= 1) v |= T[src - 1] >>> (32 - bs);
      }
      T[j] = v;
    }
  }
  const M = T[7] * 2097152 + (T[6] >>> 11);
  const r11 = T[6] & 0x7ff;
  const sticky = (T[5] | T[4] | T[3] | T[2] | T[1] | T[0]) !== 0;
  let rc: number;
  if (r11 === 0) rc = sticky ? 1 : 0;
  else if (r11 < 0x400) rc = 1;
  else if (r11 === 0x400) rc = sticky ? 3 : 2;
  else rc = 3;
  roundPack(neg, M, base + lead - 52, rc, dbl, rm);
}

/**
 * Rounds (-1)^negP * ma * mb * 2^ep + [hasC] (-1)^negC * mc * 2^ec once. ma, mb, mc are integers
 * below 2^53 (mb = 1 turns this into an addition, hasC = false into a multiplication); the
 * product and addend must be nonzero.
 */
export function exactSum(
  negP: number,
  ma: number,
  mb: number,
  ep: number,
  hasC: boolean,
  negC: number,
  mc: number,
  ec: number,
  dbl: boolean,
  rm: number,
): void {
  productLimbs(ma, mb);
  let top = ep + 106;
  if (hasC && ec + 53 > top) top = ec + 53;
  // Bit k of the window weighs 2^(base + k); the larger operand ends at bit 250. An operand
  // that would start below bit 0 lies entirely more than 90 bits below the other operand's
  // lowest bit, so only its sign and non-zeroness matter: it becomes a single sticky bit.
  const base = top - 250;
  const sP = ep - base;
  if (sP < 0) setSticky(LA);
  else place(LA, 4, sP);
  if (!hasC) {
    normalizeRound(LA, base, negP, dbl, rm);
    return;
  }
  const c1 = Math.floor(mc / TWO32);
  PL[0] = mc - c1 * TWO32;
  PL[1] = c1;
  const sC = ec - base;
  if (sC < 0) setSticky(LB);
  else place(LB, 2, sC);
  if (negP === negC) {
    let carry = 0;
    for (let i = 0; i < 8; i++) {
      const s = LA[i] + LB[i] + carry;
      carry = s >= TWO32 ? 1 : 0;
      LA[i] = s;
    }
    normalizeRound(LA, base, negP, dbl, rm);
    return;
  }
  let i = 7;
  while (i >= 0 && LA[i] === LB[i]) i--;
  if (i < 0) {
    // Exact cancellation: +0, or -0 when rounding down.
    res.hi = dbl ? (rm === 2 ? 0x80000000 | 0 : 0) : -1;
    res.lo = dbl ? 0 : rm === 2 ? 0x80000000 | 0 : 0;
    return;
  }
  let big = LA;
  let small = LB;
  let neg = negP;
  if (LA[i] < LB[i]) {
    big = LB;
    small = LA;
    neg = negC;
  }
  let borrow = 0;
  for (let j = 0; j < 8; j++) {
    let d = big[j] - small[j] - borrow;
    borrow = d < 0 ? 1 : 0;
    if (borrow) d += TWO32;
    big[j] = d;
  }
  normalizeRound(big, base, neg, dbl, rm);
}

/** Rounds (-1)^neg * (ma * 2^ea) / (mb * 2^eb) once; ma, mb in [2^52, 2^53). */
export function divExact(neg: number, ma: number, ea: number, mb: number, eb: number, dbl: boolean, rm: number): void {
  const q = ma / mb;
  twoProd(q, mb);
  const r = ma - tpHi - tpLo; // ma - tpHi is exact (Sterbenz), so the sign is right
  roundApprox(neg, q, ea - eb, r > 0 ? 1 : r < 0 ? -1 : 0, dbl, rm);
}

/** Rounds sqrt(ma * 2^ea) once; ma in [2^52, 2^53). */
export function sqrtExact(ma: number, ea: number, dbl: boolean, rm: number): void {
  let x = ma;
  let ex = ea;
  if (ea & 1) {
    x = ma * 2;
    ex = ea - 1;
  }
  const s = Math.sqrt(x);
  twoProd(s, s);
  const r = x - tpHi - tpLo;
  roundApprox(0, s, ex / 2, r > 0 ? 1 : r < 0 ? -1 : 0, dbl, rm);
}

/** Rounds the 64-bit magnitude hi:lo (unsigned 32-bit halves, not both zero) with sign neg. */
export function intToFloat(neg: number, hi: number, lo: number, dbl: boolean, rm: number): void {
  LA.fill(0);
  LA[0] = lo;
  LA[1] = hi;
  normalizeRound(LA, 0, neg, dbl, rm);
}

const LIMIT = [2147483648, 4294967296, 9223372036854775808, 18446744073709551616];
const MINV = [-2147483648, 0, -9223372036854775808, 0];

/** Writes the saturated result of kind (W, WU, L, LU) for a positive (or NaN) or negative input. */
function saturate(kind: number, positive: boolean): void {
  res.flags |= NV;
  if (positive) {
    // W: 0x7fffffff, WU: 0xffffffff sign-extended, L: 0x7fff..., LU: 0xffff...
    res.hi = kind === 0 ? 0 : kind === 2 ? 0x7fffffff : -1;
    res.lo = kind === 0 ? 0x7fffffff : -1;
  } else {
    res.hi = kind === 0 || kind === 2 ? 0x80000000 | 0 : 0;
    res.lo = kind === 0 ? 0x80000000 | 0 : 0;
    if (kind === 0) res.hi = -1;
  }
}

/**
 * Converts the value v (exact: a single or double widened to a number) to a 32/64-bit integer,
 * signed or not (kind 0: W, 1: WU, 2: L, 3: LU), rounding in mode rm. Out-of-range values and
 * NaN raise NV only and saturate (NaN to the largest value); inexact in-range results raise NX.
 * The 64-bit result (32-bit ones sign-extended) lands in res.hi/res.lo.
 */
export function floatToInt(v: number, kind: number, rm: number): void {
  if (v !== v) {
    saturate(kind, true);
    return;
  }
  let t = Math.trunc(v);
  const frac = v - t; // exact; NaN for infinities
  if (frac !== frac) {
    saturate(kind, v > 0);
    return;
  }
  if (frac !== 0) {
    switch (rm) {
      case 0: {
        const a = Math.abs(frac);
        if (a > 0.5 || (a === 0.5 && t % 2 !== 0)) t += frac > 0 ? 1 : -1;
        break;
      }
      case 2:
        if (frac < 0) t -= 1;
        break;
      case 3:
        if (frac > 0) t += 1;
        break;
      case 4:
        if (Math.abs(frac) >= 0.5) t += frac > 0 ? 1 : -1;
        break;
    }
  }
  // The limits are exact doubles and every rounded t is an exact integer.
  if (t >= LIMIT[kind] || t < MINV[kind]) {
    saturate(kind, v > 0);
    return;
  }
  if (frac !== 0) res.flags |= NX;
  if (kind < 2) {
    const lo = t | 0; // wraps WU values >= 2^31 to negative: 32-bit results are sign-extended
    res.lo = lo;
    res.hi = lo >> 31;
  } else {
    const hi = Math.floor(t / TWO32);
    res.hi = hi | 0;
    res.lo = (t - hi * TWO32) | 0;
  }
}
