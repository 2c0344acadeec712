/**
 * Event counters a hart keeps while a profile is being taken (`virtkit run --profile`): what the
 * guest made the CPU do besides executing instructions. A hart without a profile (the default)
 * pays one null check at each counted event, and none of the events is on the per-instruction
 * path: traps, page-table walks (TLB misses), TLB flushes, satp writes, decoded pages made and
 * dropped, translated windows made and dropped.
 *
 * One HartProfile may be shared by every hart of a board (and by the boards a reboot builds), so
 * the counts are for the whole VM.
 */

/** Access kinds of a page-table walk, as hart.ts numbers them. */
export const WALK_KINDS = ['fetch', 'load', 'store'] as const;

export class HartProfile {
  /** Exceptions by cause (0-63) and by the privilege they were taken from (U, S, -, M). */
  readonly exceptions = new Float64Array(64);
  readonly interrupts = new Float64Array(64);
  readonly trapsFrom = new Float64Array(4);
  /** Page-table walks by access kind (every TLB miss under paging walks once). */
  readonly walks = new Float64Array(3);
  /** Full TLB flushes (satp writes, sfence.vma without an address, PMP/envcfg changes). */
  tlbFlushAll = 0;
  /** sfence.vma with an address that dropped one entry. */
  tlbFlushPage = 0;
  satpWrites = 0;
  /** Decoded-instruction pages made (first execution of a RAM page since it was last dropped) and dropped. */
  codePagesMade = 0;
  codePagesDropped = 0;
  /** Whole decode-cache flushes (FENCE.I, remote fence.i). */
  codeFlushes = 0;
  /** 256-byte windows translated to JavaScript, and translated windows thrown away with their page. */
  windowsTranslated = 0;
  windowsDropped = 0;

  trap(cause: number, interrupt: boolean, fromPriv: number): void {
    (interrupt ? this.interrupts : this.exceptions)[cause & 63]++;
    this.trapsFrom[fromPriv & 3]++;
  }
}
