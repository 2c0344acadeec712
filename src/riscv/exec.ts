/**
 * The interpreter loop: executes pre-decoded instructions of one hart.
 *
 * Structure (see docs/cpu.md):
 * - outer loop, once per "block": check interrupts, translate pc through the fetch TLB, find the
 *   RAM page's decoded-instruction array;
 * - inner loop: execute slots of that page, `p` being the byte offset of pc in the page, until
 *   control leaves the page, a trap is taken, an instruction needs the outer loop (CSR write, xRET,
 *   fence.i, sfence.vma, a store that took the slow path) or the budget runs out.
 * pc is kept as the page's virtual base (vLo, vHi: int32 halves) plus p, so sequential flow and
 * in-page branches touch only small integers.
 *
 * The Op enum lives in this file on purpose: esbuild/tsx inline enum members only within a file,
 * and V8 emits a jump table for the switch only when every case label is an integer literal.
 */
import type { ExecContext, JitWindow } from './exec-context.ts';
import { executeFp } from './fpu/execute.ts';
import { MSTATUS_FS } from './csr.ts';
import {
  X_JN,
  X_JOFF,
  X_PC_LO,
  X_PC_HI,
  X_CH_PG,
  X_CH_VLO,
  X_CH_VHI,
  TLB_BITS,
  MISC_FPMODE,
  MISC_FFLAGS,
} from './state-layout.ts';

/** Bytes per translated window (hart.ts and jit.ts take it from here). */
export const JIT_WINDOW_SHIFT = 8;
/** log2 of the windows per page. */
export const JIT_PAGE_BITS = 12 - JIT_WINDOW_SHIFT;

export enum Op {
  DECODE = 0,
  PAGE_END,
  CROSS,
  ILLEGAL,
  LUI,
  AUIPC,
  JAL,
  J,
  JALR,
  BEQ,
  BNE,
  BLT,
  BGE,
  BLTU,
  BGEU,
  LB,
  LH,
  LW,
  LD,
  LBU,
  LHU,
  LWU,
  SB,
  SH,
  SW,
  SD,
  ADDI,
  LI,
  MV,
  SLTI,
  SLTIU,
  XORI,
  ORI,
  ANDI,
  SLLI,
  SRLI,
  SRAI,
  ADD,
  SUB,
  SLL,
  SLT,
  SLTU,
  XOR,
  SRL,
  SRA,
  OR,
  AND,
  ADDIW,
  SLLIW,
  SRLIW,
  SRAIW,
  ADDW,
  SUBW,
  SLLW,
  SRLW,
  SRAW,
  MUL,
  MULH,
  MULHSU,
  MULHU,
  DIV,
  DIVU,
  REM,
  REMU,
  MULW,
  DIVW,
  DIVUW,
  REMW,
  REMUW,
  FENCE,
  FENCE_I,
  ECALL,
  EBREAK,
  MRET,
  SRET,
  WFI,
  SFENCE_VMA,
  CSRRW,
  CSRRS,
  CSRRC,
  CSRRWI,
  CSRRSI,
  CSRRCI,
  LR_W,
  SC_W,
  LR_D,
  SC_D,
  AMO_W,
  AMO_D,
  FLW,
  FLD,
  FSW,
  FSD,
  FP,
  ADD_UW,
  SH1ADD,
  SH2ADD,
  SH3ADD,
  SH1ADD_UW,
  SH2ADD_UW,
  SH3ADD_UW,
  SLLI_UW,
  ANDN,
  ORN,
  XNOR,
  CLZ,
  CLZW,
  CTZ,
  CTZW,
  CPOP,
  CPOPW,
  MAX,
  MAXU,
  MIN,
  MINU,
  SEXT_B,
  SEXT_H,
  ZEXT_H,
  ROL,
  ROLW,
  ROR,
  RORI,
  RORIW,
  RORW,
  ORC_B,
  REV8,
  BCLR,
  BCLRI,
  BEXT,
  BEXTI,
  BINV,
  BINVI,
  BSET,
  BSETI,
  /** Zicond, Zbc/Zbkc, Zbkb, Zbkx: imm = kind (ext/intext.ts). */
  XINT,
  /** Zicbom/Zicboz: imm 0 inval, 1 clean, 2 flush, 4 zero. */
  CBO,
  SINVAL_VMA,
  /** Svinval: imm 0 sfence.w.inval, 1 sfence.inval.ir. */
  SFENCE_INVAL,
  FLH,
  FSH,
}

export { TLB_BITS };
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;

/** Unsigned less-than on two 64-bit values. */
function ltu(al: number, ah: number, bl: number, bh: number): boolean {
  return ah !== bh ? ah >>> 0 < bh >>> 0 : al >>> 0 < bl >>> 0;
}

function lt(al: number, ah: number, bl: number, bh: number): boolean {
  return ah !== bh ? ah < bh : al >>> 0 < bl >>> 0;
}

// ---- 64-bit helpers on lo/hi int32 pairs (no BigInt). They live in this module so that V8 can
// inline them (and because a module loaded as CommonJS, e.g. by tsx from a CommonJS entry
// point, turns every cross-module call into a getter call). ----

const TWO32 = 4294967296;

/** High 32 bits of the unsigned 32x32-bit product. */
function mulhu32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const mid1 = a1 * b0;
  const mid2 = a0 * b1;
  const mid = ((a0 * b0) >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff);
  return (a1 * b1 + (mid1 >>> 16) + (mid2 >>> 16) + (mid >>> 16)) | 0;
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
  if (dh === 0 && nh >>> 0 >= 0x200000) {
    // 32-bit divisor, large dividend (multi-precision code divides 64 by 32 bits): long division
    // in 16-bit digits. Every partial dividend is below 2^48, so each double quotient is exact
    // after floor (its rounding error is under 1/32 of the distance to the next integer).
    const dv = dl >>> 0;
    const n1 = nh >>> 0;
    const qh = Math.floor(n1 / dv);
    let r = n1 - qh * dv;
    let t = r * 65536 + (nl >>> 16);
    const q1 = Math.floor(t / dv);
    r = t - q1 * dv;
    t = r * 65536 + (nl & 0xffff);
    const q0 = Math.floor(t / dv);
    r = t - q0 * dv;
    qr[0] = (q1 * 65536 + q0) | 0;
    qr[1] = qh | 0;
    qr[2] = r | 0;
    qr[3] = 0;
    return;
  }
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
    else r = rem ? (n % v) | 0 : (n / v) | 0;
  } else {
    const un = n >>> 0;
    const uv = v >>> 0;
    r = rem ? (un % uv) | 0 : Math.floor(un / uv) | 0;
  }
  x[d] = r;
  x[d + 1] = r >> 31;
}

/** Count leading zeros of a 64-bit value. */
function clz64(lo: number, hi: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

/** Count trailing zeros of a 32-bit value (32 for zero). */
function ctz32(v: number): number {
  return v === 0 ? 32 : 31 - Math.clz32(v & -v);
}

function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) | 0;
}

/** orc.b on one 32-bit word: each byte becomes 0xff if non-zero. */
function orcb32(v: number): number {
  let r = 0;
  if (v & 0xff) r |= 0xff;
  if (v & 0xff00) r |= 0xff00;
  if (v & 0xff0000) r |= 0xff0000;
  if (v & 0xff000000) r |= 0xff000000;
  return r | 0;
}

function bswap32(v: number): number {
  return (v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24) | 0;
}

/** 64-bit left shift of (lo,hi) by s (0..63), result into x[d], x[d+1]. */
function shl64(x: Int32Array, d: number, lo: number, hi: number, s: number): void {
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

/** 64-bit rotate right by s (0..63). */
function ror64(x: Int32Array, d: number, lo: number, hi: number, s: number): void {
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

/** Executes up to `budget` instructions; returns the budget consumed (instructions + traps). */
export function execute(h: ExecContext, budget: number): number {
  const x = h.x;
  const bus = h.bus;
  const m8 = bus.ram;
  const mI8 = bus.ramI8;
  const mU16 = bus.ramU16;
  const mI16 = bus.ramI16;
  const mI32 = bus.ramI32;
  const rTagLo = h.rTagLo;
  const rTagHi = h.rTagHi;
  const rOff = h.rOff;
  const wTagLo = h.wTagLo;
  const wTagHi = h.wTagHi;
  const wOff = h.wOff;
  const xTagLo = h.xTagLo;
  const xTagHi = h.xTagHi;
  const xOff = h.xOff;
  const pages = h.pages;
  const jit = h.jit;
  const heat = h.jitHeat;
  const jitThreshold = h.jitThreshold;
  const jitOn = jitThreshold !== Infinity;
  const jitFast = Math.min(h.jitFastThreshold, jitThreshold);
  const f = h.f;
  const misc = h.stMisc;
  let n = budget;

  while (n > 0 && !h.waiting) {
    if ((h.mip & h.mie) !== 0 && h.takeInterrupt()) {
      n--;
      h.runTraps++;
      continue;
    }
    const pcLo = h.pcLo;
    let vHi = h.pcHi;
    const dkey = h.dkey;
    let vLo: number;
    let p: number;
    let limit: number;
    let code: Int32Array;
    let pageOff = 0;
    /** RAM page number of the block (-1: a trampoline) and its translated windows. */
    let pg = -1;
    let jw: (JitWindow | undefined)[] | undefined;
    /** Window where the interpreter took over in this block (-1: none) and the budget then. */
    let hotWin = -1;
    let nInt = 0;
    const ti0 = (pcLo >>> 12) & TLB_MASK;
    if (xTagLo[ti0] === (pcLo & -4096) && xTagHi[ti0] === (vHi ^ h.ikey)) {
      pageOff = xOff[ti0];
      pg = pageOff >>> 12;
      code = pages[pg] ?? h.newCodePage(pg);
      jw = jit[pg];
      if (jitOn) {
        const wi = (pcLo & 4095) >>> JIT_WINDOW_SHIFT;
        if ((jw === undefined || jw[wi] === undefined) && heat[(pg << JIT_PAGE_BITS) | wi] >= jitThreshold) {
          h.jitCompile(pg, wi, pcLo & 4095);
          jw = jit[pg];
        }
      }
      vLo = pcLo & -4096;
      p = pcLo & 4095;
      limit = 4096;
    } else {
      const r = h.fetchMiss();
      if (r === 1) continue;
      if (r === 0) {
        n--;
        h.runTraps++;
        continue;
      }
      const t = h.slowFetch();
      if (t === null) {
        n--;
        h.runTraps++;
        continue;
      }
      code = t;
      vLo = pcLo;
      p = 0;
      limit = 0;
    }

    // How the block ends: 0 pc = page + exitOff (counts one instruction), 1 the same without
    // counting, 2 pc already set (counts one), 3 a trap was taken (counts one, retires nothing).
    let exitKind = 0;
    let exitOff = 0;
    exit: {
      if (jw !== undefined) {
        // Translated windows of this page (jit.ts): run them until one ends the block or hands
        // an instruction back (kind 5), which the interpreter below then executes.
        for (;;) {
          const fn = jw[p >>> JIT_WINDOW_SHIFT];
          if (fn === undefined) break;
          // Windows take an int32 budget (wasm ones convert their arguments with ToInt32).
          const nw = n > 0x3fffffff ? 0x3fffffff : n;
          // Translated FP code (wasm/emit-fp.ts) needs FS and frm, which change only out here.
          // fflags go in and out too: translated code skips exactness tests once NX is raised.
          misc[MISC_FPMODE] = (h.mstatus & MSTATUS_FS) === MSTATUS_FS ? h.frm : -1;
          misc[MISC_FFLAGS] = h.fflags;
          let k = fn(p, nw, vLo, vHi);
          h.fflags = misc[MISC_FFLAGS];
          h.jitRan += nw - x[X_JN];
          n = n - nw + x[X_JN];
          p = x[X_JOFF];
          if (x[X_CH_PG] >= 0) {
            // A wasm page chained into other pages' functions: its results refer to the page it
            // ended in (wasm-tier.ts dispatcherFn), which has a translation, so a decoded page too.
            pg = x[X_CH_PG];
            x[X_CH_PG] = -1;
            vLo = x[X_CH_VLO];
            vHi = x[X_CH_VHI];
            pageOff = pg << 12;
            code = pages[pg]!;
            jw = jit[pg]!;
          }
          if (k === 5) break;
          if (k === 7) {
            // A wasm window's JALR out of the page: its target is in the x view (state-layout.ts).
            h.pcLo = x[X_PC_LO];
            h.pcHi = x[X_PC_HI];
            k = 2;
          }
          if (k === 6) {
            // A load/store that missed the TLB (or is misaligned, or MMIO): interpret it alone from
            // the trampoline; the block then ends at PAGE_END and the next one re-enters translated
            // code, instead of the interpreter running the rest of this block.
            code = h.oneShot(code, p);
            vLo = (vLo + p) | 0;
            p = 0;
            limit = 0;
            break;
          }
          if (k !== 4) {
            exitKind = k;
            exitOff = p;
            break exit;
          }
        }
      }
      // Heat goes to the window where interpretation starts, unless that window is translated
      // already (it handed back an instruction it does not translate: a CSR access, an AMO...).
      // Charging those windows made every such block re-translate its (hot) window, discarding
      // V8's optimized code: 309 of 414 translations in a Linux boot.
      if (jitOn && limit !== 0 && (jw === undefined || jw[p >>> JIT_WINDOW_SHIFT] === undefined)) {
        hotWin = (pg << JIT_PAGE_BITS) | (p >>> JIT_WINDOW_SHIFT);
        nInt = n;
      }
      inner: for (;;) {
        const w = code[p];
        switch (w & 255) {
          case Op.DECODE:
            h.decodeSlot(code, pageOff, p);
            continue inner;
          case Op.PAGE_END:
            exitOff = p;
            exitKind = 1;
            break exit;
          case Op.CROSS: {
            h.pcLo = vLo + p;
            h.pcHi = vHi;
            const t = h.slowFetch();
            if (t === null) {
              exitKind = 3;
              break exit;
            }
            code = t;
            vLo = h.pcLo;
            p = 0;
            limit = 0;
            continue inner;
          }
          case Op.ILLEGAL:
            h.pcLo = vLo + p;
            h.pcHi = vHi;
            h.illegal(code[p + 1]);
            exitKind = 3;
            break exit;
          case Op.LUI: {
            const d = (w >>> 8) & 127;
            const v = code[p + 1];
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.AUIPC: {
            const d = (w >>> 8) & 127;
            const imm = code[p + 1];
            const base = (vLo + p) | 0;
            const lo = (base + imm) | 0;
            x[d] = lo;
            x[d + 1] = (vHi + (imm >> 31) + (lo >>> 0 < base >>> 0 ? 1 : 0)) | 0;
            break;
          }
          case Op.JAL: {
            const d = (w >>> 8) & 127;
            const s = (vLo >>> 0) + p + 4 - ((w >>> 26) & 2);
            x[d] = s | 0;
            x[d + 1] = s > 4294967295 ? (vHi + 1) | 0 : vHi;
            const t = p + code[p + 1];
            if (t >>> 0 < limit) {
              p = t;
              if (--n > 0) continue inner;
              exitOff = p;
              exitKind = 1;
              break exit;
            }
            exitOff = t;
            exitKind = 0;
            break exit;
          }
          case Op.J: {
            const t = p + code[p + 1];
            if (t >>> 0 < limit) {
              p = t;
              if (--n > 0) continue inner;
              exitOff = p;
              exitKind = 1;
              break exit;
            }
            exitOff = t;
            exitKind = 0;
            break exit;
          }
          case Op.JALR: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const imm = code[p + 1];
            const alo = x[a];
            const tsum = (alo + imm) | 0;
            const tlo = tsum & -2;
            const thi = (x[a + 1] + (imm >> 31) + (tsum >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
            const s = (vLo >>> 0) + p + 4 - ((w >>> 26) & 2);
            x[d] = s | 0;
            x[d + 1] = s > 4294967295 ? (vHi + 1) | 0 : vHi;
            if (thi === vHi && (tlo & -4096) === vLo && limit !== 0) {
              p = tlo & 4095;
              if (--n > 0) continue inner;
              exitOff = p;
              exitKind = 1;
              break exit;
            }
            h.pcLo = tlo;
            h.pcHi = thi;
            exitKind = 2;
            break exit;
          }
          case Op.BEQ: {
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            if (x[a] === x[b] && x[a + 1] === x[b + 1]) {
              const t = p + code[p + 1];
              if (t >>> 0 < limit) {
                p = t;
                if (--n > 0) continue inner;
                exitOff = p;
                exitKind = 1;
                break exit;
              }
              exitOff = t;
              exitKind = 0;
              break exit;
            }
            break;
          }
          case Op.BNE: {
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            if (x[a] !== x[b] || x[a + 1] !== x[b + 1]) {
              const t = p + code[p + 1];
              if (t >>> 0 < limit) {
                p = t;
                if (--n > 0) continue inner;
                exitOff = p;
                exitKind = 1;
                break exit;
              }
              exitOff = t;
              exitKind = 0;
              break exit;
            }
            break;
          }
          case Op.BLT: {
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const ah = x[a + 1];
            const bh = x[b + 1];
            if (ah !== bh ? ah < bh : x[a] >>> 0 < x[b] >>> 0) {
              const t = p + code[p + 1];
              if (t >>> 0 < limit) {
                p = t;
                if (--n > 0) continue inner;
                exitOff = p;
                exitKind = 1;
                break exit;
              }
              exitOff = t;
              exitKind = 0;
              break exit;
            }
            break;
          }
          case Op.BGE: {
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const ah = x[a + 1];
            const bh = x[b + 1];
            if (ah !== bh ? ah > bh : x[a] >>> 0 >= x[b] >>> 0) {
              const t = p + code[p + 1];
              if (t >>> 0 < limit) {
                p = t;
                if (--n > 0) continue inner;
                exitOff = p;
                exitKind = 1;
                break exit;
              }
              exitOff = t;
              exitKind = 0;
              break exit;
            }
            break;
          }
          case Op.BLTU: {
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const ah = x[a + 1];
            const bh = x[b + 1];
            if (ah !== bh ? ah >>> 0 < bh >>> 0 : x[a] >>> 0 < x[b] >>> 0) {
              const t = p + code[p + 1];
              if (t >>> 0 < limit) {
                p = t;
                if (--n > 0) continue inner;
                exitOff = p;
                exitKind = 1;
                break exit;
              }
              exitOff = t;
              exitKind = 0;
              break exit;
            }
            break;
          }
          case Op.BGEU: {
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const ah = x[a + 1];
            const bh = x[b + 1];
            if (ah !== bh ? ah >>> 0 > bh >>> 0 : x[a] >>> 0 >= x[b] >>> 0) {
              const t = p + code[p + 1];
              if (t >>> 0 < limit) {
                p = t;
                if (--n > 0) continue inner;
                exitOff = p;
                exitKind = 1;
                break exit;
              }
              exitOff = t;
              exitKind = 0;
              break exit;
            }
            break;
          }

          // ---- loads: fast path through the read TLB (tag compare also checks alignment) ----
          case Op.LB:
          case Op.LBU: {
            const a = (w >>> 15) & 63;
            const alo = x[a];
            const imm = code[p + 1];
            const lo = (alo + imm) | 0;
            const hi = (x[a + 1] + (imm >> 31) + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
            const ti = (lo >>> 12) & TLB_MASK;
            const d = (w >>> 8) & 127;
            let v: number;
            if (rTagLo[ti] === (lo & -4096) && rTagHi[ti] === (hi ^ dkey)) {
              const o = (rOff[ti] + (lo & 4095)) >>> 0;
              v = (w & 255) === Op.LB ? mI8[o] : m8[o];
            } else {
              h.pcLo = vLo + p;
              h.pcHi = vHi;
              if (!h.load(lo, hi, 1)) {
                exitKind = 3;
                break exit;
              }
              v = (w & 255) === Op.LB ? (h.ldLo << 24) >> 24 : h.ldLo & 255;
            }
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.LH:
          case Op.LHU: {
            const a = (w >>> 15) & 63;
            const alo = x[a];
            const imm = code[p + 1];
            const lo = (alo + imm) | 0;
            const hi = (x[a + 1] + (imm >> 31) + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
            const ti = (lo >>> 12) & TLB_MASK;
            const d = (w >>> 8) & 127;
            let v: number;
            if (rTagLo[ti] === (lo & -4095) && rTagHi[ti] === (hi ^ dkey)) {
              const i = (rOff[ti] + (lo & 4095)) >>> 1;
              v = (w & 255) === Op.LH ? mI16[i] : mU16[i];
            } else {
              h.pcLo = vLo + p;
              h.pcHi = vHi;
              if (!h.load(lo, hi, 2)) {
                exitKind = 3;
                break exit;
              }
              v = (w & 255) === Op.LH ? (h.ldLo << 16) >> 16 : h.ldLo & 0xffff;
            }
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.LW:
          case Op.LWU: {
            const a = (w >>> 15) & 63;
            const alo = x[a];
            const imm = code[p + 1];
            const lo = (alo + imm) | 0;
            const hi = (x[a + 1] + (imm >> 31) + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
            const ti = (lo >>> 12) & TLB_MASK;
            const d = (w >>> 8) & 127;
            let v: number;
            if (rTagLo[ti] === (lo & -4093) && rTagHi[ti] === (hi ^ dkey)) {
              v = mI32[(rOff[ti] + (lo & 4095)) >>> 2];
            } else {
              h.pcLo = vLo + p;
              h.pcHi = vHi;
              if (!h.load(lo, hi, 4)) {
                exitKind = 3;
                break exit;
              }
              v = h.ldLo;
            }
            x[d] = v;
            x[d + 1] = (w & 255) === Op.LW ? v >> 31 : 0;
            break;
          }
          case Op.LD: {
            const a = (w >>> 15) & 63;
            const alo = x[a];
            const imm = code[p + 1];
            const lo = (alo + imm) | 0;
            const hi = (x[a + 1] + (imm >> 31) + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
            const ti = (lo >>> 12) & TLB_MASK;
            const d = (w >>> 8) & 127;
            if (rTagLo[ti] === (lo & -4089) && rTagHi[ti] === (hi ^ dkey)) {
              const i = (rOff[ti] + (lo & 4095)) >>> 2;
              x[d] = mI32[i];
              x[d + 1] = mI32[i + 1];
            } else {
              h.pcLo = vLo + p;
              h.pcHi = vHi;
              if (!h.load(lo, hi, 8)) {
                exitKind = 3;
                break exit;
              }
              x[d] = h.ldLo;
              x[d + 1] = h.ldHi;
            }
            break;
          }

          // ---- stores: fast path through the write TLB; the slow path ends the block ----
          case Op.SB: {
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const alo = x[a];
            const imm = code[p + 1];
            const lo = (alo + imm) | 0;
            const hi = (x[a + 1] + (imm >> 31) + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
            const ti = (lo >>> 12) & TLB_MASK;
            if (wTagLo[ti] === (lo & -4096) && wTagHi[ti] === (hi ^ dkey)) {
              const o = (wOff[ti] + (lo & 4095)) >>> 0; // RAM offsets may exceed 2^31
              m8[o] = x[b];
              break;
            }
            h.pcLo = vLo + p;
            h.pcHi = vHi;
            if (!h.store(lo, hi, 1, x[b], x[b + 1])) {
              exitKind = 3;
              break exit;
            }
            exitOff = p + 4 - ((w >>> 26) & 2);
            exitKind = 0;
            break exit;
          }
          case Op.SH: {
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const alo = x[a];
            const imm = code[p + 1];
            const lo = (alo + imm) | 0;
            const hi = (x[a + 1] + (imm >> 31) + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
            const ti = (lo >>> 12) & TLB_MASK;
            if (wTagLo[ti] === (lo & -4095) && wTagHi[ti] === (hi ^ dkey)) {
              const o = (wOff[ti] + (lo & 4095)) >>> 0; // RAM offsets may exceed 2^31
              mU16[o >>> 1] = x[b];
              break;
            }
            h.pcLo = vLo + p;
            h.pcHi = vHi;
            if (!h.store(lo, hi, 2, x[b], x[b + 1])) {
              exitKind = 3;
              break exit;
            }
            exitOff = p + 4 - ((w >>> 26) & 2);
            exitKind = 0;
            break exit;
          }
          case Op.SW: {
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const alo = x[a];
            const imm = code[p + 1];
            const lo = (alo + imm) | 0;
            const hi = (x[a + 1] + (imm >> 31) + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
            const ti = (lo >>> 12) & TLB_MASK;
            if (wTagLo[ti] === (lo & -4093) && wTagHi[ti] === (hi ^ dkey)) {
              const o = (wOff[ti] + (lo & 4095)) >>> 0; // RAM offsets may exceed 2^31
              mI32[o >>> 2] = x[b];
              break;
            }
            h.pcLo = vLo + p;
            h.pcHi = vHi;
            if (!h.store(lo, hi, 4, x[b], x[b + 1])) {
              exitKind = 3;
              break exit;
            }
            exitOff = p + 4 - ((w >>> 26) & 2);
            exitKind = 0;
            break exit;
          }
          case Op.SD: {
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const alo = x[a];
            const imm = code[p + 1];
            const lo = (alo + imm) | 0;
            const hi = (x[a + 1] + (imm >> 31) + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
            const ti = (lo >>> 12) & TLB_MASK;
            if (wTagLo[ti] === (lo & -4089) && wTagHi[ti] === (hi ^ dkey)) {
              const o = (wOff[ti] + (lo & 4095)) >>> 0; // RAM offsets may exceed 2^31
              mI32[o >>> 2] = x[b];
              mI32[(o >>> 2) + 1] = x[b + 1];
              break;
            }
            h.pcLo = vLo + p;
            h.pcHi = vHi;
            if (!h.store(lo, hi, 8, x[b], x[b + 1])) {
              exitKind = 3;
              break exit;
            }
            exitOff = p + 4 - ((w >>> 26) & 2);
            exitKind = 0;
            break exit;
          }

          // ---- integer register-immediate ----
          case Op.ADDI: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const imm = code[p + 1];
            const alo = x[a];
            const lo = (alo + imm) | 0;
            x[d + 1] = (x[a + 1] + (imm >> 31) + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
            x[d] = lo;
            break;
          }
          case Op.LI: {
            const d = (w >>> 8) & 127;
            const imm = code[p + 1];
            x[d] = imm;
            x[d + 1] = imm >> 31;
            break;
          }
          case Op.MV: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            x[d] = x[a];
            x[d + 1] = x[a + 1];
            break;
          }
          case Op.SLTI: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const imm = code[p + 1];
            const ah = x[a + 1];
            const ih = imm >> 31;
            x[d] = (ah !== ih ? ah < ih : x[a] >>> 0 < imm >>> 0) ? 1 : 0;
            x[d + 1] = 0;
            break;
          }
          case Op.SLTIU: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const imm = code[p + 1];
            const ah = x[a + 1];
            const ih = imm >> 31;
            x[d] = (ah !== ih ? ah >>> 0 < ih >>> 0 : x[a] >>> 0 < imm >>> 0) ? 1 : 0;
            x[d + 1] = 0;
            break;
          }
          case Op.XORI: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const imm = code[p + 1];
            x[d] = x[a] ^ imm;
            x[d + 1] = x[a + 1] ^ (imm >> 31);
            break;
          }
          case Op.ORI: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const imm = code[p + 1];
            x[d] = x[a] | imm;
            x[d + 1] = x[a + 1] | (imm >> 31);
            break;
          }
          case Op.ANDI: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const imm = code[p + 1];
            x[d] = x[a] & imm;
            x[d + 1] = x[a + 1] & (imm >> 31);
            break;
          }
          case Op.SLLI: {
            const a = (w >>> 15) & 63;
            const d = (w >>> 8) & 127;
            const sa = code[p + 1];
            const lo = x[a];
            const hi = x[a + 1];
            if (sa < 32) {
              x[d + 1] = sa === 0 ? hi : (hi << sa) | (lo >>> (32 - sa));
              x[d] = lo << sa;
            } else {
              x[d + 1] = lo << (sa - 32);
              x[d] = 0;
            }
            break;
          }
          case Op.SRLI: {
            const a = (w >>> 15) & 63;
            const d = (w >>> 8) & 127;
            const sa = code[p + 1];
            const lo = x[a];
            const hi = x[a + 1];
            if (sa < 32) {
              x[d] = sa === 0 ? lo : (lo >>> sa) | (hi << (32 - sa));
              x[d + 1] = hi >>> sa;
            } else {
              x[d] = hi >>> (sa - 32);
              x[d + 1] = 0;
            }
            break;
          }
          case Op.SRAI: {
            const a = (w >>> 15) & 63;
            const d = (w >>> 8) & 127;
            const sa = code[p + 1];
            const lo = x[a];
            const hi = x[a + 1];
            if (sa < 32) {
              x[d] = sa === 0 ? lo : (lo >>> sa) | (hi << (32 - sa));
              x[d + 1] = hi >> sa;
            } else {
              x[d] = hi >> (sa - 32);
              x[d + 1] = hi >> 31;
            }
            break;
          }

          // ---- integer register-register ----
          case Op.ADD: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const al = x[a];
            const lo = (al + x[b]) | 0;
            x[d + 1] = (x[a + 1] + x[b + 1] + (lo >>> 0 < al >>> 0 ? 1 : 0)) | 0;
            x[d] = lo;
            break;
          }
          case Op.SUB: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const al = x[a];
            const bl = x[b];
            x[d + 1] = (x[a + 1] - x[b + 1] - (al >>> 0 < bl >>> 0 ? 1 : 0)) | 0;
            x[d] = (al - bl) | 0;
            break;
          }
          case Op.SLL: {
            const a = (w >>> 15) & 63;
            const d = (w >>> 8) & 127;
            const sa = x[(w >>> 21) & 63] & 63;
            const lo = x[a];
            const hi = x[a + 1];
            if (sa < 32) {
              x[d + 1] = sa === 0 ? hi : (hi << sa) | (lo >>> (32 - sa));
              x[d] = lo << sa;
            } else {
              x[d + 1] = lo << (sa - 32);
              x[d] = 0;
            }
            break;
          }
          case Op.SRL: {
            const a = (w >>> 15) & 63;
            const d = (w >>> 8) & 127;
            const sa = x[(w >>> 21) & 63] & 63;
            const lo = x[a];
            const hi = x[a + 1];
            if (sa < 32) {
              x[d] = sa === 0 ? lo : (lo >>> sa) | (hi << (32 - sa));
              x[d + 1] = hi >>> sa;
            } else {
              x[d] = hi >>> (sa - 32);
              x[d + 1] = 0;
            }
            break;
          }
          case Op.SRA: {
            const a = (w >>> 15) & 63;
            const d = (w >>> 8) & 127;
            const sa = x[(w >>> 21) & 63] & 63;
            const lo = x[a];
            const hi = x[a + 1];
            if (sa < 32) {
              x[d] = sa === 0 ? lo : (lo >>> sa) | (hi << (32 - sa));
              x[d + 1] = hi >> sa;
            } else {
              x[d] = hi >> (sa - 32);
              x[d + 1] = hi >> 31;
            }
            break;
          }
          case Op.SLT: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const ah = x[a + 1];
            const bh = x[b + 1];
            x[d] = (ah !== bh ? ah < bh : x[a] >>> 0 < x[b] >>> 0) ? 1 : 0;
            x[d + 1] = 0;
            break;
          }
          case Op.SLTU: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const ah = x[a + 1];
            const bh = x[b + 1];
            x[d] = (ah !== bh ? ah >>> 0 < bh >>> 0 : x[a] >>> 0 < x[b] >>> 0) ? 1 : 0;
            x[d + 1] = 0;
            break;
          }
          case Op.XOR: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            x[d] = x[a] ^ x[b];
            x[d + 1] = x[a + 1] ^ x[b + 1];
            break;
          }
          case Op.OR: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            x[d] = x[a] | x[b];
            x[d + 1] = x[a + 1] | x[b + 1];
            break;
          }
          case Op.AND: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            x[d] = x[a] & x[b];
            x[d + 1] = x[a + 1] & x[b + 1];
            break;
          }

          // ---- 32-bit (W) operations: results sign-extended ----
          case Op.ADDIW: {
            const d = (w >>> 8) & 127;
            const v = (x[(w >>> 15) & 63] + code[p + 1]) | 0;
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.SLLIW: {
            const d = (w >>> 8) & 127;
            const v = x[(w >>> 15) & 63] << code[p + 1];
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.SRLIW: {
            const d = (w >>> 8) & 127;
            const v = (x[(w >>> 15) & 63] >>> code[p + 1]) | 0;
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.SRAIW: {
            const d = (w >>> 8) & 127;
            const v = x[(w >>> 15) & 63] >> code[p + 1];
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.ADDW: {
            const d = (w >>> 8) & 127;
            const v = (x[(w >>> 15) & 63] + x[(w >>> 21) & 63]) | 0;
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.SUBW: {
            const d = (w >>> 8) & 127;
            const v = (x[(w >>> 15) & 63] - x[(w >>> 21) & 63]) | 0;
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.SLLW: {
            const d = (w >>> 8) & 127;
            const v = x[(w >>> 15) & 63] << (x[(w >>> 21) & 63] & 31);
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.SRLW: {
            const d = (w >>> 8) & 127;
            const v = (x[(w >>> 15) & 63] >>> (x[(w >>> 21) & 63] & 31)) | 0;
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.SRAW: {
            const d = (w >>> 8) & 127;
            const v = x[(w >>> 15) & 63] >> (x[(w >>> 21) & 63] & 31);
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }

          // ---- M ----
          case Op.MUL: {
            // mul64 written out: V8 does not inline calls into this large function, and MUL is
            // hot in the kernel's multi-precision code (RSA, ECC self-tests at boot).
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const al = x[a];
            const bl = x[b];
            const a0 = al & 0xffff;
            const a1 = al >>> 16;
            const b0 = bl & 0xffff;
            const b1 = bl >>> 16;
            const m1 = a1 * b0;
            const m2 = a0 * b1;
            const mid = ((a0 * b0) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff);
            const hu = a1 * b1 + (m1 >>> 16) + (m2 >>> 16) + (mid >>> 16);
            x[d + 1] = (hu + Math.imul(al, x[b + 1]) + Math.imul(x[a + 1], bl)) | 0;
            x[d] = Math.imul(al, bl);
            break;
          }
          case Op.MULH:
            mulh64(x, (w >>> 8) & 127, (w >>> 15) & 63, (w >>> 21) & 63, true, true);
            break;
          case Op.MULHSU:
            mulh64(x, (w >>> 8) & 127, (w >>> 15) & 63, (w >>> 21) & 63, true, false);
            break;
          case Op.MULHU:
            mulh64(x, (w >>> 8) & 127, (w >>> 15) & 63, (w >>> 21) & 63, false, false);
            break;
          case Op.DIV:
            div64(x, (w >>> 8) & 127, (w >>> 15) & 63, (w >>> 21) & 63, true, false);
            break;
          case Op.DIVU:
            div64(x, (w >>> 8) & 127, (w >>> 15) & 63, (w >>> 21) & 63, false, false);
            break;
          case Op.REM:
            div64(x, (w >>> 8) & 127, (w >>> 15) & 63, (w >>> 21) & 63, true, true);
            break;
          case Op.REMU:
            div64(x, (w >>> 8) & 127, (w >>> 15) & 63, (w >>> 21) & 63, false, true);
            break;
          case Op.MULW: {
            const d = (w >>> 8) & 127;
            const v = Math.imul(x[(w >>> 15) & 63], x[(w >>> 21) & 63]);
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.DIVW:
            div32(x, (w >>> 8) & 127, (w >>> 15) & 63, (w >>> 21) & 63, true, false);
            break;
          case Op.DIVUW:
            div32(x, (w >>> 8) & 127, (w >>> 15) & 63, (w >>> 21) & 63, false, false);
            break;
          case Op.REMW:
            div32(x, (w >>> 8) & 127, (w >>> 15) & 63, (w >>> 21) & 63, true, true);
            break;
          case Op.REMUW:
            div32(x, (w >>> 8) & 127, (w >>> 15) & 63, (w >>> 21) & 63, false, true);
            break;

          // ---- system ----
          case Op.FENCE:
            break;
          case Op.FENCE_I:
            // Nothing to drop: decoded pages are coherent with RAM by construction (every store
            // to a code page takes the slow path and drops that page; DMA calls notifyWrite), so
            // FENCE.I only ends the block. Dropping everything here cost ~8% of a Linux boot,
            // which patches kernel text (jump labels, ftrace) tens of thousands of times.
            exitOff = p + 4 - ((w >>> 26) & 2);
            exitKind = 0;
            break exit;
          case Op.FLW:
          case Op.FLD: {
            // FS=Off (illegal) and TLB misses go through the slow path.
            const a = (w >>> 15) & 63;
            const alo = x[a];
            const imm = code[p + 1];
            const lo = (alo + imm) | 0;
            const hi = (x[a + 1] + (imm >> 31) + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
            const ti = (lo >>> 12) & TLB_MASK;
            const dbl = (w & 255) === Op.FLD;
            if (
              (h.mstatus & 0x6000) !== 0 &&
              rTagLo[ti] === (lo & (dbl ? -4089 : -4093)) &&
              rTagHi[ti] === (hi ^ dkey)
            ) {
              const i = (rOff[ti] + (lo & 4095)) >>> 2;
              const d = (w >>> 8) & 127;
              f[d] = mI32[i];
              f[d + 1] = dbl ? mI32[i + 1] : -1; // FLW NaN-boxes
              h.mstatus |= 0x6000; // FS = Dirty
              break;
            }
            h.pcLo = vLo + p;
            h.pcHi = vHi;
            h.runLeft = n;
            exitKind = h.execSystem(w, imm) === 0 ? 3 : 2;
            break exit;
          }
          case Op.FSW:
          case Op.FSD: {
            const a = (w >>> 15) & 63;
            const alo = x[a];
            const imm = code[p + 1];
            const lo = (alo + imm) | 0;
            const hi = (x[a + 1] + (imm >> 31) + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
            const ti = (lo >>> 12) & TLB_MASK;
            const dbl = (w & 255) === Op.FSD;
            if (
              (h.mstatus & 0x6000) !== 0 &&
              wTagLo[ti] === (lo & (dbl ? -4089 : -4093)) &&
              wTagHi[ti] === (hi ^ dkey)
            ) {
              const i = (wOff[ti] + (lo & 4095)) >>> 2;
              const b = (w >>> 21) & 63;
              mI32[i] = f[b];
              if (dbl) mI32[i + 1] = f[b + 1];
              break;
            }
            h.pcLo = vLo + p;
            h.pcHi = vHi;
            h.runLeft = n;
            exitKind = h.execSystem(w, imm) === 0 ? 3 : 2;
            break exit;
          }
          case Op.FP: {
            if ((h.mstatus & 0x6000) !== 0 && executeFp(h, code[p + 1])) {
              x[0] = 0; // the FPU never writes x0; keep it zero regardless
              x[1] = 0;
              h.mstatus |= 0x6000; // FS = Dirty
              break;
            }
            h.pcLo = vLo + p;
            h.pcHi = vHi;
            h.illegal(code[p + 1]);
            exitKind = 3;
            break exit;
          }
          case Op.ECALL:
          case Op.EBREAK:
          case Op.MRET:
          case Op.SRET:
          case Op.WFI:
          case Op.SFENCE_VMA:
          case Op.CSRRW:
          case Op.CSRRS:
          case Op.CSRRC:
          case Op.CSRRWI:
          case Op.CSRRSI:
          case Op.CSRRCI:
          case Op.LR_W:
          case Op.SC_W:
          case Op.LR_D:
          case Op.SC_D:
          case Op.AMO_W:
          case Op.AMO_D:
          case Op.CBO:
          case Op.SINVAL_VMA:
          case Op.SFENCE_INVAL:
          case Op.FLH:
          case Op.FSH:
          case Op.XINT: {
            // Rarer instructions: executed by the hart's slow path, which returns 0 (trap taken),
            // 1 (done, continue in this block), 2 (done, pc set, leave the block) or 3 (stop run: WFI).
            h.pcLo = vLo + p;
            h.pcHi = vHi;
            h.runLeft = n;
            const r = h.execSystem(w, code[p + 1]);
            if (r === 1) break;
            exitKind = r === 0 ? 3 : 2; // WFI idling (3) is seen by the outer loop through h.waiting
            break exit;
          }

          // ---- Zba ----
          case Op.ADD_UW:
          case Op.SH1ADD_UW:
          case Op.SH2ADD_UW:
          case Op.SH3ADD_UW:
          case Op.SH1ADD:
          case Op.SH2ADD:
          case Op.SH3ADD: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const op = w & 255;
            const uw = op <= Op.SH3ADD_UW && (op === Op.ADD_UW || op >= Op.SH1ADD_UW);
            const s =
              op === Op.ADD_UW
                ? 0
                : op === Op.SH1ADD || op === Op.SH1ADD_UW
                  ? 1
                  : op === Op.SH2ADD || op === Op.SH2ADD_UW
                    ? 2
                    : 3;
            const al = x[a];
            const ah = uw ? 0 : x[a + 1];
            const sl = al << s;
            const sh = s === 0 ? ah : (ah << s) | (al >>> (32 - s));
            const lo = (sl + x[b]) | 0;
            x[d + 1] = (sh + x[b + 1] + (lo >>> 0 < sl >>> 0 ? 1 : 0)) | 0;
            x[d] = lo;
            break;
          }
          case Op.SLLI_UW: {
            const a = (w >>> 15) & 63;
            shl64(x, (w >>> 8) & 127, x[a], 0, code[p + 1]);
            break;
          }

          // ---- Zbb ----
          case Op.ANDN: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            x[d] = x[a] & ~x[b];
            x[d + 1] = x[a + 1] & ~x[b + 1];
            break;
          }
          case Op.ORN: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            x[d] = x[a] | ~x[b];
            x[d + 1] = x[a + 1] | ~x[b + 1];
            break;
          }
          case Op.XNOR: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            x[d] = ~(x[a] ^ x[b]);
            x[d + 1] = ~(x[a + 1] ^ x[b + 1]);
            break;
          }
          case Op.CLZ: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            x[d] = clz64(x[a], x[a + 1]);
            x[d + 1] = 0;
            break;
          }
          case Op.CLZW: {
            const d = (w >>> 8) & 127;
            x[d] = Math.clz32(x[(w >>> 15) & 63]);
            x[d + 1] = 0;
            break;
          }
          case Op.CTZ: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            x[d] = x[a] !== 0 ? ctz32(x[a]) : 32 + ctz32(x[a + 1]);
            x[d + 1] = 0;
            break;
          }
          case Op.CTZW: {
            const d = (w >>> 8) & 127;
            x[d] = ctz32(x[(w >>> 15) & 63]);
            x[d + 1] = 0;
            break;
          }
          case Op.CPOP: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            x[d] = popcount32(x[a]) + popcount32(x[a + 1]);
            x[d + 1] = 0;
            break;
          }
          case Op.CPOPW: {
            const d = (w >>> 8) & 127;
            x[d] = popcount32(x[(w >>> 15) & 63]);
            x[d + 1] = 0;
            break;
          }
          case Op.MAX:
          case Op.MAXU:
          case Op.MIN:
          case Op.MINU: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const b = (w >>> 21) & 63;
            const op = w & 255;
            const aLess =
              op === Op.MAX || op === Op.MIN ? lt(x[a], x[a + 1], x[b], x[b + 1]) : ltu(x[a], x[a + 1], x[b], x[b + 1]);
            const pickB = op === Op.MAX || op === Op.MAXU ? aLess : !aLess;
            const s = pickB ? b : a;
            x[d] = x[s];
            x[d + 1] = x[s + 1];
            break;
          }
          case Op.SEXT_B: {
            const d = (w >>> 8) & 127;
            const v = (x[(w >>> 15) & 63] << 24) >> 24;
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.SEXT_H: {
            const d = (w >>> 8) & 127;
            const v = (x[(w >>> 15) & 63] << 16) >> 16;
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.ZEXT_H: {
            const d = (w >>> 8) & 127;
            x[d] = x[(w >>> 15) & 63] & 0xffff;
            x[d + 1] = 0;
            break;
          }
          case Op.ROL:
          case Op.ROR:
          case Op.RORI: {
            const a = (w >>> 15) & 63;
            const op = w & 255;
            const s = op === Op.RORI ? code[p + 1] : x[(w >>> 21) & 63] & 63;
            ror64(x, (w >>> 8) & 127, x[a], x[a + 1], op === Op.ROL ? (64 - s) & 63 : s);
            break;
          }
          case Op.ROLW:
          case Op.RORW:
          case Op.RORIW: {
            const d = (w >>> 8) & 127;
            const op = w & 255;
            let s = op === Op.RORIW ? code[p + 1] : x[(w >>> 21) & 63] & 31;
            if (op === Op.ROLW) s = (32 - s) & 31;
            const v0 = x[(w >>> 15) & 63];
            const v = s === 0 ? v0 : (v0 >>> s) | (v0 << (32 - s));
            x[d] = v;
            x[d + 1] = v >> 31;
            break;
          }
          case Op.ORC_B: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            x[d] = orcb32(x[a]);
            x[d + 1] = orcb32(x[a + 1]);
            break;
          }
          case Op.REV8: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const lo = x[a];
            x[d] = bswap32(x[a + 1]);
            x[d + 1] = bswap32(lo);
            break;
          }

          // ---- Zbs ----
          case Op.BCLR:
          case Op.BCLRI:
          case Op.BINV:
          case Op.BINVI:
          case Op.BSET:
          case Op.BSETI:
          case Op.BEXT:
          case Op.BEXTI: {
            const d = (w >>> 8) & 127;
            const a = (w >>> 15) & 63;
            const op = w & 255;
            const imm = op === Op.BCLRI || op === Op.BINVI || op === Op.BSETI || op === Op.BEXTI;
            const s = imm ? code[p + 1] : x[(w >>> 21) & 63] & 63;
            const ml = s < 32 ? 1 << s : 0;
            const mh = s >= 32 ? 1 << (s - 32) : 0;
            const al = x[a];
            const ah = x[a + 1];
            if (op === Op.BEXT || op === Op.BEXTI) {
              x[d] = (al & ml) !== 0 || (ah & mh) !== 0 ? 1 : 0;
              x[d + 1] = 0;
            } else if (op === Op.BCLR || op === Op.BCLRI) {
              x[d] = al & ~ml;
              x[d + 1] = ah & ~mh;
            } else if (op === Op.BINV || op === Op.BINVI) {
              x[d] = al ^ ml;
              x[d + 1] = ah ^ mh;
            } else {
              x[d] = al | ml;
              x[d + 1] = ah | mh;
            }
            break;
          }
          default:
            // Unreachable for decoder output; treat as illegal rather than loop.
            h.pcLo = vLo + p;
            h.pcHi = vHi;
            h.illegal(0);
            exitKind = 3;
            break exit;
        }
        p += 4 - ((w >>> 26) & 2);
        if (--n <= 0) {
          exitOff = p;
          exitKind = 1;
          break exit;
        }
      }
    }
    // The one place where a block ends: few call sites, so V8 has type feedback for all of them
    // early (every distinct site that first runs in optimized code costs a deoptimization).
    if (exitKind <= 1) h.setPcRel(vLo, vHi, exitOff);
    if (exitKind !== 1) n--;
    if (exitKind === 3) h.runTraps++;
    if (hotWin >= 0) {
      // Instructions interpreted from this window (the block's first interpreted one): a hot
      // window gets translated (jit.ts; Hart.jitHot decides between the fast and slow thresholds).
      const old = heat[hotWin];
      const hot = old + (nInt - n);
      heat[hotWin] = hot;
      if (old === 0) h.jitStamp(hotWin, budget - n);
      if (hot >= jitFast) h.jitHot(hotWin, hot, budget - n);
    }
  }
  return budget - n;
}

/** Used by the hart's slow path for FP computational instructions. */
export { executeFp };
