/**
 * The hart's slow memory paths (split from hart.ts; the Hart class stays the public face and
 * calls these through thin methods): instruction fetch when the fetch TLB misses (TLB fill, or
 * fetching one instruction through the trampoline when it crosses a page or is not in RAM), and
 * loads/stores that missed the data TLB, are misaligned, cross a page or go to a device (TLB
 * fill, MMIO, faults naming the right address). Plain functions taking the hart, so every call
 * site stays monomorphic.
 */
import type { Hart } from './hart.ts';
import { decodeAny } from './decode.ts';
import { Op, TLB_MASK } from './exec.ts';
import { FETCH, LOAD, STORE } from './hart-mmu.ts';

/** Fetch-TLB miss for pc: returns 1 (filled, retry), 2 (fetch via slowFetch), 0 (trap taken). */
export function fetchMiss(h: Hart): number {
  const lo = h.pcLo;
  const hi = h.pcHi;
  const pa = h.xlate(lo, hi, FETCH);
  if (pa < 0) {
    h.trap(h.xcause, lo, hi, false);
    return 0;
  }
  const off = pa - h.bus.ramBase;
  if (off >= 0 && off < h.bus.ramSize && h.fillOk) {
    const i = (lo >>> 12) & TLB_MASK;
    h.xTagLo[i] = lo & -4096;
    h.xTagHi[i] = hi ^ h.ikey;
    h.xOff[i] = off - (off % 4096);
    return 1;
  }
  return 2;
}

/** Fetches and decodes the instruction at pc without the page cache (page-crossing or MMIO). */
export function slowFetch(h: Hart): Int32Array | null {
  const lo = h.pcLo;
  const hi = h.pcHi;
  const h0 = h.fetchHalf(lo, hi);
  if (h0 < 0) return null;
  let h1 = 0;
  if ((h0 & 3) === 3) {
    const lo2 = (lo + 2) | 0;
    const hi2 = lo2 === 0 && lo === -2 ? (hi + 1) | 0 : (lo >>> 0) + 2 > 4294967295 ? (hi + 1) | 0 : hi;
    h1 = h.fetchHalf(lo2, hi2);
    if (h1 < 0) return null;
  }
  decodeAny(h0, h1, h.dec);
  const t = h.tramp;
  t[0] = h.dec[0];
  t[1] = h.dec[1];
  t[2] = Op.PAGE_END;
  t[4] = Op.PAGE_END;
  return t;
}

/**
 * One halfword of an instruction. Only RAM is executable on this board (its PMAs): fetching
 * from a device would read its registers, with their side effects, so it is an instruction
 * access fault like fetching from nothing. (fetchMiss sends every non-RAM pc here.)
 */
export function fetchHalf(h: Hart, lo: number, hi: number): number {
  const pa = h.xlate(lo, hi, FETCH);
  if (pa < 0) {
    h.trap(h.xcause, lo, hi, false);
    return -1;
  }
  const bus = h.bus;
  if (!bus.isRam(pa, 2)) {
    h.trap(1, lo, hi, false);
    return -1;
  }
  const off = pa - bus.ramBase;
  return bus.ram[off] | (bus.ram[off + 1] << 8);
}

export function dataFault(h: Hart, cause: number, lo: number, hi: number): false {
  h.trap(cause, lo, hi, false);
  return false;
}

/** Slow-path load of 1/2/4/8 bytes (any alignment) into ldLo/ldHi; false if a trap was taken. */
export function load(h: Hart, lo: number, hi: number, size: number): boolean {
  const o = lo & 4095;
  if (o + size > 4096) return h.loadBytes(lo, hi, size);
  const bus = h.bus;
  const i = (lo >>> 12) & TLB_MASK;
  let off: number;
  let pa = 0;
  if (h.rTagLo[i] === (lo & -4096) && h.rTagHi[i] === (hi ^ h.dkey)) {
    off = (h.rOff[i] >>> 0) + o; // TLB hit (misaligned, or LR/FP/AMO callers)
  } else {
    pa = h.xlate(lo, hi, LOAD, size);
    if (pa < 0) return h.dataFault(h.xcause, lo, hi);
    off = pa - bus.ramBase;
    if (off >= 0 && off < bus.ramSize && h.fillOk) {
      h.rTagLo[i] = lo & -4096;
      h.rTagHi[i] = hi ^ h.dkey;
      h.rOff[i] = off - o;
    }
  }
  if (off >= 0 && off < bus.ramSize) {
    const m = bus.ram;
    let vlo = 0;
    let vhi = 0;
    for (let k = Math.min(size, 4) - 1; k >= 0; k--) vlo = (vlo << 8) | m[off + k];
    for (let k = size - 1; k >= 4; k--) vhi = (vhi << 8) | m[off + k];
    h.ldLo = vlo | 0;
    h.ldHi = vhi | 0;
    return true;
  }
  if ((lo & (size - 1)) !== 0) return h.dataFault(4, lo, hi);
  const r = bus.findDevice(pa, size);
  if (r === undefined) return h.dataFault(5, lo, hi);
  const doff = pa - r.base;
  if (size === 8) {
    h.ldLo = r.dev.read(doff, 4) | 0;
    h.ldHi = r.dev.read(doff + 4, 4) | 0;
  } else {
    h.ldLo = r.dev.read(doff, size as 1 | 2 | 4) | 0;
    h.ldHi = 0;
  }
  return true;
}

/**
 * A load crossing a page boundary: byte by byte. A fault reports the address of the part of
 * the access that faulted (the privileged spec's rule for misaligned accesses), not the
 * access's start: the OS's fault handler maps the page stval names, so naming the first,
 * present page would make it return to the same fault forever.
 */
export function loadBytes(h: Hart, lo: number, hi: number, size: number): boolean {
  let vlo = 0;
  let vhi = 0;
  for (let k = 0; k < size; k++) {
    const s = (lo >>> 0) + k;
    const blo = s | 0;
    const bhi = s > 4294967295 ? (hi + 1) | 0 : hi;
    const pa = h.xlate(blo, bhi, LOAD);
    if (pa < 0) return h.dataFault(h.xcause, blo, bhi);
    const b = h.bus.read(pa, 1);
    if (b < 0) return h.dataFault(5, blo, bhi);
    if (k < 4) vlo |= b << (8 * k);
    else vhi |= b << (8 * (k - 4));
  }
  h.ldLo = vlo | 0;
  h.ldHi = vhi | 0;
  return true;
}

/** Slow-path store; false if a trap was taken. */
export function store(h: Hart, lo: number, hi: number, size: number, vlo: number, vhi: number): boolean {
  const o = lo & 4095;
  if (o + size > 4096) return h.storeBytes(lo, hi, size, vlo, vhi);
  const bus = h.bus;
  const i = (lo >>> 12) & TLB_MASK;
  let off: number;
  let pa = 0;
  let fill = false;
  if (h.wTagLo[i] === (lo & -4096) && h.wTagHi[i] === (hi ^ h.dkey)) {
    off = (h.wOff[i] >>> 0) + o;
  } else {
    pa = h.xlate(lo, hi, STORE, size);
    if (pa < 0) return h.dataFault(h.xcause, lo, hi);
    off = pa - bus.ramBase;
    fill = h.fillOk;
  }
  if (off >= 0 && off < bus.ramSize) {
    const page = off >>> 12;
    if (bus.codePages[page] !== 0) {
      bus.codeWritten(page);
    } else if (fill) {
      h.wTagLo[i] = lo & -4096;
      h.wTagHi[i] = hi ^ h.dkey;
      h.wOff[i] = off - o;
    }
    const m = bus.ram;
    for (let k = 0; k < size; k++) m[off + k] = k < 4 ? vlo >>> (8 * k) : vhi >>> (8 * (k - 4));
    return true;
  }
  if ((lo & (size - 1)) !== 0) return h.dataFault(6, lo, hi);
  const r = bus.findDevice(pa, size);
  if (r === undefined) return h.dataFault(7, lo, hi);
  const doff = pa - r.base;
  if (size === 8) {
    r.dev.write(doff, 4, vlo >>> 0);
    r.dev.write(doff + 4, 4, vhi >>> 0);
  } else {
    r.dev.write(doff, size as 1 | 2 | 4, size === 4 ? vlo >>> 0 : vlo & ((1 << (8 * size)) - 1));
  }
  return true;
}

/** A store crossing a page boundary; faults report the faulting part's address as loadBytes. */
export function storeBytes(h: Hart, lo: number, hi: number, size: number, vlo: number, vhi: number): boolean {
  // Translate every byte first so that a fault leaves memory untouched.
  const pas: number[] = [];
  for (let k = 0; k < size; k++) {
    const s = (lo >>> 0) + k;
    const blo = s | 0;
    const bhi = s > 4294967295 ? (hi + 1) | 0 : hi;
    const pa = h.xlate(blo, bhi, STORE);
    if (pa < 0) return h.dataFault(h.xcause, blo, bhi);
    if (h.bus.findDevice(pa, 1) === undefined && !h.bus.isRam(pa, 1)) return h.dataFault(7, blo, bhi);
    pas.push(pa);
  }
  for (let k = 0; k < size; k++) {
    h.bus.write(pas[k], 1, (k < 4 ? vlo >>> (8 * k) : vhi >>> (8 * (k - 4))) & 255);
  }
  return true;
}
