/**
 * What the interpreter loop (exec.ts) and the translation tier (jit.ts) need of a hart. The Hart
 * class implements this interface directly (same field names, as with FpContext), so the hot loop
 * touches the hart's own fields with no indirection; the interface only lets exec.ts and jit.ts
 * be type-checked without importing hart.ts, which imports them.
 *
 * Register and address representation: 64-bit values are lo/hi int32 pairs (see FpContext).
 */
import type { Bus } from '../memory/bus.ts';
import type { FpContext } from './fpu/context.ts';

/**
 * A translated code window (jit.ts): runs from byte offset p of its page (virtual base vLo/vHi)
 * with budget n and returns a kind; the contract is in jit.ts's header.
 */
export type JitWindow = (p: number, n: number, vLo: number, vHi: number) => number;

export interface ExecContext extends FpContext {
  /** Integer registers, then a translated window's results (state-layout.ts X_*). */
  readonly x: Int32Array;
  /** State words shared with translated wasm code (state-layout.ts MISC_*). */
  readonly stMisc: Int32Array;
  readonly bus: Bus;

  pcLo: number;
  pcHi: number;
  /** Idle after WFI: the loop stops. */
  readonly waiting: boolean;
  /** mstatus low word (the loop sets FS dirty). */
  mstatus: number;
  readonly mip: number;
  readonly mie: number;
  /** Optional extensions implemented (CpuConfig.ext, X_* bits). */
  readonly ext: number;

  // ---- translation caches (TLB_SIZE entries each) and the keys XOR-ed into their tags ----
  readonly rTagLo: Int32Array;
  readonly rTagHi: Int32Array;
  readonly rOff: Int32Array;
  readonly wTagLo: Int32Array;
  readonly wTagHi: Int32Array;
  readonly wOff: Int32Array;
  readonly xTagLo: Int32Array;
  readonly xTagHi: Int32Array;
  readonly xOff: Int32Array;
  readonly dkey: number;
  readonly ikey: number;

  /** Decoded instruction pages, indexed by RAM page number. */
  readonly pages: (Int32Array | undefined)[];

  // ---- translation tier ----
  /** Translated windows per RAM page (undefined: not translated). */
  readonly jit: ((JitWindow | undefined)[] | undefined)[];
  /** Instructions interpreted per window since it was (re)decoded. */
  readonly jitHeat: Int32Array;
  readonly jitThreshold: number;
  readonly jitFastThreshold: number;
  /** Instructions run inside translated windows, for profiles (the budget each window used). */
  jitRan: number;

  // ---- run bookkeeping ----
  runTraps: number;
  runLeft: number;
  /** Result of the slow-path load. */
  readonly ldLo: number;
  readonly ldHi: number;

  /** Sets pc = (vLo,vHi) + off with carry into the high word. */
  setPcRel(vLo: number, vHi: number, off: number): void;
  /** Takes the highest-priority pending and enabled interrupt, if any. */
  takeInterrupt(): boolean;
  /** Fetch-TLB miss for pc: returns 1 (filled, retry), 2 (fetch via slowFetch), 0 (trap taken). */
  fetchMiss(): number;
  /** Fetches and decodes the instruction at pc without the page cache (page-crossing or MMIO). */
  slowFetch(): Int32Array | null;
  /** A fresh decoded page for RAM page ramPage. */
  newCodePage(ramPage: number): Int32Array;
  /** Decodes slot p of a page (at RAM offset pageOff) on first execution. */
  decodeSlot(code: Int32Array, pageOff: number, p: number): void;
  /** A trampoline holding the decoded slot at p alone (jit.ts kind 6). */
  oneShot(code: Int32Array, p: number): Int32Array;
  /** Slow-path load of 1/2/4/8 bytes into ldLo/ldHi; false if a trap was taken. */
  load(lo: number, hi: number, size: number): boolean;
  /** Slow-path store; false if a trap was taken. */
  store(lo: number, hi: number, size: number, vlo: number, vhi: number): boolean;
  /** Illegal instruction at pc (raw: the instruction bits, or 0 to re-read them). */
  illegal(raw: number): void;
  /** System/atomic/FP instruction at pc: 0 trap, 1 done, 2 done and pc set, 3 WFI idle. */
  execSystem(w: number, imm: number): number;
  /** Window win starts warming; ran = budget used so far in this run. */
  jitStamp(win: number, ran: number): void;
  /** Window win reached the fast threshold; translate it if it is due. */
  jitHot(win: number, hot: number, ran: number): void;
  /** Translates window wi of a page; entry (or -1) is a page offset about to run. */
  jitCompile(ramPage: number, wi: number, entry: number): void;
}
