/**
 * The machine's timebase: mtime ticks at 10 MHz (QEMU virt's timebase-frequency), read by the
 * CLINT/ACLINT, the `time` CSR and Sstc's stimecmp comparison. Boards choose the source
 * (wall clock, or a virtual clock that a snapshot can restore and that skips ahead while all
 * harts wait in WFI).
 */
import { StateReader } from '../memory/state.ts';

export const TIMEBASE_HZ = 10_000_000;

export interface Clock {
  /** Current mtime in ticks (a non-negative integer below 2^53, monotonic). */
  now(): number;
}

/**
 * mtime from a host millisecond source (performance.now in Node and browsers), continuous across
 * snapshot/restore: loadState makes the clock resume at the saved mtime, whatever the host time is.
 */
export class HostClock implements Clock {
  private offset = 0;

  constructor(private readonly nowMs: () => number) {}

  now(): number {
    return Math.max(0, Math.floor(this.nowMs() * (TIMEBASE_HZ / 1000)) + this.offset);
  }

  /** Milliseconds until mtime reaches `ticks` (0 if already there). */
  msUntil(ticks: number): number {
    return Math.max(0, (ticks - this.now()) / (TIMEBASE_HZ / 1000));
  }

  saveState(): { version: 1; mtime: number } {
    return { version: 1, mtime: this.now() };
  }

  /** `state`: raw data or a StateReader (untrusted); throws StateError. */
  loadState(state: unknown): void {
    const mtime = StateReader.of(state, 'clock', 1).int('mtime', 0, Number.MAX_SAFE_INTEGER);
    this.offset = 0;
    this.offset = mtime - this.now();
  }
}
