/**
 * 64-bit integer helpers on lo/hi int32 pairs, without BigInt (which allocates). Each helper reads
 * its operands from the register file `x` (x[i] low word, x[i+1] high word) and writes the result
 * pair to x[d], x[d+1]. Indices are already doubled register numbers.
 */

const TWO32 = 4294967296;

/** High 32 bits of the unsigned 32x32-bit product. */
export function mulhu32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const mid1 = a1 * b0;
  const mid2 = a0 * b1;
  const mid = ((a0 * b0) >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff);
  return (a1 * b1 + (mid1 >>> 16) + (mid2 >>> 16) + (mid >>> 16)) | 0;
}

/** MUL: low 64 bits of the product. */
export function mul64(x: Int32Array, d: number, a: number, b: number): void {
  const al = x[a]!;
  const bl = x[b]!;
  const hi = (mulhu32(al, bl) + Math.imul(al, x[b + 1]!) + Math.imul(x[a + 1]!, bl)) | 0;
  x[d] = Math.imul(al, bl);
  x[d + 1] = hi;
}

/** High 64 bits of a 64x64 product; signedA/signedB select MULH, MULHSU or MULHU. */
export function mulh64(x: Int32Array, d: number, a: number, b: number, signedA: boolean, signedB: boolean): void {
  const a0 = x[a]!;
  const a1 = x[a + 1]!;
  const b0 = x[b]!;
  const b1 = x[b + 1]!;
  const p00h = mulhu32(a0, b0) >>> 0;
  const p01l = Math.imul(a0, b1) >>> 0;
  const p01h = mulhu32(a0, b1) >>> 0;
  const p10l = Math.imul(a1, b0) >>> 0;
  const p10h = mulhu32(a1, b0) >>> 0;
  const p11l = Math.imul(a1, b1) >>> 0;
  const p11h = mulhu32(a1, b1) >>> 0;
  const s1 = p00h + p01l + p10l;
  const s2 = p11l + p01h + p10h + Math.floor(s1 / TWO32);
  let w2 = s2 >>> 0;
  let w3 = (p11h + Math.floor(s2 / TWO32)) | 0;
  // Signed corrections: hi(a*b) = hiu(a*b) - (a<0 ? b : 0) - (b<0 ? a : 0)  (mod 2^64).
  if (signedA && a1 < 0) {
    const lo = w2 - (b0 >>> 0);
    w3 = (w3 - b1 - (lo < 0 ? 1 : 0)) | 0;
    w2 = lo >>> 0;
  }
  if (signedB && b1 < 0) {
    const lo = w2 - (a0 >>> 0);
    w3 = (w3 - a1 - (lo < 0 ? 1 : 0)) | 0;
    w2 = lo >>> 0;
  }
  x[d] = w2 | 0;
  x[d + 1] = w3;
}

/** Scratch result of udivmod (quotient and remainder as lo/hi words). */
const qr = new Int32Array(4);

/** Unsigned 64-bit division by shift-and-subtract (the rare case where operands exceed 2^53). */
function udivmodSlow(nl: number, nh: number, dl: number, dh: number): void {
  let ql = 0;
  let qh = 0;
  let rl = 0;
  let rh = 0;
  for (let i = 63; i >= 0; i--) {
    // r = (r << 1) | bit i of n
    rh = (rh << 1) | (rl >>> 31);
    const bit = i >= 32 ? (nh >>> (i - 32)) & 1 : (nl >>> i) & 1;
    rl = (rl << 1) | bit;
    // if r >= d: r -= d, set quotient bit
    const ge = rh >>> 0 > dh >>> 0 || (rh === dh && rl >>> 0 >= dl >>> 0);
    if (ge) {
      const lo = (rl >>> 0) - (dl >>> 0);
      rh = (rh - dh - (lo < 0 ? 1 : 0)) | 0;
      rl = lo | 0;
      if (i >= 32) qh |= 1 << (i - 32);
      else ql |= 1 << i;
    }
  }
  qr[0] = ql;
  qr[1] = qh;
  qr[2] = rl;
  qr[3] = rh;
}

/** Unsigned divmod of two 64-bit values, into qr. Divisor must be non-zero. */
function udivmod(nl: number, nh: number, dl: number, dh: number): void {
  if (nh >>> 0 < 0x200000 && dh >>> 0 < 0x200000) {
    const n = (nh >>> 0) * TWO32 + (nl >>> 0);
    const dv = (dh >>> 0) * TWO32 + (dl >>> 0);
    const q = Math.floor(n / dv);
    const r = n - q * dv;
    qr[0] = q | 0;
    qr[1] = Math.floor(q / TWO32) | 0;
    qr[2] = r | 0;
    qr[3] = Math.floor(r / TWO32) | 0;
    return;
  }
  udivmodSlow(nl, nh, dl, dh);
}

function neg(lo: number, hi: number, out: number): void {
  qr[out] = -lo | 0;
  qr[out + 1] = (~hi + (lo === 0 ? 1 : 0)) | 0;
}

/** DIV/DIVU/REM/REMU with the RISC-V rules for division by zero and overflow. */
export function div64(x: Int32Array, d: number, a: number, b: number, signed: boolean, rem: boolean): void {
  const nl = x[a]!;
  const nh = x[a + 1]!;
  const dl = x[b]!;
  const dh = x[b + 1]!;
  if (dl === 0 && dh === 0) {
    if (rem) {
      x[d] = nl;
      x[d + 1] = nh;
    } else {
      x[d] = -1;
      x[d + 1] = -1;
    }
    return;
  }
  if (!signed) {
    udivmod(nl, nh, dl, dh);
  } else {
    if (nl === 0 && nh === -0x80000000 && dl === -1 && dh === -1) {
      // Overflow: quotient is the dividend, remainder zero.
      x[d] = rem ? 0 : 0;
      x[d + 1] = rem ? 0 : -0x80000000;
      return;
    }
    const nNeg = nh < 0;
    const dNeg = dh < 0;
    let ul = nl;
    let uh = nh;
    let vl = dl;
    let vh = dh;
    if (nNeg) {
      ul = -nl | 0;
      uh = (~nh + (nl === 0 ? 1 : 0)) | 0;
    }
    if (dNeg) {
      vl = -dl | 0;
      vh = (~dh + (dl === 0 ? 1 : 0)) | 0;
    }
    udivmod(ul, uh, vl, vh);
    if (nNeg !== dNeg) neg(qr[0]!, qr[1]!, 0);
    if (nNeg) neg(qr[2]!, qr[3]!, 2);
  }
  if (rem) {
    x[d] = qr[2]!;
    x[d + 1] = qr[3]!;
  } else {
    x[d] = qr[0]!;
    x[d + 1] = qr[1]!;
  }
}

/** DIVW/DIVUW/REMW/REMUW: 32-bit operation, result sign-extended. */
export function div32(x: Int32Array, d: number, a: number, b: number, signed: boolean, rem: boolean): void {
  const n = x[a]!;
  const v = x[b]!;
  let r: number;
  if (v === 0) {
    r = rem ? n : -1;
  } else if (signed) {
    if (n === -0x80000000 && v === -1) r = rem ? 0 : n;
    else r = rem ? n % v | 0 : (n / v) | 0;
  } else {
    const un = n >>> 0;
    const uv = v >>> 0;
    r = rem ? un % uv | 0 : Math.floor(un / uv) | 0;
  }
  x[d] = r;
  x[d + 1] = r >> 31;
}

/** Count leading zeros of a 64-bit value. */
export function clz64(lo: number, hi: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

/** Count trailing zeros of a 32-bit value (32 for zero). */
export function ctz32(v: number): number {
  return v === 0 ? 32 : 31 - Math.clz32(v & -v);
}

export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) | 0;
}

/** orc.b on one 32-bit word: each byte becomes 0xff if non-zero. */
export function orcb32(v: number): number {
  let r = 0;
  if (v & 0xff) r |= 0xff;
  if (v & 0xff00) r |= 0xff00;
  if (v & 0xff0000) r |= 0xff0000;
  if (v & 0xff000000) r |= 0xff000000;
  return r | 0;
}

export function bswap32(v: number): number {
  return ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24)) | 0;
}

/** 64-bit left shift of (lo,hi) by s (0..63), result into x[d], x[d+1]. */
export function shl64(x: Int32Array, d: number, lo: number, hi: number, s: number): void {
  if (s === 0) {
    x[d] = lo;
    x[d + 1] = hi;
  } else if (s < 32) {
    x[d + 1] = (hi << s) | (lo >>> (32 - s));
    x[d] = lo << s;
  } else {
    x[d + 1] = lo << (s - 32);
    x[d] = 0;
  }
}

/** 64-bit logical right shift. */
export function shr64(x: Int32Array, d: number, lo: number, hi: number, s: number): void {
  if (s === 0) {
    x[d] = lo;
    x[d + 1] = hi;
  } else if (s < 32) {
    x[d] = (lo >>> s) | (hi << (32 - s));
    x[d + 1] = hi >>> s;
  } else {
    x[d] = hi >>> (s - 32);
    x[d + 1] = 0;
  }
}

/** 64-bit arithmetic right shift. */
export function sar64(x: Int32Array, d: number, lo: number, hi: number, s: number): void {
  if (s === 0) {
    x[d] = lo;
    x[d + 1] = hi;
  } else if (s < 32) {
    x[d] = (lo >>> s) | (hi << (32 - s));
    x[d + 1] = hi >> s;
  } else {
    x[d] = hi >> (s - 32);
    x[d + 1] = hi >> 31;
  }
}

/** 64-bit rotate right by s (0..63). */
export function ror64(x: Int32Array, d: number, lo: number, hi: number, s: number): void {
  if (s >= 32) {
    const t = lo;
    lo = hi;
    hi = t;
    s -= 32;
  }
  if (s === 0) {
    x[d] = lo;
    x[d + 1] = hi;
  } else {
    x[d] = (lo >>> s) | (hi << (32 - s));
    x[d + 1] = (hi >>> s) | (lo << (32 - s));
  }
}
