/**
 * Test support: a tiny RV64 instruction encoder and a harness that runs words on a Bus + Hart.
 * Used only by *.test.ts files.
 */
import type { CpuConfig } from './cpu-config.ts';
import { Bus } from '../memory/bus.ts';
import type { Clock } from '../memory/clock.ts';
import { Hart } from './hart.ts';

export const RAM_BASE = 0x80000000;

const r = (f7: number, rs2: number, rs1: number, f3: number, rd: number, op: number): number =>
  ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const i = (imm: number, rs1: number, f3: number, rd: number, op: number): number =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const s = (imm: number, rs2: number, rs1: number, f3: number, op: number): number =>
  ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op) >>> 0;
const b = (imm: number, rs2: number, rs1: number, f3: number): number =>
  ((((imm >> 12) & 1) << 31) |
    (((imm >> 5) & 0x3f) << 25) |
    (rs2 << 20) |
    (rs1 << 15) |
    (f3 << 12) |
    (((imm >> 1) & 0xf) << 8) |
    (((imm >> 11) & 1) << 7) |
    0x63) >>>
  0;

/** Instruction encoders: registers are numbers 0..31. */
export const asm = {
  lui: (rd: number, imm20: number) => (((imm20 & 0xfffff) << 12) | (rd << 7) | 0x37) >>> 0,
  auipc: (rd: number, imm20: number) => (((imm20 & 0xfffff) << 12) | (rd << 7) | 0x17) >>> 0,
  jal: (rd: number, off: number) =>
    ((((off >> 20) & 1) << 31) |
      (((off >> 1) & 0x3ff) << 21) |
      (((off >> 11) & 1) << 20) |
      (((off >> 12) & 0xff) << 12) |
      (rd << 7) |
      0x6f) >>>
    0,
  jalr: (rd: number, rs1: number, off: number) => i(off, rs1, 0, rd, 0x67),
  beq: (a: number, c: number, off: number) => b(off, c, a, 0),
  bne: (a: number, c: number, off: number) => b(off, c, a, 1),
  blt: (a: number, c: number, off: number) => b(off, c, a, 4),
  bge: (a: number, c: number, off: number) => b(off, c, a, 5),
  bltu: (a: number, c: number, off: number) => b(off, c, a, 6),
  bgeu: (a: number, c: number, off: number) => b(off, c, a, 7),
  lb: (rd: number, rs1: number, off: number) => i(off, rs1, 0, rd, 3),
  lh: (rd: number, rs1: number, off: number) => i(off, rs1, 1, rd, 3),
  lw: (rd: number, rs1: number, off: number) => i(off, rs1, 2, rd, 3),
  ld: (rd: number, rs1: number, off: number) => i(off, rs1, 3, rd, 3),
  lbu: (rd: number, rs1: number, off: number) => i(off, rs1, 4, rd, 3),
  lhu: (rd: number, rs1: number, off: number) => i(off, rs1, 5, rd, 3),
  lwu: (rd: number, rs1: number, off: number) => i(off, rs1, 6, rd, 3),
  sb: (rs2: number, rs1: number, off: number) => s(off, rs2, rs1, 0, 0x23),
  sh: (rs2: number, rs1: number, off: number) => s(off, rs2, rs1, 1, 0x23),
  sw: (rs2: number, rs1: number, off: number) => s(off, rs2, rs1, 2, 0x23),
  sd: (rs2: number, rs1: number, off: number) => s(off, rs2, rs1, 3, 0x23),
  flw: (rd: number, rs1: number, off: number) => i(off, rs1, 2, rd, 7),
  fld: (rd: number, rs1: number, off: number) => i(off, rs1, 3, rd, 7),
  fsw: (rs2: number, rs1: number, off: number) => s(off, rs2, rs1, 2, 0x27),
  fsd: (rs2: number, rs1: number, off: number) => s(off, rs2, rs1, 3, 0x27),
  addi: (rd: number, rs1: number, imm: number) => i(imm, rs1, 0, rd, 0x13),
  slti: (rd: number, rs1: number, imm: number) => i(imm, rs1, 2, rd, 0x13),
  sltiu: (rd: number, rs1: number, imm: number) => i(imm, rs1, 3, rd, 0x13),
  xori: (rd: number, rs1: number, imm: number) => i(imm, rs1, 4, rd, 0x13),
  ori: (rd: number, rs1: number, imm: number) => i(imm, rs1, 6, rd, 0x13),
  andi: (rd: number, rs1: number, imm: number) => i(imm, rs1, 7, rd, 0x13),
  slli: (rd: number, rs1: number, sh: number) => i(sh, rs1, 1, rd, 0x13),
  srli: (rd: number, rs1: number, sh: number) => i(sh, rs1, 5, rd, 0x13),
  srai: (rd: number, rs1: number, sh: number) => i(sh | 0x400, rs1, 5, rd, 0x13),
  addiw: (rd: number, rs1: number, imm: number) => i(imm, rs1, 0, rd, 0x1b),
  slliw: (rd: number, rs1: number, sh: number) => i(sh, rs1, 1, rd, 0x1b),
  srliw: (rd: number, rs1: number, sh: number) => i(sh, rs1, 5, rd, 0x1b),
  sraiw: (rd: number, rs1: number, sh: number) => i(sh | 0x400, rs1, 5, rd, 0x1b),
  /** Any R-type: f7, f3 and opcode given. */
  r: (f7: number, f3: number, op: number, rd: number, rs1: number, rs2: number) => r(f7, rs2, rs1, f3, rd, op),
  add: (rd: number, a: number, c: number) => r(0, c, a, 0, rd, 0x33),
  sub: (rd: number, a: number, c: number) => r(0x20, c, a, 0, rd, 0x33),
  sll: (rd: number, a: number, c: number) => r(0, c, a, 1, rd, 0x33),
  slt: (rd: number, a: number, c: number) => r(0, c, a, 2, rd, 0x33),
  sltu: (rd: number, a: number, c: number) => r(0, c, a, 3, rd, 0x33),
  xor: (rd: number, a: number, c: number) => r(0, c, a, 4, rd, 0x33),
  srl: (rd: number, a: number, c: number) => r(0, c, a, 5, rd, 0x33),
  sra: (rd: number, a: number, c: number) => r(0x20, c, a, 5, rd, 0x33),
  or: (rd: number, a: number, c: number) => r(0, c, a, 6, rd, 0x33),
  and: (rd: number, a: number, c: number) => r(0, c, a, 7, rd, 0x33),
  addw: (rd: number, a: number, c: number) => r(0, c, a, 0, rd, 0x3b),
  subw: (rd: number, a: number, c: number) => r(0x20, c, a, 0, rd, 0x3b),
  mul: (rd: number, a: number, c: number) => r(1, c, a, 0, rd, 0x33),
  mulh: (rd: number, a: number, c: number) => r(1, c, a, 1, rd, 0x33),
  mulhsu: (rd: number, a: number, c: number) => r(1, c, a, 2, rd, 0x33),
  mulhu: (rd: number, a: number, c: number) => r(1, c, a, 3, rd, 0x33),
  div: (rd: number, a: number, c: number) => r(1, c, a, 4, rd, 0x33),
  divu: (rd: number, a: number, c: number) => r(1, c, a, 5, rd, 0x33),
  rem: (rd: number, a: number, c: number) => r(1, c, a, 6, rd, 0x33),
  remu: (rd: number, a: number, c: number) => r(1, c, a, 7, rd, 0x33),
  mulw: (rd: number, a: number, c: number) => r(1, c, a, 0, rd, 0x3b),
  divw: (rd: number, a: number, c: number) => r(1, c, a, 4, rd, 0x3b),
  remuw: (rd: number, a: number, c: number) => r(1, c, a, 7, rd, 0x3b),
  lr_w: (rd: number, rs1: number) => r(0x02 << 2, 0, rs1, 2, rd, 0x2f),
  sc_w: (rd: number, rs1: number, rs2: number) => r(0x03 << 2, rs2, rs1, 2, rd, 0x2f),
  lr_d: (rd: number, rs1: number) => r(0x02 << 2, 0, rs1, 3, rd, 0x2f),
  sc_d: (rd: number, rs1: number, rs2: number) => r(0x03 << 2, rs2, rs1, 3, rd, 0x2f),
  amo: (f5: number, dbl: boolean, rd: number, rs1: number, rs2: number) => r(f5 << 2, rs2, rs1, dbl ? 3 : 2, rd, 0x2f),
  csrrw: (rd: number, csr: number, rs1: number) => i(csr, rs1, 1, rd, 0x73),
  csrrs: (rd: number, csr: number, rs1: number) => i(csr, rs1, 2, rd, 0x73),
  csrrc: (rd: number, csr: number, rs1: number) => i(csr, rs1, 3, rd, 0x73),
  csrrwi: (rd: number, csr: number, u: number) => i(csr, u, 5, rd, 0x73),
  csrrsi: (rd: number, csr: number, u: number) => i(csr, u, 6, rd, 0x73),
  csrrci: (rd: number, csr: number, u: number) => i(csr, u, 7, rd, 0x73),
  ecall: () => 0x00000073,
  ebreak: () => 0x00100073,
  mret: () => 0x30200073,
  sret: () => 0x10200073,
  wfi: () => 0x10500073,
  fence: () => 0x0ff0000f,
  fence_i: () => 0x0000100f,
  sfence_vma: (rs1: number, rs2: number) => r(0x09, rs2, rs1, 0, 0, 0x73),
  nop: () => 0x00000013,
};

export class FakeClock implements Clock {
  t = 0;
  now(): number {
    return this.t;
  }
}

export interface Machine {
  bus: Bus;
  hart: Hart;
  clock: FakeClock;
}

/** A Bus (1 MiB of RAM at 0x80000000 unless told) and one hart with pc at RAM_BASE. */
export function machine(ramSize = 1 << 20, cpu?: CpuConfig): Machine {
  const bus = new Bus(RAM_BASE, ramSize);
  const clock = new FakeClock();
  const hart = new Hart(bus, 0, clock, cpu);
  hart.setPc(RAM_BASE);
  // Traps land on a `j .` at the end of RAM unless a test installs its own handler, so mcause and
  // mepc keep the first trap's values.
  const halt = RAM_BASE + ramSize - 4;
  load(bus, halt, [asm.jal(0, 0)]);
  hart.mtvecLo = halt | 0;
  return { bus, hart, clock };
}

/** Writes instruction words (32-bit, or 16-bit when given as { c: halfword }) at a physical address. */
export function load(bus: Bus, addr: number, words: readonly (number | { c: number })[]): number {
  let a = addr - bus.ramBase;
  for (const w of words) {
    if (typeof w === 'number') {
      bus.ram[a] = w;
      bus.ram[a + 1] = w >>> 8;
      bus.ram[a + 2] = w >>> 16;
      bus.ram[a + 3] = w >>> 24;
      a += 4;
    } else {
      bus.ram[a] = w.c;
      bus.ram[a + 1] = w.c >>> 8;
      a += 2;
    }
  }
  bus.notifyWrite(addr, a - (addr - bus.ramBase));
  return a + bus.ramBase;
}

/** Loads the program at RAM_BASE and runs until budget or an ebreak/ecall trap to M-mode's mtvec spin. */
export function runProgram(words: readonly (number | { c: number })[], budget = 1000, m = machine()): Machine {
  load(m.bus, RAM_BASE, words);
  m.hart.run(budget);
  return m;
}

/** Writes a 64-bit little-endian value (as lo/hi words) to physical memory. */
export function poke64(bus: Bus, addr: number, lo: number, hi: number): void {
  const o = (addr - bus.ramBase) >>> 2;
  bus.ramI32[o] = lo;
  bus.ramI32[o + 1] = hi;
}

export function peek32(bus: Bus, addr: number): number {
  return bus.ramI32[(addr - bus.ramBase) >>> 2];
}

/** Loads a 64-bit constant into register rd (sequence of lui/addi/slli), for tests. */
export function li64(rd: number, lo: number, hi: number): number[] {
  const out: number[] = [];
  const part = (v: number): void => {
    // load 32-bit signed v into rd
    const up = (v + 0x800) >> 12;
    out.push(asm.lui(rd, up & 0xfffff));
    out.push(asm.addiw(rd, rd, v - (up << 12)));
  };
  part(hi);
  out.push(asm.slli(rd, rd, 32));
  // add low 32 bits unsigned using t6 (x31) as scratch
  const up = (lo + 0x800) >> 12;
  out.push(asm.lui(31, up & 0xfffff));
  out.push(asm.addiw(31, 31, lo - (up << 12)));
  out.push(asm.slli(31, 31, 32));
  out.push(asm.srli(31, 31, 32));
  out.push(asm.or(rd, rd, 31));
  return out;
}
