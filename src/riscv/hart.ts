/**
 * One RISC-V RV64GC hart (M/S/U, Sv39/Sv48, Sstc), interpreted.
 *
 * Public API (stable; used by boards, the SBI and tests):
 *   new Hart(bus, hartId, clock, cpu?)   cpu: the CpuConfig (cpu-config.ts; default: the `max` model)
 *   setPc(addr) / getPc()   pc as a JS number holding the signed 64-bit value: addresses below 2^53
 *                            as themselves, sign-extended high addresses (0xffffffc0_00000000...) as
 *                            negative numbers. Only values in (-2^53, 2^53) are exact.
 *   run(budget): number     executes up to `budget` instructions synchronously; returns the number
 *                            retired (a trap consumes budget but retires nothing). Returns early with
 *                            `waiting` set when WFI leaves the hart idle with no interrupt pending.
 *   setPending(mask, level)  InterruptPins for the CLINT/ACLINT/PLIC (mip bits MSIP/MTIP/MEIP/SEIP/
 *                            STIP/SSIP). Clears `waiting` when an enabled-in-mie interrupt becomes pending.
 *   priv (0 U, 1 S, 3 M), instret, waiting, hartId
 *   readReg(i) / writeReg(i, v)   x registers as JS numbers (signed 64-bit, exact below 2^53);
 *                            writeReg accepts any integer number in (-2^63, 2^64).
 *   readRegLo(i)/readRegHi(i) the exact int32 halves.
 *   saveState() / loadState(s)  plain JSON-able, versioned; RAM is saved by the board.
 *   sbiHandler?: (hart) => boolean   when set, an ECALL from S-mode calls it first; returning true
 *                            completes the ECALL (pc advances) instead of trapping to M-mode.
 *   stimecmp (read-only number, Infinity when Sstc is off) so a host can compute when to wake.
 *   flushDecodedCode()       drops pre-decoded instructions (remote FENCE.I from an SBI).
 *   flushTlb()               drops all translations (remote SFENCE.VMA from an SBI).
 *   profile                  a HartProfile (hart-profile.ts) to count traps, walks, flushes and
 *                            translations in; null (the default) counts nothing.
 *   jitThreshold             interpreted instructions per 256-byte code window before it is translated
 *                            (its page to WebAssembly, wasm/wasm-tier.ts, or the window to JavaScript,
 *                            jit.ts); Infinity keeps the interpreter alone.
 *   tier                     'interp' | 'js' | 'wasm' (default: wasm where the hart can run it, else js).
 *
 * Registers: x is lo/hi int32 pairs (x[2i] low word); entries 64/65 are a write sink for x0 used
 * by the decoder, so x0 always reads zero. f holds raw FP bits in the same layout.
 *
 * Files: the address translation, the slow memory paths, the CSRs, the traps and the code cache
 * live in hart-mmu.ts, hart-mem.ts, hart-csr.ts, hart-trap.ts and hart-codecache.ts as plain
 * functions taking the hart, each called through a thin method here (monomorphic, inlined by
 * V8). The members they use are therefore not `private`; they are internal all the same: only
 * the API above is public.
 */
import type { Bus, CodeCacheClient } from '../memory/bus.ts';
import type { Clock } from '../memory/clock.ts';
import { Op, TLB_SIZE, TLB_MASK, JIT_PAGE_BITS, execute, executeFp } from './exec.ts';
import * as C from './csr.ts';
import { WARMUP_HITS, WARMUP_PROGRAM } from './warmup-program.ts';
import type { Tier } from './tier.ts';
import { wasmStats, wasmTierAvailable } from './wasm/wasm-tier.ts';
import type { ExecContext, JitWindow } from './exec-context.ts';
import { Bus as BusClass, HART_STATE_BYTES } from '../memory/bus.ts';
import {
  X_WORDS,
  ST_X,
  ST_MISC,
  MISC_WORDS,
  ST_F,
  F_WORDS,
  MISC_DKEY,
  ST_RTAG_LO,
  ST_RTAG_HI,
  ST_ROFF,
  ST_WTAG_LO,
  ST_WTAG_HI,
  ST_WOFF,
  ST_XTAG_LO,
  ST_XTAG_HI,
  ST_XOFF,
  ST_END,
  ST_FN_TAG,
  ST_FN_IDX,
  FN_SLOTS,
  MISC_IKEY,
  MISC_PENDING,
  X_CH_PG,
  TLB_INVALID,
} from './state-layout.ts';
import type { WasmTable } from './wasm/api.ts';
import { StateReader } from '../memory/state.ts';
import { cpuConfig, DEFAULT_CPU_MODEL, X_ZICBOM, X_ZICBOZ, X_SVINVAL, X_ZFHMIN } from './cpu-config.ts';
import type { CpuConfig } from './cpu-config.ts';
import { Pmp } from './pmp.ts';
import { execIntExt } from './ext/intext.ts';
import type { HartProfile } from './hart-profile.ts';
import { flushTlb, flushTlbPage, xlate, walk, noteRegion, LOAD, STORE, SP_MAX } from './hart-mmu.ts';
import {
  execCsr,
  liveInstret,
  set64,
  counterOk,
  csrRead,
  sdBit,
  csrWrite,
  pmpChanged,
  envcfgMask,
  writeMstatus,
} from './hart-csr.ts';
import { fetchMiss, slowFetch, fetchHalf, dataFault, load, loadBytes, store, storeBytes } from './hart-mem.ts';
import { trap, illegal, rereadInsn, takeInterrupt, mret, sret } from './hart-trap.ts';
import {
  JIT_CACHE_WINDOWS,
  JIT_DEFAULTS,
  flushDecoded,
  dropJit,
  wasmTableFor,
  wasmInstall,
  wasmUninstall,
  jitStamp,
  jitHot,
  jitCompile,
  oneShot,
  dropWriteTranslations,
  dropDecodedPage,
  newCodePage,
  decodeSlot,
  decodeRaw,
} from './hart-codecache.ts';

const TWO32 = 4294967296;

/** Cache-block size of Zicbom/Zicboz (riscv,cbom-block-size / riscv,cboz-block-size). */
export const CACHE_BLOCK = 64;
/** Largest budget of one run(): 2^30 - 1, V8's small-integer range (callers loop for more). */
const MAX_SLICE = 0x3fffffff;
/**
 * Initial value of number fields that outgrow V8's small integers (instret, jitRan pass 2^30
 * during a boot) or hold Infinity (jitThreshold). A field that starts as a small integer and
 * later holds a double changes representation: V8 deprecates the Hart's hidden class, and every
 * optimized function that touched a hart deoptimizes ("wrong map"), the interpreter loop
 * included. Starting them as doubles (the constructor then sets the real value) avoids that.
 */
const DOUBLE_FIELD = 2 ** 53;
export { JIT_CACHE_WINDOWS } from './hart-codecache.ts';

export { TIERS, type Tier } from './tier.ts';

export const HART_STATE_VERSION = 1;

export interface HartState {
  version: number;
  hartId: number;
  x: number[];
  f: number[];
  pcLo: number;
  pcHi: number;
  priv: number;
  frm: number;
  fflags: number;
  instret: number;
  cycleOffset: number;
  waiting: boolean;
  csr: Record<string, number>;
  pmpcfg: number[];
  pmpaddr: number[];
}

export class Hart implements ExecContext, CodeCacheClient {
  readonly bus: Bus;
  readonly hartId: number;
  readonly clock: Clock;
  /** Integer registers (see the header), then the translated windows' results (state-layout.ts). */
  readonly x: Int32Array;
  /** Small state words translated wasm code reads (state-layout.ts MISC_*). */
  readonly stMisc: Int32Array;
  /**
   * Byte offset of this hart's state area in bus.memory, or -1 when it has its own buffer (no
   * wasm memory, or more harts than slots): the wasm tier is then unavailable.
   */
  readonly stateOffset: number;
  /** FP registers (FpContext): a view on the state area (state-layout.ts ST_F), like x. */
  readonly f: Int32Array;
  frm = 0;
  fflags = 0;

  pcLo = 0;
  pcHi = 0;
  priv = 3;
  /** Retired instructions: a double from the start (see DOUBLE_FIELD). */
  instret = DOUBLE_FIELD;
  waiting = false;
  sbiHandler?: (hart: Hart) => boolean;

  // ---- CSR state (64-bit values as lo/hi pairs) ----
  mstatus = 0; // low word; the high word is UXL=SXL=2 and SD, computed
  medeleg = 0;
  mideleg = 0;
  mie = 0;
  /** Effective mip: pins | software bits | Sstc's STIP. */
  mip = 0;
  private mipPins = 0;
  mipSoft = 0;
  private sstcStip = 0;
  mtvecLo = 0;
  mtvecHi = 0;
  stvecLo = 0;
  stvecHi = 0;
  mepcLo = 0;
  mepcHi = 0;
  sepcLo = 0;
  sepcHi = 0;
  mcauseLo = 0;
  mcauseHi = 0;
  scauseLo = 0;
  scauseHi = 0;
  mtvalLo = 0;
  mtvalHi = 0;
  stvalLo = 0;
  stvalHi = 0;
  mscratchLo = 0;
  mscratchHi = 0;
  sscratchLo = 0;
  sscratchHi = 0;
  mcounteren = 0;
  scounteren = 0;
  mcountinhibit = 0;
  menvcfgLo = 0;
  menvcfgHi = 0;
  senvcfg = 0;
  satpLo = 0;
  satpHi = 0;
  stimecmpLo = -1;
  stimecmpHi = -1;
  cycleOffset = 0;
  readonly pmpcfg = new Uint8Array(64);
  readonly pmpaddr = new Int32Array(128);
  /** The PMP checks, rebuilt from pmpcfg/pmpaddr on every write (pmp.ts). */
  readonly pmp = new Pmp();
  /** The CPU model: which optional extensions exist (cpu-config.ts). */
  readonly cpu: CpuConfig;
  /** cpu.ext: X_* feature bits. */
  readonly ext: number;

  // ---- translation caches ----
  // (Views on the hart's state area, state-layout.ts, so translated wasm code reads them too.)
  readonly rTagLo: Int32Array;
  readonly rTagHi: Int32Array;
  readonly rOff: Int32Array;
  readonly wTagLo: Int32Array;
  readonly wTagHi: Int32Array;
  readonly wOff: Int32Array;
  readonly xTagLo: Int32Array;
  readonly xTagHi: Int32Array;
  readonly xOff: Int32Array;
  /** XOR-ed into the high address word of TLB tags: effective privilege, SUM, MXR (see docs/cpu.md). */
  dkey = 0;
  ikey = 0;
  /**
   * Virtual regions of the superpages (2 MiB, 1 GiB, 512 GiB leaves) whose translations may be
   * cached, as base/mask pairs, so that SFENCE.VMA with an address can tell whether other 4 KiB
   * slots may hold pieces of the same leaf (see flushTlbPage). More than SP_MAX distinct regions
   * sets spOverflow: every address flush is then a full flush until the next one.
   */
  readonly spLo = new Int32Array(SP_MAX);
  readonly spHi = new Int32Array(SP_MAX);
  readonly spMaskLo = new Int32Array(SP_MAX);
  readonly spMaskHi = new Int32Array(SP_MAX);
  spCount = 0;
  spOverflow = false;

  /** Decoded instruction pages, indexed by RAM page number: [packed word, imm] per 2-byte slot. */
  readonly pages: (Int32Array | undefined)[];
  decodedList: number[] = [];

  // ---- translation tier (jit.ts) ----
  /** Translated windows per RAM page (undefined: not translated). */
  readonly jit: ((JitWindow | undefined)[] | undefined)[];
  /** Instructions interpreted per window (page << JIT_PAGE_BITS | window) since it was (re)decoded. */
  readonly jitHeat: Int32Array;
  /** Windows translated per RAM page: a page whose code keeps changing stops being translated. */
  readonly jitCount: Uint8Array;
  /**
   * Interpreted instructions after which a code window is translated (jit.ts). Infinity disables
   * the tier; tests set 0 to run everything translated. Read by each run(), so changes apply from
   * the next one.
   */
  jitThreshold = DOUBLE_FIELD; // JIT_DEFAULTS (set in the constructor; Infinity is a double)
  /** Event counters while profiling (hart-profile.ts); null: not profiling. */
  profile: HartProfile | null = null;
  /** Instructions run inside translated windows (exec.ts adds each window's share of the budget). */
  jitRan = DOUBLE_FIELD;
  /**
   * Which translator hot windows go to: 'wasm' (wasm/wasm-tier.ts; the default where the hart can
   * run it) or 'js' (jit.ts). Set through `tier`; both share the windows, heat and invalidation.
   */
  translator: 'js' | 'wasm' = 'js';
  /** Translated windows live at once (both tiers): a ring of window ids, oldest evicted first. */
  readonly jitRing = new Int32Array(JIT_CACHE_WINDOWS).fill(-1);
  jitRingPos = 0;
  /** Translations kept (at most JIT_CACHE_WINDOWS; tests lower it to see eviction at work). */
  jitCacheLimit = JIT_CACHE_WINDOWS;
  /** The wasm tier's function table and which slot each translated RAM page holds. */
  wasmTable: WasmTable | undefined;
  readonly wasmPageIdx = new Map<number, number>();
  readonly wasmFree: number[] = [];
  wasmNextIdx = 0;
  /** ST_FN_TAG / ST_FN_IDX (state-layout.ts): pages with a wasm function, for chaining. */
  readonly fnTag: Int32Array;
  readonly fnIdx: Int32Array;
  /** Windows translated and evicted since construction (bench/tests read them). */
  jitTranslations = 0;
  jitEvictions = 0;
  /** Heat at which a quickly heated window is translated (JIT_DEFAULTS, hart-codecache.ts). */
  jitFastThreshold: number = JIT_DEFAULTS.js.fast;
  /** When each window's heat started (instret / JIT_STAMP_UNIT). */
  readonly jitStart: Int32Array;
  readonly jitIncl = new Uint8Array(2048);
  readonly tramp = new Int32Array(6);
  readonly dec = new Int32Array(2);

  // ---- run bookkeeping shared with exec.ts ----
  runTraps = 0;
  runLeft = 0;
  runBudget = 0;
  ldLo = 0;
  ldHi = 0;
  csrLo = 0;
  csrHi = 0;
  resvValid = false;
  private resvAddr = 0;

  constructor(bus: Bus, hartId: number, clock: Clock, cpu: CpuConfig = cpuConfig(DEFAULT_CPU_MODEL)) {
    this.cpu = cpu;
    this.ext = cpu.ext;
    this.bus = bus;
    this.hartId = hartId;
    this.clock = clock;
    const area = bus.hartStateArea();
    if (ST_END > HART_STATE_BYTES) throw new Error('hart: state layout exceeds the bus state area');
    this.stateOffset = area.inMemory ? area.offset : -1;
    const view = (at: number, n: number) => new Int32Array(area.buffer, area.offset + at, n);
    this.x = view(ST_X, X_WORDS);
    this.stMisc = view(ST_MISC, MISC_WORDS);
    this.f = view(ST_F, F_WORDS).fill(0);
    this.rTagLo = view(ST_RTAG_LO, TLB_SIZE).fill(TLB_INVALID);
    this.rTagHi = view(ST_RTAG_HI, TLB_SIZE);
    this.rOff = view(ST_ROFF, TLB_SIZE);
    this.wTagLo = view(ST_WTAG_LO, TLB_SIZE).fill(TLB_INVALID);
    this.wTagHi = view(ST_WTAG_HI, TLB_SIZE);
    this.wOff = view(ST_WOFF, TLB_SIZE);
    this.xTagLo = view(ST_XTAG_LO, TLB_SIZE).fill(TLB_INVALID);
    this.xTagHi = view(ST_XTAG_HI, TLB_SIZE);
    this.xOff = view(ST_XOFF, TLB_SIZE);
    this.fnTag = view(ST_FN_TAG, FN_SLOTS).fill(-1);
    this.fnIdx = view(ST_FN_IDX, FN_SLOTS);
    this.x[X_CH_PG] = -1;
    if (wasmTierAvailable(this)) this.translator = 'wasm';
    this.instret = 0;
    this.jitRan = 0;
    this.jitThreshold = JIT_DEFAULTS[this.translator].threshold;
    this.jitFastThreshold = JIT_DEFAULTS[this.translator].fast;
    this.pages = new Array<Int32Array | undefined>(bus.ramSize >>> 12).fill(undefined);
    this.jit = new Array<(JitWindow | undefined)[] | undefined>(bus.ramSize >>> 12).fill(undefined);
    this.jitHeat = new Int32Array((bus.ramSize >>> 12) << JIT_PAGE_BITS);
    this.jitCount = new Uint8Array(bus.ramSize >>> 12);
    this.jitStart = new Int32Array((bus.ramSize >>> 12) << JIT_PAGE_BITS);
    bus.attach(this);
    this.updateKeys();
    if (!warmedUp) warmUpInterpreter();
  }

  // =============================== public API ===============================

  setPc(addr: number): void {
    this.pcLo = (addr % TWO32) | 0;
    this.pcHi = Math.floor(addr / TWO32) | 0;
  }

  getPc(): number {
    return this.pcHi * TWO32 + (this.pcLo >>> 0);
  }

  readReg(i: number): number {
    return this.x[2 * i + 1] * TWO32 + (this.x[2 * i] >>> 0);
  }

  readRegLo(i: number): number {
    return this.x[2 * i];
  }

  readRegHi(i: number): number {
    return this.x[2 * i + 1];
  }

  writeReg(i: number, v: number): void {
    if (i === 0) return;
    this.x[2 * i] = (v % TWO32) | 0;
    this.x[2 * i + 1] = Math.floor(v / TWO32) | 0;
  }

  /** Sets register i from exact halves. */
  writeRegParts(i: number, lo: number, hi: number): void {
    if (i === 0) return;
    this.x[2 * i] = lo;
    this.x[2 * i + 1] = hi;
  }

  setPending(mask: number, level: boolean): void {
    if (level) this.mipPins |= mask;
    else this.mipPins &= ~mask;
    this.updateMip();
  }

  /**
   * Sets or clears software-writable mip bits (SSIP, STIP) as M-mode firmware would with a CSR
   * write; used by the built-in SBI for IPIs and timers, which S-mode then clears through sip.
   */
  setSoftwarePending(mask: number, level: boolean): void {
    if (level) this.mipSoft |= mask;
    else this.mipSoft &= ~mask;
    this.updateMip();
  }

  get stimecmp(): number {
    if ((this.menvcfgHi & C.ENVCFG_STCE_HI) === 0) return Infinity;
    return (this.stimecmpHi >>> 0) * TWO32 + (this.stimecmpLo >>> 0);
  }

  run(budget: number): number {
    this.resvValid = false; // a reservation never survives a slice: other harts/devices ran since
    if ((this.menvcfgHi & C.ENVCFG_STCE_HI) !== 0) this.updateSstc();
    if (this.waiting) {
      if ((this.mip & this.mie) === 0) return 0;
      this.waiting = false;
    }
    if (!(budget >= 1)) return 0; // also rejects NaN
    // A small integer (V8's Smi range) always: a larger or fractional budget reaching execute()
    // once deoptimizes it ("lost precision"), costing a re-compile of the whole interpreter loop.
    budget = budget > MAX_SLICE ? MAX_SLICE : Math.floor(budget);
    this.runTraps = 0;
    this.runBudget = budget;
    this.runLeft = budget;
    const used = execute(this, budget);
    const retired = used - this.runTraps;
    this.instret += retired;
    this.runBudget = 0;
    this.runLeft = 0;
    this.runTraps = 0;
    return retired;
  }

  flushDecodedCode(): void {
    this.flushDecoded();
  }

  /**
   * The execution tier. Setting 'js' or 'wasm' restores the default threshold if the hart was
   * interpreting only (set jitThreshold to 0 afterwards to translate from the first block);
   * 'wasm' throws when this hart cannot run it (no WebAssembly, or its state is not in the RAM's
   * WebAssembly.Memory). Translations of the other translator are dropped.
   */
  get tier(): Tier {
    return this.jitThreshold === Infinity ? 'interp' : this.translator;
  }

  set tier(t: Tier) {
    if (t === 'wasm' && !wasmTierAvailable(this))
      throw new Error("the wasm tier needs WebAssembly and the hart state in the RAM's WebAssembly.Memory");
    if (t === 'interp') {
      this.jitThreshold = Infinity;
      return;
    }
    if (t !== 'js' && t !== 'wasm') throw new Error(`unknown tier ${JSON.stringify(t)} (interp, js or wasm)`);
    if (t !== this.translator) {
      for (let p = 0; p < this.jit.length; p++) if (this.jit[p] !== undefined) this.dropJit(p);
      this.useTranslator(t);
    }
    if (this.jitThreshold === Infinity) this.jitThreshold = JIT_DEFAULTS[t].threshold;
  }

  /** Sends hot windows to translator t; thresholds left at the old one's defaults take t's. */
  useTranslator(t: 'js' | 'wasm'): void {
    const old = JIT_DEFAULTS[this.translator];
    if (this.jitThreshold === old.threshold) this.jitThreshold = JIT_DEFAULTS[t].threshold;
    if (this.jitFastThreshold === old.fast) this.jitFastThreshold = JIT_DEFAULTS[t].fast;
    this.translator = t;
  }

  // =============================== state ===============================

  saveState(): HartState {
    const csr: Record<string, number> = {};
    for (const k of C.SAVED_FIELDS) csr[k] = (this as unknown as Record<string, number>)[k]!;
    csr.mipPins = this.mipPins;
    csr.mipSoft = this.mipSoft;
    return {
      version: HART_STATE_VERSION,
      hartId: this.hartId,
      x: Array.from(this.x.subarray(0, 64)),
      f: Array.from(this.f),
      pcLo: this.pcLo,
      pcHi: this.pcHi,
      priv: this.priv,
      frm: this.frm,
      fflags: this.fflags,
      instret: this.instret,
      cycleOffset: this.cycleOffset,
      waiting: this.waiting,
      csr,
      pmpcfg: Array.from(this.pmpcfg),
      pmpaddr: Array.from(this.pmpaddr),
    };
  }

  /**
   * Restores saveState()'s output. `s` is untrusted (raw data or a StateReader from the board):
   * every field is checked before anything is changed, so a bad one leaves the hart as it was
   * and throws a StateError naming the field.
   */
  loadState(s: unknown): void {
    const r = StateReader.of(s, 'hart', HART_STATE_VERSION);
    // Registers are int32 words; older writers may have stored them unsigned, so accept both.
    const LO = -(2 ** 31);
    const HI = 2 ** 32 - 1;
    const x = r.ints('x', LO, HI, 64, 64);
    const f = r.ints('f', LO, HI, 64, 64);
    const pmpcfg = r.ints('pmpcfg', 0, 255, 64, 64);
    const pmpaddr = r.ints('pmpaddr', LO, HI, 128, 128);
    const pcLo = r.int('pcLo', LO, HI) | 0;
    const pcHi = r.int('pcHi', LO, HI) | 0;
    const priv = r.int('priv', 0, 3);
    if (priv === 2) r.fail('expected 0, 1 or 3, got 2', 'priv');
    const frm = r.int('frm', 0, 7);
    const fflags = r.int('fflags', 0, 31);
    const instret = r.int('instret', 0, Number.MAX_SAFE_INTEGER);
    // A 64-bit mcycle write may leave an offset beyond 2^53: any integer within ±2^65 is one the hart made.
    const cycleOffset = r.int('cycleOffset', -(2 ** 65), 2 ** 65);
    const waiting = r.bool('waiting');
    const cr = r.field('csr');
    const csr: number[] = C.SAVED_FIELDS.map((k) => cr.int(k, LO, HI) | 0);
    const mipPins = cr.int('mipPins', LO, HI) | 0;
    const mipSoft = cr.int('mipSoft', LO, HI) | 0;

    this.x.set(x);
    this.x[0] = this.x[1] = 0;
    this.f.set(f);
    this.pmpcfg.set(pmpcfg);
    this.pmpaddr.set(pmpaddr);
    this.pmp.update(this.pmpcfg, this.pmpaddr);
    this.pcLo = pcLo;
    this.pcHi = pcHi;
    this.priv = priv;
    this.frm = frm;
    this.fflags = fflags;
    this.instret = instret;
    this.cycleOffset = cycleOffset;
    this.waiting = waiting;
    const self = this as unknown as Record<string, number>;
    C.SAVED_FIELDS.forEach((k, i) => (self[k] = csr[i]!));
    this.mipPins = mipPins;
    this.mipSoft = mipSoft;
    this.flushTlb();
    this.flushDecoded();
    this.updateKeys();
    this.updateMip();
  }

  // =============================== helpers for exec.ts ===============================

  /** Sets pc = (vLo,vHi) + off with carry into the high word. */
  setPcRel(vLo: number, vHi: number, off: number): void {
    const s = (vLo >>> 0) + off;
    this.pcLo = s | 0;
    this.pcHi = (vHi + (s < 0 ? -1 : s > 4294967295 ? 1 : 0)) | 0;
  }

  advance(w: number): void {
    this.setPcRel(this.pcLo, this.pcHi, (w >>> 27) & 1 ? 2 : 4);
  }

  updateKeys(): void {
    const ms = this.mstatus;
    const eff = this.priv === 3 && (ms & C.MSTATUS_MPRV) !== 0 ? (ms >>> 11) & 3 : this.priv;
    const sum = (ms >>> 18) & 1;
    const mxr = (ms >>> 19) & 1;
    this.dkey = (16 | eff | (sum << 2) | (mxr << 3)) << 24;
    this.stMisc[MISC_DKEY] = this.dkey;
    this.ikey = (16 | this.priv) << 24;
    this.stMisc[MISC_IKEY] = this.ikey;
  }

  updateMip(): void {
    let soft = this.mipSoft;
    let sstc = 0;
    if ((this.menvcfgHi & C.ENVCFG_STCE_HI) !== 0) {
      soft &= ~C.MIP_STIP;
      sstc = this.sstcStip;
    }
    this.mip = this.mipPins | soft | sstc;
    this.stMisc[MISC_PENDING] = this.mip & this.mie;
    if ((this.mip & this.mie) !== 0) this.waiting = false;
  }

  updateSstc(): void {
    const now = this.clock.now();
    const nowHi = Math.floor(now / TWO32);
    const nowLo = now - nowHi * TWO32;
    const ch = this.stimecmpHi >>> 0;
    const fire = nowHi > ch || (nowHi === ch && nowLo >= this.stimecmpLo >>> 0);
    this.sstcStip = fire ? C.MIP_STIP : 0;
    this.updateMip();
  }

  /** See hart-mmu.ts. */
  flushTlb(): void {
    flushTlb(this);
  }

  /** See hart-mmu.ts. */
  flushTlbPage(lo: number, hi: number): void {
    flushTlbPage(this, lo, hi);
  }

  /** See hart-codecache.ts. */
  flushDecoded(): void {
    flushDecoded(this);
  }

  /** See hart-codecache.ts. */
  dropJit(ramPage: number): void {
    dropJit(this, ramPage);
  }

  /** See hart-codecache.ts. */
  wasmTableFor(): WasmTable {
    return wasmTableFor(this);
  }

  /** See hart-codecache.ts. */
  wasmInstall(ramPage: number, page: unknown): void {
    wasmInstall(this, ramPage, page);
  }

  /** See hart-codecache.ts. */
  wasmUninstall(ramPage: number): void {
    wasmUninstall(this, ramPage);
  }

  /** See hart-codecache.ts. */
  jitStamp(win: number, ran: number): void {
    jitStamp(this, win, ran);
  }

  /** See hart-codecache.ts. */
  jitHot(win: number, hot: number, ran: number): void {
    jitHot(this, win, hot, ran);
  }

  /** See hart-codecache.ts. */
  jitCompile(ramPage: number, wi: number, entry: number): void {
    jitCompile(this, ramPage, wi, entry);
  }

  /** See hart-codecache.ts. */
  oneShot(code: Int32Array, p: number): Int32Array {
    return oneShot(this, code, p);
  }

  /** See hart-codecache.ts. */
  dropWriteTranslations(ramPage: number): void {
    dropWriteTranslations(this, ramPage);
  }

  /** See hart-codecache.ts. */
  dropDecodedPage(ramPage: number): void {
    dropDecodedPage(this, ramPage);
  }

  /** See hart-codecache.ts. */
  newCodePage(ramPage: number): Int32Array {
    return newCodePage(this, ramPage);
  }

  /** See hart-codecache.ts. */
  decodeSlot(code: Int32Array, pageOff: number, p: number): void {
    decodeSlot(this, code, pageOff, p);
  }

  /** See hart-codecache.ts. */
  decodeRaw(code: Int32Array, pageOff: number, p: number): void {
    decodeRaw(this, code, pageOff, p);
  }

  /** See hart-mem.ts. */
  fetchMiss(): number {
    return fetchMiss(this);
  }

  /** See hart-mem.ts. */
  slowFetch(): Int32Array | null {
    return slowFetch(this);
  }

  /** See hart-mem.ts. */
  fetchHalf(lo: number, hi: number): number {
    return fetchHalf(this, lo, hi);
  }

  // =============================== address translation ===============================

  xcause = 0;
  /**
   * Set by xlate: whether the translation it returned may be cached in a TLB entry for the
   * whole page (false when PMP gives parts of the physical page different answers, pmp.ts).
   */
  fillOk = true;

  /** See hart-mmu.ts. */
  xlate(lo: number, hi: number, access: number, size = 1): number {
    return xlate(this, lo, hi, access, size);
  }

  /** See hart-mmu.ts. */
  walk(lo: number, hi: number, access: number, eff: number, levels: number): number {
    return walk(this, lo, hi, access, eff, levels);
  }

  /** See hart-mmu.ts. */
  noteRegion(lo: number, hi: number, mLo: number, mHi: number): void {
    noteRegion(this, lo, hi, mLo, mHi);
  }

  // =============================== data access slow paths ===============================

  /** See hart-mem.ts. */
  dataFault(cause: number, lo: number, hi: number): false {
    return dataFault(this, cause, lo, hi);
  }

  /** See hart-mem.ts. */
  load(lo: number, hi: number, size: number): boolean {
    return load(this, lo, hi, size);
  }

  /** See hart-mem.ts. */
  loadBytes(lo: number, hi: number, size: number): boolean {
    return loadBytes(this, lo, hi, size);
  }

  /** See hart-mem.ts. */
  store(lo: number, hi: number, size: number, vlo: number, vhi: number): boolean {
    return store(this, lo, hi, size, vlo, vhi);
  }

  /** See hart-mem.ts. */
  storeBytes(lo: number, hi: number, size: number, vlo: number, vhi: number): boolean {
    return storeBytes(this, lo, hi, size, vlo, vhi);
  }

  // =============================== traps ===============================

  /** See hart-trap.ts. */
  trap(cause: number, tvalLo: number, tvalHi: number, isInterrupt: boolean): void {
    trap(this, cause, tvalLo, tvalHi, isInterrupt);
  }

  /** See hart-trap.ts. */
  illegal(raw: number): void {
    illegal(this, raw);
  }

  /** See hart-trap.ts. */
  rereadInsn(): number {
    return rereadInsn(this);
  }

  /** See hart-trap.ts. */
  takeInterrupt(): boolean {
    return takeInterrupt(this);
  }

  // =============================== system instructions ===============================

  /**
   * Executes a system/atomic/FP instruction at pc. Returns 0 (trap taken), 1 (done; pc not
   * advanced, the block continues), 2 (done; pc set; leave the block), 3 (WFI idle: stop run).
   */
  execSystem(w: number, imm: number): number {
    const op = w & 255;
    const d = (w >>> 8) & 127;
    const a = (w >>> 15) & 63;
    const b = (w >>> 21) & 63;
    const x = this.x;
    switch (op) {
      case Op.ECALL:
        if (this.priv === 1 && this.sbiHandler !== undefined && this.sbiHandler(this)) {
          this.advance(w);
          return 2;
        }
        this.trap(this.priv === 0 ? 8 : this.priv === 1 ? 9 : 11, 0, 0, false);
        return 0;
      case Op.EBREAK:
        this.trap(3, this.pcLo, this.pcHi, false);
        return 0;
      case Op.MRET:
        return mret(this);
      case Op.SRET:
        return sret(this);
      case Op.WFI:
        if (this.priv === 0 || (this.priv === 1 && (this.mstatus & C.MSTATUS_TW) !== 0)) return this.illegalR();
        this.advance(w);
        if ((this.mip & this.mie) === 0) {
          this.waiting = true;
          return 3;
        }
        return 2;
      case Op.SINVAL_VMA:
      case Op.SFENCE_INVAL:
      case Op.SFENCE_VMA:
        if (op !== Op.SFENCE_VMA && (this.ext & X_SVINVAL) === 0) return this.illegalR();
        if (op === Op.SFENCE_INVAL) {
          // sfence.w.inval / sfence.inval.ir order the sinval.vma around them; those complete at once.
          if (this.priv === 0) return this.illegalR();
          this.advance(w);
          return 2;
        }
        // sfence.vma and sinval.vma: the same privilege and TVM rules, the same flush.
        if (this.priv === 0 || (this.priv === 1 && (this.mstatus & C.MSTATUS_TVM) !== 0)) return this.illegalR();
        if (a === 0) this.flushTlb();
        else this.flushTlbPage(x[a], x[a + 1]);
        this.advance(w);
        return 2;
      case Op.CSRRW:
      case Op.CSRRS:
      case Op.CSRRC:
      case Op.CSRRWI:
      case Op.CSRRSI:
      case Op.CSRRCI:
        return this.execCsr(op, d, a >>> 1, imm, w);
      case Op.LR_W:
      case Op.LR_D: {
        const size = op === Op.LR_W ? 4 : 8;
        const lo = x[a];
        const hi = x[a + 1];
        if ((lo & (size - 1)) !== 0) return this.dataFault0(4, lo, hi);
        // Only RAM is reservable: LR elsewhere is a load access fault, before any device read.
        if (this.atomicRamOffset(lo, hi, size, LOAD) < 0) return 0;
        if (!this.load(lo, hi, size)) return 0;
        x[d] = this.ldLo;
        x[d + 1] = size === 4 ? this.ldLo >> 31 : this.ldHi;
        this.resvValid = true;
        this.resvAddr = lo;
        this.advance(w);
        return 2;
      }
      case Op.SC_W:
      case Op.SC_D: {
        const size = op === Op.SC_W ? 4 : 8;
        const lo = x[a];
        const hi = x[a + 1];
        if ((lo & (size - 1)) !== 0) return this.dataFault0(6, lo, hi);
        // Translated and checked even when it will fail (as Spike does): an SC to a device, which
        // is not reservable, is a store/AMO access fault and never reaches it.
        const off = this.atomicRamOffset(lo, hi, size, STORE);
        if (off < 0) return 0;
        if (this.resvValid && this.resvAddr === lo) {
          const ram = this.bus.ramI32;
          ram[off >>> 2] = x[b];
          if (size === 8) ram[(off >>> 2) + 1] = x[b + 1];
          if (this.bus.codePages[off >>> 12] !== 0) this.bus.codeWritten(off >>> 12);
          x[d] = 0;
        } else {
          x[d] = 1;
        }
        x[d + 1] = 0;
        this.resvValid = false;
        this.advance(w);
        return 2;
      }
      case Op.AMO_W:
      case Op.AMO_D:
        return this.execAmo(op === Op.AMO_D, imm, d, a, b, w);
      case Op.CBO:
        return this.execCbo(imm, a, w);
      case Op.XINT:
        // Zicond, Zbc/Zbkc, Zbkb, Zbkx (ext/intext.ts). Interpreted here, through the loop's one
        // existing slow-path call (a new call site in the loop would deoptimize it the first time
        // a guest used one); translated code calls execIntExt directly.
        if (!execIntExt(x, this.ext, w, imm)) return this.illegalR();
        return 1;
      case Op.FLH:
      case Op.FSH: {
        // Zfhmin: 16-bit FP loads (NaN-boxed to 64 bits) and stores.
        if ((this.ext & X_ZFHMIN) === 0 || (this.mstatus & C.MSTATUS_FS) === 0) return this.illegalR();
        const lo = (x[a] + imm) | 0;
        const s = (x[a] >>> 0) + imm;
        const hi = (x[a + 1] + (s < 0 ? -1 : s > 4294967295 ? 1 : 0)) | 0;
        if (op === Op.FLH) {
          if (!this.load(lo, hi, 2)) return 0;
          this.f[d] = this.ldLo | -0x10000;
          this.f[d + 1] = -1;
          this.mstatus |= C.MSTATUS_FS;
        } else if (!this.store(lo, hi, 2, this.f[b], 0)) return 0;
        this.advance(w);
        return 2;
      }
      case Op.FLW:
      case Op.FLD:
      case Op.FSW:
      case Op.FSD: {
        if ((this.mstatus & C.MSTATUS_FS) === 0) return this.illegalR();
        const lo = (x[a] + imm) | 0;
        const s = (x[a] >>> 0) + imm;
        const hi = (x[a + 1] + (s < 0 ? -1 : s > 4294967295 ? 1 : 0)) | 0;
        const f = this.f;
        if (op === Op.FLW || op === Op.FLD) {
          if (!this.load(lo, hi, op === Op.FLW ? 4 : 8)) return 0;
          f[d] = this.ldLo;
          f[d + 1] = op === Op.FLW ? -1 : this.ldHi;
          this.mstatus |= C.MSTATUS_FS;
          this.advance(w);
          return 2;
        }
        if (!this.store(lo, hi, op === Op.FSW ? 4 : 8, f[b], f[b + 1])) return 0;
        this.advance(w);
        return 2;
      }
      case Op.FP:
        if ((this.mstatus & C.MSTATUS_FS) === 0) return this.illegalR(imm);
        if (!executeFp(this, imm)) return this.illegalR(imm);
        x[64] = 0;
        x[65] = 0;
        x[0] = 0;
        x[1] = 0;
        this.mstatus |= C.MSTATUS_FS;
        this.advance(w);
        return 2;
    }
    return this.illegalR();
  }

  illegalR(raw = 0): number {
    this.illegal(raw);
    return 0;
  }

  private dataFault0(cause: number, lo: number, hi: number): number {
    this.trap(cause, lo, hi, false);
    return 0;
  }

  /**
   * The RAM offset of an aligned LR/SC/AMO target, or -1 with the trap taken. Only RAM supports
   * atomics on this board (its PMAs): elsewhere, device or nothing, LR takes a load access fault
   * and SC/AMOs a store/AMO access fault, without touching the device. A TLB hit is RAM already;
   * a miss walks with the instruction's permission (a read-only page gives an SC or AMO a store
   * fault). The write TLB is filled as the store path fills it.
   */
  private atomicRamOffset(lo: number, hi: number, size: number, access: number): number {
    const bus = this.bus;
    const i = (lo >>> 12) & TLB_MASK;
    const o = lo & 4095;
    if (access === STORE) {
      if (this.wTagLo[i] === (lo & -4096) && this.wTagHi[i] === (hi ^ this.dkey)) return (this.wOff[i] >>> 0) + o;
    } else if (this.rTagLo[i] === (lo & -4096) && this.rTagHi[i] === (hi ^ this.dkey)) {
      return (this.rOff[i] >>> 0) + o;
    }
    const pa = this.xlate(lo, hi, access, size);
    if (pa < 0) return this.dataFault0(this.xcause, lo, hi) - 1;
    if (!bus.isRam(pa, size)) return this.dataFault0(access === STORE ? 7 : 5, lo, hi) - 1;
    const off = pa - bus.ramBase;
    if (access === STORE && bus.codePages[off >>> 12] === 0 && this.fillOk) {
      this.wTagLo[i] = lo & -4096;
      this.wTagHi[i] = hi ^ this.dkey;
      this.wOff[i] = off - o;
    }
    return off;
  }

  private execAmo(dbl: boolean, f5: number, d: number, a: number, b: number, w: number): number {
    const x = this.x;
    const lo = x[a];
    const hi = x[a + 1];
    const size = dbl ? 8 : 4;
    if ((lo & (size - 1)) !== 0) return this.dataFault0(6, lo, hi);
    const off = this.atomicRamOffset(lo, hi, size, STORE);
    if (off < 0) return 0;
    const bus = this.bus;
    const ram = bus.ramI32;
    const ol = ram[off >>> 2];
    const oh = dbl ? ram[(off >>> 2) + 1] : ol >> 31;
    const bl = x[b];
    const bh = dbl ? x[b + 1] : x[b] >> 31;
    let rl = 0;
    let rh = 0;
    switch (f5) {
      case 1: // swap
        rl = bl;
        rh = bh;
        break;
      case 0: {
        // add
        const s = (ol >>> 0) + (bl >>> 0);
        rl = s | 0;
        rh = (oh + bh + (s > 4294967295 ? 1 : 0)) | 0;
        break;
      }
      case 4:
        rl = ol ^ bl;
        rh = oh ^ bh;
        break;
      case 12:
        rl = ol & bl;
        rh = oh & bh;
        break;
      case 8:
        rl = ol | bl;
        rh = oh | bh;
        break;
      default: {
        // 16 min, 20 max, 24 minu, 28 maxu
        const signed = f5 === 16 || f5 === 20;
        const oLess = oh !== bh ? (signed ? oh < bh : oh >>> 0 < bh >>> 0) : ol >>> 0 < bl >>> 0;
        const pickOld = f5 === 16 || f5 === 24 ? oLess : !oLess;
        rl = pickOld ? ol : bl;
        rh = pickOld ? oh : bh;
      }
    }
    ram[off >>> 2] = rl;
    if (dbl) ram[(off >>> 2) + 1] = rh;
    if (bus.codePages[off >>> 12] !== 0) bus.codeWritten(off >>> 12);
    x[d] = ol;
    x[d + 1] = oh;
    this.advance(w);
    return 2;
  }

  // =============================== CSRs ===============================

  /** See hart-csr.ts. */
  execCsr(op: number, d: number, rs1: number, csr: number, w: number): number {
    return execCsr(this, op, d, rs1, csr, w);
  }

  /** See hart-csr.ts. */
  liveInstret(): number {
    return liveInstret(this);
  }

  /** See hart-csr.ts. */
  set64(v: number): void {
    set64(this, v);
  }

  /** See hart-csr.ts. */
  counterOk(bit: number): boolean {
    return counterOk(this, bit);
  }

  /** See hart-csr.ts. */
  csrRead(csr: number): boolean {
    return csrRead(this, csr);
  }

  /** See hart-csr.ts. */
  sdBit(): number {
    return sdBit(this);
  }

  /** See hart-csr.ts. */
  csrWrite(csr: number, lo: number, hi: number): boolean {
    return csrWrite(this, csr, lo, hi);
  }

  /** See hart-csr.ts. */
  pmpChanged(): void {
    pmpChanged(this);
  }

  /** See hart-csr.ts. */
  envcfgMask(): number {
    return envcfgMask(this);
  }

  /**
   * Zicbom/Zicboz: cbo.inval (0), cbo.clean (1), cbo.flush (2), cbo.zero (4) on the 64-byte block
   * holding x[a]. Caches are not modelled (RAM is coherent with every agent), so clean, flush and
   * inval only check that the instruction is enabled for the mode (xenvcfg) and that the block
   * may be accessed; cbo.zero stores 64 zero bytes. A fault reports the block's address (rs1
   * aligned down), as QEMU and Spike do.
   */
  private execCbo(kind: number, a: number, w: number): number {
    const zero = kind === 4;
    if ((this.ext & (zero ? X_ZICBOZ : X_ZICBOM)) === 0) return this.illegalR();
    const priv = this.priv;
    if (priv !== 3) {
      let ok: boolean;
      if (kind === 0) {
        // CBIE: 01 (flush) and 11 (invalidate) enable it; 00 and the reserved 10 do not.
        const m = (this.menvcfgLo >>> 4) & 3;
        const s = (this.senvcfg >>> 4) & 3;
        ok = (m & 1) === 1 && (priv === 1 || (s & 1) === 1);
      } else {
        const bit = zero ? C.ENVCFG_CBZE : C.ENVCFG_CBCFE;
        ok = (this.menvcfgLo & bit) !== 0 && (priv === 1 || (this.senvcfg & bit) !== 0);
      }
      if (!ok) return this.illegalR();
    }
    const x = this.x;
    const lo = x[a] & -CACHE_BLOCK;
    const hi = x[a + 1];
    const bus = this.bus;
    if (!zero) {
      // Allowed when a load or a store would be; failures are store/AMO faults.
      const i = (lo >>> 12) & TLB_MASK;
      if (!(this.rTagLo[i] === (lo & -4096) && this.rTagHi[i] === (hi ^ this.dkey))) {
        const pa = this.xlate(lo, hi, LOAD, CACHE_BLOCK);
        if (pa < 0) return this.dataFault0(this.xcause === 13 ? 15 : 7, lo, hi);
      }
      this.advance(w);
      return 2;
    }
    // As a store of the whole block, through the write TLB (Linux clears every page this way).
    const off = this.atomicRamOffset(lo, hi, CACHE_BLOCK, STORE);
    if (off < 0) return 0;
    bus.ram.fill(0, off, off + CACHE_BLOCK);
    if (bus.codePages[off >>> 12] !== 0) bus.codeWritten(off >>> 12);
    this.advance(w);
    return 2;
  }

  /** See hart-csr.ts. */
  writeMstatus(v: number): void {
    writeMstatus(this, v);
  }
}

let warmedUp = false;
/** Iterations of about 200 instructions: one gives type feedback; a few dozen also let V8 start
 * optimizing the loop (about 30 ms of CPU, measured against first-run speed of bench/cpu). */
const WARMUP_ITERATIONS = 50;
/** Iterations of the feedback-only passes (other register values, translated tiers). */
const WARMUP_EXTRA_ITERATIONS = 4;
/** RAM base of the warm-up's scratch buses (warmup-program.ts word indexes count from it). */
const WARMUP_BASE = 0x80000000;

/**
 * Runs WARMUP_PROGRAM on scratch buses (see warmup-program.ts for why). Hart construction calls it
 * once per process; returns each pass's hart so tests can check that the program ran to its WFI.
 * Every pass removed deoptimizations of the interpreter loop seen in the Linux boot
 * (`--trace-deopt`): each one costs a background TurboFan compile of `execute` (0.1-0.4 s) and a
 * stretch in V8's baseline code meanwhile; a busybox boot ran 2.4 s (27%) slower than a second
 * boot in the same process before the wasm pass, the interrupt and field steps were added.
 *  1. and 2. interpreter, the register values rotated, then small values with zero words, so
 *     value-dependent paths (shift amounts below and above 32, zero low words for ctz, compares
 *     that reach the low words) have run;
 *  3. the JS translation tier on from the first block (jitThreshold 0), so the loop's calls into
 *     translated windows, their exits and jitCompile have type feedback (and the window call site
 *     is megamorphic: V8 never inlines one window into the loop) before a guest's first hot window;
 *  4. the same with the wasm tier where the host has it: its exits (kind 7, chained pages);
 *  passes 1, 3 and 4 then run WARMUP_HITS (TLB hits after misses, FP misses, a call to an
 *  untranslated page);
 *  then an interrupt and a fetch fault taken (the loop's interrupt check and fetch trap,
 *  warmUpInterrupt);
 * then every number field of a hart written (warmUpFields);
 *  5. interpreter, large register values (every op, both outcomes of every compare), long enough
 *     for V8 to optimize the loop, last, so it does so with the feedback of every pass.
 */
export function warmUpInterpreter(): Hart[] {
  warmedUp = true;
  const big = [0x7f4a7c15, -0x61c88647, 0x12345678, -0x7ffffff0, 0x40000001, -3];
  const large = (r: number): [number, number] => [big[r % 6]!, big[(r + 3) % 6]!];
  const rotated = (r: number): [number, number] => [big[(r + 3) % 6]!, big[r % 6]!];
  const small = (r: number): [number, number] => [r % 3 === 0 ? 0 : r * 3, r % 2 === 0 ? 0 : -1];
  const passes: Hart[] = [
    warmUpPass(rotated, WARMUP_EXTRA_ITERATIONS, 'interp')!,
    warmUpPass(small, WARMUP_EXTRA_ITERATIONS, 'interp')!,
    warmUpPass(large, WARMUP_EXTRA_ITERATIONS, 'js')!,
  ];
  // The wasm pass's translations are not the guest's: the statistics (bench, --stats) leave them
  // out, except modules the engine rejected (a translator bug, which tests look for).
  const stats = { ...wasmStats };
  const wasm = warmUpPass(large, WARMUP_EXTRA_ITERATIONS, 'wasm');
  if (wasm !== null) passes.push(wasm);
  for (const h of passes) if (h !== passes[1]) warmUpHits(h);
  Object.assign(wasmStats, stats, { rejected: wasmStats.rejected });
  warmUpInterrupt(warmUpPass(small, 1, 'interp')!);
  warmUpFields(passes[1]!);
  passes.push(warmUpPass(large, WARMUP_ITERATIONS, 'interp')!);
  return passes;
}

/** One pass of WARMUP_PROGRAM on a new hart; null when that tier is not available here. */
function warmUpPass(values: (r: number) => [number, number], iterations: number, tier: Tier): Hart | null {
  const base = WARMUP_BASE;
  const bus = new BusClass(base, 64 * 1024);
  const h = new Hart(bus, 0, { now: () => 12345 });
  if (tier === 'wasm' && !wasmTierAvailable(h)) return null;
  h.tier = tier;
  if (tier !== 'interp') h.jitThreshold = 0; // translated from the first block
  for (const [at, words] of WARMUP_PROGRAM) bus.ramI32.set(words, at);
  for (let r = 5; r < 32; r++) h.writeRegParts(r, ...values(r));
  h.writeRegParts(8, base + 0x8000, 0); // s0: data pointer
  h.writeRegParts(30, 5, 0x1234); // t5, t6: equal high words, so compares look at the low words
  h.writeRegParts(31, -5, 0x1234);
  h.writeRegParts(27, iterations, 0); // s11: loop count
  h.setPc(base);
  for (let k = 0; k < 1000 && !h.waiting; k++) h.run(10_000);
  return h;
}

/** Runs WARMUP_HITS on a hart that finished WARMUP_PROGRAM; it ends waiting in WFI again. */
function warmUpHits(h: Hart): void {
  for (const [at, words] of WARMUP_HITS) h.bus.ramI32.set(words, at);
  h.setPc(WARMUP_BASE + WARMUP_HITS[0]![0] * 4); // its first block
  h.waiting = false;
  for (let k = 0; k < 100 && !h.waiting; k++) h.run(1000);
}

/**
 * Takes a machine software interrupt on a hart that finished the program (waiting in WFI), so the
 * loop's interrupt check has run its taken side, then a fetch fault. The program's trap handler
 * (its first instructions, mtvec) returns past the interrupted instruction; the few instructions
 * after the program's WFI run, interrupted again each time, until the budget ends.
 */
function warmUpInterrupt(h: Hart): void {
  const MSIP = 1 << 3;
  h.mie |= MSIP;
  h.writeMstatus(h.mstatus | C.MSTATUS_MIE);
  h.setPending(MSIP, true);
  h.run(16);
  h.setPending(MSIP, false);
  // An instruction access fault (no memory at 0x1000): the fetch path's trap. The handler returns
  // to the next address, which faults again, until the budget ends.
  h.setPc(0x1000);
  h.waiting = false;
  h.run(8);
}

/**
 * Writes every number field of a (scratch) hart with another value and back, and every field
 * that holds a plain array, null or undefined (a list replaced later, a hook or profile attached
 * later: decodedList, sbiHandler, profile). V8 tracks fields written only once as constant;
 * optimized code that relied on one deoptimizes when it is first changed (mip, frm, stimecmp...
 * by a guest, decodedList at its first flush, seen in the boot as "code dependencies"
 * deoptimizations of the interpreter loop). The hidden class is shared by every hart, so this
 * hart's writes make the fields mutable for all. It runs before the optimizing pass: a write
 * while V8 compiles the loop in the background aborts that compile.
 */
function warmUpFields(h: Hart): void {
  const fields = h as unknown as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    const v = fields[key];
    if (typeof v === 'number') {
      // An int32 stays one; a double (2^53, Infinity...) field is a double field already.
      fields[key] = (v | 0) === v ? v ^ 1 : v === 0.5 ? 1.5 : 0.5;
    } else if (v === null || v === undefined) {
      fields[key] = warmUpFields;
    } else if (Array.isArray(v)) {
      fields[key] = [];
    } else continue;
    fields[key] = v;
  }
}
