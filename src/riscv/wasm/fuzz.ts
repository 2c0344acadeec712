/**
 * Differential fuzzer of the translation tiers, the programs: random valid instruction sequences
 * — RV64I, M, Zba, Zbb, Zbs and their compressed forms (loads and stores that hit the TLB, miss
 * it, are misaligned or fault; forward branches and jumps, JALR, an outer loop), Zicond, Zbc,
 * Zbkb, Zbkx, FP (fuzz-fp.ts), and "system" items (ecall/ebreak/wfi, sfence.vma and satp
 * switches, interrupt sources and enables, LR/SC and AMOs, cache-block operations, CSR accesses,
 * wild jumps) — plus self-modifying stores (with or without FENCE.I) and jumps between the code's
 * two mappings. fuzz-machine.ts builds the machine around them (memory, page tables, handlers)
 * and runs them on the interpreter, the JS tier and the wasm tier; fuzz.test.ts compares.
 *
 * fuzz.test.ts runs a fixed seed in CI; docs/cpu.md ("Differential fuzzer") shows long runs:
 *   VIRTKIT_FUZZ_SEED=<n> VIRTKIT_FUZZ_PROGRAMS=<count> node --import tsx --test src/riscv/wasm/fuzz.test.ts
 * Test-only code (imports test-support.ts).
 */
import { asm } from '../test-support.ts';
import { randomFpInsn } from './fuzz-fp.ts';

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

/** Reserved registers: x7 loop counter, x8 data pointer; x28..x31 the trap handler's scratch. */
export const LOOP = 7;
export const PTR = 8;

/** Destination registers the random instructions may write. */
export const DESTS = [0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27];
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
type Word = number | { c: number };
/**
 * An item of a program: fixed words, or words resolved once item addresses are known (`rel`: the
 * target item's offset from this one; `abs`: its offset from the code's first virtual page).
 */
type Item = { words: Word[]; len: number } | { late: (rel: number, abs: number) => Word[]; len: number; to: number };

/** One random straight-line instruction (or short group) of the covered set. */
export function randomInsn(r: Rng): Word[] {
  const d = r.pick(DESTS);
  const a = r.int(32);
  const b = r.int(32);
  const imm = (r.int(4096) - 2048) | 0;
  const sh = r.int(64);
  const R = (f7: number, f3: number, op: number) => asm.r(f7, f3, op, d, a, b);
  const memOff = () => (r.chance(0.7) ? (r.int(512) - 256) * 8 + r.pick([0, 0, 0, 1, 2, 4, 6]) : imm);
  const base = () => (r.chance(0.85) ? PTR : a);
  switch (r.int(13)) {
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
    case 11: // Zicond, Zbc, Zbkb, Zbkx (Op.XINT: handed to the interpreter by the tiers)
      return [
        r.pick([
          () => R(0x07, 5, 0x33), // czero.eqz
          () => R(0x07, 7, 0x33), // czero.nez
          () => R(0x05, 1, 0x33), // clmul
          () => R(0x05, 2, 0x33), // clmulr
          () => R(0x05, 3, 0x33), // clmulh
          () => R(0x04, 4, 0x33), // pack
          () => R(0x04, 7, 0x33), // packh
          () => asm.r(0x04, 4, 0x3b, d, a, b === 0 ? 1 : b), // packw
          () => I(0x687, a, 5, d, 0x13), // brev8
          () => R(0x14, 2, 0x33), // xperm4
          () => R(0x14, 4, 0x33), // xperm8
        ])(),
      ];
    default:
      // copies of the data pointer, so other registers' accesses hit the data pages too
      return r.chance(0.5) ? [asm.fence()] : [asm.addi(d, PTR, r.int(64) * 8)];
  }
}

/** What a program may refer to besides its own code (fuzz-machine.ts builds it). */
export interface ProgramCtx {
  /** Privilege the program runs in (3 M, 1 S, 0 U). */
  priv: number;
  /** Chances of an FP item and of a system item (traps, interrupts, paging, atomics...). */
  fp: number;
  sys: number;
  /** Virtual address of the code's first page; of its writable (sometimes executable) alias (below 2^31), or 0. */
  codeVa: number;
  codeAlias: number;
  /** Virtual address (below 2^31) of the CLINT's msip page (mtimecmp's page at +0x4000). */
  clint: number;
  /** satp values ([lo, hi]) the program may switch between (none: it keeps its own). */
  satps: [number, number][];
  /**
   * Virtual addresses (below 2^31) a wild jump may go to: the S-mode handler first (runs in S,
   * faults in U), non-executable aliases, data. The M-mode handler brings a faulting fetch back.
   */
  targets: number[];
}

/** lui/addiw loading a 32-bit signed value into rd. */
function li32(rd: number, v: number): number[] {
  const up = (v + 0x800) >> 12;
  return [asm.lui(rd, up & 0xfffff), asm.addiw(rd, rd, v - (up << 12))];
}

/** x29 = a virtual address below 2^31 or in [-2^38, -2^38 + 2^31) (x28 scratch). */
function liVa(v: number): number[] {
  if (v >= 2 ** 31 || v < -(2 ** 38)) throw new Error(`fuzz: no liVa for ${v}`);
  if (v >= 0) return li32(29, v);
  return [asm.addi(29, 0, -1), asm.slli(29, 29, 38), ...li32(28, v + 2 ** 38), asm.add(29, 29, 28)];
}

const CSR_MIP = 0x344;
const CSR_SIP = 0x144;

/**
 * One "system" item: traps (ecall, which also asks the M-mode handler to break a page-table
 * entry, ebreak, wfi), sfence.vma, satp switches, interrupt sources (msip and mtimecmp stores to
 * the CLINT, software-pending bits in mip/sip) and enables (mstatus/sstatus, mie/sie), atomics,
 * cache-block operations, FENCE.I and CSR accesses. x28/x29 are scratch here (the trap handler
 * preserves them), x6 an address register.
 */
function systemItem(r: Rng, ctx: ProgramCtx): Word[] {
  const d = r.pick(DESTS);
  const xs = r.int(32);
  switch (r.int(16)) {
    case 0:
    case 1:
      // ecall: with x17 = k the M-mode handler breaks entry k of its page-table fix list. From U
      // it may go to the S-mode handler (medeleg); then sometimes a jump there from U, which must
      // fault although the fetch TLB holds the page (filled in S).
      if (ctx.priv === 0 && ctx.targets.length > 0 && r.chance(0.5))
        return [asm.ecall(), ...li32(29, ctx.targets[0]!), asm.jalr(r.pick([0, 1]), 29, 0)];
      return [asm.addi(17, 0, r.int(8)), asm.ecall()];
    case 2:
      if (r.chance(0.4)) {
        // a wild jump: to one of the targets, or through a random register
        if (ctx.targets.length === 0 || r.chance(0.3)) return [asm.jalr(r.pick([0, 1, 5]), r.int(32), 0)];
        return [...li32(29, r.pick(ctx.targets) + 2 * r.int(8)), asm.jalr(r.pick([0, 1, 5]), 29, 0)];
      }
      return [r.pick([asm.ebreak(), { c: 0x9002 }, asm.wfi(), asm.fence_i()])];
    case 3:
      return [asm.sfence_vma(r.pick([0, PTR, PTR, 6, r.int(32)]), r.chance(0.7) ? 0 : r.int(32))];
    case 4: {
      if (ctx.satps.length === 0) return [asm.csrrs(d, 0x180, 0)];
      const [lo, hi] = r.pick(ctx.satps);
      // x29 = ppn (below 2^31), x28 = mode << 60 | a random ASID << 44
      const asid = r.chance(0.5) ? 0 : r.int(2048);
      return [
        ...li32(29, lo),
        asm.addi(28, 0, hi >>> 28),
        asm.slli(28, 28, 16),
        asm.ori(28, 28, asid),
        asm.slli(28, 28, 44),
        asm.or(29, 29, 28),
        asm.csrrw(r.chance(0.5) ? 0 : d, 0x180, 29),
        ...(r.chance(0.6) ? [asm.sfence_vma(0, 0)] : []),
      ];
    }
    case 5:
    case 6:
    case 7: {
      // interrupt sources: msip, mtimecmp's high half (0: due now if its low half <= mtime), the
      // software-pending bits (SSIP, STIP, SEIP in mip; SSIP through sip), Sstc's stimecmp
      const k = r.int(5);
      if (k === 0) return [...li32(29, ctx.clint), asm.addi(28, 0, r.int(2)), asm.sw(28, 29, 0)];
      if (k === 1) return [...li32(29, ctx.clint + 0x4000), r.chance(0.3) ? asm.sw(xs, 29, 0) : asm.sw(0, 29, 4)];
      if (k === 2) return [asm.csrrsi(0, ctx.priv === 3 ? CSR_MIP : CSR_SIP, 2)];
      if (k === 3) return [asm.addi(29, 0, r.pick([2, 0x20, 0x200])), asm.csrrs(0, CSR_MIP, 29)];
      // Sstc: stimecmp near the test clock (due now or a few slices later; STCE decides)
      return [...li32(29, 1000 + r.int(600)), asm.csrrw(0, 0x14d, 29)];
    }
    case 8:
    case 9: {
      // interrupt enables: mstatus.MIE/SIE, sstatus.SIE, mie/sie bits
      const k = r.int(3);
      if (k === 0) return [(r.chance(0.7) ? asm.csrrsi : asm.csrrci)(0, 0x300, r.pick([8, 2, 10]))];
      if (k === 1) return [(r.chance(0.7) ? asm.csrrsi : asm.csrrci)(0, 0x100, 2)];
      return [
        asm.addi(29, 0, r.pick([0x2, 0x8, 0x80, 0x20, 0x88, 0x2aa])),
        (r.chance(0.7) ? asm.csrrs : asm.csrrc)(0, r.chance(0.5) ? 0x304 : 0x104, 29),
      ];
    }
    case 10:
    case 11: {
      // atomics on x6 = x8 + an offset (sometimes misaligned); LR/SC pairs with work between
      const off = (r.int(512) - 256) * 8 + (r.chance(0.15) ? r.pick([1, 2, 4, 6]) : 0);
      const dbl = r.chance(0.5);
      const aqrl = r.int(4);
      const at = asm.addi(6, PTR, off);
      if (r.chance(0.4)) {
        const between = r.int(3);
        const out: Word[] = [at, asm.amo(2, dbl, d, 6, 0) | (aqrl << 25)];
        for (let k = 0; k < between; k++) out.push(...randomInsn(r));
        if (r.chance(0.2)) out.push(asm.addi(6, 6, r.pick([8, -8, 64])));
        out.push(asm.amo(3, r.chance(0.9) ? dbl : !dbl, r.pick(DESTS), 6, xs) | (aqrl << 25));
        return out;
      }
      return [at, asm.amo(r.pick([0, 1, 4, 8, 12, 16, 20, 24, 28]), dbl, d, 6, xs) | (aqrl << 25)];
    }
    case 12: {
      // cbo.zero (4), cbo.clean (1), cbo.flush (2), cbo.inval (0)
      const off = (r.int(64) - 32) * 64 + r.int(64);
      return [asm.addi(6, PTR, off), I(r.pick([4, 4, 4, 0, 1, 2]), 6, 2, 0, 0x0f)];
    }
    default: {
      // CSR accesses: scratch registers (mscratch is illegal below M), counters (exact budget
      // accounting; time is the test clock, fixed within a slice), status words, satp, the trap CSRs
      const csr = r.pick([
        0x340, 0x340, 0x140, 0x140, 0xc02, 0xc00, 0xc01, 0xb02, 0xb00, 0x300, 0x100, 0x180, 0x341, 0x342, 0x343, 0x141,
        0x142, 0x143, 0x344, 0x304, 0x144, 0x104, 0x302, 0x303, 0x10a, 0x30a, 0x14d,
      ]);
      const k = r.int(4);
      if (csr === 0x100 && k === 0) {
        // sstatus.SUM / MXR / FS (FS off makes FP illegal)
        return [asm.lui(29, r.pick([0x40, 0x80, 0xc0, 0x6])), (r.chance(0.6) ? asm.csrrs : asm.csrrc)(d, 0x100, 29)];
      }
      if (csr === 0x340 || csr === 0x140) return [r.pick([asm.csrrw, asm.csrrs, asm.csrrc])(d, csr, r.int(32))];
      return [asm.csrrs(d, csr, 0)];
    }
  }
}

/** A random program body (the caller adds the loop's tail) for the context. */
export function randomProgram(r: Rng, length: number, ctx: ProgramCtx): Item[] {
  const items: Item[] = [];
  const push = (words: Word[]) =>
    items.push({ words, len: words.reduce<number>((s, w) => s + (typeof w === 'number' ? 4 : 2), 0) });
  const memOff = () =>
    r.chance(0.7) ? (r.int(512) - 256) * 8 + r.pick([0, 0, 0, 1, 2, 4, 6]) : (r.int(4096) - 2048) | 0;
  for (let k = 0; k < length; k++) {
    const roll = r.int(10);
    if (r.chance(ctx.fp)) {
      push(randomFpInsn(r, r.chance(0.9) ? PTR : r.int(32), memOff, DESTS));
    } else if (r.chance(ctx.sys)) {
      push(systemItem(r, ctx));
    } else if (roll === 0) {
      // forward branch to one of the next few items (or the loop's tail)
      const to = items.length + 1 + r.int(6);
      const a = r.int(32);
      const b = r.int(32);
      const br = r.pick([asm.beq, asm.bne, asm.blt, asm.bge, asm.bltu, asm.bgeu]);
      const cb = r.pick(CDESTS);
      const kind = r.int(4);
      const bz = r.chance(0.5) ? 6 : 7;
      const link = r.pick(DESTS);
      if (kind === 0) items.push({ late: (off) => [{ c: c.bz(bz, cb, off) }], len: 2, to });
      else if (kind === 1) items.push({ late: (off) => [{ c: c.j(off) }], len: 2, to });
      else if (kind === 2) items.push({ late: (off) => [asm.jal(link, off)], len: 4, to });
      else items.push({ late: (off) => [br(a, b, off)], len: 4, to });
    } else if (roll === 1) {
      // auipc x6 + jalr to a later item: jalr's offset is from the auipc (nothing in between);
      // sometimes odd (JALR clears bit 0)
      const to = items.length + 2 + r.int(4);
      const link = r.pick(DESTS);
      const odd = r.chance(0.2) ? 1 : 0;
      push([asm.auipc(6, 0)]);
      items.push({ late: (off) => [asm.jalr(link, 6, off + 4 + odd)], len: 4, to });
    } else if ((roll === 3 || roll === 4) && ctx.codeAlias !== 0 && r.chance(0.5)) {
      // a jump to a later item through the code's other mapping (the alias faults unless it is
      // executable: then one physical page runs at two virtual addresses)
      const to = items.length + 1 + r.int(6);
      const base = r.chance(0.5) ? ctx.codeAlias : ctx.codeVa;
      const len = 4 * liVa(base).length + 4;
      items.push({ late: (_rel, abs) => [...liVa(base + abs), asm.jalr(0, 29, 0)], len, to });
    } else if (roll === 2 && r.chance(0.3)) {
      // a self-modifying store: a random instruction word over a later item (lui/addiw build it
      // in x29), through the code's own mapping (auipc) or its writable alias; the code page's
      // translations must be dropped. Sometimes FENCE.I after it.
      let v = 0;
      while (v === 0) {
        const w = randomInsn(r)[0];
        v = typeof w === 'number' ? w | 0 : 0;
      }
      push(li32(29, v));
      const to = items.length + 1 + r.int(8);
      const alias = ctx.codeAlias;
      if (alias !== 0 && r.chance(0.5)) {
        items.push({ late: (_rel, abs) => [...li32(6, alias + abs), asm.sw(29, 6, 0)], len: 12, to });
      } else {
        push([asm.auipc(6, 0)]);
        items.push({ late: (off) => [asm.sw(29, 6, off + 4)], len: 4, to });
      }
      if (r.chance(0.3)) push([asm.fence_i()]);
    } else {
      push(randomInsn(r));
    }
  }
  return items;
}

/**
 * Lays out the items at byte offset `base` of the code's first page: returns the words. Branch
 * targets are item indices (past the end: the loop's tail).
 */
export function layout(items: Item[], base: number): Word[] {
  const at: number[] = [];
  let pos = 0;
  for (const it of items) {
    at.push(pos);
    pos += it.len;
  }
  at.push(pos);
  const out: Word[] = [];
  items.forEach((it, k) => {
    if ('words' in it) out.push(...it.words);
    else {
      const to = at[Math.min(it.to, items.length)]!;
      const ws = it.late(to - at[k]!, base + to);
      if (ws.reduce<number>((s, w) => s + (typeof w === 'number' ? 4 : 2), 0) !== it.len)
        throw new Error('fuzz: an item changed length at layout');
      out.push(...ws);
    }
  });
  return out;
}

export const wordsLength = (ws: readonly Word[]): number =>
  ws.reduce<number>((s, w) => s + (typeof w === 'number' ? 4 : 2), 0);
export type { Word };
