/**
 * The instruction table: one entry per instruction form the hart implements, the single
 * description of its encoding, the Op it decodes to, its operands, the extension that gates it
 * and which execution tiers translate it (docs/cpu.md, "Instruction table").
 *
 * The hot code is not generated from it (the decoder, the interpreter's switch and the two
 * translators stay hand-written for speed), but it is built from or checked against it:
 * - isa-table.test.ts decodes samples of every entry with the real decoder (Op, packed operands,
 *   immediate), checks that random encodings outside every entry decode to ILLEGAL (or, for the
 *   FP opcodes the decoder defers, that the FPU rejects them), that every Op is covered, and
 *   that each entry is legal exactly on the CPU models whose feature bits it needs;
 * - the JS tier (jit.ts) and the wasm tier (wasm/wasm-tier.ts) take the set of ops they
 *   translate from JS_TRANSLATED / WASM_TRANSLATED below (typed arrays indexed by Op, built once
 *   from the entries' `tiers`), and their tests check that each such op has a translation.
 * The interpreter (exec.ts + Hart.execSystem) stays the reference semantics.
 */
import { Op } from './exec.ts';
import * as XI from './ext/intext.ts';
import {
  X_ZICBOM,
  X_ZICBOZ,
  X_ZFHMIN,
  X_ZFH,
  X_ZICOND,
  X_ZBC,
  X_ZBKB,
  X_ZBKC,
  X_ZBKX,
  X_SVINVAL,
} from './cpu-config.ts';

/** Instruction formats (the spec's names; compressed ones start with C). */
export type Fmt =
  'R' | 'R4' | 'I' | 'S' | 'B' | 'U' | 'J' | 'CR' | 'CI' | 'CSS' | 'CIW' | 'CL' | 'CS' | 'CA' | 'CB' | 'CJ';

/**
 * How the decoder's immediate (the second word of a decoded slot) is formed (isa-fields.ts
 * immOf): the spec's immediate of the format, a shift amount, the CSR number, `sub` (a constant
 * per entry: an AMO's funct5, an XINT kind, a CBO kind), `raw` (the whole instruction, for FP
 * computational instructions, decoded further by the FPU) or `none` (0). The c* kinds are the
 * scrambled immediates of the compressed formats.
 */
export type ImmKind =
  | 'none'
  | 'I'
  | 'S'
  | 'B'
  | 'U'
  | 'J'
  | 'sh6'
  | 'sh5'
  | 'csr'
  | 'sub'
  | 'raw'
  | 'ci'
  | 'ciSh'
  | 'ciLui'
  | 'ci16sp'
  | 'ciw'
  | 'clW'
  | 'clD'
  | 'ciLwsp'
  | 'ciLdsp'
  | 'cssW'
  | 'cssD'
  | 'cj'
  | 'cb';

/**
 * Where a register operand comes from: rd/rs1/rs2/rs3 are the 32-bit fields (bits 11:7, 19:15,
 * 24:20, 31:27; compressed rd/rs1 is bits 11:7 too), crs2 bits 6:2, crdp/crs1p the 3-bit
 * fields (bits 4:2, 9:7) naming x8..x15, and sp/ra/zero fixed registers.
 */
export type Field = 'rd' | 'rs1' | 'rs2' | 'rs3' | 'crs2' | 'crdp' | 'crs1p' | 'sp' | 'ra' | 'zero';
/** x: integer register, f: FP register, u: a 5-bit unsigned immediate in a register field (csrr*i). */
export type RegFile = 'x' | 'f' | 'u';
export interface Operand {
  file: RegFile;
  field: Field;
}

// ---- flags ----
export const F_BRANCH = 1 << 0;
export const F_JUMP = 1 << 1;
export const F_LOAD = 1 << 2;
export const F_STORE = 1 << 3;
export const F_ATOMIC = 1 << 4;
/** Reads or writes FP state (illegal while mstatus.FS is Off). */
export const F_FP = 1 << 5;
/** May raise a synchronous exception (beyond being illegal on a model without its extension). */
export const F_TRAP = 1 << 6;
/** System / privileged: ECALL, EBREAK, xRET, WFI, fences of the address translation, CSRs. */
export const F_SYSTEM = 1 << 7;
/** Executed by the hart's slow path (Hart.execSystem), not inline in the interpreter's switch. */
export const F_SLOW = 1 << 8;
/** Always ends the interpreter's block (the outer loop runs next: pc or privilege may change). */
export const F_ENDS = 1 << 9;

// ---- tiers ----
/** Translated by the JS tier (jit.ts). */
export const T_JS = 1;
/** Translated by the wasm tier (wasm/wasm-tier.ts). */
export const T_WASM = 2;

/** Encoding constraints beyond match/mask (reserved or differently-decoded encodings). */
export const K_RD_NZ = 1 << 0; // rd (bits 11:7) != 0
export const K_RS1_NZ = 1 << 1; // rs1 (bits 19:15) != 0
export const K_IMMI_NZ = 1 << 2; // I-immediate != 0
export const K_RS2_NZ = 1 << 3; // rs2 (bits 24:20) != 0
export const K_CRS2_NZ = 1 << 4; // compressed rs2 (bits 6:2) != 0
export const K_CIMM6_NZ = 1 << 5; // compressed bits 12 and 6:2 not all 0
export const K_CIMM8_NZ = 1 << 6; // compressed bits 12:5 not all 0 (c.addi4spn)
export const K_RD_NOT_SP = 1 << 7; // rd (bits 11:7) != 2

export interface InsnForm {
  /** Mnemonic (a pseudo-instruction's where the decoder gives it its own Op: li, mv, j). */
  name: string;
  /** Extension name as in the ISA string ('I', 'M', 'A', 'F', 'D', 'C', 'Zba', ..., 'priv'). */
  ext: string;
  /** cpu-config.ts X_* bits of which any enables it (0: every CPU model has it). */
  need: number;
  fmt: Fmt;
  /** (insn & mask) === match, as int32 (16-bit forms: the halfword). */
  match: number;
  mask: number;
  /** K_* constraints that must hold too. */
  when: number;
  /** True for a 16-bit (RVC) form. */
  compressed: boolean;
  op: Op;
  imm: ImmKind;
  /** The constant immediate of imm 'sub' (AMO funct5, XI_* kind, CBO kind, Svinval kind). */
  sub: number;
  rd?: Operand;
  rs1?: Operand;
  rs2?: Operand;
  rs3?: Operand;
  /** F_* bits. */
  flags: number;
  /** Memory access size in bytes (loads, stores, atomics), else 0. */
  size: number;
  /** T_* bits: the tiers that translate it natively (the others hand it to the interpreter). */
  tiers: number;
}

/** Ops that no instruction decodes to: decoder/loop markers, and ILLEGAL (outside every entry). */
export const INTERNAL_OPS: readonly Op[] = [Op.DECODE, Op.PAGE_END, Op.CROSS, Op.ILLEGAL];

// ---- builders (run once at module load) ----

interface Extra {
  when?: number;
  sub?: number;
  flags?: number;
  size?: number;
  tiers?: number;
}

/** Parses 'x.rd x.rs1 - f.rs3' into rd, rs1, rs2, rs3 (positional; '-' for none). */
function operands(spec: string): Pick<InsnForm, 'rd' | 'rs1' | 'rs2' | 'rs3'> {
  const out: Pick<InsnForm, 'rd' | 'rs1' | 'rs2' | 'rs3'> = {};
  const keys = ['rd', 'rs1', 'rs2', 'rs3'] as const;
  spec
    .split(' ')
    .filter((s) => s !== '')
    .forEach((s, i) => {
      if (s === '-') return;
      const [file, field] = s.split('.') as [RegFile, Field];
      out[keys[i]!] = { file, field };
    });
  return out;
}

const ISA_LIST: InsnForm[] = [];

function add(
  name: string,
  ext: string,
  need: number,
  fmt: Fmt,
  match: number,
  mask: number,
  op: Op,
  imm: ImmKind,
  regs: string,
  x: Extra = {},
): void {
  ISA_LIST.push({
    name,
    ext,
    need,
    fmt,
    match: match | 0,
    mask: mask | 0,
    when: x.when ?? 0,
    compressed: fmt.startsWith('C'),
    op,
    imm,
    sub: x.sub ?? 0,
    ...operands(regs),
    flags: x.flags ?? 0,
    size: x.size ?? 0,
    tiers: x.tiers ?? 0,
  });
}

const BOTH = T_JS | T_WASM;
const M_OPC = 0x7f;
const M_F3 = 0x707f;
const M_F7 = 0xfe00707f;
const M_F6 = 0xfc00707f;
const M_F12 = 0xfff0707f;
const M_ALL = 0xffffffff;

const enc = (f7: number, f3: number, opc: number) => (f7 << 25) | (f3 << 12) | opc;

// ---- RV64I ----
add('lui', 'I', 0, 'U', 0x37, M_OPC, Op.LUI, 'U', 'x.rd', { tiers: BOTH });
add('auipc', 'I', 0, 'U', 0x17, M_OPC, Op.AUIPC, 'U', 'x.rd', { tiers: BOTH });
add('j', 'I', 0, 'J', 0x6f, 0xfff, Op.J, 'J', 'x.rd', { flags: F_JUMP, tiers: BOTH });
add('jal', 'I', 0, 'J', 0x6f, M_OPC, Op.JAL, 'J', 'x.rd', { when: K_RD_NZ, flags: F_JUMP, tiers: BOTH });
add('jalr', 'I', 0, 'I', 0x67, M_F3, Op.JALR, 'I', 'x.rd x.rs1', { flags: F_JUMP, tiers: BOTH });
for (const [name, f3, op] of [
  ['beq', 0, Op.BEQ],
  ['bne', 1, Op.BNE],
  ['blt', 4, Op.BLT],
  ['bge', 5, Op.BGE],
  ['bltu', 6, Op.BLTU],
  ['bgeu', 7, Op.BGEU],
] as const)
  add(name, 'I', 0, 'B', enc(0, f3, 0x63), M_F3, op, 'B', '- x.rs1 x.rs2', { flags: F_BRANCH, tiers: BOTH });
for (const [name, f3, op, size] of [
  ['lb', 0, Op.LB, 1],
  ['lh', 1, Op.LH, 2],
  ['lw', 2, Op.LW, 4],
  ['ld', 3, Op.LD, 8],
  ['lbu', 4, Op.LBU, 1],
  ['lhu', 5, Op.LHU, 2],
  ['lwu', 6, Op.LWU, 4],
] as const)
  add(name, 'I', 0, 'I', enc(0, f3, 0x03), M_F3, op, 'I', 'x.rd x.rs1', { flags: F_LOAD | F_TRAP, size, tiers: BOTH });
for (const [name, f3, op, size] of [
  ['sb', 0, Op.SB, 1],
  ['sh', 1, Op.SH, 2],
  ['sw', 2, Op.SW, 4],
  ['sd', 3, Op.SD, 8],
] as const)
  add(name, 'I', 0, 'S', enc(0, f3, 0x23), M_F3, op, 'S', '- x.rs1 x.rs2', {
    flags: F_STORE | F_TRAP,
    size,
    tiers: BOTH,
  });
// addi splits three ways: li (rs1 = x0), mv (imm 0), addi.
add('li', 'I', 0, 'I', 0x13, 0xff07f, Op.LI, 'I', 'x.rd', { tiers: BOTH });
add('mv', 'I', 0, 'I', 0x13, M_F12, Op.MV, 'none', 'x.rd x.rs1', { when: K_RS1_NZ, tiers: BOTH });
add('addi', 'I', 0, 'I', 0x13, M_F3, Op.ADDI, 'I', 'x.rd x.rs1', { when: K_RS1_NZ | K_IMMI_NZ, tiers: BOTH });
for (const [name, f3, op] of [
  ['slti', 2, Op.SLTI],
  ['sltiu', 3, Op.SLTIU],
  ['xori', 4, Op.XORI],
  ['ori', 6, Op.ORI], // also Zicbop's prefetch.i/r/w (ori hints with rd = x0)
  ['andi', 7, Op.ANDI],
] as const)
  add(name, 'I', 0, 'I', enc(0, f3, 0x13), M_F3, op, 'I', 'x.rd x.rs1', { tiers: BOTH });
add('slli', 'I', 0, 'I', enc(0, 1, 0x13), M_F6, Op.SLLI, 'sh6', 'x.rd x.rs1', { tiers: BOTH });
add('srli', 'I', 0, 'I', enc(0, 5, 0x13), M_F6, Op.SRLI, 'sh6', 'x.rd x.rs1', { tiers: BOTH });
add('srai', 'I', 0, 'I', enc(0x20, 5, 0x13), M_F6, Op.SRAI, 'sh6', 'x.rd x.rs1', { tiers: BOTH });
for (const [name, f7, f3, op] of [
  ['add', 0, 0, Op.ADD],
  ['sub', 0x20, 0, Op.SUB],
  ['sll', 0, 1, Op.SLL],
  ['slt', 0, 2, Op.SLT],
  ['sltu', 0, 3, Op.SLTU],
  ['xor', 0, 4, Op.XOR],
  ['srl', 0, 5, Op.SRL],
  ['sra', 0x20, 5, Op.SRA],
  ['or', 0, 6, Op.OR],
  ['and', 0, 7, Op.AND],
] as const)
  add(name, 'I', 0, 'R', enc(f7, f3, 0x33), M_F7, op, 'none', 'x.rd x.rs1 x.rs2', { tiers: BOTH });
add('addiw', 'I', 0, 'I', enc(0, 0, 0x1b), M_F3, Op.ADDIW, 'I', 'x.rd x.rs1', { tiers: BOTH });
add('slliw', 'I', 0, 'I', enc(0, 1, 0x1b), M_F7, Op.SLLIW, 'sh5', 'x.rd x.rs1', { tiers: BOTH });
add('srliw', 'I', 0, 'I', enc(0, 5, 0x1b), M_F7, Op.SRLIW, 'sh5', 'x.rd x.rs1', { tiers: BOTH });
add('sraiw', 'I', 0, 'I', enc(0x20, 5, 0x1b), M_F7, Op.SRAIW, 'sh5', 'x.rd x.rs1', { tiers: BOTH });
for (const [name, f7, f3, op] of [
  ['addw', 0, 0, Op.ADDW],
  ['subw', 0x20, 0, Op.SUBW],
  ['sllw', 0, 1, Op.SLLW],
  ['srlw', 0, 5, Op.SRLW],
  ['sraw', 0x20, 5, Op.SRAW],
] as const)
  add(name, 'I', 0, 'R', enc(f7, f3, 0x3b), M_F7, op, 'none', 'x.rd x.rs1 x.rs2', { tiers: BOTH });
// fence: fm/pred/succ/rs1/rd are ignored (every fence is a full one here; Zihintpause's pause too).
add('fence', 'I', 0, 'I', 0x0f, M_F3, Op.FENCE, 'none', '', { tiers: BOTH });
add('ecall', 'I', 0, 'I', 0x73, M_ALL, Op.ECALL, 'none', '', { flags: F_SYSTEM | F_TRAP | F_SLOW | F_ENDS });
add('ebreak', 'I', 0, 'I', 0x00100073, M_ALL, Op.EBREAK, 'none', '', { flags: F_SYSTEM | F_TRAP | F_SLOW | F_ENDS });

// ---- Zifencei, Zicsr, privileged ----
add('fence.i', 'Zifencei', 0, 'I', enc(0, 1, 0x0f), M_F3, Op.FENCE_I, 'none', '', { flags: F_ENDS, tiers: BOTH });
for (const [name, f3, op, rs1] of [
  ['csrrw', 1, Op.CSRRW, 'x'],
  ['csrrs', 2, Op.CSRRS, 'x'],
  ['csrrc', 3, Op.CSRRC, 'x'],
  ['csrrwi', 5, Op.CSRRWI, 'u'],
  ['csrrsi', 6, Op.CSRRSI, 'u'],
  ['csrrci', 7, Op.CSRRCI, 'u'],
] as const)
  add(name, 'Zicsr', 0, 'I', enc(0, f3, 0x73), M_F3, op, 'csr', `x.rd ${rs1}.rs1`, {
    flags: F_SYSTEM | F_TRAP | F_SLOW | F_ENDS,
  });
const PRIV = F_SYSTEM | F_TRAP | F_SLOW | F_ENDS;
add('mret', 'priv', 0, 'R', 0x30200073, M_ALL, Op.MRET, 'none', '', { flags: PRIV | F_JUMP });
add('sret', 'priv', 0, 'R', 0x10200073, M_ALL, Op.SRET, 'none', '', { flags: PRIV | F_JUMP });
add('wfi', 'priv', 0, 'R', 0x10500073, M_ALL, Op.WFI, 'none', '', { flags: PRIV });
add('sfence.vma', 'priv', 0, 'R', enc(0x09, 0, 0x73), 0xfe007fff, Op.SFENCE_VMA, 'none', '- x.rs1 x.rs2', {
  flags: PRIV,
});
add('sinval.vma', 'Svinval', X_SVINVAL, 'R', enc(0x0b, 0, 0x73), 0xfe007fff, Op.SINVAL_VMA, 'none', '- x.rs1 x.rs2', {
  flags: PRIV,
});
add('sfence.w.inval', 'Svinval', X_SVINVAL, 'R', 0x18000073, M_ALL, Op.SFENCE_INVAL, 'sub', '', {
  sub: 0,
  flags: PRIV,
});
add('sfence.inval.ir', 'Svinval', X_SVINVAL, 'R', 0x18100073, M_ALL, Op.SFENCE_INVAL, 'sub', '', {
  sub: 1,
  flags: PRIV,
});

// ---- M ----
for (const [name, f3, op] of [
  ['mul', 0, Op.MUL],
  ['mulh', 1, Op.MULH],
  ['mulhsu', 2, Op.MULHSU],
  ['mulhu', 3, Op.MULHU],
  ['div', 4, Op.DIV],
  ['divu', 5, Op.DIVU],
  ['rem', 6, Op.REM],
  ['remu', 7, Op.REMU],
] as const)
  add(name, 'M', 0, 'R', enc(1, f3, 0x33), M_F7, op, 'none', 'x.rd x.rs1 x.rs2', { tiers: BOTH });
for (const [name, f3, op] of [
  ['mulw', 0, Op.MULW],
  ['divw', 4, Op.DIVW],
  ['divuw', 5, Op.DIVUW],
  ['remw', 6, Op.REMW],
  ['remuw', 7, Op.REMUW],
] as const)
  add(name, 'M', 0, 'R', enc(1, f3, 0x3b), M_F7, op, 'none', 'x.rd x.rs1 x.rs2', { tiers: BOTH });

// ---- A (aq/rl bits ignored: every access is sequentially consistent here) ----
const ATOMIC = F_ATOMIC | F_LOAD | F_TRAP | F_SLOW | F_ENDS;
for (const [sfx, f3, size, lr, sc, amo] of [
  ['w', 2, 4, Op.LR_W, Op.SC_W, Op.AMO_W],
  ['d', 3, 8, Op.LR_D, Op.SC_D, Op.AMO_D],
] as const) {
  add(`lr.${sfx}`, 'A', 0, 'R', (2 << 27) | (f3 << 12) | 0x2f, 0xf9f0707f, lr, 'none', 'x.rd x.rs1', {
    flags: ATOMIC,
    size,
  });
  add(`sc.${sfx}`, 'A', 0, 'R', (3 << 27) | (f3 << 12) | 0x2f, 0xf800707f, sc, 'none', 'x.rd x.rs1 x.rs2', {
    flags: ATOMIC | F_STORE,
    size,
  });
  for (const [name, f5] of [
    ['amoadd', 0],
    ['amoswap', 1],
    ['amoxor', 4],
    ['amoor', 8],
    ['amoand', 12],
    ['amomin', 16],
    ['amomax', 20],
    ['amominu', 24],
    ['amomaxu', 28],
  ] as const)
    add(`${name}.${sfx}`, 'A', 0, 'R', (f5 << 27) | (f3 << 12) | 0x2f, 0xf800707f, amo, 'sub', 'x.rd x.rs1 x.rs2', {
      sub: f5,
      flags: ATOMIC | F_STORE,
      size,
    });
}

// ---- F, D, Zfh/Zfhmin ----
// Loads and stores have their own ops; every computational instruction is Op.FP with the raw
// instruction as immediate (fpu/execute.ts decodes it again, and rejects what no entry covers).
const FPMEM = F_FP | F_TRAP;
/**
 * The tiers that translate FP loads/stores (flw, fld, fsw, fsd and their compressed forms) and
 * FP computational instructions (Op.FP): the wasm tier (wasm/emit-fp.ts; it hands back, one
 * instruction at a time, what its exact fast paths do not cover: Zfh, fclass, NaNs, directed
 * rounding of inexact results...). Every entry of one op must agree (the tiers decide per op).
 */
const FP_MEM_TIERS = T_WASM;
const FP_OP_TIERS = T_WASM;
add('flh', 'Zfhmin', X_ZFHMIN, 'I', enc(0, 1, 0x07), M_F3, Op.FLH, 'I', 'f.rd x.rs1', {
  flags: FPMEM | F_LOAD | F_SLOW | F_ENDS,
  size: 2,
});
add('flw', 'F', 0, 'I', enc(0, 2, 0x07), M_F3, Op.FLW, 'I', 'f.rd x.rs1', {
  flags: FPMEM | F_LOAD,
  size: 4,
  tiers: FP_MEM_TIERS,
});
add('fld', 'D', 0, 'I', enc(0, 3, 0x07), M_F3, Op.FLD, 'I', 'f.rd x.rs1', {
  flags: FPMEM | F_LOAD,
  size: 8,
  tiers: FP_MEM_TIERS,
});
add('fsh', 'Zfhmin', X_ZFHMIN, 'S', enc(0, 1, 0x27), M_F3, Op.FSH, 'S', '- x.rs1 f.rs2', {
  flags: FPMEM | F_STORE | F_SLOW | F_ENDS,
  size: 2,
});
add('fsw', 'F', 0, 'S', enc(0, 2, 0x27), M_F3, Op.FSW, 'S', '- x.rs1 f.rs2', {
  flags: FPMEM | F_STORE,
  size: 4,
  tiers: FP_MEM_TIERS,
});
add('fsd', 'D', 0, 'S', enc(0, 3, 0x27), M_F3, Op.FSD, 'S', '- x.rs1 f.rs2', {
  flags: FPMEM | F_STORE,
  size: 8,
  tiers: FP_MEM_TIERS,
});

// Executed inline by the interpreter (executeFp), an illegal one trapping there.
const FPOP = F_FP | F_TRAP;
const FMTS = [
  ['s', 0, 'F', 0],
  ['d', 1, 'D', 0],
  ['h', 2, 'Zfh', X_ZFH],
] as const;
/** Zfhmin's share of the half-precision instructions: moves and conversions. */
const HMIN = X_ZFH | X_ZFHMIN;
const M_RM = 0xfe00007f; // rounding mode free
const M_RM_RS2 = 0xfff0007f;
for (const [t, fmt, ext, need] of FMTS) {
  const fp = (name: string, mask: number, match: number, regs: string) =>
    add(`${name}.${t}`, ext, need, mask === 0x0600007f ? 'R4' : 'R', match, mask, Op.FP, 'raw', regs, {
      flags: FPOP,
      tiers: FP_OP_TIERS,
    });
  for (const [name, opc] of [
    ['fmadd', 0x43],
    ['fmsub', 0x47],
    ['fnmsub', 0x4b],
    ['fnmadd', 0x4f],
  ] as const)
    fp(name, 0x0600007f, (fmt << 25) | opc, 'f.rd f.rs1 f.rs2 f.rs3');
  const f7 = (f5: number) => (f5 << 2) | fmt;
  for (const [name, f5] of [
    ['fadd', 0x00],
    ['fsub', 0x01],
    ['fmul', 0x02],
    ['fdiv', 0x03],
  ] as const)
    fp(name, M_RM, enc(f7(f5), 0, 0x53), 'f.rd f.rs1 f.rs2');
  fp('fsqrt', M_RM_RS2, enc(f7(0x0b), 0, 0x53), 'f.rd f.rs1');
  fp('fsgnj', M_F7, enc(f7(0x04), 0, 0x53), 'f.rd f.rs1 f.rs2');
  fp('fsgnjn', M_F7, enc(f7(0x04), 1, 0x53), 'f.rd f.rs1 f.rs2');
  fp('fsgnjx', M_F7, enc(f7(0x04), 2, 0x53), 'f.rd f.rs1 f.rs2');
  fp('fmin', M_F7, enc(f7(0x05), 0, 0x53), 'f.rd f.rs1 f.rs2');
  fp('fmax', M_F7, enc(f7(0x05), 1, 0x53), 'f.rd f.rs1 f.rs2');
  fp('fle', M_F7, enc(f7(0x14), 0, 0x53), 'x.rd f.rs1 f.rs2');
  fp('flt', M_F7, enc(f7(0x14), 1, 0x53), 'x.rd f.rs1 f.rs2');
  fp('feq', M_F7, enc(f7(0x14), 2, 0x53), 'x.rd f.rs1 f.rs2');
  fp('fclass', M_F12, enc(f7(0x1c), 1, 0x53), 'x.rd f.rs1');
  const mv = t === 'h' ? HMIN : need;
  const mvExt = t === 'h' ? 'Zfhmin' : ext;
  // fmv.x.w / fmv.w.x keep their historical names for singles.
  const ix = t === 's' ? 'w' : t;
  add(`fmv.x.${ix}`, mvExt, mv, 'R', enc(f7(0x1c), 0, 0x53), M_F12, Op.FP, 'raw', 'x.rd f.rs1', {
    flags: FPOP,
    tiers: FP_OP_TIERS,
  });
  add(`fmv.${ix}.x`, mvExt, mv, 'R', enc(f7(0x1e), 0, 0x53), M_F12, Op.FP, 'raw', 'f.rd x.rs1', {
    flags: FPOP,
    tiers: FP_OP_TIERS,
  });
  for (const [it, r] of [
    ['w', 0],
    ['wu', 1],
    ['l', 2],
    ['lu', 3],
  ] as const) {
    add(`fcvt.${it}.${t}`, ext, need, 'R', enc(f7(0x18), 0, 0x53) | (r << 20), M_RM_RS2, Op.FP, 'raw', 'x.rd f.rs1', {
      flags: FPOP,
      tiers: FP_OP_TIERS,
    });
    add(`fcvt.${t}.${it}`, ext, need, 'R', enc(f7(0x1a), 0, 0x53) | (r << 20), M_RM_RS2, Op.FP, 'raw', 'f.rd x.rs1', {
      flags: FPOP,
      tiers: FP_OP_TIERS,
    });
  }
}
// Conversions between formats: fcvt.<dest>.<src>, fmt = dest, rs2 = src.
for (const [name, dst, src, ext, need] of [
  ['fcvt.s.d', 0, 1, 'D', 0],
  ['fcvt.d.s', 1, 0, 'D', 0],
  ['fcvt.s.h', 0, 2, 'Zfhmin', HMIN],
  ['fcvt.h.s', 2, 0, 'Zfhmin', HMIN],
  ['fcvt.d.h', 1, 2, 'Zfhmin', HMIN],
  ['fcvt.h.d', 2, 1, 'Zfhmin', HMIN],
] as const)
  add(name, ext, need, 'R', enc((0x08 << 2) | dst, 0, 0x53) | (src << 20), M_RM_RS2, Op.FP, 'raw', 'f.rd f.rs1', {
    flags: FPOP,
    tiers: FP_OP_TIERS,
  });

// ---- Zba, Zbb, Zbs (on every CPU model) ----
const RRR = 'x.rd x.rs1 x.rs2';
const RR = 'x.rd x.rs1';
for (const [name, f7, f3, opc, op] of [
  ['add.uw', 0x04, 0, 0x3b, Op.ADD_UW],
  ['sh1add', 0x10, 2, 0x33, Op.SH1ADD],
  ['sh2add', 0x10, 4, 0x33, Op.SH2ADD],
  ['sh3add', 0x10, 6, 0x33, Op.SH3ADD],
  ['sh1add.uw', 0x10, 2, 0x3b, Op.SH1ADD_UW],
  ['sh2add.uw', 0x10, 4, 0x3b, Op.SH2ADD_UW],
  ['sh3add.uw', 0x10, 6, 0x3b, Op.SH3ADD_UW],
] as const)
  add(name, 'Zba', 0, 'R', enc(f7, f3, opc), M_F7, op, 'none', RRR, { tiers: BOTH });
add('slli.uw', 'Zba', 0, 'I', enc(0x04, 1, 0x1b), M_F6, Op.SLLI_UW, 'sh6', RR, { tiers: T_WASM });
for (const [name, f7, f3, opc, op, tiers] of [
  ['andn', 0x20, 7, 0x33, Op.ANDN, BOTH],
  ['orn', 0x20, 6, 0x33, Op.ORN, BOTH],
  ['xnor', 0x20, 4, 0x33, Op.XNOR, BOTH],
  ['max', 0x05, 6, 0x33, Op.MAX, T_WASM],
  ['maxu', 0x05, 7, 0x33, Op.MAXU, T_WASM],
  ['min', 0x05, 4, 0x33, Op.MIN, T_WASM],
  ['minu', 0x05, 5, 0x33, Op.MINU, T_WASM],
  ['rol', 0x30, 1, 0x33, Op.ROL, T_WASM],
  ['ror', 0x30, 5, 0x33, Op.ROR, T_WASM],
  ['rolw', 0x30, 1, 0x3b, Op.ROLW, T_WASM],
  ['rorw', 0x30, 5, 0x3b, Op.RORW, T_WASM],
] as const)
  add(name, 'Zbb', 0, 'R', enc(f7, f3, opc), M_F7, op, 'none', RRR, { tiers });
for (const [name, f12, f3, opc, op, tiers] of [
  ['clz', 0x600, 1, 0x13, Op.CLZ, T_WASM],
  ['ctz', 0x601, 1, 0x13, Op.CTZ, T_WASM],
  ['cpop', 0x602, 1, 0x13, Op.CPOP, T_WASM],
  ['sext.b', 0x604, 1, 0x13, Op.SEXT_B, BOTH],
  ['sext.h', 0x605, 1, 0x13, Op.SEXT_H, BOTH],
  ['clzw', 0x600, 1, 0x1b, Op.CLZW, T_WASM],
  ['ctzw', 0x601, 1, 0x1b, Op.CTZW, T_WASM],
  ['cpopw', 0x602, 1, 0x1b, Op.CPOPW, T_WASM],
  ['orc.b', 0x287, 5, 0x13, Op.ORC_B, T_WASM],
  ['rev8', 0x6b8, 5, 0x13, Op.REV8, T_WASM],
  ['zext.h', 0x080, 4, 0x3b, Op.ZEXT_H, BOTH],
] as const)
  add(name, 'Zbb', 0, 'I', (f12 << 20) | (f3 << 12) | opc, M_F12, op, 'none', RR, { tiers });
add('rori', 'Zbb', 0, 'I', enc(0x30, 5, 0x13), M_F6, Op.RORI, 'sh6', RR, { tiers: T_WASM });
add('roriw', 'Zbb', 0, 'I', enc(0x30, 5, 0x1b), M_F7, Op.RORIW, 'sh5', RR, { tiers: T_WASM });
for (const [name, f7, f3, op] of [
  ['bclr', 0x24, 1, Op.BCLR],
  ['bext', 0x24, 5, Op.BEXT],
  ['binv', 0x34, 1, Op.BINV],
  ['bset', 0x14, 1, Op.BSET],
] as const)
  add(name, 'Zbs', 0, 'R', enc(f7, f3, 0x33), M_F7, op, 'none', RRR, { tiers: T_WASM });
for (const [name, f7, f3, op] of [
  ['bclri', 0x24, 1, Op.BCLRI],
  ['bexti', 0x24, 5, Op.BEXTI],
  ['binvi', 0x34, 1, Op.BINVI],
  ['bseti', 0x14, 1, Op.BSETI],
] as const)
  add(name, 'Zbs', 0, 'I', enc(f7, f3, 0x13), M_F6, op, 'sh6', RR, { tiers: T_WASM });

// ---- Op.XINT: Zicond, Zbc/Zbkc, Zbkb, Zbkx (ext/intext.ts; the JS tier calls execIntExt) ----
for (const [name, ext, need, f7, f3, opc, kind] of [
  ['czero.eqz', 'Zicond', X_ZICOND, 0x07, 5, 0x33, XI.XI_CZERO_EQZ],
  ['czero.nez', 'Zicond', X_ZICOND, 0x07, 7, 0x33, XI.XI_CZERO_NEZ],
  ['clmul', 'Zbc/Zbkc', X_ZBC | X_ZBKC, 0x05, 1, 0x33, XI.XI_CLMUL],
  ['clmulh', 'Zbc/Zbkc', X_ZBC | X_ZBKC, 0x05, 3, 0x33, XI.XI_CLMULH],
  ['clmulr', 'Zbc', X_ZBC, 0x05, 2, 0x33, XI.XI_CLMULR],
  ['pack', 'Zbkb', X_ZBKB, 0x04, 4, 0x33, XI.XI_PACK],
  ['packh', 'Zbkb', X_ZBKB, 0x04, 7, 0x33, XI.XI_PACKH],
  ['packw', 'Zbkb', X_ZBKB, 0x04, 4, 0x3b, XI.XI_PACKW], // rs2 = x0 is zext.h
  ['xperm4', 'Zbkx', X_ZBKX, 0x14, 2, 0x33, XI.XI_XPERM4],
  ['xperm8', 'Zbkx', X_ZBKX, 0x14, 4, 0x33, XI.XI_XPERM8],
] as const)
  add(name, ext, need, 'R', enc(f7, f3, opc), M_F7, Op.XINT, 'sub', RRR, {
    sub: kind,
    when: name === 'packw' ? K_RS2_NZ : 0,
    flags: F_SLOW,
    tiers: T_JS,
  });
add('brev8', 'Zbkb', X_ZBKB, 'I', (0x687 << 20) | (5 << 12) | 0x13, M_F12, Op.XINT, 'sub', RR, {
  sub: XI.XI_BREV8,
  flags: F_SLOW,
  tiers: T_JS,
});

// ---- Zicbom, Zicboz (Zicbop's prefetches are ori hints, above) ----
for (const [name, ext, need, kind] of [
  ['cbo.inval', 'Zicbom', X_ZICBOM, 0],
  ['cbo.clean', 'Zicbom', X_ZICBOM, 1],
  ['cbo.flush', 'Zicbom', X_ZICBOM, 2],
  ['cbo.zero', 'Zicboz', X_ZICBOZ, 4],
] as const)
  add(name, ext, need, 'I', (kind << 20) | (2 << 12) | 0x0f, 0xfff07fff, Op.CBO, 'sub', '- x.rs1', {
    sub: kind,
    flags: F_TRAP | F_SLOW | F_ENDS | (kind === 4 ? F_STORE : 0),
    size: kind === 4 ? 64 : 0,
  });

// ---- C (RV64C, with the D loads/stores) ----
const CM = 0xe003; // funct3 + quadrant
const cq = (f3: number, q: number) => (f3 << 13) | q;
add('c.addi4spn', 'C', 0, 'CIW', cq(0, 0), CM, Op.ADDI, 'ciw', 'x.crdp x.sp', { when: K_CIMM8_NZ, tiers: BOTH });
add('c.fld', 'C', 0, 'CL', cq(1, 0), CM, Op.FLD, 'clD', 'f.crdp x.crs1p', {
  flags: FPMEM | F_LOAD,
  size: 8,
  tiers: FP_MEM_TIERS,
});
add('c.lw', 'C', 0, 'CL', cq(2, 0), CM, Op.LW, 'clW', 'x.crdp x.crs1p', {
  flags: F_LOAD | F_TRAP,
  size: 4,
  tiers: BOTH,
});
add('c.ld', 'C', 0, 'CL', cq(3, 0), CM, Op.LD, 'clD', 'x.crdp x.crs1p', {
  flags: F_LOAD | F_TRAP,
  size: 8,
  tiers: BOTH,
});
add('c.fsd', 'C', 0, 'CS', cq(5, 0), CM, Op.FSD, 'clD', '- x.crs1p f.crdp', {
  flags: FPMEM | F_STORE,
  size: 8,
  tiers: FP_MEM_TIERS,
});
add('c.sw', 'C', 0, 'CS', cq(6, 0), CM, Op.SW, 'clW', '- x.crs1p x.crdp', {
  flags: F_STORE | F_TRAP,
  size: 4,
  tiers: BOTH,
});
add('c.sd', 'C', 0, 'CS', cq(7, 0), CM, Op.SD, 'clD', '- x.crs1p x.crdp', {
  flags: F_STORE | F_TRAP,
  size: 8,
  tiers: BOTH,
});
add('c.addi', 'C', 0, 'CI', cq(0, 1), CM, Op.ADDI, 'ci', 'x.rd x.rd', { tiers: BOTH }); // rd = x0: c.nop
add('c.addiw', 'C', 0, 'CI', cq(1, 1), CM, Op.ADDIW, 'ci', 'x.rd x.rd', { when: K_RD_NZ, tiers: BOTH });
add('c.li', 'C', 0, 'CI', cq(2, 1), CM, Op.LI, 'ci', 'x.rd', { tiers: BOTH });
add('c.addi16sp', 'C', 0, 'CI', cq(3, 1) | (2 << 7), 0xef83, Op.ADDI, 'ci16sp', 'x.sp x.sp', {
  when: K_CIMM6_NZ,
  tiers: BOTH,
});
add('c.lui', 'C', 0, 'CI', cq(3, 1), CM, Op.LUI, 'ciLui', 'x.rd', { when: K_CIMM6_NZ | K_RD_NOT_SP, tiers: BOTH });
add('c.srli', 'C', 0, 'CB', cq(4, 1), 0xec03, Op.SRLI, 'ciSh', 'x.crs1p x.crs1p', { tiers: BOTH });
add('c.srai', 'C', 0, 'CB', cq(4, 1) | (1 << 10), 0xec03, Op.SRAI, 'ciSh', 'x.crs1p x.crs1p', { tiers: BOTH });
add('c.andi', 'C', 0, 'CB', cq(4, 1) | (2 << 10), 0xec03, Op.ANDI, 'ci', 'x.crs1p x.crs1p', { tiers: BOTH });
for (const [name, b12, f2, op] of [
  ['c.sub', 0, 0, Op.SUB],
  ['c.xor', 0, 1, Op.XOR],
  ['c.or', 0, 2, Op.OR],
  ['c.and', 0, 3, Op.AND],
  ['c.subw', 1, 0, Op.SUBW],
  ['c.addw', 1, 1, Op.ADDW],
] as const)
  add(
    name,
    'C',
    0,
    'CA',
    cq(4, 1) | (b12 << 12) | (3 << 10) | (f2 << 5),
    0xfc63,
    op,
    'none',
    'x.crs1p x.crs1p x.crdp',
    {
      tiers: BOTH,
    },
  );
add('c.j', 'C', 0, 'CJ', cq(5, 1), CM, Op.J, 'cj', 'x.zero', { flags: F_JUMP, tiers: BOTH });
add('c.beqz', 'C', 0, 'CB', cq(6, 1), CM, Op.BEQ, 'cb', '- x.crs1p x.zero', { flags: F_BRANCH, tiers: BOTH });
add('c.bnez', 'C', 0, 'CB', cq(7, 1), CM, Op.BNE, 'cb', '- x.crs1p x.zero', { flags: F_BRANCH, tiers: BOTH });
// Shift amounts of 0 and rd = x0 are hints: decoded as the plain instruction (a no-op).
add('c.slli', 'C', 0, 'CI', cq(0, 2), CM, Op.SLLI, 'ciSh', 'x.rd x.rd', { tiers: BOTH });
add('c.fldsp', 'C', 0, 'CI', cq(1, 2), CM, Op.FLD, 'ciLdsp', 'f.rd x.sp', {
  flags: FPMEM | F_LOAD,
  size: 8,
  tiers: FP_MEM_TIERS,
});
add('c.lwsp', 'C', 0, 'CI', cq(2, 2), CM, Op.LW, 'ciLwsp', 'x.rd x.sp', {
  when: K_RD_NZ,
  flags: F_LOAD | F_TRAP,
  size: 4,
  tiers: BOTH,
});
add('c.ldsp', 'C', 0, 'CI', cq(3, 2), CM, Op.LD, 'ciLdsp', 'x.rd x.sp', {
  when: K_RD_NZ,
  flags: F_LOAD | F_TRAP,
  size: 8,
  tiers: BOTH,
});
add('c.jr', 'C', 0, 'CR', cq(4, 2), 0xf07f, Op.JALR, 'none', 'x.zero x.rd', {
  when: K_RD_NZ,
  flags: F_JUMP,
  tiers: BOTH,
});
add('c.mv', 'C', 0, 'CR', cq(4, 2), 0xf003, Op.MV, 'none', 'x.rd x.crs2', { when: K_CRS2_NZ, tiers: BOTH });
add('c.ebreak', 'C', 0, 'CR', 0x9002, 0xffff, Op.EBREAK, 'none', '', { flags: F_SYSTEM | F_TRAP | F_SLOW | F_ENDS });
add('c.jalr', 'C', 0, 'CR', cq(4, 2) | (1 << 12), 0xf07f, Op.JALR, 'none', 'x.ra x.rd', {
  when: K_RD_NZ,
  flags: F_JUMP,
  tiers: BOTH,
});
add('c.add', 'C', 0, 'CR', cq(4, 2) | (1 << 12), 0xf003, Op.ADD, 'none', 'x.rd x.rd x.crs2', {
  when: K_CRS2_NZ,
  tiers: BOTH,
});
add('c.fsdsp', 'C', 0, 'CSS', cq(5, 2), CM, Op.FSD, 'cssD', '- x.sp f.crs2', {
  flags: FPMEM | F_STORE,
  size: 8,
  tiers: FP_MEM_TIERS,
});
add('c.swsp', 'C', 0, 'CSS', cq(6, 2), CM, Op.SW, 'cssW', '- x.sp x.crs2', {
  flags: F_STORE | F_TRAP,
  size: 4,
  tiers: BOTH,
});
add('c.sdsp', 'C', 0, 'CSS', cq(7, 2), CM, Op.SD, 'cssD', '- x.sp x.crs2', {
  flags: F_STORE | F_TRAP,
  size: 8,
  tiers: BOTH,
});

/** Every instruction form the hart implements. */
export const ISA: readonly InsnForm[] = ISA_LIST;

// ---- per-Op views (what hot code reads: typed arrays, no per-instruction allocation) ----

/** Op count bound: the packed word's op field is 8 bits. */
export const OP_LIMIT = 256;

function tierArray(tier: number): Uint8Array {
  const a = new Uint8Array(OP_LIMIT);
  for (const e of ISA) if ((e.tiers & tier) !== 0) a[e.op] = 1;
  return a;
}

/** 1 for the ops the JS tier translates (jit.ts); the others are handed to the interpreter. */
export const JS_TRANSLATED: Uint8Array = tierArray(T_JS);
/** 1 for the ops the wasm tier translates (wasm/wasm-tier.ts). */
export const WASM_TRANSLATED: Uint8Array = tierArray(T_WASM);

/**
 * 1 for the ops the wasm tier translates that touch only registers (no memory, no jump, no exit
 * before they run; conditional branches allowed): wasm-tier.ts groups runs of them into one case.
 * An op qualifies only if every one of its entries does.
 */
export const WASM_REGISTER_ONLY: Uint8Array = (() => {
  const a = new Uint8Array(OP_LIMIT);
  const no = new Uint8Array(OP_LIMIT);
  for (const e of ISA) {
    if ((e.tiers & T_WASM) !== 0 && (e.flags & ~F_BRANCH) === 0) a[e.op] = 1;
    else no[e.op] = 1;
  }
  for (let op = 0; op < OP_LIMIT; op++) if (no[op] === 1) a[op] = 0;
  return a;
})();
