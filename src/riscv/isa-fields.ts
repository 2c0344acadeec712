/**
 * Reading the instruction table's entries back out of an encoding: which entry an instruction
 * matches, and the values of its register fields and immediate as the ISA manual defines them.
 * Written from the specification's bit layouts, independently of decode.ts, so the table test
 * can check the decoder against it; not for hot paths (a disassembler or a debugger could use it).
 */
import type { Field, ImmKind, InsnForm } from './isa-table.ts';
import {
  ISA,
  K_CIMM6_NZ,
  K_CIMM8_NZ,
  K_CRS2_NZ,
  K_IMMI_NZ,
  K_RD_NOT_SP,
  K_RD_NZ,
  K_RS1_NZ,
  K_RS2_NZ,
} from './isa-table.ts';

/** Bits hi..lo of v (unsigned). */
function bits(v: number, hi: number, lo: number): number {
  return (v >>> lo) & ((1 << (hi - lo + 1)) - 1);
}

function sext(v: number, width: number): number {
  return (v << (32 - width)) >> (32 - width);
}

/** The register number an operand field names. */
export function fieldValue(field: Field, insn: number): number {
  switch (field) {
    case 'rd':
      return bits(insn, 11, 7);
    case 'rs1':
      return bits(insn, 19, 15);
    case 'rs2':
      return bits(insn, 24, 20);
    case 'rs3':
      return bits(insn, 31, 27);
    case 'crs2':
      return bits(insn, 6, 2);
    case 'crdp':
      return 8 + bits(insn, 4, 2);
    case 'crs1p':
      return 8 + bits(insn, 9, 7);
    case 'sp':
      return 2;
    case 'ra':
      return 1;
    case 'zero':
      return 0;
  }
}

/** The immediate of an instruction, as the decoder must produce it (see ImmKind). */
export function immOf(kind: ImmKind, insn: number, sub: number): number {
  const i = insn;
  switch (kind) {
    case 'none':
      return 0;
    case 'sub':
      return sub;
    case 'raw':
      return i | 0;
    case 'csr':
      return bits(i, 31, 20);
    case 'I':
      return i >> 20;
    case 'S':
      return sext((bits(i, 31, 25) << 5) | bits(i, 11, 7), 12);
    case 'B':
      return sext((bits(i, 31, 31) << 12) | (bits(i, 7, 7) << 11) | (bits(i, 30, 25) << 5) | (bits(i, 11, 8) << 1), 13);
    case 'U':
      return i & ~0xfff;
    case 'J':
      return sext(
        (bits(i, 31, 31) << 20) | (bits(i, 19, 12) << 12) | (bits(i, 20, 20) << 11) | (bits(i, 30, 21) << 1),
        21,
      );
    case 'sh6':
      return bits(i, 25, 20);
    case 'sh5':
      return bits(i, 24, 20);
    case 'ci':
      return sext((bits(i, 12, 12) << 5) | bits(i, 6, 2), 6);
    case 'ciSh':
      return (bits(i, 12, 12) << 5) | bits(i, 6, 2);
    case 'ciLui':
      return sext((bits(i, 12, 12) << 17) | (bits(i, 6, 2) << 12), 18);
    case 'ci16sp':
      return sext(
        (bits(i, 12, 12) << 9) |
          (bits(i, 4, 3) << 7) |
          (bits(i, 5, 5) << 6) |
          (bits(i, 2, 2) << 5) |
          (bits(i, 6, 6) << 4),
        10,
      );
    case 'ciw':
      return (bits(i, 10, 7) << 6) | (bits(i, 12, 11) << 4) | (bits(i, 5, 5) << 3) | (bits(i, 6, 6) << 2);
    case 'clW':
      return (bits(i, 5, 5) << 6) | (bits(i, 12, 10) << 3) | (bits(i, 6, 6) << 2);
    case 'clD':
      return (bits(i, 6, 5) << 6) | (bits(i, 12, 10) << 3);
    case 'ciLwsp':
      return (bits(i, 3, 2) << 6) | (bits(i, 12, 12) << 5) | (bits(i, 6, 4) << 2);
    case 'ciLdsp':
      return (bits(i, 4, 2) << 6) | (bits(i, 12, 12) << 5) | (bits(i, 6, 5) << 3);
    case 'cssW':
      return (bits(i, 8, 7) << 6) | (bits(i, 12, 9) << 2);
    case 'cssD':
      return (bits(i, 9, 7) << 6) | (bits(i, 12, 10) << 3);
    case 'cj':
      return sext(
        (bits(i, 12, 12) << 11) |
          (bits(i, 8, 8) << 10) |
          (bits(i, 10, 9) << 8) |
          (bits(i, 6, 6) << 7) |
          (bits(i, 7, 7) << 6) |
          (bits(i, 2, 2) << 5) |
          (bits(i, 11, 11) << 4) |
          (bits(i, 5, 3) << 1),
        12,
      );
    case 'cb':
      return sext(
        (bits(i, 12, 12) << 8) |
          (bits(i, 6, 5) << 6) |
          (bits(i, 2, 2) << 5) |
          (bits(i, 11, 10) << 3) |
          (bits(i, 4, 3) << 1),
        9,
      );
  }
}

/** True when the entry's K_* constraints hold for insn. */
export function constraintsOk(when: number, insn: number): boolean {
  if ((when & K_RD_NZ) !== 0 && bits(insn, 11, 7) === 0) return false;
  if ((when & K_RD_NOT_SP) !== 0 && bits(insn, 11, 7) === 2) return false;
  if ((when & K_RS1_NZ) !== 0 && bits(insn, 19, 15) === 0) return false;
  if ((when & K_RS2_NZ) !== 0 && bits(insn, 24, 20) === 0) return false;
  if ((when & K_IMMI_NZ) !== 0 && insn >> 20 === 0) return false;
  if ((when & K_CRS2_NZ) !== 0 && bits(insn, 6, 2) === 0) return false;
  if ((when & K_CIMM6_NZ) !== 0 && bits(insn, 12, 12) === 0 && bits(insn, 6, 2) === 0) return false;
  if ((when & K_CIMM8_NZ) !== 0 && bits(insn, 12, 5) === 0) return false;
  return true;
}

/** True when insn (a 32-bit word, or a halfword for compressed forms) is an instance of e. */
export function matches(e: InsnForm, insn: number): boolean {
  if (e.compressed !== ((insn & 3) !== 3)) return false;
  const v = e.compressed ? insn & 0xffff : insn | 0;
  return (v & e.mask) === e.match && constraintsOk(e.when, v);
}

/** The entries insn is an instance of (exactly one for an implemented instruction, none otherwise). */
export function formsOf(insn: number): InsnForm[] {
  return ISA.filter((e) => matches(e, insn));
}
