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
import type { Hart } from './hart.ts';
import { executeFp } from './fpu/execute.ts';
import {
  bswap32,
  clz64,
  ctz32,
  div32,
  div64,
  mul64,
  mulh64,
  orcb32,
  popcount32,
  ror64,
  sar64,
  shl64,
  shr64,
} from './int64.ts';

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
}

export const TLB_BITS = 12;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;

/** High word of the 64-bit sum (alo,ahi) + sign-extended imm. */
function effHi(alo: number, ahi: number, imm: number): number {
  // Integer-only carry: the low-word sum wrapped below alo (unsigned) exactly when it carried.
  const lo = (alo + imm) | 0;
  return (ahi + (imm >> 31) + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
}

/** Unsigned less-than on two 64-bit values. */
function ltu(al: number, ah: number, bl: number, bh: number): boolean {
  return ah !== bh ? ah >>> 0 < bh >>> 0 : al >>> 0 < bl >>> 0;
}

function lt(al: number, ah: number, bl: number, bh: number): boolean {
  return ah !== bh ? ah < bh : al >>> 0 < bl >>> 0;
}

/** Executes up to `budget` instructions; returns the budget consumed (instructions + traps). */
export function execute(h: Hart, budget: number): number {
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
  let n = budget;

  outer: while (n > 0) {
    if ((h.mip & h.mie) !== 0 && h.takeInterrupt()) {
      n--;
      h.runTraps++;
      continue;
    }
    const pcLo = h.pcLo;
    const vHi = h.pcHi;
    const dkey = h.dkey;
    let vLo: number;
    let p: number;
    let limit: number;
    let code: Int32Array;
    let pageOff = 0;
    const ti0 = (pcLo >>> 12) & TLB_MASK;
    if (xTagLo[ti0] === (pcLo & -4096) && xTagHi[ti0] === (vHi ^ h.ikey)) {
      pageOff = xOff[ti0];
      code = pages[pageOff >>> 12] ?? h.newCodePage(pageOff >>> 12);
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

    inner: for (;;) {
      const w = code[p];
      switch (w & 255) {
        case Op.DECODE:
          h.decodeSlot(code, pageOff, p);
          continue inner;
        case Op.PAGE_END:
          h.setPcRel(vLo, vHi, p);
          continue outer;
        case Op.CROSS: {
          h.pcLo = vLo + p;
          h.pcHi = vHi;
          const t = h.slowFetch();
          if (t === null) {
            n--;
            h.runTraps++;
            continue outer;
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
          n--;
          h.runTraps++;
          continue outer;
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
          x[d] = (base + imm) | 0;
          x[d + 1] = effHi(base, vHi, imm);
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
            h.setPcRel(vLo, vHi, p);
            break outer;
          }
          h.setPcRel(vLo, vHi, t);
          n--;
          continue outer;
        }
        case Op.J: {
          const t = p + code[p + 1];
          if (t >>> 0 < limit) {
            p = t;
            if (--n > 0) continue inner;
            h.setPcRel(vLo, vHi, p);
            break outer;
          }
          h.setPcRel(vLo, vHi, t);
          n--;
          continue outer;
        }
        case Op.JALR: {
          const d = (w >>> 8) & 127;
          const a = (w >>> 15) & 63;
          const imm = code[p + 1];
          const alo = x[a];
          const tlo = (alo + imm) & -2;
          const thi = effHi(alo, x[a + 1], imm);
          const s = (vLo >>> 0) + p + 4 - ((w >>> 26) & 2);
          x[d] = s | 0;
          x[d + 1] = s > 4294967295 ? (vHi + 1) | 0 : vHi;
          n--;
          if (thi === vHi && (tlo & -4096) === vLo && limit !== 0) {
            p = tlo & 4095;
            if (n > 0) continue inner;
          }
          h.pcLo = tlo;
          h.pcHi = thi;
          continue outer;
        }
        case Op.BEQ: {
          const a = (w >>> 15) & 63;
          const b = (w >>> 21) & 63;
          if (x[a] === x[b] && x[a + 1] === x[b + 1]) {
            const t = p + code[p + 1];
            if (t >>> 0 < limit) {
              p = t;
              if (--n > 0) continue inner;
              h.setPcRel(vLo, vHi, p);
              break outer;
            }
            h.setPcRel(vLo, vHi, t);
            n--;
            continue outer;
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
              h.setPcRel(vLo, vHi, p);
              break outer;
            }
            h.setPcRel(vLo, vHi, t);
            n--;
            continue outer;
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
              h.setPcRel(vLo, vHi, p);
              break outer;
            }
            h.setPcRel(vLo, vHi, t);
            n--;
            continue outer;
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
              h.setPcRel(vLo, vHi, p);
              break outer;
            }
            h.setPcRel(vLo, vHi, t);
            n--;
            continue outer;
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
              h.setPcRel(vLo, vHi, p);
              break outer;
            }
            h.setPcRel(vLo, vHi, t);
            n--;
            continue outer;
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
              h.setPcRel(vLo, vHi, p);
              break outer;
            }
            h.setPcRel(vLo, vHi, t);
            n--;
            continue outer;
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
          const hi = effHi(alo, x[a + 1], imm);
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
              n--;
              h.runTraps++;
              continue outer;
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
          const hi = effHi(alo, x[a + 1], imm);
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
              n--;
              h.runTraps++;
              continue outer;
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
          const hi = effHi(alo, x[a + 1], imm);
          const ti = (lo >>> 12) & TLB_MASK;
          const d = (w >>> 8) & 127;
          let v: number;
          if (rTagLo[ti] === (lo & -4093) && rTagHi[ti] === (hi ^ dkey)) {
            v = mI32[(rOff[ti] + (lo & 4095)) >>> 2];
          } else {
            h.pcLo = vLo + p;
            h.pcHi = vHi;
            if (!h.load(lo, hi, 4)) {
              n--;
              h.runTraps++;
              continue outer;
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
          const hi = effHi(alo, x[a + 1], imm);
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
              n--;
              h.runTraps++;
              continue outer;
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
          const hi = effHi(alo, x[a + 1], imm);
          const ti = (lo >>> 12) & TLB_MASK;
          if (wTagLo[ti] === (lo & -4096) && wTagHi[ti] === (hi ^ dkey)) {
            const o = (wOff[ti] + (lo & 4095)) >>> 0; // RAM offsets may exceed 2^31
            m8[o] = x[b];
            break;
          }
          h.pcLo = vLo + p;
          h.pcHi = vHi;
          if (!h.store(lo, hi, 1, x[b], x[b + 1])) {
            n--;
            h.runTraps++;
            continue outer;
          }
          h.setPcRel(vLo, vHi, p + 4 - ((w >>> 26) & 2));
          n--;
          continue outer;
        }
        case Op.SH: {
          const a = (w >>> 15) & 63;
          const b = (w >>> 21) & 63;
          const alo = x[a];
          const imm = code[p + 1];
          const lo = (alo + imm) | 0;
          const hi = effHi(alo, x[a + 1], imm);
          const ti = (lo >>> 12) & TLB_MASK;
          if (wTagLo[ti] === (lo & -4095) && wTagHi[ti] === (hi ^ dkey)) {
            const o = (wOff[ti] + (lo & 4095)) >>> 0; // RAM offsets may exceed 2^31
            mU16[o >>> 1] = x[b];
            break;
          }
          h.pcLo = vLo + p;
          h.pcHi = vHi;
          if (!h.store(lo, hi, 2, x[b], x[b + 1])) {
            n--;
            h.runTraps++;
            continue outer;
          }
          h.setPcRel(vLo, vHi, p + 4 - ((w >>> 26) & 2));
          n--;
          continue outer;
        }
        case Op.SW: {
          const a = (w >>> 15) & 63;
          const b = (w >>> 21) & 63;
          const alo = x[a];
          const imm = code[p + 1];
          const lo = (alo + imm) | 0;
          const hi = effHi(alo, x[a + 1], imm);
          const ti = (lo >>> 12) & TLB_MASK;
          if (wTagLo[ti] === (lo & -4093) && wTagHi[ti] === (hi ^ dkey)) {
            const o = (wOff[ti] + (lo & 4095)) >>> 0; // RAM offsets may exceed 2^31
            mI32[o >>> 2] = x[b];
            break;
          }
          h.pcLo = vLo + p;
          h.pcHi = vHi;
          if (!h.store(lo, hi, 4, x[b], x[b + 1])) {
            n--;
            h.runTraps++;
            continue outer;
          }
          h.setPcRel(vLo, vHi, p + 4 - ((w >>> 26) & 2));
          n--;
          continue outer;
        }
        case Op.SD: {
          const a = (w >>> 15) & 63;
          const b = (w >>> 21) & 63;
          const alo = x[a];
          const imm = code[p + 1];
          const lo = (alo + imm) | 0;
          const hi = effHi(alo, x[a + 1], imm);
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
            n--;
            h.runTraps++;
            continue outer;
          }
          h.setPcRel(vLo, vHi, p + 4 - ((w >>> 26) & 2));
          n--;
          continue outer;
        }

        // ---- integer register-immediate ----
        case Op.ADDI: {
          const d = (w >>> 8) & 127;
          const a = (w >>> 15) & 63;
          const imm = code[p + 1];
          const alo = x[a];
          x[d + 1] = effHi(alo, x[a + 1], imm);
          x[d] = (alo + imm) | 0;
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
          x[d] = lt(x[a], x[a + 1], imm, imm >> 31) ? 1 : 0;
          x[d + 1] = 0;
          break;
        }
        case Op.SLTIU: {
          const d = (w >>> 8) & 127;
          const a = (w >>> 15) & 63;
          const imm = code[p + 1];
          x[d] = ltu(x[a], x[a + 1], imm, imm >> 31) ? 1 : 0;
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
          shl64(x, (w >>> 8) & 127, x[a], x[a + 1], code[p + 1]);
          break;
        }
        case Op.SRLI: {
          const a = (w >>> 15) & 63;
          shr64(x, (w >>> 8) & 127, x[a], x[a + 1], code[p + 1]);
          break;
        }
        case Op.SRAI: {
          const a = (w >>> 15) & 63;
          sar64(x, (w >>> 8) & 127, x[a], x[a + 1], code[p + 1]);
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
          shl64(x, (w >>> 8) & 127, x[a], x[a + 1], x[(w >>> 21) & 63] & 63);
          break;
        }
        case Op.SRL: {
          const a = (w >>> 15) & 63;
          shr64(x, (w >>> 8) & 127, x[a], x[a + 1], x[(w >>> 21) & 63] & 63);
          break;
        }
        case Op.SRA: {
          const a = (w >>> 15) & 63;
          sar64(x, (w >>> 8) & 127, x[a], x[a + 1], x[(w >>> 21) & 63] & 63);
          break;
        }
        case Op.SLT: {
          const d = (w >>> 8) & 127;
          const a = (w >>> 15) & 63;
          const b = (w >>> 21) & 63;
          x[d] = lt(x[a], x[a + 1], x[b], x[b + 1]) ? 1 : 0;
          x[d + 1] = 0;
          break;
        }
        case Op.SLTU: {
          const d = (w >>> 8) & 127;
          const a = (w >>> 15) & 63;
          const b = (w >>> 21) & 63;
          x[d] = ltu(x[a], x[a + 1], x[b], x[b + 1]) ? 1 : 0;
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
        case Op.MUL:
          mul64(x, (w >>> 8) & 127, (w >>> 15) & 63, (w >>> 21) & 63);
          break;
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
          h.flushDecoded();
          h.setPcRel(vLo, vHi, p + 4 - ((w >>> 26) & 2));
          n--;
          continue outer;
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
        case Op.FLW:
        case Op.FLD:
        case Op.FSW:
        case Op.FSD:
        case Op.FP: {
          // Rarer instructions: executed by the hart's slow path, which returns 0 (trap taken),
          // 1 (done, continue in this block), 2 (done, pc set, leave the block) or 3 (stop run: WFI).
          h.pcLo = vLo + p;
          h.pcHi = vHi;
          h.runLeft = n;
          const r = h.execSystem(w, code[p + 1]);
          if (r === 1) break;
          if (r === 0) {
            n--;
            h.runTraps++;
            continue outer;
          }
          n--;
          if (r === 3) break outer;
          continue outer;
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
          const s = op === Op.ADD_UW ? 0 : op === Op.SH1ADD || op === Op.SH1ADD_UW ? 1 : op === Op.SH2ADD || op === Op.SH2ADD_UW ? 2 : 3;
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
          n--;
          h.runTraps++;
          continue outer;
      }
      p += 4 - ((w >>> 26) & 2);
      if (--n <= 0) {
        h.setPcRel(vLo, vHi, p);
        break outer;
      }
    }
  }
  return budget - n;
}

/** Used by the hart's slow path for FP computational instructions. */
export { executeFp };
