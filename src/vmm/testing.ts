/**
 * Test support: tiny S-mode "kernels" in the RISC-V Image format, encoded here so tests need no
 * toolchain, and the board behind a Vm. Used only by tests (and the virtio fuzzer); lint keeps it
 * out of front ends. Kept platform-neutral.
 */
import { asm } from '../riscv/test-support.ts';
import type { VirtMachine } from '../machine/virt.ts';
import type { Vm } from './vm.ts';

/**
 * The board a Vm runs now (a reboot builds a new one), for tests and the virtio fuzzer that drive
 * devices and RAM directly. Front ends use Vm's and VmSession's named methods instead.
 */
export function boardOf(vm: Vm): VirtMachine {
  // The field is private to keep front ends out; this test-only door is the one exception.
  return vm['board'];
}

const S0 = 8;
const S1 = 9;
const T0 = 5;
const T1 = 6;
const A0 = 10;
const A1 = 11;
const A2 = 12;
const A6 = 16;
const A7 = 17;
const { lui, addi, slli, add, sub, beq, bne, jal } = asm;
const sw = (rs2: number, rs1: number) => asm.sw(rs2, rs1, 0);
const sb = (rs2: number, rs1: number) => asm.sb(rs2, rs1, 0);
const ECALL = asm.ecall();
const WFI = asm.wfi();

/** A RISC-V Linux Image holding `code` (loaded at RAM base + 2 MiB). */
export function image(code: number[]): Uint8Array {
  const img = new Uint8Array(64 + code.length * 4);
  const dv = new DataView(img.buffer);
  dv.setUint32(0, 0x0400006f, true); // j +64
  dv.setUint32(8, 0x200000, true); // text_offset
  dv.setUint32(16, img.length, true); // image_size
  dv.setUint32(56, 0x05435352, true); // "RSC\x05"
  code.forEach((w, i) => dv.setUint32(64 + i * 4, w, true));
  return img;
}

/** Waits for interrupts for ever (none are enabled): the test plays the guest's drivers. */
export const IDLE = image([WFI, jal(0, -4)]);

/** Writes a finisher status (poweroff 0x5555, failure 0x13333) and spins. */
function finish(status: number): number[] {
  return [lui(T0, 0x100), lui(T1, status >>> 12), addi(T1, T1, status & 0xfff), sw(T1, T0), jal(0, 0)];
}

/**
 * Prints RAM [0x80000000, +1 MiB) `calls` times with SBI DBCN console writes, each retried from
 * where it stopped until all of it is written (a short count is no error), then powers off.
 */
export function dbcnKernel(calls: number): Uint8Array {
  const code = [
    addi(S0, 0, calls), // 0: calls left
    beq(S0, 0, 18 * 4), // 1 outer: -> 19 done
    lui(S1, 0x100), // 2: s1 = bytes left in this call (1 MiB)
    lui(A7, 0x44424), // 3 inner: a7 = DBCN
    addi(A7, A7, 0x34e),
    addi(A6, 0, 0), // 5: console_write
    addi(A0, S1, 0), // 6: num_bytes = left
    addi(T0, 0, 1),
    slli(T0, T0, 31), // 8: 0x80000000
    lui(T1, 0x100),
    add(T0, T0, T1), // 10: end of the buffer
    sub(A1, T0, S1), // 11: base_addr_lo = end - left
    addi(A2, 0, 0), // 12: base_addr_hi
    ECALL, // 13
    bne(A0, 0, 6 * 4), // 14: error -> 20 fail
    sub(S1, S1, A1), // 15: left -= written
    bne(S1, 0, -13 * 4), // 16: -> 3 inner
    addi(S0, S0, -1), // 17
    jal(0, -17 * 4), // 18: -> 1 outer
    jal(0, 2 * 4), // 19 done: -> 21
    ...finish(0x13333), // 20..24 fail (code 1)
  ];
  // 21 is inside the failure sequence: put the poweroff after it and jump there instead.
  const done = code.length;
  code[19] = jal(0, (done - 19) * 4);
  code.push(...finish(0x5555));
  return image(code);
}

/** Prints `text` on the UART, then waits for interrupts for ever (a guest idle at its prompt). */
export function printKernel(text: string): Uint8Array {
  const code = [lui(T0, 0x10000)];
  for (const c of text) code.push(addi(T1, 0, c.charCodeAt(0)), sb(T1, T0));
  code.push(WFI, jal(0, -4));
  return image(code);
}

/**
 * Prints `banner`, then echoes every byte typed on the UART back (polling its line status
 * register: a busy loop, so keep such tests short).
 */
export function echoKernel(banner: string): Uint8Array {
  const code = [lui(T0, 0x10000)];
  for (const c of banner) code.push(addi(T1, 0, c.charCodeAt(0)), sb(T1, T0));
  code.push(
    asm.lbu(T1, T0, 5), // loop: line status
    asm.andi(T1, T1, 1), // data ready?
    beq(T1, 0, -8),
    asm.lbu(T1, T0, 0),
    sb(T1, T0),
    jal(0, -20),
  );
  return image(code);
}

/** Prints `x` on the UART for ever, as fast as the board takes it. */
export function floodKernel(): Uint8Array {
  return image([lui(T0, 0x10000), addi(T1, 0, 0x78), sb(T1, T0), jal(0, -4)]);
}

/**
 * A compute loop with a call to a function one page away on every iteration, 2 * `half` times
 * (`half` a multiple of 4096 below 2^30). After the first half it prints "." and waits for a byte
 * on the UART (so a test can snapshot it there and resume it elsewhere); at the end it prints the
 * 64-bit result as 16 hex digits and a newline, then idles. checksumExpected gives the same line.
 */
export function checksumKernel(half: number): Uint8Array {
  const S5 = 21;
  const T2 = 7;
  const T3 = 28;
  const T4 = 29;
  const A3 = 13;
  const A4 = 14;
  const RA = 1;
  const FN = 1100; // word index of the function: more than a page after the loop
  const code: number[] = [];
  const at = () => code.length;
  code.push(lui(T0, 0x10000), lui(S1, (2 * half) >>> 12), lui(S5, half >>> 12), addi(S0, 0, 1));
  code.push(lui(A3, 0x5bd1f), addi(A3, A3, -0x66b)); // multiplier 0x5bd1e995
  const loop = at();
  code.push(jal(RA, (FN - loop) * 4), addi(S1, S1, -1));
  const skip = at();
  code.push(0); // bne s1, s5 -> next (patched)
  code.push(addi(T3, 0, 46), sb(T3, T0)); // "."
  code.push(asm.lbu(T3, T0, 5), asm.andi(T3, T3, 1), beq(T3, 0, -8), asm.lbu(T3, T0, 0));
  const next = at();
  code[skip] = bne(S1, S5, (next - skip) * 4);
  code.push(bne(S1, 0, (loop - next) * 4));
  code.push(addi(T2, 0, 16));
  const digit = at();
  code.push(asm.srli(T3, S0, 60), addi(T4, 0, 10), asm.blt(T3, T4, 8), addi(T3, T3, 39), addi(T3, T3, 48));
  code.push(sb(T3, T0), slli(S0, S0, 4), addi(T2, T2, -1));
  code.push(bne(T2, 0, (digit - at()) * 4));
  code.push(addi(T3, 0, 10), sb(T3, T0), WFI, jal(0, -4));
  while (code.length < FN) code.push(addi(0, 0, 0));
  // acc = (acc * m + i) ^ ((acc * m + i) >> 29)
  code.push(asm.mul(S0, S0, A3), add(S0, S0, S1), asm.srli(A4, S0, 29), asm.xor(S0, S0, A4), asm.jalr(0, RA, 0));
  return image(code);
}

/** The line checksumKernel(half) prints at the end. */
export function checksumExpected(half: number): string {
  const M = (1n << 64n) - 1n;
  let acc = 1n;
  for (let i = BigInt(2 * half); i > 0n; i--) {
    acc = (acc * 0x5bd1e995n + i) & M;
    acc ^= acc >> 29n;
  }
  return acc.toString(16).padStart(16, '0') + '\n';
}
