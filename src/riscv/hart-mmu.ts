/**
 * The hart's address translation (split from hart.ts; the Hart class stays the public face and
 * calls these through thin methods): the software TLB's flushes, the Sv39/Sv48/Sv57 page-table
 * walk with Svpbmt/Svnapot, PMP checks of the translated address, and the superpage regions that
 * make address-specific SFENCE.VMA cheap (docs/cpu.md, "TLB"). Plain functions taking the hart,
 * so every call site stays monomorphic.
 */
import type { Hart } from './hart.ts';
import * as C from './csr.ts';
import { TLB_MASK } from './exec.ts';
import { PMP_R, PMP_W, PMP_X } from './pmp.ts';
import { X_SVNAPOT, X_SVPBMT } from './cpu-config.ts';
import { TLB_INVALID } from './state-layout.ts';

const TWO32 = 4294967296;

/** Access kinds for translation. */
export const FETCH = 0;
export const LOAD = 1;
export const STORE = 2;

const PAGE_FAULT = [12, 13, 15];
export const ACCESS_FAULT = [1, 5, 7];
/** PMP permission each access kind needs. */
const PMP_NEED = [PMP_X, PMP_R, PMP_W];
/** Superpage regions tracked for address-specific SFENCE.VMA (a kernel has a handful). */
export const SP_MAX = 8;

export function flushTlb(h: Hart): void {
  if (h.profile !== null) h.profile.tlbFlushAll++;
  h.rTagLo.fill(TLB_INVALID);
  h.wTagLo.fill(TLB_INVALID);
  h.xTagLo.fill(TLB_INVALID);
  h.spCount = 0;
  h.spOverflow = false;
}

/**
 * SFENCE.VMA with an address. Entries are per 4 KiB page: when the address lies in a superpage
 * whose translations may be cached, its other 4 KiB pieces may sit in other slots, so flush
 * everything; otherwise only the address's slot can hold a translation for it. (Linux issues
 * these for every fixmap text patch, next to its 1 GiB linear map: a full flush each time was
 * ~100,000 flushes and their refill walks per boot.)
 */
export function flushTlbPage(h: Hart, lo: number, hi: number): void {
  if (h.spOverflow) {
    h.flushTlb();
    return;
  }
  for (let k = 0; k < h.spCount; k++) {
    if ((lo & h.spMaskLo[k]) === h.spLo[k] && (hi & h.spMaskHi[k]) === h.spHi[k]) {
      h.flushTlb();
      return;
    }
  }
  if (h.profile !== null) h.profile.tlbFlushPage++;
  const i = (lo >>> 12) & TLB_MASK;
  h.rTagLo[i] = TLB_INVALID;
  h.wTagLo[i] = TLB_INVALID;
  h.xTagLo[i] = TLB_INVALID;
}

/**
 * Translates a virtual address; returns the physical address, or -1 with xcause set. PMP is
 * checked here (for `size` bytes), never in the loop: TLB entries are filled only from here.
 */
export function xlate(h: Hart, lo: number, hi: number, access: number, size = 1): number {
  let eff = h.priv;
  if (access !== FETCH && eff === 3 && (h.mstatus & C.MSTATUS_MPRV) !== 0) eff = (h.mstatus >>> 11) & 3;
  const mode = h.satpHi >>> 28;
  let pa: number;
  h.fillOk = true;
  if (eff === 3 || mode === 0) {
    if (hi < 0 || hi >= 0x1000000) {
      h.xcause = ACCESS_FAULT[access];
      return -1;
    }
    pa = hi * TWO32 + (lo >>> 0);
  } else {
    pa = h.walk(lo, hi, access, eff, mode === 8 ? 3 : mode === 9 ? 4 : 5);
    if (pa < 0) return -1;
  }
  if (h.pmp.active) {
    if (!h.pmp.allows(pa, size, PMP_NEED[access], eff)) {
      h.xcause = ACCESS_FAULT[access];
      return -1;
    }
    h.fillOk = h.pmp.pageUniform(pa - (pa % 4096));
  }
  return pa;
}

export function walk(h: Hart, lo: number, hi: number, access: number, eff: number, levels: number): number {
  if (h.profile !== null) h.profile.walks[access]++;
  // Canonical addresses: bits 63..(39|48|57) equal the top translated bit.
  const top = levels === 3 ? hi >> 6 : levels === 4 ? hi >> 15 : hi >> 24;
  const pf = PAGE_FAULT[access];
  if (top !== 0 && top !== -1) {
    h.xcause = pf;
    return -1;
  }
  const bus = h.bus;
  const ram = bus.ramI32;
  let base = ((h.satpHi & 0xfff) * TWO32 + (h.satpLo >>> 0)) * 4096;
  let pteLo = 0;
  let pteHi = 0;
  let pteAddr = 0;
  let i = levels - 1;
  for (; ; i--) {
    const vpn =
      i === 0
        ? (lo >>> 12) & 511
        : i === 1
          ? (lo >>> 21) & 511
          : i === 2
            ? ((lo >>> 30) | (hi << 2)) & 511
            : i === 3
              ? (hi >>> 7) & 511
              : (hi >>> 16) & 511;
    pteAddr = base + vpn * 8;
    const off = pteAddr - bus.ramBase;
    if (off < 0 || off + 8 > bus.ramSize || (h.pmp.active && !h.pmp.allows(pteAddr, 8, PMP_R, 1))) {
      h.xcause = ACCESS_FAULT[access];
      return -1;
    }
    pteLo = ram[off >>> 2];
    pteHi = ram[(off >>> 2) + 1];
    if ((pteLo & 1) === 0 || (pteLo & 6) === 4) {
      h.xcause = pf;
      return -1;
    }
    if ((pteLo & 10) !== 0) break; // R or X: leaf
    // D, A, U, and (Svpbmt, Svnapot) PBMT and N are reserved in non-leaf PTEs; no leaf at level 0
    if ((pteLo & 0xd0) !== 0 || pteHi >>> 22 !== 0 || i === 0) {
      h.xcause = pf;
      return -1;
    }
    base = ((pteHi & 0x3fffff) * 4194304 + (pteLo >>> 10)) * 4096;
  }
  // Bits 63..54 of a leaf: N (63, Svnapot), PBMT (62..61, Svpbmt), reserved (60..54).
  const top10 = pteHi >>> 22;
  let napot = false;
  if (top10 !== 0) {
    const pbmt = (top10 >>> 7) & 3;
    napot = top10 >>> 9 !== 0;
    if (
      (top10 & 0x7f) !== 0 ||
      (pbmt !== 0 && (pbmt === 3 || (h.ext & X_SVPBMT) === 0 || (h.menvcfgHi & C.ENVCFG_PBMTE_HI) === 0)) ||
      (napot && ((h.ext & X_SVNAPOT) === 0 || i !== 0 || ((pteLo >>> 10) & 15) !== 8))
    ) {
      h.xcause = pf; // reserved bits, PBMT 3 or not enabled, N without Svnapot or not 64 KiB
      return -1;
    }
  }
  // Leaf checks.
  const u = (pteLo & 16) !== 0;
  if (eff === 0 ? !u : u && (access === FETCH || (h.mstatus & C.MSTATUS_SUM) === 0)) {
    h.xcause = pf;
    return -1;
  }
  if (access === FETCH) {
    if ((pteLo & 8) === 0) {
      h.xcause = pf;
      return -1;
    }
  } else if (access === LOAD) {
    if ((pteLo & 2) === 0 && !((h.mstatus & C.MSTATUS_MXR) !== 0 && (pteLo & 8) !== 0)) {
      h.xcause = pf;
      return -1;
    }
  } else if ((pteLo & 4) === 0) {
    h.xcause = pf;
    return -1;
  }
  const ppnLo = pteLo >>> 10; // low 22 bits of ppn
  const ppnHi = pteHi & 0x3fffff; // ppn bits 43..22
  // Superpages: the low 9*i bits of the ppn must be zero (misaligned superpage otherwise).
  const bits = 9 * i;
  const misaligned =
    bits <= 22 ? (ppnLo & ((1 << bits) - 1)) !== 0 : ppnLo !== 0 || (ppnHi & ((1 << (bits - 22)) - 1)) !== 0;
  if (misaligned) {
    h.xcause = pf;
    return -1;
  }
  // Hardware A/D update.
  const want = access === STORE ? 0xc0 : 0x40;
  if ((pteLo & want) !== want) {
    pteLo |= want;
    ram[(pteAddr - bus.ramBase) >>> 2] = pteLo;
    bus.notifyWrite(pteAddr, 8);
  }
  let ppn: number;
  if (napot) {
    // A 64 KiB NAPOT page: the low 4 ppn bits come from the virtual address.
    h.noteRegion(lo, hi, -0x10000, -1);
    ppn = ppnHi * 4194304 + (ppnLo & ~15) + ((lo >>> 12) & 15);
  } else if (i > 0) {
    h.noteRegion(lo, hi, i === 1 ? -0x200000 : i === 2 ? -0x40000000 : 0, i <= 2 ? -1 : i === 3 ? -128 : -65536);
    const vpnLow = (hi & 0xffff) * 1048576 + (lo >>> 12); // virtual address bits 47..12
    ppn = ppnHi * 4194304 + ppnLo + (vpnLow % 2 ** bits);
  } else {
    ppn = ppnHi * 4194304 + ppnLo;
  }
  return ppn * 4096 + (lo & 4095);
}

/**
 * Records the virtual region (base/mask as lo/hi words) of a leaf larger than 4 KiB containing
 * (lo, hi): 64 KiB NAPOT pages, 2 MiB, 1 GiB, 512 GiB and 256 TiB superpages.
 */
export function noteRegion(h: Hart, lo: number, hi: number, mLo: number, mHi: number): void {
  const bLo = lo & mLo;
  const bHi = hi & mHi;
  const n = h.spCount;
  for (let k = 0; k < n; k++) {
    if (h.spLo[k] === bLo && h.spHi[k] === bHi && h.spMaskLo[k] === mLo && h.spMaskHi[k] === mHi) return;
  }
  if (n === SP_MAX) {
    h.spOverflow = true;
    return;
  }
  h.spLo[n] = bLo;
  h.spHi[n] = bHi;
  h.spMaskLo[n] = mLo;
  h.spMaskHi[n] = mHi;
  h.spCount = n + 1;
}
