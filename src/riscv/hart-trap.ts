/**
 * The hart's traps (split from hart.ts; the Hart class stays the public face and calls these
 * through thin methods): trap entry with delegation to S-mode, illegal-instruction traps (tval =
 * the instruction bits), interrupt selection by priority, and MRET/SRET. Plain functions taking
 * the hart, so every call site stays monomorphic.
 */
import type { Hart } from './hart.ts';
import * as C from './csr.ts';
import { FETCH } from './hart-mmu.ts';

/** Takes a trap at the current pc (h.pcLo/pcHi). */
export function trap(h: Hart, cause: number, tvalLo: number, tvalHi: number, isInterrupt: boolean): void {
  const priv = h.priv;
  if (h.profile !== null) h.profile.trap(cause, isInterrupt, priv);
  h.resvValid = false;
  const deleg = priv <= 1 && ((isInterrupt ? h.mideleg : h.medeleg) >>> cause) & 1;
  const causeHi = isInterrupt ? -0x80000000 : 0;
  let ms = h.mstatus;
  if (deleg) {
    h.sepcLo = h.pcLo & -2;
    h.sepcHi = h.pcHi;
    h.scauseLo = cause;
    h.scauseHi = causeHi;
    h.stvalLo = tvalLo;
    h.stvalHi = tvalHi;
    ms = (ms & ~(C.MSTATUS_SPIE | C.MSTATUS_SIE | C.MSTATUS_SPP)) | ((ms & C.MSTATUS_SIE) << 4) | (priv << 8);
    h.priv = 1;
    const vec = (h.stvecLo & 1) !== 0 && isInterrupt ? 4 * cause : 0;
    h.setPcRel(h.stvecLo & -4, h.stvecHi, vec);
  } else {
    h.mepcLo = h.pcLo & -2;
    h.mepcHi = h.pcHi;
    h.mcauseLo = cause;
    h.mcauseHi = causeHi;
    h.mtvalLo = tvalLo;
    h.mtvalHi = tvalHi;
    ms = (ms & ~(C.MSTATUS_MPIE | C.MSTATUS_MIE | C.MSTATUS_MPP)) | ((ms & C.MSTATUS_MIE) << 4) | (priv << 11);
    h.priv = 3;
    const vec = (h.mtvecLo & 1) !== 0 && isInterrupt ? 4 * cause : 0;
    h.setPcRel(h.mtvecLo & -4, h.mtvecHi, vec);
  }
  h.mstatus = ms;
  h.updateKeys();
}

/** Illegal instruction at pc; tval gets the instruction bits (re-read from memory when raw is 0). */
export function illegal(h: Hart, raw: number): void {
  let bits = raw;
  if (bits === 0) bits = h.rereadInsn();
  h.trap(2, bits, 0, false);
}

export function rereadInsn(h: Hart): number {
  const lo = h.pcLo;
  const hi = h.pcHi;
  const pa = h.xlate(lo, hi, FETCH);
  if (pa < 0) return 0;
  const h0 = h.bus.read(pa, 2);
  if (h0 < 0) return 0;
  if ((h0 & 3) !== 3) return h0;
  const pa2 = h.xlate((lo + 2) | 0, hi, FETCH);
  const h1 = pa2 < 0 ? -1 : h.bus.read(pa2, 2);
  return h1 < 0 ? 0 : h0 | (h1 << 16) | 0;
}

/** Takes the highest-priority pending and enabled interrupt, if any. */
export function takeInterrupt(h: Hart): boolean {
  const pend = h.mip & h.mie;
  if (pend === 0) return false;
  const priv = h.priv;
  const ms = h.mstatus;
  let cand = 0;
  const mPend = pend & ~h.mideleg;
  if (mPend !== 0 && (priv < 3 || (ms & C.MSTATUS_MIE) !== 0)) cand = mPend;
  else {
    const sPend = pend & h.mideleg;
    if (sPend !== 0 && (priv === 0 || (priv === 1 && (ms & C.MSTATUS_SIE) !== 0))) cand = sPend;
  }
  if (cand === 0) return false;
  for (const c of C.IRQ_PRIORITY) {
    if ((cand >>> c) & 1) {
      h.waiting = false;
      h.trap(c, 0, 0, true);
      return true;
    }
  }
  return false;
}

/** MRET (Hart.execSystem): returns 0 when it trapped (illegal below M), 2 when pc was set. */
export function mret(h: Hart): number {
  if (h.priv < 3) return h.illegalR();
  let ms = h.mstatus;
  const mpp = (ms >>> 11) & 3;
  ms = (ms & ~(C.MSTATUS_MIE | C.MSTATUS_MPP)) | ((ms >>> 4) & C.MSTATUS_MIE) | C.MSTATUS_MPIE;
  if (mpp !== 3) ms &= ~C.MSTATUS_MPRV;
  h.mstatus = ms;
  h.priv = mpp;
  h.resvValid = false;
  h.pcLo = h.mepcLo & -2;
  h.pcHi = h.mepcHi;
  h.updateKeys();
  return 2;
}

/** SRET (Hart.execSystem): returns 0 when it trapped (below S, or TSR in S), 2 when pc was set. */
export function sret(h: Hart): number {
  if (h.priv < 1 || (h.priv === 1 && (h.mstatus & C.MSTATUS_TSR) !== 0)) return h.illegalR();
  let ms = h.mstatus;
  const spp = (ms >>> 8) & 1;
  ms = (ms & ~(C.MSTATUS_SIE | C.MSTATUS_SPP)) | ((ms >>> 4) & C.MSTATUS_SIE) | C.MSTATUS_SPIE;
  ms &= ~C.MSTATUS_MPRV; // SPP is never M
  h.mstatus = ms;
  h.priv = spp;
  h.resvValid = false;
  h.pcLo = h.sepcLo & -2;
  h.pcHi = h.sepcHi;
  h.updateKeys();
  return 2;
}
