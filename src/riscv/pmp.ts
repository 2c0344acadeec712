/**
 * Physical memory protection: the checks behind the pmpcfg/pmpaddr CSRs (which hart.ts keeps).
 *
 * The hot loop never sees PMP: the hart checks it only where translations are made (xlate, the
 * slow path that fills the TLB), and a TLB entry is filled only when the whole 4 KiB page has one
 * PMP outcome for that privilege (pageUniform), so every later access through the entry would
 * have got the same answer. A page split between regions (or between a region and no region) is
 * never cached: each access to it takes the slow path and is checked byte-exactly. CSR writes
 * rebuild the list of active entries and flush the TLB (the hart does both).
 *
 * With no active entry, every access succeeds (`active` = false, nothing is checked). The
 * specification would deny S/U accesses that match no entry when PMP is implemented; virtkit's
 * built-in SBI boots kernels in S-mode without programming PMP, as a machine without PMP would,
 * so the rule applies from the first active entry on (firmware such as OpenSBI always programs
 * one).
 */

/** Address-matching modes (pmpcfg.A). */
const OFF = 0;
const TOR = 1;
const NA4 = 2;

export const PMP_R = 1;
export const PMP_W = 2;
export const PMP_X = 4;

const TWO32 = 4294967296;

export class Pmp {
  /** Any entry with A != OFF. */
  active = false;
  /** Active entries in priority order: byte ranges [lo, hi), permissions (RWX), locked. */
  private n = 0;
  private readonly lo = new Float64Array(64);
  private readonly hi = new Float64Array(64);
  private readonly perm = new Uint8Array(64);
  private readonly locked = new Uint8Array(64);

  /** Recomputes the active entries from the CSR contents (pmpaddr as lo/hi int32 pairs). */
  update(cfg: Uint8Array, addr: Int32Array): void {
    let n = 0;
    let prevTop = 0;
    for (let i = 0; i < 64; i++) {
      const c = cfg[i];
      const a = (c >>> 3) & 3;
      const word = (addr[2 * i + 1] & 0x3fffff) * TWO32 + (addr[2 * i] >>> 0); // bits 55:2
      const top = word * 4;
      if (a !== OFF) {
        let lo: number;
        let hi: number;
        if (a === TOR) {
          lo = prevTop;
          hi = top;
        } else if (a === NA4) {
          lo = top;
          hi = top + 4;
        } else {
          // NAPOT: trailing ones t of pmpaddr give a region of 2^(t+3) bytes.
          let t = 0;
          const wl = addr[2 * i];
          const wh = addr[2 * i + 1] & 0x3fffff;
          while (t < 32 && ((wl >>> t) & 1) === 1) t++;
          if (t === 32) while (t < 54 && ((wh >>> (t - 32)) & 1) === 1) t++;
          const size = 2 ** (t + 3);
          lo = Math.floor(top / size) * size;
          hi = lo + size;
        }
        if (hi > lo) {
          this.lo[n] = lo;
          this.hi[n] = hi;
          this.perm[n] = c & 7;
          this.locked[n] = c >>> 7;
          n++;
        } else if (a === TOR) {
          // An empty TOR range matches nothing, but it still is an active entry: S/U accesses
          // that match no entry fail from now on.
          this.lo[n] = 0;
          this.hi[n] = 0;
          this.perm[n] = 0;
          this.locked[n] = 0;
          n++;
        }
      }
      prevTop = top;
    }
    this.n = n;
    this.active = n > 0;
  }

  /**
   * Whether an access of `size` bytes at physical address pa with permission `need` (PMP_R/W/X)
   * from privilege `priv` is allowed.
   */
  allows(pa: number, size: number, need: number, priv: number): boolean {
    const end = pa + size;
    for (let k = 0; k < this.n; k++) {
      const lo = this.lo[k];
      const hi = this.hi[k];
      if (end <= lo || pa >= hi) continue;
      if (pa < lo || end > hi) return false; // only part of the access matches: it fails
      if (priv === 3 && this.locked[k] === 0) return true;
      return (this.perm[k] & need) !== 0;
    }
    return priv === 3;
  }

  /**
   * Whether every access within the 4 KiB page at `page` gets the same answer (whatever the
   * privilege): the first entry overlapping the page covers all of it, or none overlaps.
   */
  pageUniform(page: number): boolean {
    const end = page + 4096;
    for (let k = 0; k < this.n; k++) {
      const lo = this.lo[k];
      const hi = this.hi[k];
      if (end <= lo || page >= hi) continue;
      return page >= lo && end <= hi;
    }
    return true;
  }
}
