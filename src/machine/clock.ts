/**
 * The machine's timebase: mtime ticks at 10 MHz (QEMU virt's timebase-frequency), read by the
 * CLINT/ACLINT, the `time` CSR and Sstc's stimecmp comparison. Boards choose the source
 * (wall clock, or a virtual clock that a snapshot can restore and that skips ahead while all
 * harts wait in WFI).
 */
export const TIMEBASE_HZ = 10_000_000;

export interface Clock {
  /** Current mtime in ticks (a non-negative integer below 2^53, monotonic). */
  now(): number;
}
