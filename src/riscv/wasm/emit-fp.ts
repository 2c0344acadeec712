/**
 * F and D instructions for the WebAssembly tier (wasm-tier.ts calls in here for Op.FLW, FLD, FSW,
 * FSD and FP). The results and fflags are exactly the interpreter FPU's (fpu/execute.ts, which is
 * checked against qemu): translated code does only what it can prove exact and hands every other
 * case back to the interpreter unexecuted (kind 6: the interpreter runs that one instruction).
 *
 * State: the FP registers are int64s in the hart's state area (state-layout.ts ST_F; Hart.f is a
 * view on them). exec.ts writes MISC_FPMODE (frm when mstatus.FS is Dirty, else -1) before every
 * call into translated code, because mstatus and frm change only outside it; the page function
 * reads it once into a local. exec.ts also copies fflags to MISC_FFLAGS and back around every
 * call; the page function keeps them in a local (written back on exit) and skips every exactness
 * test while NX is already raised (flags accrue). Translated FP code needs FS = Dirty (FS Off must
 * trap, Initial/Clean must become Dirty: both are the interpreter's), and a dynamic rounding mode
 * that is round-to-nearest-even where the fast path depends on it.
 *
 * Fast paths (round to nearest even, the native wasm rounding; see docs/fpu.md for the proofs):
 *   - add/sub, mul, div, sqrt, fused multiply-add in both precisions, as the FPU's fast paths:
 *     add, mul and fma inline (branching to the hand-back when they cannot decide), div and sqrt
 *     as helper functions of the module that return NaN then (a translated instruction never
 *     produces a NaN: NaN operands and invalid operations fall back);
 *   - sign injection, moves, compares and fmin/fmax (NaN operands fall back), fcvt.d.s, fcvt.s.d,
 *     int -> float (inexact only in RNE), float -> int in RNE/RTZ/RDN/RUP within range;
 *   - FLW/FLD/FSW/FSD through the same inline TLB check as integer loads and stores.
 * Falls back: NaN and infinite operands, results near overflow/underflow (and zero results of
 * mul/div/sqrt from non-zero operands, div and sqrt of zero), improperly NaN-boxed singles in
 * arithmetic, inexact results in a directed rounding mode, RMM conversions, fclass, Zfh (fmt H),
 * reserved rounding modes, illegal encodings, FS not Dirty.
 */
import { FnBuilder, F64, I32, I64, W } from './emit.ts';
import { Op } from '../exec.ts';
import { ST_F, ST_X, ST_MISC, MISC_FPMODE, MISC_FFLAGS } from '../state-layout.ts';

/** What the tier lends the FP emitter for the instruction being emitted. */
export interface FpTierEnv {
  readonly f: FnBuilder;
  /** The state area's byte offset in memory. */
  readonly S: number;
  /** if (i32 condition on the stack) { hand this instruction back unexecuted (kind 6) } */
  bailIf(): void;
  /** Hand this instruction back unexecuted, from inside `extra` blocks opened by this file. */
  bail(extra: number): void;
  /**
   * Effective address of this load/store (decoded rs1 + imm) checked against the read or write
   * TLB for `size` bytes (a miss or a misaligned address bails); pushes the RAM byte address.
   */
  ramAddress(size: number, write: boolean): void;
}

/** True for the ops this file emits (the tier's `translated()` includes them). */
export function isFpOp(op: number): boolean {
  return op >= Op.FLW && op <= Op.FP;
}

const NX = 1;
const SIGN64_HI = -0x80000000;
const BOX_HI = -1;
const CNAN_S = 0x7fc00000;
const INF = Infinity;
const HIGH_SAFE_D = 2 ** 990;
const LOW_SAFE_D = 2 ** -960;
const FMA_LOW_D = 2 ** -900;
const MIN_NORMAL_S = 2 ** -126;
const MIN_NORMAL_D = 2 ** -1022;
const SPLIT = 134217729; // 2^27 + 1 (Veltkamp)
const I64_TRUNC_SAT_F64_S = 6;
const I64_TRUNC_SAT_F64_U = 7;

// Helper functions of the module, in this order after the tier's own functions.
const H_ADD_D = 0;
const H_MUL_D = 1;
const H_DIV_D = 2;
const H_SQRT_D = 3;
const H_FMA_D = 4;
const H_ADD_S = 5;
const H_MUL_S = 6;
const H_DIV_S = 7;
const H_SQRT_S = 8;
const H_FMA_S = 9;

/**
 * Emits FP instructions of one page. Create it (it declares its locals) only for pages that hold
 * FP ops, call `prologue` in the function's prologue and add `helpers(base)` to the module.
 */
export class FpEmitter {
  private readonly FPM: number;
  private readonly A: number;
  private readonly B: number;
  private readonly C: number;
  private readonly R: number;
  private readonly V: number;
  /** fflags (MISC_FFLAGS at entry, plus what this call raised; written back by `epilogue`). */
  private readonly FFL: number;
  private readonly env: FpTierEnv;
  private readonly f: FnBuilder;
  private readonly S: number;
  private readonly helperBase: number;
  /** Scratch locals of the inline fast paths, per kind. */
  private readonly pools: number[][] = [];

  constructor(env: FpTierEnv, helperBase: number) {
    this.env = env;
    this.f = env.f;
    this.S = env.S;
    this.helperBase = helperBase;
    const f = env.f;
    this.FPM = f.local(I32);
    this.A = f.local(F64);
    this.B = f.local(F64);
    this.C = f.local(F64);
    this.R = f.local(F64);
    this.V = f.local(I64);
    this.FFL = f.local(I32);
  }

  /**
   * Merges the flags into MISC_FFLAGS (in the page function's epilogue, which every exit passes;
   * helper functions OR into the word directly). A local rather than the memory word per
   * instruction: its read-modify-write made a chain of store-to-load forwarding through all FP
   * instructions.
   */
  epilogue(): void {
    orFlagsOf(this.f, this.S, () => this.f.get(this.FFL));
  }

  /** Reads MISC_FPMODE into a local (it cannot change while translated code runs). */
  prologue(): void {
    this.f
      .i32(0)
      .mem(W.i32_load, 2, this.S + ST_MISC + MISC_FPMODE * 4)
      .set(this.FPM);
    this.f
      .i32(0)
      .mem(W.i32_load, 2, this.S + ST_MISC + MISC_FFLAGS * 4)
      .set(this.FFL);
  }

  private fAt(r: number): number {
    return this.S + ST_F + 8 * r;
  }

  private xAt(r: number): number {
    return this.S + ST_X + 8 * r;
  }

  /** Bail unless FS is Dirty. */
  private needDirty(): void {
    this.f.get(this.FPM).i32(0).op(W.i32_lt_s);
    this.env.bailIf();
  }

  /**
   * Bail unless FS is Dirty and rounding mode rm is legal; returns false when rm is reserved
   * (the whole instruction then bails: the interpreter raises illegal-instruction).
   */
  private needLegal(rm: number): boolean {
    if (rm === 5 || rm === 6) return false;
    if (rm === 7) {
      this.f.get(this.FPM).i32(4).op(W.i32_gt_u);
      this.env.bailIf();
    } else this.needDirty();
    return true;
  }

  /** Bail unless FS is Dirty and the effective rounding mode is RNE; false when it cannot be. */
  private needRne(rm: number): boolean {
    if (rm === 7) {
      this.f.get(this.FPM);
      this.env.bailIf();
      return true;
    }
    if (rm !== 0) return false;
    this.needDirty();
    return true;
  }

  private bailAlways(): void {
    this.f.i32(1);
    this.env.bailIf();
  }

  /** A double operand into local l. */
  private loadD(r: number, l: number): void {
    this.f.i32(0).mem(W.f64_load, 3, this.fAt(r)).set(l);
  }

  /** A single operand, promoted, into local l; bails when it is not NaN-boxed. */
  private loadS(r: number, l: number): void {
    const f = this.f;
    f.i32(0).mem(W.i64_load, 3, this.fAt(r)).tee(this.V);
    f.i64(0, BOX_HI).op(W.i64_lt_u);
    this.env.bailIf();
    f.get(this.V).op(W.i32_wrap_i64, W.f32_reinterpret_i32, W.f64_promote_f32).set(l);
  }

  private load(dbl: boolean, r: number, l: number): void {
    if (dbl) this.loadD(r, l);
    else this.loadS(r, l);
  }

  /** Stores local R (a double, or a value exact as a single) to f[rd]. */
  private storeR(dbl: boolean, rd: number): void {
    const f = this.f;
    f.i32(0).get(this.R);
    if (!dbl) {
      f.op(W.f32_demote_f64, W.i32_reinterpret_f32, W.i64_extend_i32_u);
      f.i64(0, BOX_HI).op(W.i64_or);
      f.mem(W.i64_store, 3, this.fAt(rd));
    } else f.mem(W.f64_store, 3, this.fAt(rd));
  }

  /**
   * R = fast path h on the operands in A, B, C and store it to f[rd]; bail when the fast path
   * cannot decide (a helper function returns NaN then; inline code branches to the bail).
   */
  private callStore(h: number, dbl: boolean, rd: number): void {
    const f = this.f;
    if (INLINE[h]) {
      // block $done (block $bail (block $res (result f64) body) R = ...; store; br $done) bail
      f.open(W.block).open(W.block).open(W.block, F64);
      this.pools[h] ??= [];
      fastPath(h, new Body(f, this.A, this.B, this.C, true, this.pools[h], this.FFL), this.S);
      f.end().set(this.R);
      this.storeR(dbl, rd);
      f.br(1).end();
      this.env.bail(1);
      f.end();
      return;
    }
    const n = ARITY[h]!;
    f.get(this.A);
    if (n > 1) f.get(this.B);
    if (n > 2) f.get(this.C);
    f.call(helperIndex(this.helperBase, h));
    f.tee(this.R).get(this.R).op(W.f64_ne);
    this.env.bailIf();
    this.storeR(dbl, rd);
  }

  /** Stores the i64 on the stack's top to x[rd] (dropped for x0). */
  private setX(rd: number): void {
    const f = this.f;
    if (rd === 0) {
      f.op(W.drop);
      return;
    }
    f.set(this.V).i32(0).get(this.V).mem(W.i64_store, 3, this.xAt(rd));
  }

  /** A single register's low word, or the canonical NaN when it is not NaN-boxed (i32). */
  private boxedOrCnan(r: number): void {
    const f = this.f;
    f.i32(0).mem(W.i64_load, 3, this.fAt(r)).tee(this.V).op(W.i32_wrap_i64).i32(CNAN_S);
    f.get(this.V).i64(0, BOX_HI).op(W.i64_ge_u, W.select);
  }

  /**
   * Emits Op.FLW/FLD/FSW/FSD (decoded fields: fd = 2 rd for loads, fs = 2 rs2 for stores) or Op.FP
   * (insn: the instruction word).
   */
  emit(op: number, fd: number, fs: number, insn: number): void {
    const f = this.f;
    switch (op) {
      case Op.FLW:
      case Op.FLD: {
        this.needDirty();
        const dbl = op === Op.FLD;
        this.env.ramAddress(dbl ? 8 : 4, false);
        if (dbl) f.mem(W.i64_load, 3, 0);
        else f.mem(W.i64_load32_u, 2, 0).i64(0, BOX_HI).op(W.i64_or);
        f.set(this.V)
          .i32(0)
          .get(this.V)
          .mem(W.i64_store, 3, this.fAt(fd >> 1));
        return;
      }
      case Op.FSW:
      case Op.FSD: {
        this.needDirty();
        const dbl = op === Op.FSD;
        this.env.ramAddress(dbl ? 8 : 4, true);
        f.i32(0).mem(W.i64_load, 3, this.fAt(fs >> 1));
        f.mem(dbl ? W.i64_store : W.i64_store32, dbl ? 3 : 2, 0);
        return;
      }
    }
    if (!this.fp(insn)) this.bailAlways();
  }

  /** An OP-FP or fused multiply-add word; false when it is not translated at all. */
  private fp(insn: number): boolean {
    const f = this.f;
    const op7 = insn & 0x7f;
    const fmt = (insn >>> 25) & 3;
    if (fmt > 1) return false; // H (Zfh) and Q
    const dbl = fmt === 1;
    const rd = (insn >>> 7) & 31;
    const rs1 = (insn >>> 15) & 31;
    const rs2 = (insn >>> 20) & 31;
    const rm = (insn >>> 12) & 7;
    if (op7 !== 0x53) {
      // fmadd (0x43) a*b+c, fmsub (0x47) a*b-c, fnmsub (0x4b) -a*b+c, fnmadd (0x4f) -a*b-c
      if (!this.needRne(rm)) return false;
      this.load(dbl, rs1, this.A);
      this.load(dbl, rs2, this.B);
      this.load(dbl, insn >>> 27, this.C);
      if (op7 === 0x4b || op7 === 0x4f) f.get(this.A).op(W.f64_neg).set(this.A);
      if (op7 === 0x47 || op7 === 0x4f) f.get(this.C).op(W.f64_neg).set(this.C);
      this.callStore(dbl ? H_FMA_D : H_FMA_S, dbl, rd);
      return true;
    }
    const funct5 = insn >>> 27;
    switch (funct5) {
      case 0x00: // fadd
      case 0x01: // fsub
      case 0x02: // fmul
      case 0x03: // fdiv
        if (!this.needRne(rm)) return false;
        this.load(dbl, rs1, this.A);
        this.load(dbl, rs2, this.B);
        if (funct5 === 0x01) f.get(this.B).op(W.f64_neg).set(this.B);
        this.callStore(
          funct5 <= 1 ? (dbl ? H_ADD_D : H_ADD_S) : funct5 === 2 ? (dbl ? H_MUL_D : H_MUL_S) : dbl ? H_DIV_D : H_DIV_S,
          dbl,
          rd,
        );
        return true;
      case 0x0b: // fsqrt
        if (rs2 !== 0 || !this.needRne(rm)) return false;
        this.load(dbl, rs1, this.A);
        this.callStore(dbl ? H_SQRT_D : H_SQRT_S, dbl, rd);
        return true;
      case 0x04: {
        // fsgnj (0), fsgnjn (1), fsgnjx (2): bit operations
        if (rm > 2) return false;
        this.needDirty();
        f.i32(0);
        if (dbl) {
          f.i32(0).mem(W.i64_load, 3, this.fAt(rs1));
          if (rm !== 2) f.i64(-1, 0x7fffffff).op(W.i64_and);
          f.i32(0).mem(W.i64_load, 3, this.fAt(rs2));
          if (rm === 1) f.i64(-1).op(W.i64_xor);
          f.i64(0, SIGN64_HI).op(W.i64_and, rm === 2 ? W.i64_xor : W.i64_or);
        } else {
          this.boxedOrCnan(rs1);
          if (rm !== 2) f.i32(0x7fffffff).op(W.i32_and);
          this.boxedOrCnan(rs2);
          if (rm === 1) f.i32(-1).op(W.i32_xor);
          f.i32(-0x80000000).op(W.i32_and, rm === 2 ? W.i32_xor : W.i32_or);
          f.op(W.i64_extend_i32_u).i64(0, BOX_HI).op(W.i64_or);
        }
        f.mem(W.i64_store, 3, this.fAt(rd));
        return true;
      }
      case 0x05: // fmin (0), fmax (1): NaN operands fall back; wasm orders -0 < +0 as RISC-V
        if (rm > 1) return false;
        this.needDirty();
        this.load(dbl, rs1, this.A);
        this.load(dbl, rs2, this.B);
        f.get(this.A).get(this.A).op(W.f64_ne).get(this.B).get(this.B).op(W.f64_ne, W.i32_or);
        this.env.bailIf();
        f.get(this.A)
          .get(this.B)
          .op(rm === 0 ? W.f64_min : W.f64_max)
          .set(this.R);
        this.storeR(dbl, rd);
        return true;
      case 0x14: // fle (0), flt (1), feq (2): NaN operands fall back
        if (rm > 2) return false;
        this.needDirty();
        this.load(dbl, rs1, this.A);
        this.load(dbl, rs2, this.B);
        f.get(this.A).get(this.A).op(W.f64_ne).get(this.B).get(this.B).op(W.f64_ne, W.i32_or);
        this.env.bailIf();
        f.get(this.A)
          .get(this.B)
          .op(rm === 0 ? W.f64_le : rm === 1 ? W.f64_lt : W.f64_eq, W.i64_extend_i32_u);
        this.setX(rd);
        return true;
      case 0x08: // fcvt.s.d (fmt S, rs2 1), fcvt.d.s (fmt D, rs2 0)
        if (rs2 !== (dbl ? 0 : 1) || !this.needLegal(rm)) return false;
        if (dbl) {
          this.loadS(rs1, this.R);
          f.get(this.R).get(this.R).op(W.f64_ne); // NaN: canonical result, NV for sNaN
          this.env.bailIf();
          this.storeR(true, rd);
          return true;
        }
        this.loadD(rs1, this.A);
        f.get(this.A).op(W.f32_demote_f64, W.f64_promote_f32).set(this.R);
        // Decidable here: a finite normal single result, or a zero from a zero.
        f.get(this.R).op(W.f64_abs).f64(INF).op(W.f64_lt);
        f.get(this.R).op(W.f64_abs).f64(MIN_NORMAL_S).op(W.f64_gt);
        f.get(this.A).f64(0).op(W.f64_eq, W.i32_or, W.i32_and, W.i32_eqz);
        this.env.bailIf();
        this.inexactIf(rm, () => f.get(this.R).get(this.A).op(W.f64_ne));
        this.storeR(false, rd);
        return true;
      case 0x18: // fcvt.{w,wu,l,lu}.{s,d}
        if (rs2 > 3) return false;
        return this.floatToInt(dbl, rd, rs1, rs2, rm);
      case 0x1a: // fcvt.{s,d}.{w,wu,l,lu}
        if (rs2 > 3 || !this.needLegal(rm)) return false;
        this.intToFloat(dbl, rd, rs1, rs2, rm);
        return true;
      case 0x1c: // fmv.x.w / fmv.x.d (funct3 0); fclass (1) is the interpreter's
        if (rs2 !== 0 || rm !== 0) return false;
        this.needDirty();
        if (dbl) f.i32(0).mem(W.i64_load, 3, this.fAt(rs1));
        else f.i32(0).mem(W.i64_load32_s, 2, this.fAt(rs1));
        this.setX(rd);
        return true;
      case 0x1e: // fmv.w.x / fmv.d.x
        if (rs2 !== 0 || rm !== 0) return false;
        this.needDirty();
        f.i32(0);
        if (rs1 === 0) f.i64(0);
        else f.i32(0).mem(W.i64_load, 3, this.xAt(rs1));
        if (!dbl) f.i64(-1, 0).op(W.i64_and).i64(0, BOX_HI).op(W.i64_or);
        f.mem(W.i64_store, 3, this.fAt(rd));
        return true;
    }
    return false;
  }

  /**
   * The result is inexact when the i32 pushed by `cond` is 1: raise NX if the rounding mode is
   * RNE (which the native conversion used), else bail (static directed modes; a dynamic mode
   * other than RNE). Needs FS Dirty checked already.
   */
  private inexactIf(rm: number, cond: () => void): void {
    const f = this.f;
    if (rm === 0) {
      this.orFlags(cond);
      return;
    }
    cond();
    if (rm === 7) f.get(this.FPM).i32(0).op(W.i32_ne, W.i32_and); // inexact and not RNE
    this.env.bailIf();
    if (rm === 7) this.orFlags(cond);
  }

  /** fflags |= the i32 (0 or NX) that push leaves. */
  private orFlags(push: () => void): void {
    this.f.get(this.FFL);
    push();
    this.f.op(W.i32_or).set(this.FFL);
  }

  private intToFloat(dbl: boolean, rd: number, rs1: number, kind: number, rm: number): void {
    const f = this.f;
    // The source as an i64 (w: sign-extended, wu: zero-extended low word).
    const src = () => {
      if (rs1 === 0) f.i64(0);
      else if (kind === 0) f.i32(0).mem(W.i64_load32_s, 2, this.xAt(rs1));
      else if (kind === 1) f.i32(0).mem(W.i64_load32_u, 2, this.xAt(rs1));
      else f.i32(0).mem(W.i64_load, 3, this.xAt(rs1));
    };
    const unsigned = kind === 3;
    if (dbl && kind < 2) {
      src();
      f.op(W.f64_convert_i64_s).set(this.R); // exact
      this.storeR(true, rd);
      return;
    }
    // Round (natively, to nearest even) then check exactness by converting back.
    src();
    if (dbl) f.op(unsigned ? W.f64_convert_i64_u : W.f64_convert_i64_s);
    else f.op(unsigned ? W.f32_convert_i64_u : W.f32_convert_i64_s, W.f64_promote_f32);
    f.set(this.R);
    this.inexactIf(rm, () => {
      // inexact = !(R < 2^63 (2^64 unsigned) && trunc_sat(R) === source)
      f.get(this.R)
        .f64(unsigned ? 2 ** 64 : 2 ** 63)
        .op(W.f64_lt);
      f.get(this.R).op(0xfc, unsigned ? I64_TRUNC_SAT_F64_U : I64_TRUNC_SAT_F64_S);
      src();
      f.op(W.i64_eq, W.i32_and, W.i32_eqz);
    });
    this.storeR(dbl, rd);
  }

  private floatToInt(dbl: boolean, rd: number, rs1: number, kind: number, rm: number): boolean {
    const f = this.f;
    let round: number;
    if (rm === 0 || rm === 7) round = W.f64_nearest;
    else if (rm === 1) round = W.f64_trunc;
    else if (rm === 2) round = W.f64_floor;
    else if (rm === 3) round = W.f64_ceil;
    else return false; // RMM, reserved
    if (rm === 7) {
      if (!this.needRne(7)) return false;
    } else this.needDirty();
    this.load(dbl, rs1, this.A);
    f.get(this.A).op(round).set(this.R);
    // In range (NaN is not): w [-2^31, 2^31-1], wu [0, 2^32-1] (-0 included), l [-2^63, 2^63), lu [0, 2^64)
    const lo = kind === 0 ? -(2 ** 31) : kind === 2 ? -(2 ** 63) : 0;
    f.get(this.R).f64(lo).op(W.f64_ge);
    f.get(this.R);
    if (kind === 0) f.f64(2 ** 31 - 1).op(W.f64_le);
    else if (kind === 1) f.f64(2 ** 32 - 1).op(W.f64_le);
    else f.f64(kind === 2 ? 2 ** 63 : 2 ** 64).op(W.f64_lt);
    f.op(W.i32_and, W.i32_eqz);
    this.env.bailIf();
    this.orFlags(() => f.get(this.R).get(this.A).op(W.f64_ne));
    f.get(this.R).op(kind === 0 || kind === 2 ? W.i64_trunc_f64_s : W.i64_trunc_f64_u);
    if (kind === 1) f.op(W.i32_wrap_i64, W.i64_extend_i32_s); // 32-bit results are sign-extended
    this.setX(rd);
    return true;
  }
}

/** fflags |= the i32 (0 or NX) that push leaves. */
function orFlagsOf(f: FnBuilder, S: number, push: () => void): void {
  const at = S + ST_MISC + MISC_FFLAGS * 4;
  f.i32(0).i32(0).mem(W.i32_load, 2, at);
  push();
  f.op(W.i32_or).mem(W.i32_store, 2, at);
}

// ---- the fast paths: each yields its result or NaN (cannot decide here) ----

/**
 * Where a fast path's code goes: a helper function of the module (operands are its parameters,
 * results are returned), or inline in the page function (operands in the caller's locals, the
 * body in a `block (result f64)` that "return" branches out of). Inline is faster — V8 spills the
 * page function's live registers around every call — but bigger, so only the small, frequent
 * paths are inlined (INLINE below).
 */
class Body {
  readonly f: FnBuilder;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  /** Blocks opened by the body so far (inline: the depth of its result block). */
  private depth = 0;
  private readonly inline: boolean;
  private readonly pool: number[];
  private used = 0;

  /** Inline: the page function's fflags local (helpers OR into MISC_FFLAGS). */
  private readonly ffl: number;

  constructor(f: FnBuilder, a: number, b: number, c: number, inline: boolean, pool: number[], ffl = -1) {
    this.ffl = ffl;
    this.f = f;
    this.a = a;
    this.b = b;
    this.c = c;
    this.inline = inline;
    this.pool = pool;
  }

  /** A scratch local (inline bodies of one kind share theirs across a page's instructions). */
  local(t: typeof F64 | typeof I64): number {
    if (!this.inline) return this.f.local(t);
    if (this.used === this.pool.length) this.pool.push(this.f.local(t));
    return this.pool[this.used++]!;
  }

  /** `if` on the i32 on the stack. */
  open(): void {
    this.f.open(W.if);
    this.depth++;
  }

  close(): void {
    this.f.end();
    this.depth--;
  }

  /** Returns the f64 on the stack. */
  ret(): void {
    if (this.inline) this.f.br(this.depth);
    else this.f.op(W.return);
  }

  /**
   * fflags |= the i32 (0 or NX) that push leaves, computed only while NX is not yet raised: the
   * flags accrue, so once NX is set (nearly always, in real FP code) no exactness test is needed.
   */
  nx(push: () => void, S: number, guard?: () => void): void {
    const f = this.f;
    const at = S + ST_MISC + MISC_FFLAGS * 4;
    if (this.inline) f.get(this.ffl);
    else f.i32(0).mem(W.i32_load, 2, at);
    f.i32(NX).op(W.i32_and, W.i32_eqz);
    this.open();
    // What the exactness test itself needs (e.g. no overflow in its error terms), else undecided.
    if (guard) {
      guard();
      this.nanIf();
    }
    if (this.inline) {
      f.get(this.ffl);
      push();
      f.op(W.i32_or).set(this.ffl);
    } else orFlagsOf(f, S, push);
    this.close();
  }

  /**
   * if (i32 on the stack) "undecided": a helper function returns NaN; an inline body branches to
   * the bail block around its result block (emitter.callStore).
   */
  nanIf(): void {
    if (this.inline) {
      this.f.brIf(this.depth + 1);
      return;
    }
    this.open();
    this.f.f64(NaN);
    this.ret();
    this.close();
  }
}

/** |l| < 2^990 (i32). */
function belowHigh(f: FnBuilder, l: number): void {
  f.get(l).op(W.f64_abs).f64(HIGH_SAFE_D).op(W.f64_lt);
}

/** low <= |l| < 2^990 (i32). */
function inSafe(f: FnBuilder, l: number, low: number): void {
  f.get(l).op(W.f64_abs).f64(low).op(W.f64_ge);
  f.get(l).op(W.f64_abs).f64(HIGH_SAFE_D).op(W.f64_lt, W.i32_and);
}

/** Locals for Dekker's product error. */
interface TwoProd {
  t: number;
  ah: number;
  al: number;
  bh: number;
  bl: number;
}

function twoProdLocals(x: Body): TwoProd {
  return { t: x.local(F64), ah: x.local(F64), al: x.local(F64), bh: x.local(F64), bl: x.local(F64) };
}

/** Pushes the exact error of p = a * b (Veltkamp split, Dekker), as fpu/exact.ts twoProd. */
function twoProdErr(f: FnBuilder, L: TwoProd, a: number, b: number, p: number): void {
  f.f64(SPLIT).get(a).op(W.f64_mul).tee(L.t).get(L.t).get(a).op(W.f64_sub, W.f64_sub).set(L.ah);
  f.get(a).get(L.ah).op(W.f64_sub).set(L.al);
  f.f64(SPLIT).get(b).op(W.f64_mul).tee(L.t).get(L.t).get(b).op(W.f64_sub, W.f64_sub).set(L.bh);
  f.get(b).get(L.bh).op(W.f64_sub).set(L.bl);
  // ((((ah*bh - p) + ah*bl) + al*bh) + al*bl), the same order as exact.ts
  f.get(L.ah).get(L.bh).op(W.f64_mul).get(p).op(W.f64_sub);
  f.get(L.ah).get(L.bl).op(W.f64_mul, W.f64_add);
  f.get(L.al).get(L.bh).op(W.f64_mul, W.f64_add);
  f.get(L.al).get(L.bl).op(W.f64_mul, W.f64_add);
}

/** Pushes the 2Sum error of r = RN(a + b): (a - (r - bb)) + (b - bb), bb = r - a. */
function twoSumErr(f: FnBuilder, a: number, b: number, r: number, bb: number): void {
  f.get(r).get(a).op(W.f64_sub).set(bb);
  f.get(a).get(r).get(bb).op(W.f64_sub, W.f64_sub);
  f.get(b).get(bb).op(W.f64_sub, W.f64_add);
}

/** Operands of each fast path (H_* order). */
const ARITY = [2, 2, 2, 1, 3, 2, 2, 2, 1, 3];
/** Fast paths emitted inline (the others are helper functions). */
const INLINE = [true, true, false, false, true, true, true, false, false, true];

/**
 * Emits fast path h: leaves its f64 result, or NaN when it cannot decide; ORs NX into fflags
 * (state area at S).
 */
function fastPath(h: number, x: Body, S: number): void {
  const f = x.f;
  const nxIf = (push: () => void, guard?: () => void) => x.nx(push, S, guard);
  /** i32: lo < |l| < hi */
  const absIn = (l: number, lo: number, hi: number) => {
    f.get(l).op(W.f64_abs).f64(lo).op(W.f64_gt);
    f.get(l).op(W.f64_abs).f64(hi).op(W.f64_lt, W.i32_and);
  };
  const { a, b, c } = x;
  const demoted = (l: number, to: number) => f.get(l).op(W.f32_demote_f64, W.f64_promote_f32).set(to);
  const finite = (l: number) => f.get(l).op(W.f64_abs).f64(INF).op(W.f64_lt);
  switch (h) {
    case H_ADD_D: {
      const r = x.local(F64);
      const bb = x.local(F64);
      // A finite sum did not overflow (RNE overflows to infinity); sums never underflow
      // inexactly. Only the 2Sum of the NX test needs magnitudes below 2^990.
      f.get(a).get(b).op(W.f64_add).tee(r).op(W.f64_abs).f64(INF).op(W.f64_lt, W.i32_eqz);
      x.nanIf();
      nxIf(
        () => {
          twoSumErr(f, a, b, r, bb);
          f.f64(0).op(W.f64_ne);
        },
        () => {
          belowHigh(f, r);
          belowHigh(f, a);
          f.op(W.i32_and, W.i32_eqz);
        },
      );
      f.get(r);
      return;
    }
    case H_MUL_D: {
      const r = x.local(F64);
      const L = twoProdLocals(x);
      f.get(a).get(b).op(W.f64_mul).tee(r).f64(0).op(W.f64_eq);
      x.open();
      // A zero product: exact from a zero operand, else an underflow.
      f.get(a).f64(0).op(W.f64_ne).get(b).f64(0).op(W.f64_ne, W.i32_and);
      x.nanIf();
      f.get(r);
      x.ret();
      x.close();
      // Normal and finite: no overflow, and not tiny (so no underflow). Dekker's error terms
      // need more room, but only while NX is still clear.
      absIn(r, MIN_NORMAL_D, INF);
      f.op(W.i32_eqz);
      x.nanIf();
      nxIf(
        () => {
          twoProdErr(f, L, a, b, r);
          f.f64(0).op(W.f64_ne);
        },
        () => {
          inSafe(f, r, LOW_SAFE_D);
          belowHigh(f, a);
          belowHigh(f, b);
          f.op(W.i32_and, W.i32_and, W.i32_eqz);
        },
      );
      f.get(r);
      return;
    }
    case H_DIV_D: {
      const q = x.local(F64);
      const p = x.local(F64);
      const L = twoProdLocals(x);
      // A normal finite quotient: no overflow, underflow, division by zero or NaN.
      f.get(a).get(b).op(W.f64_div).set(q);
      absIn(q, MIN_NORMAL_D, INF);
      f.op(W.i32_eqz);
      x.nanIf();
      nxIf(
        () => {
          f.get(a).get(q).get(b).op(W.f64_mul).tee(p).op(W.f64_sub).f64(0).op(W.f64_ne);
          twoProdErr(f, L, q, b, p);
          f.f64(0).op(W.f64_ne, W.i32_or);
        },
        () => {
          inSafe(f, a, LOW_SAFE_D);
          inSafe(f, b, LOW_SAFE_D);
          inSafe(f, q, LOW_SAFE_D);
          f.op(W.i32_and, W.i32_and, W.i32_eqz);
        },
      );
      f.get(q);
      return;
    }
    case H_SQRT_D: {
      const s = x.local(F64);
      const p = x.local(F64);
      const L = twoProdLocals(x);
      // 0 < a < infinity (negative operands are invalid, zeros keep their sign: the
      // interpreter's); the root of a positive double is normal and finite.
      f.get(a).f64(0).op(W.f64_gt).get(a).f64(INF).op(W.f64_lt, W.i32_and, W.i32_eqz);
      x.nanIf();
      f.get(a).op(W.f64_sqrt).set(s);
      nxIf(
        () => {
          f.get(a).get(s).get(s).op(W.f64_mul).tee(p).op(W.f64_sub).f64(0).op(W.f64_ne);
          twoProdErr(f, L, s, s, p);
          f.f64(0).op(W.f64_ne, W.i32_or);
        },
        () => f.get(a).f64(LOW_SAFE_D).op(W.f64_ge).get(a).f64(HIGH_SAFE_D).op(W.f64_lt, W.i32_and, W.i32_eqz),
      );
      f.get(s);
      return;
    }
    case H_FMA_D: {
      // Boldo & Melquiond, as fpu/execute.ts fastFmaD
      const ph = x.local(F64);
      const pl = x.local(F64);
      const th = x.local(F64);
      const tl = x.local(F64);
      const s = x.local(F64);
      const e = x.local(F64);
      const v = x.local(F64);
      const z = x.local(F64);
      const bb = x.local(F64);
      const bits = x.local(I64);
      const L = twoProdLocals(x);
      // 2^-900 <= |ph| < 2^990 keeps Dekker's error term exact. Operands too large for the
      // Veltkamp split, or a huge or non-finite c, make the later values infinite or NaN, which
      // the check of z below rejects (so they need no test of their own here).
      f.get(a).get(b).op(W.f64_mul).set(ph);
      inSafe(f, ph, FMA_LOW_D);
      f.op(W.i32_eqz);
      x.open();
      // A zero product from a zero operand: ph + c is exact (IEEE's signed-zero sum rule in RNE).
      f.get(ph).f64(0).op(W.f64_eq);
      f.get(a).f64(0).op(W.f64_eq).get(b).f64(0).op(W.f64_eq, W.i32_or, W.i32_and);
      f.get(c).op(W.f64_abs).f64(INF).op(W.f64_lt, W.i32_and, W.i32_eqz);
      x.nanIf();
      f.get(ph).get(c).op(W.f64_add);
      x.ret();
      x.close();
      twoProdErr(f, L, a, b, ph);
      f.set(pl);
      f.get(c).get(ph).op(W.f64_add).set(th);
      twoSumErr(f, c, ph, th, bb);
      f.set(tl);
      f.get(tl).get(pl).op(W.f64_add).set(s);
      twoSumErr(f, tl, pl, s, bb);
      f.set(e);
      // Round s to odd when inexact (e != 0): truncate (s's bits minus one when s overshot the
      // exact tl + pl, i.e. e and s differ in sign; sign-magnitude bits step toward zero) and set
      // the last bit, which picks the odd one of the two doubles around tl + pl. Branch-free: the
      // conditions are data-dependent coin flips in real code.
      f.get(s).op(W.i64_reinterpret_f64).tee(bits);
      f.get(e).op(W.i64_reinterpret_f64).get(bits).op(W.i64_xor).i64(63).op(W.i64_shr_u, W.i64_sub);
      f.i64(1).op(W.i64_or);
      f.get(bits);
      f.get(e).f64(0).op(W.f64_ne, W.select, W.f64_reinterpret_i64).set(v);
      f.get(th).get(v).op(W.f64_add).set(z);
      inSafe(f, z, FMA_LOW_D);
      f.op(W.i32_eqz);
      x.nanIf();
      nxIf(() => {
        f.get(e).f64(0).op(W.f64_ne);
        twoSumErr(f, th, v, z, bb);
        f.f64(0).op(W.f64_ne, W.i32_or);
      });
      f.get(z);
      return;
    }
    case H_ADD_S: {
      // Sums of singles never underflow inexactly (tiny sums are exact).
      const r = x.local(F64);
      const fr = x.local(F64);
      const bb = x.local(F64);
      f.get(a).get(b).op(W.f64_add).set(r);
      demoted(r, fr);
      finite(fr);
      f.op(W.i32_eqz);
      x.nanIf();
      nxIf(() => {
        f.get(fr).get(r).op(W.f64_ne);
        twoSumErr(f, a, b, r, bb);
        f.f64(0).op(W.f64_ne, W.i32_or);
      });
      f.get(fr);
      return;
    }
    case H_MUL_S: {
      // The double product of two singles is exact.
      const r = x.local(F64);
      const fr = x.local(F64);
      f.get(a).get(b).op(W.f64_mul).set(r);
      demoted(r, fr);
      finite(fr);
      f.op(W.i32_eqz);
      x.nanIf();
      f.get(fr).get(r).op(W.f64_ne);
      x.open();
      f.get(r).op(W.f64_abs).f64(MIN_NORMAL_S).op(W.f64_lt); // possible underflow
      x.nanIf();
      x.close();
      nxIf(() => f.get(fr).get(r).op(W.f64_ne));
      f.get(fr);
      return;
    }
    case H_DIV_S: {
      const fr = x.local(F64);
      f.get(a).get(b).op(W.f64_div).op(W.f32_demote_f64, W.f64_promote_f32).set(fr);
      finite(fr);
      f.op(W.i32_eqz);
      x.nanIf();
      f.get(fr).f64(0).op(W.f64_eq);
      x.open();
      f.get(a).f64(0).op(W.f64_ne);
      x.nanIf();
      f.get(fr);
      x.ret();
      x.close();
      f.get(fr).op(W.f64_abs).f64(MIN_NORMAL_S).op(W.f64_gt, W.i32_eqz);
      x.nanIf();
      nxIf(() => f.get(fr).get(b).op(W.f64_mul).get(a).op(W.f64_ne)); // fr * b is exact
      f.get(fr);
      return;
    }
    case H_SQRT_S: {
      const fr = x.local(F64);
      f.get(a).f64(0).op(W.f64_ge);
      finite(a);
      f.op(W.i32_and, W.i32_eqz);
      x.nanIf();
      f.get(a).op(W.f64_sqrt, W.f32_demote_f64, W.f64_promote_f32).set(fr);
      nxIf(() => f.get(fr).get(fr).op(W.f64_mul).get(a).op(W.f64_ne));
      f.get(fr);
      return;
    }
    default: {
      // H_FMA_S, as fpu/execute.ts fastFmaS
      const p = x.local(F64);
      const r = x.local(F64);
      const err = x.local(F64);
      const fr = x.local(F64);
      const m = x.local(F64);
      const bb = x.local(F64);
      f.get(a).get(b).op(W.f64_mul).set(p);
      f.get(p).get(c).op(W.f64_add).set(r);
      twoSumErr(f, p, c, r, bb);
      f.set(err);
      f.get(r).f64(0).op(W.f64_eq);
      x.open();
      f.get(err).f64(0).op(W.f64_ne);
      f.get(p).get(p).op(W.f64_ne, W.i32_or);
      f.get(c).get(c).op(W.f64_ne, W.i32_or);
      x.nanIf();
      f.get(r);
      x.ret();
      x.close();
      inSafe(f, r, 2 ** -125);
      f.get(r)
        .op(W.f64_abs)
        .f64(2 ** 127)
        .op(W.f64_lt, W.i32_and, W.i32_eqz);
      x.nanIf();
      demoted(r, fr);
      f.get(err).f64(0).op(W.f64_ne);
      f.open(W.if);
      nxIf(() => f.i32(NX));
      f.get(fr).get(r).op(W.f64_ne);
      f.open(W.if);
      // r may be a midpoint between fr and m, its other neighbour: err breaks the tie.
      f.get(r).get(r).get(fr).op(W.f64_sub, W.f64_add).set(m);
      f.get(m).op(W.f32_demote_f64, W.f64_promote_f32).get(m).op(W.f64_eq);
      f.get(err).f64(0).op(W.f64_gt).get(m).get(fr).op(W.f64_gt, W.i32_eq, W.i32_and);
      f.open(W.if).get(m).set(fr).end();
      f.end();
      f.op(W.else);
      nxIf(() => f.get(fr).get(r).op(W.f64_ne));
      f.end();
      f.get(fr);
      return;
    }
  }
}

/** The helper functions of the fast paths that are not inlined, for the module (H_* order). */
export function fpHelpers(S: number): FnBuilder[] {
  const out: FnBuilder[] = [];
  for (let h = 0; h < ARITY.length; h++) {
    if (INLINE[h]) continue;
    const n = ARITY[h]!;
    const f = new FnBuilder(n === 1 ? [F64] : n === 2 ? [F64, F64] : [F64, F64, F64], [F64]);
    fastPath(h, new Body(f, 0, 1, 2, false, []), S);
    f.end();
    out.push(f);
  }
  return out;
}

/** Function index (after the module's first `base` functions) of the helper for fast path h. */
function helperIndex(base: number, h: number): number {
  let i = base;
  for (let k = 0; k < h; k++) if (!INLINE[k]) i++;
  return i;
}
