/**
 * What the FPU needs from a hart. The Hart class implements this interface directly (same field
 * names), so FP instructions touch registers with no indirection.
 *
 * Register representation (shared with the integer core): a 64-bit register i is two 32-bit
 * halves, x[2*i] = low word, x[2*i+1] = high word (both as signed int32). f is the raw IEEE bit
 * pattern of each FP register in the same layout; single-precision values are NaN-boxed (high
 * word 0xffffffff).
 */
export interface FpContext {
  /** Integer registers, 64 int32 entries (lo/hi pairs). x0 must stay zero: never write rd = 0. */
  readonly x: Int32Array;
  /** FP registers, 64 int32 entries (raw bits, lo/hi pairs). */
  readonly f: Int32Array;
  /** fcsr.frm, the dynamic rounding mode (0..7; 5..7 make dynamic-rm instructions illegal). */
  frm: number;
  /** fcsr.fflags, accrued exception flags: NV=16, DZ=8, OF=4, UF=2, NX=1. The FPU ORs into it. */
  fflags: number;
  /** The hart's optional extensions (cpu-config.ts X_* bits; half precision checks Zfh/Zfhmin). Absent: all. */
  readonly ext?: number;
}
