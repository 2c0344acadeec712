/**
 * Differential fuzzer of the translation tiers: random valid programs of the instructions the
 * tiers translate (RV64I, M, Zba, Zbb, Zbs, their compressed forms; loads and stores that hit
 * the TLB, miss it, are misaligned or fault; forward branches and jumps, JALR, an outer loop),
 * with CSR accesses (mscratch, minstret, instret) and self-modifying stores mixed in, run
 * on the interpreter, the JS tier and the wasm tier (translated from the first instruction), in
 * slices of varied sizes, and the whole architectural state is compared after each program.
 *
 * fuzz.test.ts runs a fixed seed in CI; docs/cpu.md ("WebAssembly tier") shows a long run:
 *   VIRTKIT_FUZZ_SEED=<n> VIRTKIT_FUZZ_PROGRAMS=<count> node --import tsx --test src/riscv/wasm/fuzz.test.ts
 * Test-only code (imports test-support.ts).
 */
import { asm, machine, load, RAM_BASE, type Machine } from '../test-support.ts';
import type { Tier } from '../tier.ts';

/** A small deterministic PRNG (xorshift32), so a seed reproduces a failure. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    // Seeds are mixed (murmur3's finalizer): seeding with another xorshift's outputs would
    // otherwise give overlapping pieces of one stream, i.e. near-identical programs.
    let s = (seed + 0x9e3779b9) | 0;
    s = Math.imul(s ^ (s >>> 16), 0x85ebca6b);
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35);
    s ^= s >>> 16;
    this.s = s || 0x2545f491;
  }
  next(): number {
    let s = this.s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.s = s;
    return s >>> 0;
  }
  int(n: number): number {
    return this.next() % n;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  chance(p: number): boolean {
    return this.next() / 4294967296 < p;
  }
}

const CODE = RAM_BASE;
const HANDLER = RAM_BASE + 0x3f000;
/** The data pointer (x8) points at the middle of two data pages, so ±2 KiB offsets stay in them. */
const DATA = RAM_BASE + 0x41000;
const DATA_LO = DATA - 0x1000;
const DATA_HI = DATA + 0x1000;
/** Reserved registers: x7 loop counter, x8 data pointer; x30/x31 the trap handler's scratch. */
const LOOP = 7;
const PTR = 8;

/** Destination registers the random instructions may write. */
const DESTS = [0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29];
/** Destination registers of compressed CA/CB/CL forms (x8..x15 without the data pointer). */
const CDESTS = [9, 10, 11, 12, 13, 14, 15];

const ci = (f3: number, b12: number, rd: number, low5: number, op: number) =>
  (f3 << 13) | (b12 << 12) | (rd << 7) | (low5 << 2) | op;

/** Compressed encoders (rd' / rs' are x8..x15). */
const c = {
  addi: (rd: number, imm: number) => ci(0, (imm >> 5) & 1, rd, imm & 31, 1),
  li: (rd: number, imm: number) => ci(2, (imm >> 5) & 1, rd, imm & 31, 1),
  slli: (rd: number, sh: number) => ci(0, (sh >> 5) & 1, rd, sh & 31, 2),
  mv: (rd: number, rs: number) => (4 << 13) | (rd << 7) | (rs << 2) | 2,
  add: (rd: number, rs: number) => (4 << 13) | (1 << 12) | (rd << 7) | (rs << 2) | 2,
  /** CA: sub 0, xor 1, or 2, and 3; w: subw 0, addw 1. */
  ca: (w: 0 | 1, f2: number, rd: number, rs: number) =>
    (4 << 13) | (w << 12) | (3 << 10) | ((rd - 8) << 7) | (f2 << 5) | ((rs - 8) << 2) | 1,
  /** CB shifts/andi: srli 0, srai 1, andi 2. */
  cb: (f2: number, rd: number, imm: number) =>
    (4 << 13) | (((imm >> 5) & 1) << 12) | (f2 << 10) | ((rd - 8) << 7) | ((imm & 31) << 2) | 1,
  /** c.lw/c.sw (f3 2/6, offset multiple of 4 below 128), c.ld/c.sd (3/7, multiple of 8 below 256), base x8. */
  mem: (f3: number, r: number, off: number) => {
    const dbl = f3 === 3 || f3 === 7;
    const b65 = dbl ? (off >> 6) & 3 : (((off >> 2) & 1) << 1) | ((off >> 6) & 1);
    return (f3 << 13) | (((off >> 3) & 7) << 10) | (0 << 7) | (b65 << 5) | ((r - 8) << 2) | 0;
  },
  /** c.beqz (f3 6) / c.bnez (7) on rs' with an even offset in ±256. */
  bz: (f3: number, rs: number, off: number) =>
    (f3 << 13) |
    (((off >> 8) & 1) << 12) |
    (((off >> 3) & 3) << 10) |
    ((rs - 8) << 7) |
    (((off >> 6) & 3) << 5) |
    (((off >> 1) & 3) << 3) |
    (((off >> 5) & 1) << 2) |
    1,
  j: (off: number) =>
    (5 << 13) |
    (((off >> 11) & 1) << 12) |
    (((off >> 4) & 1) << 11) |
    (((off >> 8) & 3) << 9) |
    (((off >> 10) & 1) << 8) |
    (((off >> 6) & 1) << 7) |
    (((off >> 7) & 1) << 6) |
    (((off >> 1) & 7) << 3) |
    (((off >> 5) & 1) << 2) |
    1,
};

const I = (imm: number, rs1: number, f3: number, rd: number, op: number) =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;

/** An item of a program: fixed words, or a branch resolved once item addresses are known. */
type Item =
  | { words: (number | { c: number })[]; len: number }
  | { branch: (off: number) => number | { c: number }; len: number; to: number };

function regValue(r: Rng): [number, number] {
  const edge = [0, -1, 1, -0x80000000, 0x7fffffff, 0x12345678];
  switch (r.int(4)) {
    case 0:
      return [r.pick(edge), r.pick(edge)];
    case 1:
      return [r.int(64) - 32, r.chance(0.5) ? 0 : -1];
    default:
      return [r.next() | 0, r.next() | 0];
  }
}

/** One random straight-line instruction (or short group) of the covered set. */
function randomInsn(r: Rng): (number | { c: number })[] {
  const d = r.pick(DESTS);
  const a = r.int(32);
  const b = r.int(32);
  const imm = (r.int(4096) - 2048) | 0;
  const sh = r.int(64);
  const R = (f7: number, f3: number, op: number) => asm.r(f7, f3, op, d, a, b);
  const memOff = () => (r.chance(0.7) ? (r.int(512) - 256) * 8 + r.pick([0, 0, 0, 1, 2, 4, 6]) : imm);
  const base = () => (r.chance(0.85) ? PTR : a);
  switch (r.int(12)) {
    case 0: // loads
      return [r.pick([asm.lb, asm.lh, asm.lw, asm.ld, asm.lbu, asm.lhu, asm.lwu])(d, base(), memOff())];
    case 1: // stores
      return [r.pick([asm.sb, asm.sh, asm.sw, asm.sd])(b, base(), memOff())];
    case 2:
      return [r.pick([asm.addi, asm.slti, asm.sltiu, asm.xori, asm.ori, asm.andi, asm.addiw])(d, a, imm)];
    case 3:
      return [
        r.pick([
          () => asm.slli(d, a, sh),
          () => asm.srli(d, a, sh),
          () => asm.srai(d, a, sh),
          () => asm.slliw(d, a, sh & 31),
          () => asm.srliw(d, a, sh & 31),
          () => asm.sraiw(d, a, sh & 31),
          () => asm.lui(d, r.next() & 0xfffff),
          () => asm.auipc(d, r.next() & 0xfffff),
        ])(),
      ];
    case 4:
      return [
        r.pick([
          asm.add,
          asm.sub,
          asm.sll,
          asm.slt,
          asm.sltu,
          asm.xor,
          asm.srl,
          asm.sra,
          asm.or,
          asm.and,
          asm.addw,
          asm.subw,
          (dd: number, aa: number, bb: number) => asm.r(0, 1, 0x3b, dd, aa, bb), // sllw
          (dd: number, aa: number, bb: number) => asm.r(0, 5, 0x3b, dd, aa, bb), // srlw
          (dd: number, aa: number, bb: number) => asm.r(0x20, 5, 0x3b, dd, aa, bb), // sraw
        ])(d, a, b),
      ];
    case 5: // M
      return [
        r.pick([
          asm.mul,
          asm.mulh,
          asm.mulhsu,
          asm.mulhu,
          asm.div,
          asm.divu,
          asm.rem,
          asm.remu,
          asm.mulw,
          asm.divw,
          asm.remuw,
          (dd: number, aa: number, bb: number) => asm.r(1, 5, 0x3b, dd, aa, bb), // divuw
          (dd: number, aa: number, bb: number) => asm.r(1, 6, 0x3b, dd, aa, bb), // remw
        ])(d, a, b),
      ];
    case 6: // Zba
      return [
        r.pick([
          () => R(0x10, 2, 0x33),
          () => R(0x10, 4, 0x33),
          () => R(0x10, 6, 0x33),
          () => R(0x10, 2, 0x3b),
          () => R(0x10, 4, 0x3b),
          () => R(0x10, 6, 0x3b),
          () => R(0x04, 0, 0x3b),
          () => I(0x80 | sh, a, 1, d, 0x1b), // slli.uw
        ])(),
      ];
    case 7: // Zbb
      return [
        r.pick([
          () => R(0x20, 7, 0x33), // andn
          () => R(0x20, 6, 0x33), // orn
          () => R(0x20, 4, 0x33), // xnor
          () => I(0x600, a, 1, d, 0x13), // clz
          () => I(0x601, a, 1, d, 0x13), // ctz
          () => I(0x602, a, 1, d, 0x13), // cpop
          () => I(0x600, a, 1, d, 0x1b), // clzw
          () => I(0x601, a, 1, d, 0x1b), // ctzw
          () => I(0x602, a, 1, d, 0x1b), // cpopw
          () => R(0x05, 6, 0x33), // max
          () => R(0x05, 7, 0x33), // maxu
          () => R(0x05, 4, 0x33), // min
          () => R(0x05, 5, 0x33), // minu
          () => I(0x604, a, 1, d, 0x13), // sext.b
          () => I(0x605, a, 1, d, 0x13), // sext.h
          () => asm.r(0x04, 4, 0x3b, d, a, 0), // zext.h
          () => R(0x30, 1, 0x33), // rol
          () => R(0x30, 5, 0x33), // ror
          () => I(0x600 | sh, a, 5, d, 0x13), // rori
          () => R(0x30, 1, 0x3b), // rolw
          () => R(0x30, 5, 0x3b), // rorw
          () => I(0x600 | (sh & 31), a, 5, d, 0x1b), // roriw
          () => I(0x287, a, 5, d, 0x13), // orc.b
          () => I(0x6b8, a, 5, d, 0x13), // rev8
        ])(),
      ];
    case 8: // Zbs
      return [
        r.pick([
          () => R(0x24, 1, 0x33), // bclr
          () => I(0x480 | sh, a, 1, d, 0x13), // bclri
          () => R(0x24, 5, 0x33), // bext
          () => I(0x480 | sh, a, 5, d, 0x13), // bexti
          () => R(0x34, 1, 0x33), // binv
          () => I(0x680 | sh, a, 1, d, 0x13), // binvi
          () => R(0x14, 1, 0x33), // bset
          () => I(0x280 | sh, a, 1, d, 0x13), // bseti
        ])(),
      ];
    case 9: {
      // compressed ALU
      const cd = r.pick(CDESTS);
      const cs = 8 + r.int(8);
      const nz = (v: number) => (v === 0 ? 1 : v);
      const rd = d === 0 ? 1 : d;
      return [
        {
          c: r.pick([
            () => c.addi(rd, nz(r.int(64) - 32)),
            () => c.li(rd, r.int(64) - 32),
            () => c.slli(rd, nz(sh)),
            () => c.mv(rd, a === 0 ? 1 : a),
            () => c.add(rd, a === 0 ? 1 : a),
            () => c.ca(0, r.int(4), cd, cs),
            () => c.ca(1, r.int(2), cd, cs),
            () => c.cb(0, cd, nz(sh)),
            () => c.cb(1, cd, nz(sh)),
            () => c.cb(2, cd, r.int(64) - 32),
          ])(),
        },
      ];
    }
    case 10: {
      // compressed loads/stores off the data pointer
      const cd = r.pick(CDESTS);
      const f3 = r.pick([2, 3, 6, 7]);
      const off = f3 === 3 || f3 === 7 ? r.int(32) * 8 : r.int(32) * 4;
      return [{ c: c.mem(f3, cd, off) }];
    }
    default:
      // copies of the data pointer, so other registers' accesses hit the data pages too
      return r.chance(0.5) ? [asm.fence()] : [asm.addi(d, PTR, r.int(64) * 8)];
  }
}

/** A random program: setup by the caller (registers), then body × loops, then ebreak. */
export function randomProgram(r: Rng, length: number): Item[] {
  const items: Item[] = [];
  for (let k = 0; k < length; k++) {
    const roll = r.int(10);
    if (roll === 0) {
      // forward branch to one of the next few items (or the loop's tail)
      const to = items.length + 1 + r.int(6);
      const a = r.int(32);
      const b = r.int(32);
      const br = r.pick([asm.beq, asm.bne, asm.blt, asm.bge, asm.bltu, asm.bgeu]);
      const cb = r.pick(CDESTS);
      const kind = r.int(4);
      const bz = r.chance(0.5) ? 6 : 7;
      const link = r.pick(DESTS);
      if (kind === 0) items.push({ branch: (off) => ({ c: c.bz(bz, cb, off) }), len: 2, to });
      else if (kind === 1) items.push({ branch: (off) => ({ c: c.j(off) }), len: 2, to });
      else if (kind === 2) items.push({ branch: (off) => asm.jal(link, off), len: 4, to });
      else items.push({ branch: (off) => br(a, b, off), len: 4, to });
    } else if (roll === 1) {
      // auipc x6 + jalr to a later item: jalr's offset is from the auipc (nothing in between)
      const to = items.length + 2 + r.int(4);
      const link = r.pick(DESTS);
      items.push({ words: [asm.auipc(6, 0)], len: 4 });
      items.push({ branch: (off) => asm.jalr(link, 6, off + 4), len: 4, to });
    } else if (roll === 2 && r.chance(0.3)) {
      // a self-modifying store: a random instruction word over a later item (lui/addiw build it
      // in x29, auipc x6 gives the address); the code page's translations must be dropped
      let v = 0;
      while (v === 0) {
        const w = randomInsn(r)[0];
        v = typeof w === 'number' ? w | 0 : 0;
      }
      const up = (v + 0x800) >> 12;
      items.push({ words: [asm.lui(29, up & 0xfffff), asm.addiw(29, 29, v - (up << 12)), asm.auipc(6, 0)], len: 12 });
      const to = items.length + 1 + r.int(8);
      items.push({ branch: (off) => asm.sw(29, 6, off + 4), len: 4, to });
    } else if (roll === 3 && r.chance(0.3)) {
      // CSR accesses (handed to the interpreter mid-page): mscratch, and minstret, whose value
      // depends on exact budget accounting up to the exit
      const d = r.pick(DESTS);
      items.push({
        words: [
          r.pick([
            () => asm.csrrw(d, 0x340, r.int(32)),
            () => asm.csrrs(d, 0x340, 0),
            () => asm.csrrs(d, 0xb02, 0),
            () => asm.csrrs(d, 0xc02, 0),
          ])(),
        ],
        len: 4,
      });
    } else {
      const words = randomInsn(r);
      items.push({ words, len: words.reduce<number>((s, w) => s + (typeof w === 'number' ? 4 : 2), 0) });
    }
  }
  return items;
}

/** Lays out the items: returns the instruction words. Branch targets are item indices. */
function layout(items: Item[]): (number | { c: number })[] {
  const at: number[] = [];
  let pos = 0;
  for (const it of items) {
    at.push(pos);
    pos += it.len;
  }
  at.push(pos);
  const out: (number | { c: number })[] = [];
  items.forEach((it, k) => {
    if ('words' in it) out.push(...it.words);
    else out.push(it.branch(at[Math.min(it.to, items.length)]! - at[k]!));
  });
  return out;
}

/** The trap handler: mepc += the trapping instruction's length; mret (uses x30, x31). */
const HANDLER_CODE = [
  asm.csrrs(31, 0x341, 0),
  asm.lhu(30, 31, 0),
  asm.andi(30, 30, 3),
  asm.addi(31, 31, 2),
  asm.addi(30, 30, -3),
  asm.bne(30, 0, 8),
  asm.addi(31, 31, 2),
  asm.csrrw(0, 0x341, 31),
  asm.mret(),
];

export interface FuzzCase {
  words: (number | { c: number })[];
  regs: [number, number][];
  budget: number;
}

/** A whole test case: registers, program (looped `loops` times) and a budget. */
export function randomCase(r: Rng, length = 48, loops = 3): FuzzCase {
  const body = layout(randomProgram(r, length));
  const bodyLen = body.reduce<number>((s, w) => s + (typeof w === 'number' ? 4 : 2), 0);
  // loop: body; addi x7, x7, -1; bne x7, x0, -(bodyLen + 4)
  // (then `j .`: spins, translated too, until the budget ends)
  const words = [...body, asm.addi(LOOP, LOOP, -1), asm.bne(LOOP, 0, -(bodyLen + 4)), asm.jal(0, 0)];
  const regs: [number, number][] = [];
  for (let k = 0; k < 32; k++) regs.push(regValue(r));
  regs[0] = [0, 0];
  regs[LOOP] = [loops, 0];
  regs[PTR] = [DATA | 0, 0];
  // Usually a budget that ends mid-program (pc and instret then show where each slice stopped,
  // so budget accounting is checked), sometimes one that reaches the final spin.
  const full = loops * (length + 20) * 3;
  return { words, regs, budget: r.chance(0.7) ? 1 + r.int(loops * length) : full };
}

const SLICES = [37, 500, 3, 211, 1000, 64, 1, 17, 4000];

/** Runs a case on one tier (translated from the first instruction) and returns the machine. */
export function runCase(fc: FuzzCase, tier: Tier, dataSeed: number): Machine {
  const m = machine();
  m.hart.tier = tier;
  if (tier !== 'interp') m.hart.jitThreshold = 0;
  load(m.bus, CODE, fc.words);
  load(m.bus, HANDLER, HANDLER_CODE);
  m.hart.mtvecLo = HANDLER | 0;
  const data = new Rng(dataSeed);
  for (let a = DATA_LO - RAM_BASE; a < DATA_HI - RAM_BASE; a += 4) m.bus.ramI32[a >>> 2] = data.next() | 0;
  fc.regs.forEach(([lo, hi], k) => m.hart.writeRegParts(k, lo, hi));
  let left = fc.budget;
  for (let i = 0; left > 0 && !m.hart.waiting; i++)
    left -= Math.max(1, m.hart.run(Math.min(left, SLICES[i % SLICES.length]!)));
  return m;
}

/** The architectural state compared between tiers (registers, pc, counters, trap CSRs, memory). */
export function stateOf(m: Machine): Record<string, unknown> {
  const h = m.hart;
  return {
    x: Array.from(h.x.subarray(0, 64)),
    pc: h.getPc(),
    instret: h.instret,
    priv: h.priv,
    mcause: [h.mcauseLo, h.mcauseHi],
    mepc: [h.mepcLo, h.mepcHi],
    mtval: [h.mtvalLo, h.mtvalHi],
    mstatus: h.mstatus,
    data: Array.from(m.bus.ramI32.subarray((DATA_LO - RAM_BASE) >>> 2, (DATA_HI - RAM_BASE) >>> 2)),
    code: Array.from(m.bus.ramI32.subarray(0, 0x400)),
  };
}
