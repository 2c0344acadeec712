/**
 * The WebAssembly translation tier: translates the page of a hot 256-byte code window (the same
 * windows, heat and invalidation as the JavaScript tier, jit.ts) into a WebAssembly module (one
 * function per region of the page, see pageRegions), emitted by our own emitter (emit.ts) and
 * compiled by the host's engine. Its entry function has jit.ts's contract
 * exactly — fn(p, n, vLo, vHi) returns a kind and leaves the budget and page offset in
 * x[X_JN]/x[X_JOFF] — plus kind 7: "JALR left the page; the new pc is in x[X_PC_LO/HI]" (a wasm
 * function cannot set the hart's JS properties), which exec.ts turns into kind 2. So exec.ts,
 * Hart.jitCompile, the heat counters and every invalidation path (stores to code pages, FENCE.I,
 * flushDecoded on SFENCE.VMA/satp/remaps, re-decoded slots) serve both tiers unchanged.
 *
 * What the function touches, all in the one WebAssembly.Memory that holds guest RAM (bus.ts):
 *   - the hart's state area (state-layout.ts): integer registers as int64s, dkey, the read and
 *     write TLBs;
 *   - RAM itself (offset 0), through the TLB entries' RAM offsets.
 * Guest registers are i64 loads and stores at constant addresses (see `reg` below for why not
 * locals). RV64 integer arithmetic is native i64 arithmetic (no BigInt anywhere).
 *
 * Translated: RV64I (incl. compressed forms, which decode to the same ops), M, Zba, Zbb, Zbs,
 * FENCE, and F/D (emit-fp.ts: exact fast paths; every case it cannot prove exact is handed back,
 * kind 6). Loads and stores hit the TLB inline; a miss, a misaligned access or MMIO hands the
 * instruction back unexecuted (kind 6) as in jit.ts. System, CSR, atomics, Zicond/Zbc/Zbk*
 * (Op.XINT) and undecodable slots hand control to the interpreter (kind 5) before the instruction.
 *
 * Budget accounting is jit.ts's (per straight-line run; see `ord` there). The ordinal of the entry
 * offset is computed with popcnt over the bit mask of translated slots.
 */
import type { ExecContext, JitWindow } from '../exec-context.ts';
import { Op, TLB_MASK } from '../exec.ts';
import {
  X_JN,
  X_JOFF,
  X_PC_LO,
  X_PC_HI,
  X_CH_PG,
  X_CH_VLO,
  X_CH_VHI,
  ST_X,
  ST_MISC,
  MISC_DKEY,
  MISC_IKEY,
  MISC_PENDING,
  MISC_CHAINS,
  ST_XTAG_LO,
  ST_XTAG_HI,
  ST_XOFF,
  ST_FN_TAG,
  ST_FN_IDX,
  FN_SLOTS,
  ST_RTAG_LO,
  ST_RTAG_HI,
  ST_ROFF,
  ST_WTAG_LO,
  ST_WTAG_HI,
  ST_WOFF,
} from '../state-layout.ts';
import { FnBuilder, I32, I64, W, moduleBytes } from './emit.ts';
import { WASM_REGISTER_ONLY, WASM_TRANSLATED } from '../isa-table.ts';
import { FpEmitter, fpHelpers, isFpOp } from './emit-fp.ts';
import { wasmApi, type WasmTable } from './api.ts';
import type { WasmMemory } from '../../memory/bus.ts';

// Present in browsers and Node alike; declared here because the core has no DOM/Node typings.
declare const performance: { now(): number };

/** What the tier needs of a hart beyond ExecContext. */
export interface WasmHost extends ExecContext {
  /** Byte offset of the hart's state area in bus.memory (-1: not in it). */
  readonly stateOffset: number;
}

/**
 * A translated page: `run` is what exec.ts calls (jit.ts's contract; it chains into other pages'
 * functions, see dispatcherFn) and `page` the page's own function, which Hart.jitCompile puts in
 * the hart's function table for other pages to chain to.
 */
export interface WasmPage {
  run: JitWindow;
  page: unknown;
}

/** True when this hart's state and RAM share a WebAssembly.Memory and the host can compile wasm. */
export function wasmTierAvailable(h: WasmHost): boolean {
  return wasmApi !== undefined && h.bus.memory !== undefined && h.stateOffset >= 0;
}

let compileAllowed = true;

/** Statistics of this process's wasm translations (bench and tests read them). */
export const wasmStats = { windows: 0, regions: 0, bytes: 0, compileMs: 0, rejected: 0 };

/**
 * Translates window wi (incl marks the slots to translate, as for jit.ts). Returns null when the
 * window holds none, undefined when the host cannot compile WebAssembly here (a CSP without
 * 'wasm-unsafe-eval', or no shared memory): the hart then stays with the interpreter.
 */
export function compileWasmWindow(
  h: WasmHost,
  table: WasmTable,
  code: Int32Array,
  incl: Uint8Array,
  wi: number,
): WasmPage | null | undefined {
  if (!compileAllowed || !wasmTierAvailable(h)) return undefined;
  const t0 = performance.now();
  const module = windowModule(code, incl, wi, h.stateOffset);
  if (module === undefined) return null;
  const bytes = module.bytes;
  let fn: WasmPage;
  try {
    const mod = new wasmApi!.Module(bytes);
    const inst = new wasmApi!.Instance(mod, { m: { mem: h.bus.memory as WasmMemory, tab: table } });
    fn = { run: inst.exports.w as JitWindow, page: inst.exports.f };
  } catch {
    if (!wasmApi!.validate(bytes)) {
      // A module the engine rejects is a translator bug: this page stays interpreted, and the
      // count lets tests (and --stats) see it.
      wasmStats.rejected++;
      return null;
    }
    // A valid module the host refuses to compile (a CSP without 'wasm-unsafe-eval', or no
    // memory left for code): stay with the interpreter.
    compileAllowed = false;
    return undefined;
  }
  wasmStats.windows++;
  wasmStats.regions += module.regions;
  wasmStats.bytes += bytes.length;
  wasmStats.compileMs += performance.now() - t0;
  return fn;
}

// ---- the translator ----

/** Longest straight-line run between budget checks (see `run` in windowModule). */
const RUN_CAP = 64;

/** 2-byte slots of a page: a wasm module covers a whole page (see windowModule). */
const SLOTS = 2048;

/** One translated instruction. */
interface Insn {
  p: number;
  w: number;
  imm: number;
  len: number;
}

/**
 * Ops this tier translates (everything else hands control to the interpreter, kind 5): the
 * instruction table's T_WASM entries (isa-table.ts), one typed-array load per instruction.
 */
function translated(op: number): boolean {
  return WASM_TRANSLATED[op] === 1;
}

/** Register-only ops (the instruction table's): runs of them share one case (windowModule). */
function registerOnly(op: number): boolean {
  return WASM_REGISTER_ONLY[op] === 1;
}

/** i64.const for a safe-integer JS number. */
function i64n(f: FnBuilder, v: number): void {
  f.i64(v | 0, Math.floor(v / 4294967296) | 0);
}

/**
 * The module for a whole page (every slot incl marks) and its number of region functions, or
 * undefined when it holds no decoded instruction. Unlike JS functions (jit.ts: V8 optimizes
 * 256-byte windows, not whole pages), a wasm module of a page compiles quickly, and a page's
 * loops then stay in translated code. Hart.jitCompile installs it for every window.
 */
function windowModule(
  pageCode: Int32Array,
  pageIncl: Uint8Array,
  _wi: number,
  stateOffset: number,
): { bytes: Uint8Array; regions: number } | undefined {
  code = pageCode;
  incl = pageIncl;
  S = stateOffset;
  insns = [];
  caseOf.fill(-1);
  for (let p = ws; p < we; p += 2) {
    if (!decoded(p)) continue;
    const w = code[p];
    const s = (p - ws) >> 1;
    caseOf[s] = insns.length;
    insns.push({ p, w, imm: code[p + 1], len: (w >>> 27) & 1 ? 2 : 4 });
  }
  N = insns.length;
  if (N === 0) return undefined;
  // run[j]: instructions of the straight-line run from case j, up to the first one that leaves it
  // (a jump, an exit, or a fall-through to an offset that is not the next case). Every taken
  // branch re-dispatches and checks the budget again, so with n > run[j] on entering case j the
  // budget cannot run out inside the run. Runs are cut at RUN_CAP instructions (brk: fall through
  // with a budget check), so that one bound, runMax, serves every entry from outside: an entry
  // with n <= runMax is handed to the interpreter (the last few instructions of a slice).
  run = new Int32Array(N + 1);
  brk = new Uint8Array(N);
  runMax = 1;
  for (let j = N - 1; j >= 0; j--) {
    const i = insns[j]!;
    const op = i.w & 255;
    const leaves =
      op === Op.J ||
      op === Op.JAL ||
      op === Op.JALR ||
      op === Op.FENCE_I ||
      !translated(op) ||
      insns[j + 1]?.p !== i.p + i.len;
    if (!leaves && run[j + 1] >= RUN_CAP) brk[j] = 1;
    run[j] = leaves || brk[j] === 1 ? 1 : 1 + run[j + 1];
    if (run[j] > runMax) runMax = run[j];
  }
  // Cases: straight-line stretches of register-only instructions (and conditional branches) form
  // one case, so registers can stay in locals inside it (see `reg`). A new case starts at every
  // instruction that control can reach other than by falling through: in-page branch and jump
  // targets, the first instruction, after a run cut or a gap, at and after loads and stores (a
  // trap returns to them; after a hand-back, kind 6, the next block starts after them), and at
  // every other instruction (jumps, exits). An entry from outside at an instruction inside a case
  // (rare: a slice that ended in the interpreter there) hands that one instruction back (kind 6)
  // until the next case starts.
  const isTarget = new Uint8Array(N);
  for (let jj = 0; jj < N; jj++) {
    const i = insns[jj]!;
    const o = i.w & 255;
    if ((o >= Op.BEQ && o <= Op.BGEU) || o === Op.J || o === Op.JAL) {
      const t = i.p + i.imm;
      if (t >= 0 && t < 4096 && caseOf[t >> 1] >= 0 && (t & 1) === 0) isTarget[caseOf[t >> 1]] = 1;
    }
    // Overlapping instruction streams (a jump into the middle of an instruction, then straight on):
    // this one's fall-through successor is not the next instruction by address, so it must start
    // a case of its own (a `br` to a case's block end enters the case at its first instruction).
    const next = i.p + i.len;
    if (next < 4096 && insns[jj + 1]?.p !== next && caseOf[next >> 1]! >= 0) isTarget[caseOf[next >> 1]!] = 1;
  }
  startsCase = new Uint8Array(N);
  caseNo = new Int32Array(N);
  let cases = 0;
  for (let jj = 0; jj < N; jj++) {
    const prev = insns[jj - 1];
    const inCase =
      prev !== undefined &&
      prev.p + prev.len === insns[jj]!.p &&
      brk[jj - 1] === 0 &&
      isTarget[jj] === 0 &&
      registerOnly(prev.w & 255) &&
      registerOnly(insns[jj]!.w & 255);
    if (!inCase) {
      startsCase[jj] = 1;
      cases++;
    }
    caseNo[jj] = cases - 1;
  }

  firstOf = new Int32Array(cases);
  for (let jj = N - 1; jj >= 0; jj--) if (startsCase[jj] === 1) firstOf[caseNo[jj]] = jj;

  // The page's module: function 0 dispatches to one function per region (pageRegions), so V8
  // optimizes the regions that run hot, not the whole page (see pageFn).
  const regions = pageRegions(insns, caseOf, startsCase);
  const fpFns = insns.some((i) => isFpOp(i.w & 255)) ? fpHelpers(S) : [];
  const regionBase = 3 + fpFns.length;
  const regionFns = regions.map((r, k) => regionFn(r, regions[k + 1] ?? N));
  const bytes = moduleBytes({
    memory: { module: 'm', name: 'mem', min: 0 },
    table: { module: 'm', name: 'tab', min: 0 },
    funcs: [
      { fn: pageFn(regions, insns, N, regionBase, S), exportAs: 'f' },
      { fn: mulhuFn() },
      { fn: dispatcherFn(S), exportAs: 'w' },
      ...fpFns.map((fn) => ({ fn })),
      ...regionFns.map((fn) => ({ fn })),
    ],
  });
  return { bytes, regions: regions.length };
}

// ---- the translator's state while it emits one page ----
// Module-level, with module-level helpers (below), so that V8 compiles each helper once per
// process: as closures made per page (or per region) every translation brought fresh function
// objects that V8 optimized again, 1.8 s of its compiler threads' CPU in a Linux boot.
// Translation is synchronous and not re-entrant.

const ws = 0;
const we = 4096;
/** The page's decoded slots, the slots to translate (Hart.jitCompile), the hart's state area. */
let code: Int32Array = new Int32Array(0);
let incl: Uint8Array = new Uint8Array(0);
let S = 0;
const decoded = (p: number) => p < 4096 && incl[p >> 1] === 1 && (code[p] & 255) !== Op.DECODE;
/** The page's instructions to translate, in address order. */
let insns: Insn[] = [];
let N = 0;
/** Case index per slot (-1: not translated). */
const caseOf = new Int32Array(SLOTS);
/** Per instruction: run length and run cut (see windowModule), starts a case, its case. */
let run = new Int32Array(0);
let brk = new Uint8Array(0);
let runMax = 1;
let startsCase = new Uint8Array(0);
let caseNo = new Int32Array(0);
/** First instruction of each case. */
let firstOf = new Int32Array(0);

// The region being emitted (regionFn): its instructions jLo..jHi-1, its cases gBase..gBase+G-1,
// its slots sLo..sHi-1, its function and locals.
let jLo = 0;
let jHi = 0;
let gBase = 0;
let G = 0;
let sLo = 0;
let sHi = 0;
let f = new FnBuilder([], []);
const P = 0;
const NN = 1;
const VLO = 2;
const VHI = 3;
let K = 0;
let OFF = 0;
let NB = 0;
let DKEY = 0;
let LO = 0;
let HI = 0;
let TI = 0;
let VBASE = 0;
let T = 0;
let V = 0;
let ORD = 0;
/** Locals caching guest registers inside a case (made on first use). */
let regLocal = new Int32Array(32);
let fpe: FpEmitter | null = null;
/** br_table targets by slot of the region (see regionFn). */
const targets: number[] = [];

// The instruction being emitted (emitInsn sets these; the helpers below read them).
let j = 0;
let p = 0;
let imm = 0;
let len = 4;
let op = 0;
let d = 0;
let a = 0;
let b = 0;
/** Blocks/ifs opened inside this instruction's code (they deepen every branch). */
let nest = 0;
/** The case being emitted (numbered from 0 in the region). */
let g = 0;
/** Guest registers held in locals in this case: bit r/2 for x-view index r. */
let cached = 0;

const xAt = (r: number) => S + ST_X + r * 4;
/** The br_table index of offset v: its slot relative to the region's first (others: default). */
const slotOf = (v: number) => f.get(v).i32(1).op(W.i32_shr_u).i32(sLo).op(W.i32_sub);

/** emit-fp.ts's ways out and to RAM, for the instruction being emitted. */
const fpBailIf = () => ifThen(() => out(6, p));
const fpBail = (extra: number) => {
  nest += extra;
  out(6, p);
  nest -= extra;
};
const fpRamAddress = (size: number, write: boolean) => {
  addr();
  tlbCheck(size, write ? ST_WTAG_LO : ST_RTAG_LO, write ? ST_WTAG_HI : ST_RTAG_HI);
  ramAddr(write ? ST_WOFF : ST_ROFF);
};

/**
 * The function of the region of instructions lo..hi-1 (whole cases) of the page windowModule
 * analysed: the page function's contract, plus kind 8 for control that goes to another region
 * of this page (pageFn follows it). Its cases are numbered from 0 (case c here is the page's case
 * gBase + c).
 */
function regionFn(lo: number, hi: number): FnBuilder {
  jLo = lo;
  jHi = hi;
  gBase = caseNo[jLo]!;
  G = caseNo[jHi - 1]! - gBase + 1;
  sLo = insns[jLo]!.p >> 1;
  sHi = (insns[jHi - 1]!.p >> 1) + 1;
  f = new FnBuilder([I32, I32, I32, I32], [I32]);
  K = f.local(I32);
  OFF = f.local(I32);
  NB = f.local(I32);
  DKEY = f.local(I32);
  LO = f.local(I32);
  HI = f.local(I32);
  TI = f.local(I32);
  VBASE = f.local(I64);
  T = f.local(I64);
  V = f.local(I64);
  ORD = f.local(I32);
  /** Locals caching guest registers inside a case (made on first use). */
  regLocal = new Int32Array(32).fill(-1);

  // Prologue: dkey, the page's virtual base as one i64.
  f.i32(0)
    .mem(W.i32_load, 2, S + ST_MISC + MISC_DKEY * 4)
    .set(DKEY);
  f.get(VLO).op(W.i64_extend_i32_u).get(VHI).op(W.i64_extend_i32_u).i64(32).op(W.i64_shl, W.i64_or).set(VBASE);
  // F and D (emit-fp.ts): only regions that hold FP ops get its locals and prologue.
  fpe = insns.slice(jLo, jHi).some((i) => isFpOp(i.w & 255))
    ? new FpEmitter({ f, S, bailIf: fpBailIf, bail: fpBail, ramAddress: fpRamAddress }, 3)
    : null;
  fpe?.prologue();
  f.i32(5).set(K).get(P).set(OFF);

  // br_table targets by slot: 0 (the default) another region's (kind 8), 1 not translated
  // (kind 5), 2 inside a case (kind 6), 3 + case.
  targets.length = 0;
  for (let s = sLo; s < sHi; s++) {
    const c = caseOf[s]!;
    targets.push(c < 0 ? 1 : startsCase[c] === 1 ? caseNo[c]! - gBase + 3 : 2);
  }

  f.open(W.block); // $out
  f.open(W.loop); // $entry
  f.get(NN).i32(runMax).op(W.i32_le_s);
  f.open(W.if).get(P).set(OFF).i32(5).set(K).br(2).end();
  f.open(W.block); // $go
  for (let c = G - 1; c >= 0; c--) f.open(W.block); // E_{G-1} .. E_0
  f.open(W.block); // EM
  f.open(W.block); // ED
  f.open(W.block); // DX
  slotOf(P);
  f.brTable(targets, 0);
  badEntries();
  for (let c = 0; c < G; c++) {
    f.end(); // E_c
    f.i32(firstOf[gBase + c]!)
      .set(ORD)
      .br(G - 1 - c);
  }
  f.end(); // $go
  f.get(NN).get(ORD).op(W.i32_add).set(NB);
  f.open(W.loop); // $L
  for (let c = G - 1; c >= 0; c--) f.open(W.block); // B_{G-1} .. B_0
  f.open(W.block); // BM
  f.open(W.block); // D
  f.open(W.block); // DX
  slotOf(P);
  f.brTable(targets, 0);
  badEntries();

  for (let jj = jLo; jj < jHi; jj++) {
    if (startsCase[jj] === 1) {
      f.end(); // B_c: case c follows
      g = caseNo[jj]! - gBase;
      cached = 0;
    }
    emitInsn(jj);
  }
  f.end(); // $L (never reached by falling through: every last case branches)
  f.end(); // $entry
  f.end(); // $out

  // Epilogue: the results.
  fpe?.epilogue();
  f.i32(0).get(NN).mem(W.i32_store, 2, xAt(X_JN));
  f.i32(0).get(OFF).mem(W.i32_store, 2, xAt(X_JOFF));
  f.get(K);
  f.end();
  return f;
}

// A region function's structure (regionFn; depths in the comments are what the helpers below
// compute; G cases of the region, its slots sLo..sHi-1 indexing the br_tables):
//   block $out
//     loop $entry                     entry from pageFn, and in-page JALR
//       n <= runMax -> k 5 (too little budget for some run: the interpreter counts each one)
//       block $go
//         block E_{G-1} .. E_0, block EM, block ED, block DX: br_table on pc's slot
//         DX (default): another region's slot -> k 8;  ED: not translated -> k 5;
//         EM: inside a case -> k 6;  E_c: ord = first of c, br $go
//       end $go
//       nb = n + ord                  (jit.ts's ord scheme: the budget before instruction j is nb - j)
//       loop $L                       branches in the region whose target is not a later case
//         block B_{G-1} .. B_0, block BM, block D, block DX: br_table on pc's slot
//         DX: k 8;  D: k 5;  BM: k 6;  B_c: case c (falls through to case c+1)
// The entry stubs E_c are a few bytes each: code size is what V8's compile time follows.
/** After the br_table's blocks DX, ED/D and EM/BM: exits of kind 8, 5 and 6 at P, unexecuted. */
const badEntries = () => {
  f.end(); // DX: another region's slot
  f.get(P)
    .set(OFF)
    .i32(8)
    .set(K)
    .br(G + 4);
  f.end(); // ED / D: a slot that is not translated
  f.get(P)
    .set(OFF)
    .i32(5)
    .set(K)
    .br(G + 3);
  f.end(); // EM / BM: inside a case
  f.get(P)
    .set(OFF)
    .i32(6)
    .set(K)
    .br(G + 2);
};

// ---- helpers that emit the current instruction's code (state above; for emitInsn, regionFn) ----
const dOut = () => G - g + 1 + nest;
const dEntry = () => G - g + nest;
const dLoop = () => G - 1 - g + nest;
// Guest registers live in memory (the x view): every exit, chained call and interpreter hand-off
// finds them there. Inside one case a register read once is kept in a local (`cached`, a bit
// per register) and writes go to both (write-through), so nothing needs flushing at exits and no
// local is live across the case's start (V8 merges none at the dispatch). Keeping every register
// in locals across the whole page made int.c ~3x slower (docs/cpu.md, "WebAssembly tier").
// r is an x-view index (2 x register number, lo/hi int32 pairs); bit r/2 of `cached`.
const regLoc = (r: number) => (regLocal[r >> 1] >= 0 ? regLocal[r >> 1] : (regLocal[r >> 1] = f.local(I64)));
const reg = (r: number) => {
  if (r === 0) return f.i64(0);
  if ((cached >>> (r >> 1)) & 1) return f.get(regLocal[r >> 1]);
  cached |= 1 << (r >> 1);
  return f.i32(0).mem(W.i64_load, 3, xAt(r)).tee(regLoc(r));
};
const rA = () => reg(a);
const rB = () => reg(b);
const setD = () => {
  if (d === 0 || d === 64) return f.op(W.drop);
  const l = regLoc(d);
  cached |= 1 << (d >> 1);
  return f.tee(l).set(V).i32(0).get(V).mem(W.i64_store, 3, xAt(d));
};
const budgetAt = (after: 0 | 1) =>
  f
    .get(NB)
    .i32(j + after)
    .op(W.i32_sub)
    .set(NN);
const exitWith = (kind: number, off: () => void) => {
  off();
  f.set(OFF).i32(kind).set(K).br(dOut());
};
/** Exit before this instruction ran or was counted. */
const out = (kind: number, off: number) => {
  budgetAt(0);
  exitWith(kind, () => f.i32(off));
};
const ifThen = (body: () => void) => {
  const c = cached;
  f.open(W.if);
  nest++;
  body();
  nest--;
  f.end();
  cached = c;
};
/** This instruction was counted; control goes to page offset t (a constant). */
const goTo = (t: number) => {
  budgetAt(1);
  f.get(NN).i32(0).op(W.i32_le_s);
  ifThen(() => exitWith(1, () => f.i32(t)));
  const tc = t >= ws && t < we && decoded(t) ? caseOf[(t - ws) >> 1]! : -1;
  if (tc >= jLo && tc < jHi && startsCase[tc] === 1) {
    f.get(NN).i32(run[tc]!).op(W.i32_le_s);
    ifThen(() => exitWith(5, () => f.i32(t)));
    f.get(NN).i32(tc).op(W.i32_add).set(NB);
    // tc starts a case (targets, cuts and overlap successors do; anything else would be a
    // translator bug, handed to the interpreter below); a later one is a br away, others go by
    // dispatch.
    const tg = caseNo[tc]! - gBase;
    if (tg > g) f.br(tg - g - 1 + nest);
    else f.i32(t).set(P).br(dLoop());
    return;
  }
  // Another region's case (kind 8, pageFn goes on there), or code not translated.
  exitWith(tc >= 0 && startsCase[tc] === 1 ? 8 : t >= ws && t < we ? 5 : 4, () => f.i32(t));
};
const takenStatic = (t: number) => {
  if (t >= 0 && t < 4096) goTo(t);
  else {
    // Out of the page: the new pc as for JALR (kind 7), so the dispatcher may chain to it.
    budgetAt(0);
    f.i32(0).get(VBASE);
    i64n(f, t);
    f.op(W.i64_add).tee(T).op(W.i32_wrap_i64).mem(W.i32_store, 2, xAt(X_PC_LO));
    f.i32(0).get(T).i64(32).op(W.i64_shr_u, W.i32_wrap_i64).mem(W.i32_store, 2, xAt(X_PC_HI));
    exitWith(7, () => f.i32(0));
  }
};
/** Straight-line flow to the next instruction when it is not the next case. */
const fallOut = () => {
  const next = p + len;
  const nextCase = j + 1 < jHi && insns[j + 1]!.p === next && brk[j] === 0;
  // (a following instruction in the same case, or the next case's first: falls through)
  if (!nextCase) goTo(next);
};
const link = () => {
  if (d === 0 || d === 64) return;
  f.get(VBASE);
  i64n(f, p + len);
  f.op(W.i64_add);
  setD();
};
/** Effective address rs1 + imm into LO/HI and the TLB byte index into TI. */
const addr = () => {
  rA();
  f.i64(imm).op(W.i64_add).tee(T).op(W.i32_wrap_i64).set(LO);
  f.get(T).i64(32).op(W.i64_shr_u, W.i32_wrap_i64).set(HI);
  f.get(LO)
    .i32(10)
    .op(W.i32_shr_u)
    .i32(TLB_MASK << 2)
    .op(W.i32_and)
    .set(TI);
};
/** Miss unless tag[ti] === (lo & mask) && tagHi[ti] === (hi ^ dkey): hand back (kind 6). */
const tlbCheck = (size: number, tagLo: number, tagHi: number) => {
  const mask = -4096 | (size - 1);
  f.get(TI)
    .mem(W.i32_load, 2, S + tagLo)
    .get(LO)
    .i32(mask)
    .op(W.i32_and, W.i32_ne);
  f.get(TI)
    .mem(W.i32_load, 2, S + tagHi)
    .get(HI)
    .get(DKEY)
    .op(W.i32_xor, W.i32_ne, W.i32_or);
  ifThen(() => out(6, p));
};
const ramAddr = (offs: number) =>
  f
    .get(TI)
    .mem(W.i32_load, 2, S + offs)
    .get(LO)
    .i32(4095)
    .op(W.i32_and, W.i32_add);
const load = (size: number, opcode: number) => {
  addr();
  tlbCheck(size, ST_RTAG_LO, ST_RTAG_HI);
  ramAddr(ST_ROFF);
  f.mem(opcode, Math.log2(size), 0);
  setD();
};
const store = (size: number, opcode: number) => {
  addr();
  tlbCheck(size, ST_WTAG_LO, ST_WTAG_HI);
  ramAddr(ST_WOFF);
  rB();
  f.mem(opcode, Math.log2(size), 0);
};
const branch = (cmp: number) => {
  rA();
  rB();
  f.op(cmp);
  ifThen(() => takenStatic(p + imm));
};
const bin = (...ops: number[]) => {
  rA();
  rB();
  f.op(...ops);
  setD();
};
const binImm = (...ops: number[]) => {
  rA();
  f.i64(imm).op(...ops);
  setD();
};
/** 32-bit op on the low words, sign-extended. */
const binW = (opc: number, immB?: number) => {
  rA();
  f.op(W.i32_wrap_i64);
  if (immB === undefined) rB().op(W.i32_wrap_i64);
  else f.i32(immB);
  f.op(opc, W.i64_extend_i32_s);
  setD();
};
const a32 = () => rA().op(W.i32_wrap_i64);
const b32 = () => rB().op(W.i32_wrap_i64);
/** if (cond on stack) then `then` else `other`, both i64 (an expression). */
const ifElse64 = (then: () => void, other: () => void) => {
  const c = cached;
  f.open(W.if, I64);
  nest++;
  then();
  cached = c;
  f.op(W.else);
  other();
  nest--;
  f.end();
  cached = c;
};
const shAdd = (s: number, uw: boolean) => {
  rA();
  if (uw) f.i64(-1, 0).op(W.i64_and);
  if (s > 0) f.i64(s).op(W.i64_shl);
  rB();
  f.op(W.i64_add);
  setD();
};
const mulh = (signedA: boolean, signedB: boolean) => {
  rA();
  rB();
  f.call(1);
  // Signed corrections: -(a<0 ? b : 0) - (b<0 ? a : 0)
  if (signedA) {
    rB();
    f.i64(0);
    rA();
    f.i64(0).op(W.i64_lt_s, W.select, W.i64_sub);
  }
  if (signedB) {
    rA();
    f.i64(0);
    rB();
    f.i64(0).op(W.i64_lt_s, W.select, W.i64_sub);
  }
  setD();
};

function emitInsn(jj: number): void {
  j = jj;
  const ins = insns[j]!;
  p = ins.p;
  imm = ins.imm;
  len = ins.len;
  op = ins.w & 255;
  d = (ins.w >>> 8) & 127;
  a = (ins.w >>> 15) & 63;
  b = (ins.w >>> 21) & 63;
  nest = 0;
  switch (op) {
    case Op.LUI:
    case Op.LI:
      f.i64(imm);
      setD();
      break;
    case Op.AUIPC:
      f.get(VBASE);
      i64n(f, p + imm);
      f.op(W.i64_add);
      setD();
      break;
    case Op.JAL:
      link();
      takenStatic(p + imm);
      return;
    case Op.J:
      takenStatic(p + imm);
      return;
    case Op.JALR: {
      rA();
      f.i64(imm).op(W.i64_add).i64(-2).op(W.i64_and).set(T); // target (rs1 read before the link)
      link();
      f.get(T).i64(-4096).op(W.i64_and).get(VBASE).op(W.i64_eq);
      ifThen(() => {
        // In this page: counted, then re-enter through the entry dispatch.
        f.get(T).op(W.i32_wrap_i64).i32(4095).op(W.i32_and).set(LO);
        budgetAt(1);
        f.get(NN).i32(0).op(W.i32_le_s);
        ifThen(() => exitWith(1, () => f.get(LO)));
        f.get(LO).set(P).br(dEntry());
      });
      budgetAt(0);
      f.i32(0).get(T).op(W.i32_wrap_i64).mem(W.i32_store, 2, xAt(X_PC_LO));
      f.i32(0).get(T).i64(32).op(W.i64_shr_u, W.i32_wrap_i64).mem(W.i32_store, 2, xAt(X_PC_HI));
      exitWith(7, () => f.i32(0));
      return;
    }
    case Op.BEQ:
      branch(W.i64_eq);
      break;
    case Op.BNE:
      branch(W.i64_ne);
      break;
    case Op.BLT:
      branch(W.i64_lt_s);
      break;
    case Op.BGE:
      branch(W.i64_ge_s);
      break;
    case Op.BLTU:
      branch(W.i64_lt_u);
      break;
    case Op.BGEU:
      branch(W.i64_ge_u);
      break;
    case Op.LB:
      load(1, W.i64_load8_s);
      break;
    case Op.LBU:
      load(1, W.i64_load8_u);
      break;
    case Op.LH:
      load(2, W.i64_load16_s);
      break;
    case Op.LHU:
      load(2, W.i64_load16_u);
      break;
    case Op.LW:
      load(4, W.i64_load32_s);
      break;
    case Op.LWU:
      load(4, W.i64_load32_u);
      break;
    case Op.LD:
      load(8, W.i64_load);
      break;
    case Op.SB:
      store(1, W.i64_store8);
      break;
    case Op.SH:
      store(2, W.i64_store16);
      break;
    case Op.SW:
      store(4, W.i64_store32);
      break;
    case Op.SD:
      store(8, W.i64_store);
      break;
    case Op.ADDI:
      binImm(W.i64_add);
      break;
    case Op.MV:
      rA();
      setD();
      break;
    case Op.SLTI:
      binImm(W.i64_lt_s, W.i64_extend_i32_u);
      break;
    case Op.SLTIU:
      binImm(W.i64_lt_u, W.i64_extend_i32_u);
      break;
    case Op.XORI:
      binImm(W.i64_xor);
      break;
    case Op.ORI:
      binImm(W.i64_or);
      break;
    case Op.ANDI:
      binImm(W.i64_and);
      break;
    case Op.SLLI:
      binImm(W.i64_shl);
      break;
    case Op.SRLI:
      binImm(W.i64_shr_u);
      break;
    case Op.SRAI:
      binImm(W.i64_shr_s);
      break;
    case Op.ADD:
      bin(W.i64_add);
      break;
    case Op.SUB:
      bin(W.i64_sub);
      break;
    case Op.SLL:
      bin(W.i64_shl);
      break;
    case Op.SLT:
      bin(W.i64_lt_s, W.i64_extend_i32_u);
      break;
    case Op.SLTU:
      bin(W.i64_lt_u, W.i64_extend_i32_u);
      break;
    case Op.XOR:
      bin(W.i64_xor);
      break;
    case Op.SRL:
      bin(W.i64_shr_u);
      break;
    case Op.SRA:
      bin(W.i64_shr_s);
      break;
    case Op.OR:
      bin(W.i64_or);
      break;
    case Op.AND:
      bin(W.i64_and);
      break;
    case Op.ADDIW:
      binW(W.i32_add, imm);
      break;
    case Op.SLLIW:
      binW(W.i32_shl, imm);
      break;
    case Op.SRLIW:
      binW(W.i32_shr_u, imm);
      break;
    case Op.SRAIW:
      binW(W.i32_shr_s, imm);
      break;
    case Op.ADDW:
      binW(W.i32_add);
      break;
    case Op.SUBW:
      binW(W.i32_sub);
      break;
    case Op.SLLW:
      binW(W.i32_shl);
      break;
    case Op.SRLW:
      binW(W.i32_shr_u);
      break;
    case Op.SRAW:
      binW(W.i32_shr_s);
      break;
    case Op.MUL:
      bin(W.i64_mul);
      break;
    case Op.MULW:
      binW(W.i32_mul);
      break;
    case Op.MULHU:
      mulh(false, false);
      break;
    case Op.MULH:
      mulh(true, true);
      break;
    case Op.MULHSU:
      mulh(true, false);
      break;
    case Op.DIV:
      // b = 0: -1; MIN / -1: MIN (wasm would trap on both)
      rB().op(W.i64_eqz);
      ifElse64(
        () => f.i64(-1),
        () => {
          rA();
          f.i64(0, -0x80000000).op(W.i64_eq);
          rB();
          f.i64(-1).op(W.i64_eq, W.i32_and);
          ifElse64(rA, () => {
            rA();
            rB();
            f.op(W.i64_div_s);
          });
        },
      );
      setD();
      break;
    case Op.DIVU:
      rB().op(W.i64_eqz);
      ifElse64(
        () => f.i64(-1),
        () => {
          rA();
          rB();
          f.op(W.i64_div_u);
        },
      );
      setD();
      break;
    case Op.REM:
    case Op.REMU:
      // b = 0: a (MIN % -1 is 0 in wasm as in RISC-V)
      rB().op(W.i64_eqz);
      ifElse64(rA, () => {
        rA();
        rB();
        f.op(op === Op.REM ? W.i64_rem_s : W.i64_rem_u);
      });
      setD();
      break;
    case Op.DIVW:
      b32().op(W.i32_eqz);
      ifElse64(
        () => f.i64(-1),
        () => {
          a32().i32(-0x80000000).op(W.i32_eq);
          b32().i32(-1).op(W.i32_eq, W.i32_and);
          ifElse64(
            () => a32().op(W.i64_extend_i32_s),
            () => {
              a32();
              b32();
              f.op(W.i32_div_s, W.i64_extend_i32_s);
            },
          );
        },
      );
      setD();
      break;
    case Op.DIVUW:
      b32().op(W.i32_eqz);
      ifElse64(
        () => f.i64(-1),
        () => {
          a32();
          b32();
          f.op(W.i32_div_u, W.i64_extend_i32_s);
        },
      );
      setD();
      break;
    case Op.REMW:
    case Op.REMUW:
      b32().op(W.i32_eqz);
      ifElse64(
        () => a32().op(W.i64_extend_i32_s),
        () => {
          a32();
          b32();
          f.op(op === Op.REMW ? W.i32_rem_s : W.i32_rem_u, W.i64_extend_i32_s);
        },
      );
      setD();
      break;
    case Op.FENCE:
      break;
    case Op.FENCE_I:
      // As in the interpreter: nothing to drop (decoded code is coherent), but the block ends.
      out(0, p + len);
      return;
    case Op.SH1ADD:
      shAdd(1, false);
      break;
    case Op.SH2ADD:
      shAdd(2, false);
      break;
    case Op.SH3ADD:
      shAdd(3, false);
      break;
    case Op.ADD_UW:
      shAdd(0, true);
      break;
    case Op.SH1ADD_UW:
      shAdd(1, true);
      break;
    case Op.SH2ADD_UW:
      shAdd(2, true);
      break;
    case Op.SH3ADD_UW:
      shAdd(3, true);
      break;
    case Op.SLLI_UW:
      rA();
      f.i64(-1, 0).op(W.i64_and).i64(imm).op(W.i64_shl);
      setD();
      break;
    case Op.ANDN:
      rA();
      rB();
      f.i64(-1).op(W.i64_xor, W.i64_and);
      setD();
      break;
    case Op.ORN:
      rA();
      rB();
      f.i64(-1).op(W.i64_xor, W.i64_or);
      setD();
      break;
    case Op.XNOR:
      rA();
      rB();
      f.op(W.i64_xor).i64(-1).op(W.i64_xor);
      setD();
      break;
    case Op.CLZ:
      rA().op(W.i64_clz);
      setD();
      break;
    case Op.CTZ:
      rA().op(W.i64_ctz);
      setD();
      break;
    case Op.CPOP:
      rA().op(W.i64_popcnt);
      setD();
      break;
    case Op.CLZW:
      a32().op(W.i32_clz, W.i64_extend_i32_u);
      setD();
      break;
    case Op.CTZW:
      a32().op(W.i32_ctz, W.i64_extend_i32_u);
      setD();
      break;
    case Op.CPOPW:
      a32().op(W.i32_popcnt, W.i64_extend_i32_u);
      setD();
      break;
    case Op.MAX:
    case Op.MAXU:
    case Op.MIN:
    case Op.MINU: {
      // select(a, b, a > b) for max, (a < b) for min
      rA();
      rB();
      rA();
      rB();
      f.op(
        op === Op.MAX ? W.i64_gt_s : op === Op.MAXU ? W.i64_gt_u : op === Op.MIN ? W.i64_lt_s : W.i64_lt_u,
        W.select,
      );
      setD();
      break;
    }
    case Op.SEXT_B:
      rA().op(W.i64_extend8_s);
      setD();
      break;
    case Op.SEXT_H:
      rA().op(W.i64_extend16_s);
      setD();
      break;
    case Op.ZEXT_H:
      rA().i64(0xffff).op(W.i64_and);
      setD();
      break;
    case Op.ROL:
      bin(W.i64_rotl);
      break;
    case Op.ROR:
      bin(W.i64_rotr);
      break;
    case Op.RORI:
      binImm(W.i64_rotr);
      break;
    case Op.ROLW:
      binW(W.i32_rotl);
      break;
    case Op.RORW:
      binW(W.i32_rotr);
      break;
    case Op.RORIW:
      binW(W.i32_rotr, imm);
      break;
    case Op.ORC_B:
      // High bit of each byte of ((a & 0x7f..) + 0x7f..) | a is set iff the byte is non-zero.
      rA();
      f.i64(0x7f7f7f7f, 0x7f7f7f7f).op(W.i64_and).i64(0x7f7f7f7f, 0x7f7f7f7f).op(W.i64_add);
      rA();
      f.op(W.i64_or)
        .i64(0x80808080 | 0, 0x80808080 | 0)
        .op(W.i64_and)
        .i64(7)
        .op(W.i64_shr_u);
      f.i64(0xff).op(W.i64_mul);
      setD();
      break;
    case Op.REV8:
      rA().set(T);
      f.get(T).i64(8).op(W.i64_shr_u).i64(0x00ff00ff, 0x00ff00ff).op(W.i64_and);
      f.get(T).i64(0x00ff00ff, 0x00ff00ff).op(W.i64_and).i64(8).op(W.i64_shl, W.i64_or).set(T);
      f.get(T).i64(16).op(W.i64_shr_u).i64(0x0000ffff, 0x0000ffff).op(W.i64_and);
      f.get(T).i64(0x0000ffff, 0x0000ffff).op(W.i64_and).i64(16).op(W.i64_shl, W.i64_or);
      f.i64(32).op(W.i64_rotl);
      setD();
      break;
    case Op.BCLR:
    case Op.BCLRI:
    case Op.BINV:
    case Op.BINVI:
    case Op.BSET:
    case Op.BSETI: {
      const isImm = op === Op.BCLRI || op === Op.BINVI || op === Op.BSETI;
      rA();
      f.i64(1);
      if (isImm) f.i64(imm);
      else rB();
      f.op(W.i64_shl);
      if (op === Op.BCLR || op === Op.BCLRI) f.i64(-1).op(W.i64_xor, W.i64_and);
      else f.op(op === Op.BINV || op === Op.BINVI ? W.i64_xor : W.i64_or);
      setD();
      break;
    }
    case Op.BEXT:
    case Op.BEXTI:
      rA();
      if (op === Op.BEXTI) f.i64(imm);
      else rB();
      f.op(W.i64_shr_u).i64(1).op(W.i64_and);
      setD();
      break;
    case Op.FLW:
    case Op.FLD:
    case Op.FSW:
    case Op.FSD:
    case Op.FP:
      fpe!.emit(op, d, b, imm);
      break;
    default:
      // System, CSR, atomics, XINT, CROSS, ILLEGAL: the interpreter's, from this instruction.
      out(5, p);
      return;
  }
  fallOut();
}

/**
 * Fewest instructions per region: smaller regions cost V8 less to optimize when one of them runs
 * hot, but calls and fall-throughs between regions go through pageFn.
 */
const REGION_MIN = 48;

/** The translator's tunables (the differential fuzzer varies them; nothing else changes them). */
export const wasmTuning = { regionMin: REGION_MIN };

/**
 * Splits a page's instructions into regions (returns each one's first instruction index; a
 * region ends where the next begins): a new region may start only at a case start that no in-page
 * conditional branch or plain jump crosses, so a loop never spans two regions (only calls, their
 * returns and fall-throughs go between them), and only once the current one holds REGION_MIN
 * instructions. V8 tiers up each wasm function on its own: a hot loop then costs the optimizing
 * compiler its region, not the page (whose function took it up to 200 ms; docs/cpu.md).
 */
function pageRegions(insns: Insn[], caseOf: Int32Array, startsCase: Uint8Array): number[] {
  const N = insns.length;
  // cover[k] (after the prefix sum): branches crossing the boundary before instruction k.
  const cover = new Int32Array(N + 1);
  for (let j = 0; j < N; j++) {
    const i = insns[j]!;
    const op = i.w & 255;
    if (!((op >= Op.BEQ && op <= Op.BGEU) || op === Op.J)) continue;
    const t = i.p + i.imm;
    const tj = t >= 0 && t < 4096 && (t & 1) === 0 ? caseOf[t >> 1]! : -1;
    if (tj < 0) continue;
    cover[Math.min(j, tj) + 1]++;
    cover[Math.max(j, tj) + 1]--;
  }
  const starts = [0];
  let crossing = 0;
  for (let k = 1; k < N; k++) {
    crossing += cover[k]!;
    if (crossing === 0 && startsCase[k] === 1 && k - starts[starts.length - 1]! >= wasmTuning.regionMin) starts.push(k);
  }
  return starts;
}

/**
 * Function 0 of a page's module (what exec.ts's windows and other pages' chains call): runs the
 * region function that holds the entry offset, and again while one returns kind 8 (control went
 * to another region: offset and budget in x[X_JOFF]/x[X_JN]). An offset in no region returns
 * kind 5 there, untouched.
 */
function pageFn(regions: number[], insns: Insn[], N: number, base: number, S: number): FnBuilder {
  const f = new FnBuilder([I32, I32, I32, I32], [I32]);
  const P = 0;
  const NN = 1;
  const K = f.local(I32);
  const R = regions.length;
  const x = (r: number) => S + ST_X + r * 4;
  // br_table targets by slot: region r (block R_r is at depth r), or R ($none).
  const targets = new Array<number>(SLOTS).fill(R);
  for (let r = 0; r < R; r++) {
    const last = (regions[r + 1] ?? N) - 1;
    targets.fill(r, insns[regions[r]!]!.p >> 1, (insns[last]!.p >> 1) + 1);
  }
  f.open(W.block); // $ret
  f.open(W.loop); // $top
  f.open(W.block); // $after
  f.open(W.block); // $none
  for (let r = R - 1; r >= 0; r--) f.open(W.block); // R_{R-1} .. R_0
  f.get(P).i32(1).op(W.i32_shr_u).brTable(targets, R);
  for (let r = 0; r < R; r++) {
    f.end(); // R_r
    f.get(P)
      .get(NN)
      .get(2)
      .get(3)
      .call(base + r)
      .set(K)
      .br(R - r);
  }
  f.end(); // $none: the offset is in no region
  f.i32(0).get(NN).mem(W.i32_store, 2, x(X_JN));
  f.i32(0).get(P).mem(W.i32_store, 2, x(X_JOFF));
  f.i32(5).set(K).br(2);
  f.end(); // $after
  f.get(K).i32(8).op(W.i32_ne).brIf(1);
  f.i32(0).mem(W.i32_load, 2, x(X_JOFF)).set(P);
  f.i32(0).mem(W.i32_load, 2, x(X_JN)).set(NN);
  f.br(0);
  f.end(); // $top
  f.end(); // $ret
  f.get(K);
  f.end();
  return f;
}

/** mulhu(a, b): the high 64 bits of the unsigned 128-bit product, from 32-bit pieces. */
function mulhuFn(): FnBuilder {
  const f = new FnBuilder([I64, I64], [I64]);
  const A = 0;
  const B = 1;
  const P01 = f.local(I64);
  const P10 = f.local(I64);
  const MID = f.local(I64);
  const lo32 = (v: number) => f.get(v).i64(-1, 0).op(W.i64_and);
  const hi32 = (v: number) => f.get(v).i64(32).op(W.i64_shr_u);
  lo32(A);
  hi32(B);
  f.op(W.i64_mul).set(P01);
  hi32(A);
  lo32(B);
  f.op(W.i64_mul).set(P10);
  // mid = (a0*b0 >> 32) + lo(p01) + lo(p10) < 3 * 2^32
  lo32(A);
  lo32(B);
  f.op(W.i64_mul).i64(32).op(W.i64_shr_u);
  lo32(P01);
  f.op(W.i64_add);
  lo32(P10);
  f.op(W.i64_add).set(MID);
  hi32(A);
  hi32(B);
  f.op(W.i64_mul);
  hi32(P01);
  f.op(W.i64_add);
  hi32(P10);
  f.op(W.i64_add);
  hi32(MID);
  f.op(W.i64_add);
  f.end();
  return f;
}

/**
 * The exported entry of a page's module: runs the page's function (function 0) and, while it
 * leaves with kind 7 (a jump, call or return to another page: pc in x[X_PC_*], not yet counted),
 * chains into the target page's function through the hart's table instead of returning to
 * exec.ts, if all of these hold: more than one instruction of budget left (the jump is counted
 * here), no interrupt possibly due (mip & mie, mirrored by the hart), the fetch TLB holds the
 * target (same tag check as exec.ts, so permissions, privilege and PMP were checked when it was
 * filled) and that RAM page has a function (ST_FN_TAG/IDX, kept by the hart). Otherwise it
 * returns the last kind, and when it chained, x[X_CH_PG/VLO/VHI] tell exec.ts which page the
 * results refer to.
 */
function dispatcherFn(S: number): FnBuilder {
  const f = new FnBuilder([I32, I32, I32, I32], [I32]);
  const P = 0;
  const NN = 1;
  const VLO = 2;
  const VHI = 3;
  const K = f.local(I32);
  const LO = f.local(I32);
  const HI = f.local(I32);
  const TI = f.local(I32);
  const PG = f.local(I32);
  const SLOT = f.local(I32);
  const x = (r: number) => S + ST_X + r * 4;
  f.get(P).get(NN).get(VLO).get(VHI).call(0).set(K);
  f.open(W.block); // $out
  f.open(W.loop); // $L
  f.get(K).i32(7).op(W.i32_ne).brIf(1);
  // n: the budget left before the jump; it is counted here.
  f.i32(0).mem(W.i32_load, 2, x(X_JN)).tee(NN).i32(1).op(W.i32_le_s).brIf(1);
  f.i32(0)
    .mem(W.i32_load, 2, S + ST_MISC + MISC_PENDING * 4)
    .brIf(1);
  f.i32(0).mem(W.i32_load, 2, x(X_PC_LO)).set(LO);
  f.i32(0).mem(W.i32_load, 2, x(X_PC_HI)).set(HI);
  f.get(LO)
    .i32(10)
    .op(W.i32_shr_u)
    .i32(TLB_MASK << 2)
    .op(W.i32_and)
    .set(TI);
  f.get(TI)
    .mem(W.i32_load, 2, S + ST_XTAG_LO)
    .get(LO)
    .i32(-4096)
    .op(W.i32_and, W.i32_ne)
    .brIf(1);
  f.get(TI).mem(W.i32_load, 2, S + ST_XTAG_HI);
  f.get(HI)
    .i32(0)
    .mem(W.i32_load, 2, S + ST_MISC + MISC_IKEY * 4)
    .op(W.i32_xor, W.i32_ne)
    .brIf(1);
  f.get(TI)
    .mem(W.i32_load, 2, S + ST_XOFF)
    .i32(12)
    .op(W.i32_shr_u)
    .set(PG);
  f.get(PG)
    .i32(FN_SLOTS - 1)
    .op(W.i32_and)
    .i32(2)
    .op(W.i32_shl)
    .set(SLOT);
  f.get(SLOT)
    .mem(W.i32_load, 2, S + ST_FN_TAG)
    .get(PG)
    .op(W.i32_ne)
    .brIf(1);
  // Chain: the results now refer to page PG at virtual base HI:LO & -4096.
  f.get(LO).i32(-4096).op(W.i32_and).set(VLO);
  f.i32(0)
    .i32(0)
    .mem(W.i32_load, 2, S + ST_MISC + MISC_CHAINS * 4)
    .i32(1)
    .op(W.i32_add);
  f.mem(W.i32_store, 2, S + ST_MISC + MISC_CHAINS * 4);
  f.i32(0).get(PG).mem(W.i32_store, 2, x(X_CH_PG));
  f.i32(0).get(VLO).mem(W.i32_store, 2, x(X_CH_VLO));
  f.i32(0).get(HI).mem(W.i32_store, 2, x(X_CH_VHI));
  f.get(LO).i32(4095).op(W.i32_and);
  f.get(NN).i32(1).op(W.i32_sub);
  f.get(VLO).get(HI);
  f.get(SLOT)
    .mem(W.i32_load, 2, S + ST_FN_IDX)
    .callIndirect(0)
    .set(K);
  f.br(0);
  f.end(); // $L
  f.end(); // $out
  f.get(K);
  f.end();
  return f;
}
