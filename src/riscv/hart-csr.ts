/**
 * The hart's CSR instructions and registers (split from hart.ts; the Hart class stays the public
 * face and calls these through thin methods): the csrrw/csrrs/csrrc(i) instructions, the read and write side of every CSR
 * with its privilege and counter-enable rules, mstatus/envcfg/PMP side effects. Plain functions
 * taking the hart, so every call site stays monomorphic.
 */
import type { Hart } from './hart.ts';
import * as C from './csr.ts';
import { Op } from './exec.ts';
import { X_SV57, X_SVPBMT, X_ZICBOM, X_ZICBOZ } from './cpu-config.ts';

const TWO32 = 4294967296;

export function execCsr(h: Hart, op: number, d: number, rs1: number, csr: number, w: number): number {
  const x = h.x;
  const imm = op >= Op.CSRRWI;
  const kind = imm ? op - Op.CSRRWI : op - Op.CSRRW; // 0 write, 1 set, 2 clear
  const srcLo = imm ? rs1 : x[rs1 * 2];
  const srcHi = imm ? 0 : x[rs1 * 2 + 1];
  const writes = kind === 0 || rs1 !== 0;
  if (h.priv < ((csr >>> 8) & 3) || (writes && csr >>> 10 === 3)) return h.illegalR();
  // CSR reads here have no side effects, so CSRRW with rd=x0 may read too (it also checks
  // that the CSR exists).
  if (!h.csrRead(csr)) return h.illegalR();
  const oldLo = h.csrLo;
  const oldHi = h.csrHi;
  if (writes) {
    let nl = srcLo;
    let nh = srcHi;
    // CSRRS/CSRRC on mip: only the software-writable SEIP takes part in the read-modify-write,
    // not the PLIC's level OR-ed into the value read (priv. spec 3.1.9). Otherwise firmware
    // setting SSIP while an external interrupt is pending latches SEIP on forever.
    const rmwLo = csr === C.MIP ? (oldLo & ~C.MIP_SEIP) | (h.mipSoft & C.MIP_SEIP) : oldLo;
    if (kind === 1) {
      nl = rmwLo | srcLo;
      nh = oldHi | srcHi;
    } else if (kind === 2) {
      nl = rmwLo & ~srcLo;
      nh = oldHi & ~srcHi;
    }
    if (!h.csrWrite(csr, nl, nh)) return h.illegalR();
  }
  x[d] = oldLo;
  x[d + 1] = oldHi;
  x[64] = 0;
  x[65] = 0;
  h.advance(w);
  return 2;
}

/** Current instret including instructions retired so far in this run() slice. */
export function liveInstret(h: Hart): number {
  return h.instret + (h.runBudget - h.runLeft) - h.runTraps;
}

export function set64(h: Hart, v: number): void {
  const hi = Math.floor(v / TWO32);
  h.csrLo = (v - hi * TWO32) | 0;
  h.csrHi = hi | 0;
}

/** Counter access rule for cycle/time/instret/hpmcounterN from S and U. */
export function counterOk(h: Hart, bit: number): boolean {
  if (h.priv < 3 && ((h.mcounteren >>> bit) & 1) === 0) return false;
  if (h.priv === 0 && ((h.scounteren >>> bit) & 1) === 0) return false;
  return true;
}

/** Reads a CSR into csrLo/csrHi; false when the CSR does not exist or is not accessible. */
export function csrRead(h: Hart, csr: number): boolean {
  h.csrHi = 0;
  switch (csr) {
    case C.FFLAGS:
    case C.FRM:
    case C.FCSR:
      if ((h.mstatus & C.MSTATUS_FS) === 0) return false;
      h.csrLo = csr === C.FFLAGS ? h.fflags : csr === C.FRM ? h.frm : (h.frm << 5) | h.fflags;
      return true;
    case C.CYCLE:
      if (!h.counterOk(0)) return false;
      h.set64(h.liveInstret() + h.cycleOffset);
      return true;
    case C.TIME:
      if (!h.counterOk(1)) return false;
      h.set64(h.clock.now());
      return true;
    case C.INSTRET:
      if (!h.counterOk(2)) return false;
      h.set64(h.liveInstret());
      return true;
    case C.MCYCLE:
      h.set64(h.liveInstret() + h.cycleOffset);
      return true;
    case C.MINSTRET:
      h.set64(h.liveInstret());
      return true;
    case C.SSTATUS:
      h.csrLo = h.mstatus & C.SSTATUS_MASK;
      h.csrHi = C.MSTATUS_HI_UXL | h.sdBit();
      return true;
    case C.MSTATUS:
      h.csrLo = h.mstatus;
      h.csrHi = C.MSTATUS_HI_UXL | C.MSTATUS_HI_SXL | h.sdBit();
      return true;
    case C.SIE:
      h.csrLo = h.mie & h.mideleg;
      return true;
    case C.SIP:
      if ((h.menvcfgHi & C.ENVCFG_STCE_HI) !== 0) h.updateSstc();
      h.csrLo = h.mip & h.mideleg;
      return true;
    case C.MIE:
      h.csrLo = h.mie;
      return true;
    case C.MIP:
      if ((h.menvcfgHi & C.ENVCFG_STCE_HI) !== 0) h.updateSstc();
      h.csrLo = h.mip;
      return true;
    case C.STVEC:
      h.csrLo = h.stvecLo;
      h.csrHi = h.stvecHi;
      return true;
    case C.MTVEC:
      h.csrLo = h.mtvecLo;
      h.csrHi = h.mtvecHi;
      return true;
    case C.SCOUNTEREN:
      h.csrLo = h.scounteren;
      return true;
    case C.MCOUNTEREN:
      h.csrLo = h.mcounteren;
      return true;
    case C.SENVCFG:
      h.csrLo = h.senvcfg;
      return true;
    case C.MENVCFG:
      h.csrLo = h.menvcfgLo;
      h.csrHi = h.menvcfgHi;
      return true;
    case C.SSCRATCH:
      h.csrLo = h.sscratchLo;
      h.csrHi = h.sscratchHi;
      return true;
    case C.MSCRATCH:
      h.csrLo = h.mscratchLo;
      h.csrHi = h.mscratchHi;
      return true;
    case C.SEPC:
      h.csrLo = h.sepcLo & -2;
      h.csrHi = h.sepcHi;
      return true;
    case C.MEPC:
      h.csrLo = h.mepcLo & -2;
      h.csrHi = h.mepcHi;
      return true;
    case C.SCAUSE:
      h.csrLo = h.scauseLo;
      h.csrHi = h.scauseHi;
      return true;
    case C.MCAUSE:
      h.csrLo = h.mcauseLo;
      h.csrHi = h.mcauseHi;
      return true;
    case C.STVAL:
      h.csrLo = h.stvalLo;
      h.csrHi = h.stvalHi;
      return true;
    case C.MTVAL:
      h.csrLo = h.mtvalLo;
      h.csrHi = h.mtvalHi;
      return true;
    case C.STIMECMP:
      if (h.priv === 1 && ((h.mcounteren & 2) === 0 || (h.menvcfgHi & C.ENVCFG_STCE_HI) === 0)) return false;
      h.csrLo = h.stimecmpLo;
      h.csrHi = h.stimecmpHi;
      return true;
    case C.SATP:
      if (h.priv === 1 && (h.mstatus & C.MSTATUS_TVM) !== 0) return false;
      h.csrLo = h.satpLo;
      h.csrHi = h.satpHi;
      return true;
    case C.MISA:
      h.csrLo = C.MISA_LO;
      h.csrHi = C.MISA_HI;
      return true;
    case C.MEDELEG:
      h.csrLo = h.medeleg;
      return true;
    case C.MIDELEG:
      h.csrLo = h.mideleg;
      return true;
    case C.MVENDORID:
    case C.MARCHID:
    case C.MIMPID:
    case C.MCONFIGPTR:
      h.csrLo = 0;
      return true;
    case C.MHARTID:
      h.csrLo = h.hartId;
      return true;
    case C.MCOUNTINHIBIT:
      h.csrLo = h.mcountinhibit;
      return true;
    case C.TSELECT:
    case C.TDATA1:
    case C.TDATA2:
    case C.TDATA3:
      // Debug triggers are not implemented: tselect reads 0 and tdata1 never accepts a trigger
      // type, which is how software (OpenSBI, riscv-tests) detects that there are none.
      h.csrLo = 0;
      return true;
  }
  if (csr >= C.HPMCOUNTER3 && csr <= C.HPMCOUNTER31) {
    if (!h.counterOk(csr - C.CYCLE)) return false;
    h.csrLo = 0;
    return true;
  }
  if ((csr >= C.MHPMCOUNTER3 && csr <= C.MHPMCOUNTER31) || (csr >= C.MHPMEVENT3 && csr <= C.MHPMEVENT31)) {
    h.csrLo = 0;
    return true;
  }
  if (csr >= C.PMPCFG0 && csr <= C.PMPCFG0 + 15) {
    const n = csr - C.PMPCFG0;
    if (n & 1) return false; // RV64: odd pmpcfg registers do not exist
    const c = h.pmpcfg;
    const o = n * 4;
    h.csrLo = c[o] | (c[o + 1] << 8) | (c[o + 2] << 16) | (c[o + 3] << 24);
    h.csrHi = c[o + 4] | (c[o + 5] << 8) | (c[o + 6] << 16) | (c[o + 7] << 24);
    return true;
  }
  if (csr >= C.PMPADDR0 && csr <= C.PMPADDR0 + 63) {
    const n = csr - C.PMPADDR0;
    h.csrLo = h.pmpaddr[2 * n];
    h.csrHi = h.pmpaddr[2 * n + 1];
    return true;
  }
  return false;
}

export function sdBit(h: Hart): number {
  return (h.mstatus & C.MSTATUS_FS) === C.MSTATUS_FS ? -0x80000000 : 0;
}

export function csrWrite(h: Hart, csr: number, lo: number, hi: number): boolean {
  const v64 = (hi >>> 0) * TWO32 + (lo >>> 0);
  switch (csr) {
    case C.FFLAGS:
      h.fflags = lo & 31;
      h.mstatus |= C.MSTATUS_FS;
      return true;
    case C.FRM:
      h.frm = lo & 7;
      h.mstatus |= C.MSTATUS_FS;
      return true;
    case C.FCSR:
      h.fflags = lo & 31;
      h.frm = (lo >>> 5) & 7;
      h.mstatus |= C.MSTATUS_FS;
      return true;
    case C.MCYCLE:
      h.cycleOffset = v64 - h.liveInstret() - 1;
      return true;
    case C.MINSTRET:
      h.instret = v64 - (h.runBudget - h.runLeft - h.runTraps) - 1;
      return true;
    case C.SSTATUS:
      h.writeMstatus((h.mstatus & ~C.SSTATUS_WMASK) | (lo & C.SSTATUS_WMASK));
      return true;
    case C.MSTATUS:
      h.writeMstatus((h.mstatus & ~C.MSTATUS_WMASK) | (lo & C.MSTATUS_WMASK));
      return true;
    case C.SIE:
      h.mie = (h.mie & ~h.mideleg) | (lo & h.mideleg & C.MIE_MASK);
      h.updateMip();
      return true;
    case C.SIP: {
      const m = h.mideleg & C.MIP_SSIP;
      h.mipSoft = (h.mipSoft & ~m) | (lo & m);
      h.updateMip();
      return true;
    }
    case C.MIE:
      h.mie = lo & C.MIE_MASK;
      h.updateMip();
      return true;
    case C.MIP:
      h.mipSoft = (h.mipSoft & ~C.MIP_WMASK) | (lo & C.MIP_WMASK);
      h.updateMip();
      return true;
    case C.STVEC:
      h.stvecLo = (lo & 2) !== 0 ? lo & -4 : lo;
      h.stvecHi = hi;
      return true;
    case C.MTVEC:
      h.mtvecLo = (lo & 2) !== 0 ? lo & -4 : lo;
      h.mtvecHi = hi;
      return true;
    case C.SCOUNTEREN:
      h.scounteren = lo;
      return true;
    case C.MCOUNTEREN:
      h.mcounteren = lo;
      return true;
    case C.SENVCFG:
      h.senvcfg = lo & h.envcfgMask();
      return true;
    case C.MENVCFG: {
      const pbmte = h.menvcfgHi & C.ENVCFG_PBMTE_HI;
      h.menvcfgLo = lo & h.envcfgMask();
      h.menvcfgHi = hi & (C.ENVCFG_STCE_HI | ((h.ext & X_SVPBMT) !== 0 ? C.ENVCFG_PBMTE_HI : 0));
      // Cached translations were made under the old PBMTE (PBMT bits legal or not).
      if ((h.menvcfgHi & C.ENVCFG_PBMTE_HI) !== pbmte) h.flushTlb();
      h.updateSstc();
      return true;
    }
    case C.SSCRATCH:
      h.sscratchLo = lo;
      h.sscratchHi = hi;
      return true;
    case C.MSCRATCH:
      h.mscratchLo = lo;
      h.mscratchHi = hi;
      return true;
    case C.SEPC:
      h.sepcLo = lo & -2;
      h.sepcHi = hi;
      return true;
    case C.MEPC:
      h.mepcLo = lo & -2;
      h.mepcHi = hi;
      return true;
    case C.SCAUSE:
      h.scauseLo = lo;
      h.scauseHi = hi;
      return true;
    case C.MCAUSE:
      h.mcauseLo = lo;
      h.mcauseHi = hi;
      return true;
    case C.STVAL:
      h.stvalLo = lo;
      h.stvalHi = hi;
      return true;
    case C.MTVAL:
      h.mtvalLo = lo;
      h.mtvalHi = hi;
      return true;
    case C.STIMECMP:
      h.stimecmpLo = lo;
      h.stimecmpHi = hi;
      h.updateSstc();
      return true;
    case C.SATP: {
      const mode = hi >>> 28;
      // An unsupported mode (Sv57 without the feature) leaves satp unchanged.
      if (mode !== 0 && mode !== 8 && mode !== 9 && !(mode === 10 && (h.ext & X_SV57) !== 0)) return true;
      h.satpLo = lo;
      h.satpHi = mode === 0 ? 0 : hi;
      if (h.profile !== null) h.profile.satpWrites++;
      h.flushTlb();
      h.updateKeys();
      return true;
    }
    case C.MEDELEG:
      h.medeleg = lo & C.MEDELEG_MASK;
      return true;
    case C.MIDELEG:
      h.mideleg = lo & C.MIDELEG_MASK;
      h.updateMip();
      return true;
    case C.MCOUNTINHIBIT:
      h.mcountinhibit = lo & ~2;
      return true;
    case C.MISA:
      return true;
  }
  if (csr >= C.PMPCFG0 && csr <= C.PMPCFG0 + 15) {
    const o = (csr - C.PMPCFG0) * 4;
    const c = h.pmpcfg;
    for (let k = 0; k < 8; k++) {
      if (c[o + k] & 0x80) continue; // locked
      let b = (k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4))) & 0x9f;
      if ((b & 3) === 2) b &= ~2; // W without R is reserved
      c[o + k] = b;
    }
    h.pmpChanged();
    return true;
  }
  if (csr >= C.PMPADDR0 && csr <= C.PMPADDR0 + 63) {
    const n = csr - C.PMPADDR0;
    if (h.pmpcfg[n] & 0x80) return true;
    if (n + 1 < 64 && (h.pmpcfg[n + 1] & 0x98) === 0x88) return true; // next entry is locked TOR
    h.pmpaddr[2 * n] = lo;
    h.pmpaddr[2 * n + 1] = hi & 0x3fffff;
    h.pmpChanged();
    return true;
  }
  // Read-only-zero registers (hpm counters/events) accept and ignore writes.
  return true;
}

/** PMP entries changed: rebuild the checks; cached translations were checked under the old ones. */
export function pmpChanged(h: Hart): void {
  h.pmp.update(h.pmpcfg, h.pmpaddr);
  h.flushTlb();
}

/** Writable xenvcfg low-word bits: FIOM, and the cache-block enables of the extensions present. */
export function envcfgMask(h: Hart): number {
  return (
    C.ENVCFG_FIOM |
    ((h.ext & X_ZICBOM) !== 0 ? C.ENVCFG_CBIE | C.ENVCFG_CBCFE : 0) |
    ((h.ext & X_ZICBOZ) !== 0 ? C.ENVCFG_CBZE : 0)
  );
}

export function writeMstatus(h: Hart, v: number): void {
  if (((v >>> 11) & 3) === 2) v = (v & ~C.MSTATUS_MPP) | (h.mstatus & C.MSTATUS_MPP);
  h.mstatus = v;
  h.updateKeys();
}
