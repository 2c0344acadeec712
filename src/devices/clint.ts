/**
 * SiFive CLINT / RISC-V ACLINT (MSWI + MTIMER) as on QEMU's `virt` board at 0x2000000:
 * msip[h] at 0x0000 + 4h, mtimecmp[h] at 0x4000 + 8h, mtime at 0xbff8 (64-bit registers are
 * accessed as two 32-bit halves, low first, as the bus splits 8-byte accesses).
 *
 * mtime is the Clock plus an offset (writing mtime changes the offset, so a snapshot restores
 * time by writing it). MTIP is level: mtime >= mtimecmp, re-evaluated on every mtimecmp/mtime
 * write and when the host calls update() after time passed; nextDeadline() tells the host when
 * the next timer fires so it can sleep while harts wait in WFI.
 */
import type { Clock } from '../memory/clock.ts';
import type { InterruptPins, MmioDevice } from '../memory/mmio.ts';
import { StateReader, subRead, subWrite } from '../memory/state.ts';

export const MIP_MSIP = 1 << 3;
export const MIP_MTIP = 1 << 7;

const MSIP_BASE = 0x0000;
const MTIMECMP_BASE = 0x4000;
const MTIME = 0xbff8;
export const CLINT_SIZE = 0x10000;
const U32 = 0x1_0000_0000;
/** mtime stays a safe integer; anything larger is clamped (2^53 ticks at 10 MHz is 28 years). */
const MAX_TIME = Number.MAX_SAFE_INTEGER;

export class Clint implements MmioDevice {
  private readonly msip: Uint8Array;
  private readonly cmpLo: Uint32Array;
  private readonly cmpHi: Uint32Array;
  private readonly mtip: boolean[];
  private offset = 0;
  /** High half of mtime latched by a low-half read, or -1. */
  private latchedHigh = -1;

  constructor(
    private readonly harts: readonly InterruptPins[],
    private readonly clock: Clock,
  ) {
    const n = harts.length;
    this.msip = new Uint8Array(n);
    // mtimecmp resets to all ones: no timer interrupt until software programs one.
    this.cmpLo = new Uint32Array(n).fill(0xffffffff);
    this.cmpHi = new Uint32Array(n).fill(0xffffffff);
    this.mtip = new Array<boolean>(n).fill(false);
  }

  /** The current mtime (also what the `time` CSR should read). */
  mtime(): number {
    return Math.min(MAX_TIME, Math.max(0, this.clock.now() + this.offset));
  }

  private cmp(h: number): number {
    return this.cmpHi[h]! * U32 + this.cmpLo[h]!;
  }

  /** Re-evaluates MTIP for every hart (call after time advanced). */
  update(): void {
    const now = this.mtime();
    for (let h = 0; h < this.harts.length; h++) this.setMtip(h, now >= this.cmp(h));
  }

  private setMtip(h: number, level: boolean): void {
    if (this.mtip[h] === level) return;
    this.mtip[h] = level;
    this.harts[h]!.setPending(MIP_MTIP, level);
  }

  /**
   * The Clock time (Clock.now() units) at which the earliest not-yet-pending timer fires,
   * or undefined if no hart has a timer armed.
   */
  nextDeadline(): number | undefined {
    let best: number | undefined;
    for (let h = 0; h < this.harts.length; h++) {
      if (this.mtip[h]) continue;
      const c = this.cmp(h);
      if (c >= MAX_TIME) continue;
      const t = c - this.offset;
      if (best === undefined || t < best) best = t;
    }
    return best;
  }

  read(offset: number, size: 1 | 2 | 4): number {
    const word = offset & ~3;
    const v = subRead(this.readWord(word), offset, size);
    // The latch only serves the access right after the low-half read.
    if (word !== MTIME) this.latchedHigh = -1;
    return v;
  }

  private readWord(word: number): number {
    const n = this.harts.length;
    if (word < MSIP_BASE + 4 * n) return this.msip[word >> 2]!;
    if (word >= MTIMECMP_BASE && word < MTIMECMP_BASE + 8 * n) {
      const h = (word - MTIMECMP_BASE) >> 3;
      return word & 4 ? this.cmpHi[h]! : this.cmpLo[h]!;
    }
    if (word === MTIME) {
      // A 64-bit read arrives as low then high: latch the value so a carry in between cannot tear it.
      const t = this.mtime();
      this.latchedHigh = Math.floor(t / U32);
      return t % U32;
    }
    if (word === MTIME + 4) {
      const latched = this.latchedHigh;
      return latched >= 0 ? latched : Math.floor(this.mtime() / U32);
    }
    return 0;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    const word = offset & ~3;
    this.latchedHigh = -1;
    const n = this.harts.length;
    if (word < MSIP_BASE + 4 * n) {
      const h = word >> 2;
      const v = subWrite(this.msip[h]!, offset, size, value) & 1;
      this.msip[h] = v;
      this.harts[h]!.setPending(MIP_MSIP, v === 1);
      return;
    }
    if (word >= MTIMECMP_BASE && word < MTIMECMP_BASE + 8 * n) {
      const h = (word - MTIMECMP_BASE) >> 3;
      if (word & 4) this.cmpHi[h] = subWrite(this.cmpHi[h]!, offset, size, value);
      else this.cmpLo[h] = subWrite(this.cmpLo[h]!, offset, size, value);
      this.setMtip(h, this.mtime() >= this.cmp(h));
      return;
    }
    if (word === MTIME || word === MTIME + 4) {
      const t = this.mtime();
      let lo = t % U32;
      let hi = Math.floor(t / U32);
      if (word === MTIME) lo = subWrite(lo, offset, size, value);
      else hi = subWrite(hi, offset, size, value);
      const target = Math.min(MAX_TIME, hi * U32 + lo);
      this.offset = target - this.clock.now();
      this.update();
    }
  }

  saveState(): object {
    return {
      version: 1,
      msip: [...this.msip],
      mtimecmp: Array.from(this.cmpLo, (lo, h) => [lo, this.cmpHi[h]!]).flat(),
      mtime: this.mtime(),
    };
  }

  /** Restores registers; mtime continues from the saved value on this machine's Clock. */
  loadState(state: unknown): void {
    const r = StateReader.of(state, 'clint', 1);
    const n = this.harts.length;
    const msip = r.ints('msip', 0, 1, n, n);
    const cmp = r.ints('mtimecmp', 0, 0xffffffff, 2 * n, 2 * n);
    const mtime = r.int('mtime', 0, MAX_TIME);
    this.offset = mtime - this.clock.now();
    for (let h = 0; h < n; h++) {
      this.msip[h] = msip[h]!;
      this.harts[h]!.setPending(MIP_MSIP, msip[h] === 1);
      this.cmpLo[h] = cmp[2 * h]!;
      this.cmpHi[h] = cmp[2 * h + 1]!;
      this.mtip[h] = !(this.mtime() >= this.cmp(h));
      this.setMtip(h, !this.mtip[h]);
    }
  }
}
