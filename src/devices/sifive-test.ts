/**
 * The SiFive test finisher ("sifive,test0", at 0x100000 on QEMU's virt board): a guest writes one
 * 32-bit word to offset 0 to end the run.
 *
 *   0x5555               pass (exit 0)
 *   0x3333 | code << 16  fail with `code`
 *   0x7777               reset request
 *
 * Other values are ignored (as on QEMU, a write the device does not understand has no effect).
 * The verdict is exposed as `result`; `onFinish` lets the machine stop its run loop early.
 */
import type { MmioDevice } from '../memory/mmio.ts';

export type FinisherResult = { kind: 'pass' } | { kind: 'fail'; code: number } | { kind: 'reset' };

export const SIFIVE_TEST_SIZE = 0x1000;
export const FINISHER_PASS = 0x5555;
export const FINISHER_FAIL = 0x3333;
export const FINISHER_RESET = 0x7777;

export class SifiveTest implements MmioDevice {
  /** The first verdict written since construction or the last clear(); null while running. */
  result: FinisherResult | null = null;

  constructor(private readonly onFinish?: (result: FinisherResult) => void) {}

  read(): number {
    return 0;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset !== 0 || size === 1) return;
    const status = value & 0xffff;
    const code = (value >>> 16) & 0xffff;
    let r: FinisherResult;
    if (status === FINISHER_PASS) r = { kind: 'pass' };
    else if (status === FINISHER_FAIL) r = { kind: 'fail', code };
    else if (status === FINISHER_RESET) r = { kind: 'reset' };
    else return;
    if (this.result) return; // the first verdict stands
    this.result = r;
    this.onFinish?.(r);
  }

  clear(): void {
    this.result = null;
  }
}
