/**
 * Instruction decoder: turns one 32-bit or 16-bit (RVC) instruction into the pre-decoded form the
 * interpreter executes: a packed word and an immediate.
 *
 * Packed word layout (see exec.ts):
 *   bits 0-7   Op
 *   bits 8-14  2*rd   (integer destinations x0 are redirected to the sink register 32, so the
 *                      interpreter writes results unconditionally)
 *   bits 15-20 2*rs1
 *   bits 21-26 2*rs2
 *   bit  27    1 for a 16-bit instruction (the pc advances by 2 instead of 4)
 * The immediate is the sign-extended immediate, the CSR number for Zicsr, the AMO funct5 for AMOs,
 * the raw instruction for FP computational instructions and for illegal encodings.
 */
import { Op } from './exec.ts';
import * as XI from './ext/intext.ts';

export const SINK = 32;

/** Output of decode(): [packed word, immediate]. */
export type Decoded = Int32Array;

function pack(out: Decoded, op: Op, rd: number, rs1: number, rs2: number, imm: number, c: number): void {
  out[0] = op | (rd << 9) | (rs1 << 16) | (rs2 << 22) | (c << 27);
  out[1] = imm;
}

/** Integer destination: x0 becomes the sink. */
function ird(r: number): number {
  return r === 0 ? SINK : r;
}

function illegal(out: Decoded, raw: number, c: number): void {
  pack(out, Op.ILLEGAL, 0, 0, 0, raw, c);
}

/** Decodes a full 32-bit instruction (low two bits 11). */
export function decode32(insn: number, out: Decoded): void {
  decodeFields(insn, out, 0, insn);
}

function decodeFields(insn: number, out: Decoded, c: number, raw: number): void {
  const opcode = insn & 0x7f;
  const rd = (insn >>> 7) & 31;
  const f3 = (insn >>> 12) & 7;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  const f7 = insn >>> 25;
  const immI = insn >> 20;
  const immS = ((insn >> 25) << 5) | ((insn >>> 7) & 31);
  const d = ird(rd);
  switch (opcode) {
    case 0x37:
      return pack(out, Op.LUI, d, 0, 0, insn & 0xfffff000, c);
    case 0x17:
      return pack(out, Op.AUIPC, d, 0, 0, insn & 0xfffff000, c);
    case 0x6f: {
      const imm =
        ((insn >> 31) << 20) |
        (((insn >>> 12) & 0xff) << 12) |
        (((insn >>> 20) & 1) << 11) |
        (((insn >>> 21) & 0x3ff) << 1);
      return pack(out, rd === 0 ? Op.J : Op.JAL, d, 0, 0, imm, c);
    }
    case 0x67:
      if (f3 !== 0) return illegal(out, raw, c);
      return pack(out, Op.JALR, d, rs1, 0, immI, c);
    case 0x63: {
      const imm =
        ((insn >> 31) << 12) | (((insn >>> 7) & 1) << 11) | (((insn >>> 25) & 0x3f) << 5) | (((insn >>> 8) & 0xf) << 1);
      const ops = [Op.BEQ, Op.BNE, -1, -1, Op.BLT, Op.BGE, Op.BLTU, Op.BGEU];
      const op = ops[f3]!;
      if (op < 0) return illegal(out, raw, c);
      return pack(out, op, 0, rs1, rs2, imm, c);
    }
    case 0x03: {
      const ops = [Op.LB, Op.LH, Op.LW, Op.LD, Op.LBU, Op.LHU, Op.LWU, -1];
      const op = ops[f3]!;
      if (op < 0) return illegal(out, raw, c);
      return pack(out, op, d, rs1, 0, immI, c);
    }
    case 0x23: {
      if (f3 > 3) return illegal(out, raw, c);
      return pack(out, [Op.SB, Op.SH, Op.SW, Op.SD][f3]!, 0, rs1, rs2, immS, c);
    }
    case 0x13:
      return decodeOpImm(insn, out, c, raw, d, f3, rs1, immI);
    case 0x1b:
      return decodeOpImm32(insn, out, c, raw, d, f3, rs1, immI);
    case 0x33:
      return decodeOp(out, c, raw, d, f3, f7, rs1, rs2);
    case 0x3b:
      return decodeOp32(out, c, raw, d, f3, f7, rs1, rs2);
    case 0x0f:
      // FENCE also covers Zihintpause's PAUSE (a FENCE hint): both are no-ops here.
      if (f3 === 0) return pack(out, Op.FENCE, 0, 0, 0, 0, c);
      if (f3 === 1) return pack(out, Op.FENCE_I, 0, 0, 0, 0, c);
      // Zicbom/Zicboz: cbo.inval (0), cbo.clean (1), cbo.flush (2), cbo.zero (4), rd = 0
      if (f3 === 2 && rd === 0 && (immI === 0 || immI === 1 || immI === 2 || immI === 4))
        return pack(out, Op.CBO, 0, rs1, 0, immI, c);
      return illegal(out, raw, c);
    case 0x73:
      return decodeSystem(insn, out, c, raw, d, f3, rs1);
    case 0x2f: {
      if (f3 !== 2 && f3 !== 3) return illegal(out, raw, c);
      const f5 = insn >>> 27;
      const dbl = f3 === 3;
      if (f5 === 2) {
        if (rs2 !== 0) return illegal(out, raw, c);
        return pack(out, dbl ? Op.LR_D : Op.LR_W, d, rs1, 0, 0, c);
      }
      if (f5 === 3) return pack(out, dbl ? Op.SC_D : Op.SC_W, d, rs1, rs2, 0, c);
      if (![0, 1, 4, 8, 12, 16, 20, 24, 28].includes(f5)) return illegal(out, raw, c);
      return pack(out, dbl ? Op.AMO_D : Op.AMO_W, d, rs1, rs2, f5, c);
    }
    case 0x07:
      if (f3 === 1) return pack(out, Op.FLH, rd, rs1, 0, immI, c);
      if (f3 === 2) return pack(out, Op.FLW, rd, rs1, 0, immI, c);
      if (f3 === 3) return pack(out, Op.FLD, rd, rs1, 0, immI, c);
      return illegal(out, raw, c);
    case 0x27:
      if (f3 === 1) return pack(out, Op.FSH, 0, rs1, rs2, immS, c);
      if (f3 === 2) return pack(out, Op.FSW, 0, rs1, rs2, immS, c);
      if (f3 === 3) return pack(out, Op.FSD, 0, rs1, rs2, immS, c);
      return illegal(out, raw, c);
    case 0x53:
    case 0x43:
    case 0x47:
    case 0x4b:
    case 0x4f:
      return pack(out, Op.FP, 0, 0, 0, insn, c);
  }
  return illegal(out, raw, c);
}

function decodeOpImm(
  insn: number,
  out: Decoded,
  c: number,
  raw: number,
  d: number,
  f3: number,
  rs1: number,
  imm: number,
): void {
  const sh = imm & 63;
  const f6 = (insn >>> 26) & 63;
  const f12 = (insn >>> 20) & 0xfff;
  switch (f3) {
    case 0:
      if (rs1 === 0) return pack(out, Op.LI, d, 0, 0, imm, c);
      if (imm === 0) return pack(out, Op.MV, d, rs1, 0, 0, c);
      return pack(out, Op.ADDI, d, rs1, 0, imm, c);
    case 2:
      return pack(out, Op.SLTI, d, rs1, 0, imm, c);
    case 3:
      return pack(out, Op.SLTIU, d, rs1, 0, imm, c);
    case 4:
      return pack(out, Op.XORI, d, rs1, 0, imm, c);
    case 6:
      return pack(out, Op.ORI, d, rs1, 0, imm, c);
    case 7:
      return pack(out, Op.ANDI, d, rs1, 0, imm, c);
    case 1:
      if (f6 === 0) return pack(out, Op.SLLI, d, rs1, 0, sh, c);
      if (f6 === 0x12) return pack(out, Op.BCLRI, d, rs1, 0, sh, c);
      if (f6 === 0x1a) return pack(out, Op.BINVI, d, rs1, 0, sh, c);
      if (f6 === 0x0a) return pack(out, Op.BSETI, d, rs1, 0, sh, c);
      if (f12 === 0x600) return pack(out, Op.CLZ, d, rs1, 0, 0, c);
      if (f12 === 0x601) return pack(out, Op.CTZ, d, rs1, 0, 0, c);
      if (f12 === 0x602) return pack(out, Op.CPOP, d, rs1, 0, 0, c);
      if (f12 === 0x604) return pack(out, Op.SEXT_B, d, rs1, 0, 0, c);
      if (f12 === 0x605) return pack(out, Op.SEXT_H, d, rs1, 0, 0, c);
      return illegal(out, raw, c);
    case 5:
      if (f6 === 0) return pack(out, Op.SRLI, d, rs1, 0, sh, c);
      if (f6 === 0x10) return pack(out, Op.SRAI, d, rs1, 0, sh, c);
      if (f6 === 0x18) return pack(out, Op.RORI, d, rs1, 0, sh, c);
      if (f6 === 0x12) return pack(out, Op.BEXTI, d, rs1, 0, sh, c);
      if (f12 === 0x287) return pack(out, Op.ORC_B, d, rs1, 0, 0, c);
      if (f12 === 0x6b8) return pack(out, Op.REV8, d, rs1, 0, 0, c);
      if (f12 === 0x687) return pack(out, Op.XINT, d, rs1, 0, XI.XI_BREV8, c);
      return illegal(out, raw, c);
  }
  return illegal(out, raw, c);
}

function decodeOpImm32(
  insn: number,
  out: Decoded,
  c: number,
  raw: number,
  d: number,
  f3: number,
  rs1: number,
  imm: number,
): void {
  const f7 = insn >>> 25;
  const sh = imm & 31;
  const f12 = (insn >>> 20) & 0xfff;
  if (f3 === 0) return pack(out, Op.ADDIW, d, rs1, 0, imm, c);
  if (f3 === 1) {
    if (f7 === 0) return pack(out, Op.SLLIW, d, rs1, 0, sh, c);
    if (insn >>> 26 === 0x02) return pack(out, Op.SLLI_UW, d, rs1, 0, imm & 63, c);
    if (f12 === 0x600) return pack(out, Op.CLZW, d, rs1, 0, 0, c);
    if (f12 === 0x601) return pack(out, Op.CTZW, d, rs1, 0, 0, c);
    if (f12 === 0x602) return pack(out, Op.CPOPW, d, rs1, 0, 0, c);
    return illegal(out, raw, c);
  }
  if (f3 === 5) {
    if (f7 === 0) return pack(out, Op.SRLIW, d, rs1, 0, sh, c);
    if (f7 === 0x20) return pack(out, Op.SRAIW, d, rs1, 0, sh, c);
    if (f7 === 0x30) return pack(out, Op.RORIW, d, rs1, 0, sh, c);
  }
  return illegal(out, raw, c);
}

const OP_TABLE: Record<number, readonly number[]> = {
  0x00: [Op.ADD, Op.SLL, Op.SLT, Op.SLTU, Op.XOR, Op.SRL, Op.OR, Op.AND],
  0x20: [Op.SUB, -1, -1, -1, Op.XNOR, Op.SRA, Op.ORN, Op.ANDN],
  0x01: [Op.MUL, Op.MULH, Op.MULHSU, Op.MULHU, Op.DIV, Op.DIVU, Op.REM, Op.REMU],
  0x05: [-1, -1, -1, -1, Op.MIN, Op.MINU, Op.MAX, Op.MAXU],
  0x10: [-1, -1, Op.SH1ADD, -1, Op.SH2ADD, -1, Op.SH3ADD, -1],
  0x30: [-1, Op.ROL, -1, -1, -1, Op.ROR, -1, -1],
  0x24: [-1, Op.BCLR, -1, -1, -1, Op.BEXT, -1, -1],
  0x34: [-1, Op.BINV, -1, -1, -1, -1, -1, -1],
  0x14: [-1, Op.BSET, -1, -1, -1, -1, -1, -1],
};

const OP32_TABLE: Record<number, readonly number[]> = {
  0x00: [Op.ADDW, Op.SLLW, -1, -1, -1, Op.SRLW, -1, -1],
  0x20: [Op.SUBW, -1, -1, -1, -1, Op.SRAW, -1, -1],
  0x01: [Op.MULW, -1, -1, -1, Op.DIVW, Op.DIVUW, Op.REMW, Op.REMUW],
  0x04: [Op.ADD_UW, -1, -1, -1, -1, -1, -1, -1],
  0x10: [-1, -1, Op.SH1ADD_UW, -1, Op.SH2ADD_UW, -1, Op.SH3ADD_UW, -1],
  0x30: [-1, Op.ROLW, -1, -1, -1, Op.RORW, -1, -1],
};

/** Op.XINT kinds by f7 and f3 (ext/intext.ts): Zicond, Zbc/Zbkc, Zbkb, Zbkx. */
const XINT_TABLE: Record<number, readonly number[]> = {
  0x07: [0, 0, 0, 0, 0, XI.XI_CZERO_EQZ, 0, XI.XI_CZERO_NEZ],
  0x05: [0, XI.XI_CLMUL, XI.XI_CLMULR, XI.XI_CLMULH, 0, 0, 0, 0],
  0x04: [0, 0, 0, 0, XI.XI_PACK, 0, 0, XI.XI_PACKH],
  0x14: [0, 0, XI.XI_XPERM4, 0, XI.XI_XPERM8, 0, 0, 0],
};

function decodeOp(
  out: Decoded,
  c: number,
  raw: number,
  d: number,
  f3: number,
  f7: number,
  rs1: number,
  rs2: number,
): void {
  const xi = XINT_TABLE[f7]?.[f3] ?? 0;
  if (xi !== 0) return pack(out, Op.XINT, d, rs1, rs2, xi, c);
  const row = OP_TABLE[f7];
  const op = row ? row[f3]! : -1;
  if (op < 0) return illegal(out, raw, c);
  return pack(out, op, d, rs1, rs2, 0, c);
}

function decodeOp32(
  out: Decoded,
  c: number,
  raw: number,
  d: number,
  f3: number,
  f7: number,
  rs1: number,
  rs2: number,
): void {
  if (f7 === 0x04 && f3 === 4 && rs2 === 0) return pack(out, Op.ZEXT_H, d, rs1, 0, 0, c);
  if (f7 === 0x04 && f3 === 4) return pack(out, Op.XINT, d, rs1, rs2, XI.XI_PACKW, c);
  const row = OP32_TABLE[f7];
  const op = row ? row[f3]! : -1;
  if (op < 0) return illegal(out, raw, c);
  return pack(out, op, d, rs1, rs2, 0, c);
}

function decodeSystem(insn: number, out: Decoded, c: number, raw: number, d: number, f3: number, rs1: number): void {
  const csr = (insn >>> 20) & 0xfff;
  switch (f3) {
    case 0:
      if (insn === 0x00000073) return pack(out, Op.ECALL, 0, 0, 0, 0, c);
      if (insn === 0x00100073) return pack(out, Op.EBREAK, 0, 0, 0, 0, c);
      if (insn === 0x30200073) return pack(out, Op.MRET, 0, 0, 0, 0, c);
      if (insn === 0x10200073) return pack(out, Op.SRET, 0, 0, 0, 0, c);
      if (insn === 0x10500073) return pack(out, Op.WFI, 0, 0, 0, 0, c);
      if (insn >>> 25 === 0x09 && ((insn >>> 7) & 31) === 0) {
        return pack(out, Op.SFENCE_VMA, 0, rs1, (insn >>> 20) & 31, 0, c);
      }
      // Svinval: sinval.vma (as sfence.vma), sfence.w.inval (imm 0) and sfence.inval.ir (imm 1)
      if (insn >>> 25 === 0x0b && ((insn >>> 7) & 31) === 0) {
        return pack(out, Op.SINVAL_VMA, 0, rs1, (insn >>> 20) & 31, 0, c);
      }
      if (insn === 0x18000073) return pack(out, Op.SFENCE_INVAL, 0, 0, 0, 0, c);
      if (insn === 0x18100073) return pack(out, Op.SFENCE_INVAL, 0, 0, 0, 1, c);
      return illegal(out, raw, c);
    case 1:
      return pack(out, Op.CSRRW, d, rs1, 0, csr, c);
    case 2:
      return pack(out, Op.CSRRS, d, rs1, 0, csr, c);
    case 3:
      return pack(out, Op.CSRRC, d, rs1, 0, csr, c);
    case 5:
      return pack(out, Op.CSRRWI, d, rs1, 0, csr, c);
    case 6:
      return pack(out, Op.CSRRSI, d, rs1, 0, csr, c);
    case 7:
      return pack(out, Op.CSRRCI, d, rs1, 0, csr, c);
  }
  return illegal(out, raw, c);
}

// ---- RVC ----

function sext(v: number, bits: number): number {
  const s = 32 - bits;
  return (v << s) >> s;
}

function bit(v: number, i: number): number {
  return (v >>> i) & 1;
}

/** Decodes a 16-bit compressed instruction (low two bits not 11). */
export function decode16(h: number, out: Decoded): void {
  const q = h & 3;
  const f3 = (h >>> 13) & 7;
  const rdp = 8 + ((h >>> 2) & 7); // rd'/rs2'
  const rs1p = 8 + ((h >>> 7) & 7);
  const rd = (h >>> 7) & 31;
  const rs2 = (h >>> 2) & 31;
  const imm6 = sext((bit(h, 12) << 5) | ((h >>> 2) & 31), 6);
  const C = 1;
  if (q === 0) {
    switch (f3) {
      case 0: {
        const u = (((h >>> 11) & 3) << 4) | (((h >>> 7) & 15) << 6) | (bit(h, 6) << 2) | (bit(h, 5) << 3);
        if (u === 0) return illegal(out, h, C);
        return pack(out, Op.ADDI, rdp, 2, 0, u, C);
      }
      case 1:
      case 3:
      case 5:
      case 7: {
        const u = (((h >>> 10) & 7) << 3) | (((h >>> 5) & 3) << 6);
        if (f3 === 1) return pack(out, Op.FLD, rdp, rs1p, 0, u, C);
        if (f3 === 3) return pack(out, Op.LD, rdp, rs1p, 0, u, C);
        if (f3 === 5) return pack(out, Op.FSD, 0, rs1p, rdp, u, C);
        return pack(out, Op.SD, 0, rs1p, rdp, u, C);
      }
      case 2:
      case 6: {
        const u = (((h >>> 10) & 7) << 3) | (bit(h, 6) << 2) | (bit(h, 5) << 6);
        if (f3 === 2) return pack(out, Op.LW, rdp, rs1p, 0, u, C);
        return pack(out, Op.SW, 0, rs1p, rdp, u, C);
      }
    }
    return illegal(out, h, C);
  }
  if (q === 1) {
    switch (f3) {
      case 0:
        return pack(out, Op.ADDI, ird(rd), rd, 0, imm6, C);
      case 1:
        if (rd === 0) return illegal(out, h, C);
        return pack(out, Op.ADDIW, rd, rd, 0, imm6, C);
      case 2:
        return pack(out, Op.LI, ird(rd), 0, 0, imm6, C);
      case 3:
        if (rd === 2) {
          const v = sext(
            (bit(h, 12) << 9) | (bit(h, 6) << 4) | (bit(h, 5) << 6) | (((h >>> 3) & 3) << 7) | (bit(h, 2) << 5),
            10,
          );
          if (v === 0) return illegal(out, h, C);
          return pack(out, Op.ADDI, 2, 2, 0, v, C);
        }
        if (imm6 === 0) return illegal(out, h, C);
        return pack(out, Op.LUI, ird(rd), 0, 0, imm6 << 12, C);
      case 4: {
        const f2 = (h >>> 10) & 3;
        const sh = (bit(h, 12) << 5) | ((h >>> 2) & 31);
        if (f2 === 0) return pack(out, Op.SRLI, rs1p, rs1p, 0, sh, C);
        if (f2 === 1) return pack(out, Op.SRAI, rs1p, rs1p, 0, sh, C);
        if (f2 === 2) return pack(out, Op.ANDI, rs1p, rs1p, 0, imm6, C);
        const f = (h >>> 5) & 3;
        if (bit(h, 12) === 0) {
          return pack(out, [Op.SUB, Op.XOR, Op.OR, Op.AND][f]!, rs1p, rs1p, rdp, 0, C);
        }
        if (f === 0) return pack(out, Op.SUBW, rs1p, rs1p, rdp, 0, C);
        if (f === 1) return pack(out, Op.ADDW, rs1p, rs1p, rdp, 0, C);
        return illegal(out, h, C);
      }
      case 5: {
        const v = sext(
          (bit(h, 12) << 11) |
            (bit(h, 11) << 4) |
            (((h >>> 9) & 3) << 8) |
            (bit(h, 8) << 10) |
            (bit(h, 7) << 6) |
            (bit(h, 6) << 7) |
            (((h >>> 3) & 7) << 1) |
            (bit(h, 2) << 5),
          12,
        );
        return pack(out, Op.J, SINK, 0, 0, v, C);
      }
      case 6:
      case 7: {
        const v = sext(
          (bit(h, 12) << 8) |
            (((h >>> 10) & 3) << 3) |
            (((h >>> 5) & 3) << 6) |
            (((h >>> 3) & 3) << 1) |
            (bit(h, 2) << 5),
          9,
        );
        return pack(out, f3 === 6 ? Op.BEQ : Op.BNE, 0, rs1p, 0, v, C);
      }
    }
    return illegal(out, h, C);
  }
  if (q === 2) {
    switch (f3) {
      case 0: {
        const sh = (bit(h, 12) << 5) | rs2;
        return pack(out, Op.SLLI, ird(rd), rd, 0, sh, C);
      }
      case 1:
      case 3: {
        const u = (bit(h, 12) << 5) | (((h >>> 5) & 3) << 3) | (((h >>> 2) & 7) << 6);
        if (f3 === 1) return pack(out, Op.FLD, rd, 2, 0, u, C);
        if (rd === 0) return illegal(out, h, C);
        return pack(out, Op.LD, rd, 2, 0, u, C);
      }
      case 2: {
        const u = (bit(h, 12) << 5) | (((h >>> 4) & 7) << 2) | (((h >>> 2) & 3) << 6);
        if (rd === 0) return illegal(out, h, C);
        return pack(out, Op.LW, rd, 2, 0, u, C);
      }
      case 4:
        if (bit(h, 12) === 0) {
          if (rs2 === 0) {
            if (rd === 0) return illegal(out, h, C);
            return pack(out, Op.JALR, SINK, rd, 0, 0, C);
          }
          return pack(out, Op.MV, ird(rd), rs2, 0, 0, C);
        }
        if (rs2 === 0) {
          if (rd === 0) return pack(out, Op.EBREAK, 0, 0, 0, 0, C);
          return pack(out, Op.JALR, 1, rd, 0, 0, C);
        }
        return pack(out, Op.ADD, ird(rd), rd, rs2, 0, C);
      case 5:
      case 7: {
        const u = (((h >>> 10) & 7) << 3) | (((h >>> 7) & 7) << 6);
        return pack(out, f3 === 5 ? Op.FSD : Op.SD, 0, 2, rs2, u, C);
      }
      case 6: {
        const u = (((h >>> 9) & 15) << 2) | (((h >>> 7) & 3) << 6);
        return pack(out, Op.SW, 0, 2, rs2, u, C);
      }
    }
  }
  return illegal(out, h, C);
}

/** Decodes the instruction whose low halfword is `lo16` and (for 32-bit ones) high halfword `hi16`. */
export function decodeAny(lo16: number, hi16: number, out: Decoded): void {
  if ((lo16 & 3) === 3) decode32(lo16 | (hi16 << 16) | 0, out);
  else decode16(lo16, out);
}
