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
 */
import type { Bus, CodeCacheClient } from '../memory/bus.ts';
import type { Clock } from '../memory/clock.ts';
import { decodeAny, decode16, decode32 } from './decode.ts';
import { Op, TLB_SIZE, TLB_MASK, JIT_PAGE_BITS, JIT_WINDOW_SHIFT, execute, executeFp } from './exec.ts';
import * as C from './csr.ts';
import { WARMUP_PROGRAM } from './warmup-program.ts';
import { compileWindow } from './jit.ts';
import type { Tier } from './tier.ts';
import { compileWasmWindow, wasmTierAvailable } from './wasm/wasm-tier.ts';
import type { ExecContext, JitWindow } from './exec-context.ts';
import { Bus as BusClass, HART_STATE_BYTES } from '../memory/bus.ts';
import {
  X_WORDS,
  ST_X,
  ST_MISC,
  MISC_WORDS,
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
import { wasmApi, type WasmTable } from './wasm/api.ts';
import { StateReader } from '../memory/state.ts';
import {
  cpuConfig,
  DEFAULT_CPU_MODEL,
  X_SV57,
  X_SVNAPOT,
  X_SVPBMT,
  X_ZICBOM,
  X_ZICBOZ,
  X_SVINVAL,
  X_ZFHMIN,
} from './cpu-config.ts';
import type { CpuConfig } from './cpu-config.ts';
import { Pmp, PMP_R, PMP_W, PMP_X } from './pmp.ts';
import { execIntExt } from './ext/intext.ts';
import type { HartProfile } from './hart-profile.ts';

const TWO32 = 4294967296;

/** Access kinds for translation. */
const FETCH = 0;
const LOAD = 1;
const STORE = 2;

const PAGE_FAULT = [12, 13, 15];
/** PMP permission each access kind needs. */
const PMP_NEED = [PMP_X, PMP_R, PMP_W];
/** Cache-block size of Zicbom/Zicboz (riscv,cbom-block-size / riscv,cboz-block-size). */
export const CACHE_BLOCK = 64;
/**
 * Default jitThreshold, per 256-byte window: only really hot code is worth V8's compile time
 * (measured on the Linux boot, docs/cpu.md "Translation tier": 5M boots faster than 20M, and
 * than 1-2M, which translate many lukewarm windows; whole pages at 200k were 10x slower).
 */
const JIT_THRESHOLD = 5_000_000;
/**
 * A window that gets hot quickly is translated sooner: at JIT_FAST_THRESHOLD interpreted
 * instructions if it reached them within JIT_FAST_SPAN instructions of the hart's execution
 * (i.e. it ran at least 1/4 of everything since it started warming). Tight loops such as
 * bench/cpu's qualify at once; the boot's many lukewarm windows (each translation costs tens of
 * ms of V8 compile work, measured) wait for JIT_THRESHOLD, which measured best there
 * (docs/cpu.md "Translation tier").
 */
const JIT_FAST_THRESHOLD = 500_000;
const JIT_FAST_SPAN = 2_000_000;
/** jitStart counts instructions in units of 2^12 (int32 for 2^43 instructions). */
const JIT_STAMP_UNIT = 4096;
/** A page re-decoded or re-translated this often stays interpreted (self-modifying, or churning). */
const JIT_MAX_PER_PAGE = 64;
/**
 * Bound of the code cache: translated windows alive at once (per hart, either tier). A Linux boot
 * translates ~100 at the default thresholds; forced translation (tests) or a large guest
 * working set evicts the oldest, which is translated again when it gets hot again.
 */
export const JIT_CACHE_WINDOWS = 2048;

export { TIERS, type Tier } from './tier.ts';
/** Superpage regions tracked for address-specific SFENCE.VMA (a kernel has a handful). */
const SP_MAX = 8;
const ACCESS_FAULT = [1, 5, 7];

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
  readonly f = new Int32Array(64);
  frm = 0;
  fflags = 0;

  pcLo = 0;
  pcHi = 0;
  priv = 3;
  instret = 0;
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
  private mipSoft = 0;
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
  private readonly spLo = new Int32Array(SP_MAX);
  private readonly spHi = new Int32Array(SP_MAX);
  private readonly spMaskLo = new Int32Array(SP_MAX);
  private readonly spMaskHi = new Int32Array(SP_MAX);
  private spCount = 0;
  private spOverflow = false;

  /** Decoded instruction pages, indexed by RAM page number: [packed word, imm] per 2-byte slot. */
  readonly pages: (Int32Array | undefined)[];
  private decodedList: number[] = [];

  // ---- translation tier (jit.ts) ----
  /** Translated windows per RAM page (undefined: not translated). */
  readonly jit: ((JitWindow | undefined)[] | undefined)[];
  /** Instructions interpreted per window (page << JIT_PAGE_BITS | window) since it was (re)decoded. */
  readonly jitHeat: Int32Array;
  /** Windows translated per RAM page: a page whose code keeps changing stops being translated. */
  private readonly jitCount: Uint8Array;
  /**
   * Interpreted instructions after which a code window is translated (jit.ts). Infinity disables
   * the tier; tests set 0 to run everything translated. Read by each run(), so changes apply from
   * the next one.
   */
  jitThreshold = JIT_THRESHOLD;
  /** Event counters while profiling (hart-profile.ts); null: not profiling. */
  profile: HartProfile | null = null;
  /** Instructions run inside translated windows (exec.ts adds each window's share of the budget). */
  jitRan = 0;
  /**
   * Which translator hot windows go to: 'wasm' (wasm/wasm-tier.ts; the default where the hart can
   * run it) or 'js' (jit.ts). Set through `tier`; both share the windows, heat and invalidation.
   */
  private translator: 'js' | 'wasm' = 'js';
  /** Translated windows live at once (both tiers): a ring of window ids, oldest evicted first. */
  private readonly jitRing = new Int32Array(JIT_CACHE_WINDOWS).fill(-1);
  private jitRingPos = 0;
  /** Translations kept (at most JIT_CACHE_WINDOWS; tests lower it to see eviction at work). */
  jitCacheLimit = JIT_CACHE_WINDOWS;
  /** The wasm tier's function table and which slot each translated RAM page holds. */
  private wasmTable: WasmTable | undefined;
  private readonly wasmPageIdx = new Map<number, number>();
  private readonly wasmFree: number[] = [];
  private wasmNextIdx = 0;
  /** ST_FN_TAG / ST_FN_IDX (state-layout.ts): pages with a wasm function, for chaining. */
  private readonly fnTag: Int32Array;
  private readonly fnIdx: Int32Array;
  /** Windows translated and evicted since construction (bench/tests read them). */
  jitTranslations = 0;
  jitEvictions = 0;
  /** Heat at which a quickly heated window is translated (JIT_FAST_THRESHOLD). */
  jitFastThreshold = JIT_FAST_THRESHOLD;
  /** When each window's heat started (instret / JIT_STAMP_UNIT). */
  private readonly jitStart: Int32Array;
  private readonly jitIncl = new Uint8Array(2048);
  private readonly tramp = new Int32Array(6);
  private readonly dec = new Int32Array(2);

  // ---- run bookkeeping shared with exec.ts ----
  runTraps = 0;
  runLeft = 0;
  runBudget = 0;
  ldLo = 0;
  ldHi = 0;
  private csrLo = 0;
  private csrHi = 0;
  private resvValid = false;
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
    budget = Math.floor(budget);
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
      this.translator = t;
    }
    if (this.jitThreshold === Infinity) this.jitThreshold = JIT_THRESHOLD;
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

  private advance(w: number): void {
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

  private updateMip(): void {
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

  private updateSstc(): void {
    const now = this.clock.now();
    const nowHi = Math.floor(now / TWO32);
    const nowLo = now - nowHi * TWO32;
    const ch = this.stimecmpHi >>> 0;
    const fire = nowHi > ch || (nowHi === ch && nowLo >= this.stimecmpLo >>> 0);
    this.sstcStip = fire ? C.MIP_STIP : 0;
    this.updateMip();
  }

  flushTlb(): void {
    if (this.profile !== null) this.profile.tlbFlushAll++;
    this.rTagLo.fill(TLB_INVALID);
    this.wTagLo.fill(TLB_INVALID);
    this.xTagLo.fill(TLB_INVALID);
    this.spCount = 0;
    this.spOverflow = false;
  }

  /**
   * SFENCE.VMA with an address. Entries are per 4 KiB page: when the address lies in a superpage
   * whose translations may be cached, its other 4 KiB pieces may sit in other slots, so flush
   * everything; otherwise only the address's slot can hold a translation for it. (Linux issues
   * these for every fixmap text patch, next to its 1 GiB linear map: a full flush each time was
   * ~100,000 flushes and their refill walks per boot.)
   */
  private flushTlbPage(lo: number, hi: number): void {
    if (this.spOverflow) {
      this.flushTlb();
      return;
    }
    for (let k = 0; k < this.spCount; k++) {
      if ((lo & this.spMaskLo[k]) === this.spLo[k] && (hi & this.spMaskHi[k]) === this.spHi[k]) {
        this.flushTlb();
        return;
      }
    }
    if (this.profile !== null) this.profile.tlbFlushPage++;
    const i = (lo >>> 12) & TLB_MASK;
    this.rTagLo[i] = TLB_INVALID;
    this.wTagLo[i] = TLB_INVALID;
    this.xTagLo[i] = TLB_INVALID;
  }

  flushDecoded(): void {
    if (this.profile !== null) {
      this.profile.codeFlushes++;
      this.profile.codePagesDropped += this.decodedList.length;
    }
    for (const p of this.decodedList) {
      this.pages[p] = undefined;
      this.dropJit(p);
    }
    this.decodedList = [];
  }

  /** Forgets the page's translations (its decoded slots changed or are gone). */
  private dropJit(ramPage: number): void {
    const windows = this.jit[ramPage];
    if (windows !== undefined && this.profile !== null) {
      // A wasm page function fills every window of its page: count each translation once.
      let prev: JitWindow | undefined;
      for (const w of windows) {
        if (w !== undefined && w !== prev) this.profile.windowsDropped++;
        prev = w;
      }
    }
    this.jit[ramPage] = undefined;
    this.jitHeat.fill(0, ramPage << JIT_PAGE_BITS, (ramPage + 1) << JIT_PAGE_BITS);
    if (this.wasmPageIdx.size !== 0) this.wasmUninstall(ramPage);
  }

  /** The function table wasm pages chain through (wasm-tier.ts dispatcherFn), made on first use. */
  private wasmTableFor(): WasmTable {
    this.wasmTable ??= new wasmApi!.Table({ element: 'anyfunc', initial: JIT_CACHE_WINDOWS });
    return this.wasmTable;
  }

  /** Makes a page's wasm function reachable by chaining: a table slot and the ST_FN_* entry. */
  private wasmInstall(ramPage: number, page: unknown): void {
    let idx = this.wasmPageIdx.get(ramPage);
    if (idx === undefined) {
      idx = this.wasmFree.pop() ?? (this.wasmNextIdx < JIT_CACHE_WINDOWS ? this.wasmNextIdx++ : -1);
      if (idx < 0) return; // table full: this page is entered from exec.ts only
      this.wasmPageIdx.set(ramPage, idx);
    }
    this.wasmTable!.set(idx, page);
    const slot = ramPage & (FN_SLOTS - 1);
    this.fnTag[slot] = ramPage;
    this.fnIdx[slot] = idx;
  }

  private wasmUninstall(ramPage: number): void {
    const idx = this.wasmPageIdx.get(ramPage);
    if (idx === undefined) return;
    this.wasmPageIdx.delete(ramPage);
    this.wasmTable!.set(idx, null);
    this.wasmFree.push(idx);
    const slot = ramPage & (FN_SLOTS - 1);
    if (this.fnTag[slot] === ramPage) this.fnTag[slot] = -1;
  }

  /** exec.ts: window `win` starts warming; `ran` = budget used so far in this run(). */
  jitStamp(win: number, ran: number): void {
    this.jitStart[win] = Math.floor((this.instret + ran) / JIT_STAMP_UNIT);
  }

  /** exec.ts: window `win` reached jitFastThreshold (or more); translate it if it is due. */
  jitHot(win: number, hot: number, ran: number): void {
    const span = (this.instret + ran) / JIT_STAMP_UNIT - this.jitStart[win];
    if (hot < this.jitThreshold && span >= JIT_FAST_SPAN / JIT_STAMP_UNIT) return;
    this.jitCompile(win >>> JIT_PAGE_BITS, win & ((1 << JIT_PAGE_BITS) - 1), -1);
  }

  /**
   * Translates window `wi` of a page (called by exec.ts when its heat reaches jitThreshold);
   * `entry` (or -1) is a page offset about to run, translated even if it has not run yet.
   */
  jitCompile(ramPage: number, wi: number, entry: number): void {
    const code = this.pages[ramPage];
    const hi = (ramPage << JIT_PAGE_BITS) | wi;
    if (this.jit[ramPage]?.[wi] !== undefined) {
      this.jitHeat[hi] = 0; // translated already (exec.ts does not ask for these; kept as a guard)
      return;
    }
    if (code === undefined || this.jitCount[ramPage] >= JIT_MAX_PER_PAGE) {
      this.jitHeat[hi] = -0x40000000; // do not ask again soon
      return;
    }
    this.jitCount[ramPage]++;
    // Slots to translate: every executed (decoded) instruction and the straight-line code after
    // it, decoded now, so code not run yet needs no re-translation when it first runs. Following
    // instruction lengths from executed starts never translates the middle of an instruction.
    // (Decoding is a pure function of RAM, which the page mirrors.)
    const pageOff = ramPage << 12;
    const incl = this.jitIncl;
    incl.fill(0);
    if (entry >= 0 && (code[entry] & 255) === Op.DECODE) this.decodeRaw(code, pageOff, entry);
    for (let p = 0; p < 4096; p += 2) {
      if ((code[p] & 255) === Op.DECODE || incl[p >> 1] === 1) continue;
      for (let q = p; q < 4096 && incl[q >> 1] === 0; q += (code[q] >>> 27) & 1 ? 2 : 4) {
        if ((code[q] & 255) === Op.DECODE) this.decodeRaw(code, pageOff, q);
        incl[q >> 1] = 1;
        const op = code[q] & 255;
        if (op === Op.ILLEGAL || op === Op.CROSS) break;
      }
    }
    const wasm = this.translator === 'wasm';
    const res = wasm
      ? compileWasmWindow(this, this.wasmTableFor(), code, incl, wi)
      : compileWindow(this, code, incl, wi);
    if (res === undefined) {
      // No run-time code generation on this host: without wasm, try JS (from the next hot
      // window on); without either, interpret.
      if (wasm) this.translator = 'js';
      else this.jitThreshold = Infinity;
      return;
    }
    if (res === null) {
      this.jitHeat[hi] = -0x40000000; // nothing to translate here
      return;
    }
    const fn = typeof res === 'function' ? res : res.run;
    if (typeof res !== 'function') this.wasmInstall(ramPage, res.page);
    let windows = this.jit[ramPage];
    if (windows === undefined) {
      // One more than the windows: exec.ts looks up offset 4096 (the page's end) too.
      windows = new Array<JitWindow | undefined>((1 << JIT_PAGE_BITS) + 1).fill(undefined);
      this.jit[ramPage] = windows;
    }
    // A wasm function covers the whole page (wasm-tier.ts): every window enters it.
    if (wasm) windows.fill(fn, 0, 1 << JIT_PAGE_BITS);
    else windows[wi] = fn;
    this.jitTranslations++;
    if (this.profile !== null) this.profile.windowsTranslated++;
    // Bounded cache: the ring's oldest entry goes (if that window was dropped and translated again
    // meanwhile, its newer translation goes early: harmless, it is translated again when hot).
    const ring = this.jitRing;
    const old = ring[this.jitRingPos];
    if (old >= 0) {
      const op = old >>> JIT_PAGE_BITS;
      const ow = old & ((1 << JIT_PAGE_BITS) - 1);
      const ows = this.jit[op];
      if (ows !== undefined && ows[ow] !== undefined) {
        if (this.translator === 'wasm') this.dropJit(op);
        else {
          ows[ow] = undefined;
          this.jitHeat[old] = 0;
        }
        this.jitEvictions++;
      }
    }
    ring[this.jitRingPos] = hi;
    this.jitRingPos = (this.jitRingPos + 1) % Math.max(1, Math.min(this.jitCacheLimit, ring.length));
  }

  /**
   * The trampoline (as for page-crossing instructions) holding the decoded slot at `p` of `code`
   * alone: exec.ts runs a load/store that a translated window handed back (jit.ts kind 6) from it,
   * so exactly that one instruction is interpreted before the block ends.
   */
  oneShot(code: Int32Array, p: number): Int32Array {
    const t = this.tramp;
    t[0] = code[p];
    t[1] = code[p + 1];
    t[2] = Op.PAGE_END;
    t[4] = Op.PAGE_END;
    return t;
  }

  dropWriteTranslations(ramPage: number): void {
    const off = ramPage << 12;
    const tags = this.wTagLo;
    const offs = this.wOff;
    for (let i = 0; i < TLB_SIZE; i++) if (offs[i] === off) tags[i] = TLB_INVALID;
  }

  dropDecodedPage(ramPage: number): void {
    if (this.profile !== null && this.pages[ramPage] !== undefined) this.profile.codePagesDropped++;
    this.pages[ramPage] = undefined;
    this.dropJit(ramPage);
  }

  newCodePage(ramPage: number): Int32Array {
    if (this.profile !== null) this.profile.codePagesMade++;
    const page = new Int32Array(4098);
    page[4096] = Op.PAGE_END;
    this.pages[ramPage] = page;
    this.dropJit(ramPage);
    if (this.decodedList.length > this.pages.length) {
      this.decodedList = [];
      for (let i = 0; i < this.pages.length; i++) if (this.pages[i] !== undefined) this.decodedList.push(i);
    }
    this.decodedList.push(ramPage);
    this.bus.markCode(ramPage);
    return page;
  }

  decodeSlot(code: Int32Array, pageOff: number, p: number): void {
    // A translated window is missing this slot: translate it again once it is hot again.
    const windows = this.jit[pageOff >>> 12];
    const wi = p >>> JIT_WINDOW_SHIFT;
    const hi = ((pageOff >>> 12) << JIT_PAGE_BITS) | wi;
    if (windows !== undefined && windows[wi] !== undefined) {
      windows[wi] = undefined;
      this.jitHeat[hi] = 0;
    } else if (this.jitHeat[hi] < 0) this.jitHeat[hi] = 0; // new code where there was none
    this.decodeRaw(code, pageOff, p);
  }

  private decodeRaw(code: Int32Array, pageOff: number, p: number): void {
    const m = this.bus.ram;
    const a = (pageOff >>> 0) + p;
    const lo16 = m[a] | (m[a + 1] << 8);
    const dec = this.dec;
    if ((lo16 & 3) === 3) {
      if (p === 4094) {
        code[p] = Op.CROSS;
        code[p + 1] = 0;
        return;
      }
      decode32(lo16 | (m[a + 2] << 16) | (m[a + 3] << 24), dec);
    } else {
      decode16(lo16, dec);
    }
    code[p] = dec[0];
    code[p + 1] = dec[1];
  }

  /** Fetch-TLB miss for pc: returns 1 (filled, retry), 2 (fetch via slowFetch), 0 (trap taken). */
  fetchMiss(): number {
    const lo = this.pcLo;
    const hi = this.pcHi;
    const pa = this.xlate(lo, hi, FETCH);
    if (pa < 0) {
      this.trap(this.xcause, lo, hi, false);
      return 0;
    }
    const off = pa - this.bus.ramBase;
    if (off >= 0 && off < this.bus.ramSize && this.fillOk) {
      const i = (lo >>> 12) & TLB_MASK;
      this.xTagLo[i] = lo & -4096;
      this.xTagHi[i] = hi ^ this.ikey;
      this.xOff[i] = off - (off % 4096);
      return 1;
    }
    return 2;
  }

  /** Fetches and decodes the instruction at pc without the page cache (page-crossing or MMIO). */
  slowFetch(): Int32Array | null {
    const lo = this.pcLo;
    const hi = this.pcHi;
    const h0 = this.fetchHalf(lo, hi);
    if (h0 < 0) return null;
    let h1 = 0;
    if ((h0 & 3) === 3) {
      const lo2 = (lo + 2) | 0;
      const hi2 = lo2 === 0 && lo === -2 ? (hi + 1) | 0 : (lo >>> 0) + 2 > 4294967295 ? (hi + 1) | 0 : hi;
      h1 = this.fetchHalf(lo2, hi2);
      if (h1 < 0) return null;
    }
    decodeAny(h0, h1, this.dec);
    const t = this.tramp;
    t[0] = this.dec[0];
    t[1] = this.dec[1];
    t[2] = Op.PAGE_END;
    t[4] = Op.PAGE_END;
    return t;
  }

  /**
   * One halfword of an instruction. Only RAM is executable on this board (its PMAs): fetching
   * from a device would read its registers, with their side effects, so it is an instruction
   * access fault like fetching from nothing. (fetchMiss sends every non-RAM pc here.)
   */
  private fetchHalf(lo: number, hi: number): number {
    const pa = this.xlate(lo, hi, FETCH);
    if (pa < 0) {
      this.trap(this.xcause, lo, hi, false);
      return -1;
    }
    const bus = this.bus;
    if (!bus.isRam(pa, 2)) {
      this.trap(1, lo, hi, false);
      return -1;
    }
    const off = pa - bus.ramBase;
    return bus.ram[off] | (bus.ram[off + 1] << 8);
  }

  // =============================== address translation ===============================

  private xcause = 0;
  /**
   * Set by xlate: whether the translation it returned may be cached in a TLB entry for the
   * whole page (false when PMP gives parts of the physical page different answers, pmp.ts).
   */
  private fillOk = true;

  /**
   * Translates a virtual address; returns the physical address, or -1 with xcause set. PMP is
   * checked here (for `size` bytes), never in the loop: TLB entries are filled only from here.
   */
  private xlate(lo: number, hi: number, access: number, size = 1): number {
    let eff = this.priv;
    if (access !== FETCH && eff === 3 && (this.mstatus & C.MSTATUS_MPRV) !== 0) eff = (this.mstatus >>> 11) & 3;
    const mode = this.satpHi >>> 28;
    let pa: number;
    this.fillOk = true;
    if (eff === 3 || mode === 0) {
      if (hi < 0 || hi >= 0x1000000) {
        this.xcause = ACCESS_FAULT[access];
        return -1;
      }
      pa = hi * TWO32 + (lo >>> 0);
    } else {
      pa = this.walk(lo, hi, access, eff, mode === 8 ? 3 : mode === 9 ? 4 : 5);
      if (pa < 0) return -1;
    }
    if (this.pmp.active) {
      if (!this.pmp.allows(pa, size, PMP_NEED[access], eff)) {
        this.xcause = ACCESS_FAULT[access];
        return -1;
      }
      this.fillOk = this.pmp.pageUniform(pa - (pa % 4096));
    }
    return pa;
  }

  private walk(lo: number, hi: number, access: number, eff: number, levels: number): number {
    if (this.profile !== null) this.profile.walks[access]++;
    // Canonical addresses: bits 63..(39|48|57) equal the top translated bit.
    const top = levels === 3 ? hi >> 6 : levels === 4 ? hi >> 15 : hi >> 24;
    const pf = PAGE_FAULT[access];
    if (top !== 0 && top !== -1) {
      this.xcause = pf;
      return -1;
    }
    const bus = this.bus;
    const ram = bus.ramI32;
    let base = ((this.satpHi & 0xfff) * TWO32 + (this.satpLo >>> 0)) * 4096;
    let pteLo = 0;
    let pteHi = 0;
    let pteAddr = 0;
    let i = levels - 1;
    for (; ; i--) {
      const vpn =
        i === 0
          ? (lo >>> 12) & 511
          : i === 1
            ? (lo >>> 21) & 511
            : i === 2
              ? ((lo >>> 30) | (hi << 2)) & 511
              : i === 3
                ? (hi >>> 7) & 511
                : (hi >>> 16) & 511;
      pteAddr = base + vpn * 8;
      const off = pteAddr - bus.ramBase;
      if (off < 0 || off + 8 > bus.ramSize || (this.pmp.active && !this.pmp.allows(pteAddr, 8, PMP_R, 1))) {
        this.xcause = ACCESS_FAULT[access];
        return -1;
      }
      pteLo = ram[off >>> 2];
      pteHi = ram[(off >>> 2) + 1];
      if ((pteLo & 1) === 0 || (pteLo & 6) === 4) {
        this.xcause = pf;
        return -1;
      }
      if ((pteLo & 10) !== 0) break; // R or X: leaf
      // D, A, U, and (Svpbmt, Svnapot) PBMT and N are reserved in non-leaf PTEs; no leaf at level 0
      if ((pteLo & 0xd0) !== 0 || pteHi >>> 22 !== 0 || i === 0) {
        this.xcause = pf;
        return -1;
      }
      base = ((pteHi & 0x3fffff) * 4194304 + (pteLo >>> 10)) * 4096;
    }
    // Bits 63..54 of a leaf: N (63, Svnapot), PBMT (62..61, Svpbmt), reserved (60..54).
    const top10 = pteHi >>> 22;
    let napot = false;
    if (top10 !== 0) {
      const pbmt = (top10 >>> 7) & 3;
      napot = top10 >>> 9 !== 0;
      if (
        (top10 & 0x7f) !== 0 ||
        (pbmt !== 0 && (pbmt === 3 || (this.ext & X_SVPBMT) === 0 || (this.menvcfgHi & C.ENVCFG_PBMTE_HI) === 0)) ||
        (napot && ((this.ext & X_SVNAPOT) === 0 || i !== 0 || ((pteLo >>> 10) & 15) !== 8))
      ) {
        this.xcause = pf; // reserved bits, PBMT 3 or not enabled, N without Svnapot or not 64 KiB
        return -1;
      }
    }
    // Leaf checks.
    const u = (pteLo & 16) !== 0;
    if (eff === 0 ? !u : u && (access === FETCH || (this.mstatus & C.MSTATUS_SUM) === 0)) {
      this.xcause = pf;
      return -1;
    }
    if (access === FETCH) {
      if ((pteLo & 8) === 0) {
        this.xcause = pf;
        return -1;
      }
    } else if (access === LOAD) {
      if ((pteLo & 2) === 0 && !((this.mstatus & C.MSTATUS_MXR) !== 0 && (pteLo & 8) !== 0)) {
        this.xcause = pf;
        return -1;
      }
    } else if ((pteLo & 4) === 0) {
      this.xcause = pf;
      return -1;
    }
    const ppnLo = pteLo >>> 10; // low 22 bits of ppn
    const ppnHi = pteHi & 0x3fffff; // ppn bits 43..22
    // Superpages: the low 9*i bits of the ppn must be zero (misaligned superpage otherwise).
    const bits = 9 * i;
    const misaligned =
      bits <= 22 ? (ppnLo & ((1 << bits) - 1)) !== 0 : ppnLo !== 0 || (ppnHi & ((1 << (bits - 22)) - 1)) !== 0;
    if (misaligned) {
      this.xcause = pf;
      return -1;
    }
    // Hardware A/D update.
    const want = access === STORE ? 0xc0 : 0x40;
    if ((pteLo & want) !== want) {
      pteLo |= want;
      ram[(pteAddr - bus.ramBase) >>> 2] = pteLo;
      bus.notifyWrite(pteAddr, 8);
    }
    let ppn: number;
    if (napot) {
      // A 64 KiB NAPOT page: the low 4 ppn bits come from the virtual address.
      this.noteRegion(lo, hi, -0x10000, -1);
      ppn = ppnHi * 4194304 + (ppnLo & ~15) + ((lo >>> 12) & 15);
    } else if (i > 0) {
      this.noteRegion(lo, hi, i === 1 ? -0x200000 : i === 2 ? -0x40000000 : 0, i <= 2 ? -1 : i === 3 ? -128 : -65536);
      const vpnLow = (hi & 0xffff) * 1048576 + (lo >>> 12); // virtual address bits 47..12
      ppn = ppnHi * 4194304 + ppnLo + (vpnLow % 2 ** bits);
    } else {
      ppn = ppnHi * 4194304 + ppnLo;
    }
    return ppn * 4096 + (lo & 4095);
  }

  /**
   * Records the virtual region (base/mask as lo/hi words) of a leaf larger than 4 KiB containing
   * (lo, hi): 64 KiB NAPOT pages, 2 MiB, 1 GiB, 512 GiB and 256 TiB superpages.
   */
  private noteRegion(lo: number, hi: number, mLo: number, mHi: number): void {
    const bLo = lo & mLo;
    const bHi = hi & mHi;
    const n = this.spCount;
    for (let k = 0; k < n; k++) {
      if (this.spLo[k] === bLo && this.spHi[k] === bHi && this.spMaskLo[k] === mLo && this.spMaskHi[k] === mHi) return;
    }
    if (n === SP_MAX) {
      this.spOverflow = true;
      return;
    }
    this.spLo[n] = bLo;
    this.spHi[n] = bHi;
    this.spMaskLo[n] = mLo;
    this.spMaskHi[n] = mHi;
    this.spCount = n + 1;
  }

  // =============================== data access slow paths ===============================

  private dataFault(cause: number, lo: number, hi: number): false {
    this.trap(cause, lo, hi, false);
    return false;
  }

  /** Slow-path load of 1/2/4/8 bytes (any alignment) into ldLo/ldHi; false if a trap was taken. */
  load(lo: number, hi: number, size: number): boolean {
    const o = lo & 4095;
    if (o + size > 4096) return this.loadBytes(lo, hi, size);
    const bus = this.bus;
    const i = (lo >>> 12) & TLB_MASK;
    let off: number;
    let pa = 0;
    if (this.rTagLo[i] === (lo & -4096) && this.rTagHi[i] === (hi ^ this.dkey)) {
      off = (this.rOff[i] >>> 0) + o; // TLB hit (misaligned, or LR/FP/AMO callers)
    } else {
      pa = this.xlate(lo, hi, LOAD, size);
      if (pa < 0) return this.dataFault(this.xcause, lo, hi);
      off = pa - bus.ramBase;
      if (off >= 0 && off < bus.ramSize && this.fillOk) {
        this.rTagLo[i] = lo & -4096;
        this.rTagHi[i] = hi ^ this.dkey;
        this.rOff[i] = off - o;
      }
    }
    if (off >= 0 && off < bus.ramSize) {
      const m = bus.ram;
      let vlo = 0;
      let vhi = 0;
      for (let k = Math.min(size, 4) - 1; k >= 0; k--) vlo = (vlo << 8) | m[off + k];
      for (let k = size - 1; k >= 4; k--) vhi = (vhi << 8) | m[off + k];
      this.ldLo = vlo | 0;
      this.ldHi = vhi | 0;
      return true;
    }
    if ((lo & (size - 1)) !== 0) return this.dataFault(4, lo, hi);
    const r = bus.findDevice(pa, size);
    if (r === undefined) return this.dataFault(5, lo, hi);
    const doff = pa - r.base;
    if (size === 8) {
      this.ldLo = r.dev.read(doff, 4) | 0;
      this.ldHi = r.dev.read(doff + 4, 4) | 0;
    } else {
      this.ldLo = r.dev.read(doff, size as 1 | 2 | 4) | 0;
      this.ldHi = 0;
    }
    return true;
  }

  /**
   * A load crossing a page boundary: byte by byte. A fault reports the address of the part of
   * the access that faulted (the privileged spec's rule for misaligned accesses), not the
   * access's start: the OS's fault handler maps the page stval names, so naming the first,
   * present page would make it return to the same fault forever.
   */
  private loadBytes(lo: number, hi: number, size: number): boolean {
    let vlo = 0;
    let vhi = 0;
    for (let k = 0; k < size; k++) {
      const s = (lo >>> 0) + k;
      const blo = s | 0;
      const bhi = s > 4294967295 ? (hi + 1) | 0 : hi;
      const pa = this.xlate(blo, bhi, LOAD);
      if (pa < 0) return this.dataFault(this.xcause, blo, bhi);
      const b = this.bus.read(pa, 1);
      if (b < 0) return this.dataFault(5, blo, bhi);
      if (k < 4) vlo |= b << (8 * k);
      else vhi |= b << (8 * (k - 4));
    }
    this.ldLo = vlo | 0;
    this.ldHi = vhi | 0;
    return true;
  }

  /** Slow-path store; false if a trap was taken. */
  store(lo: number, hi: number, size: number, vlo: number, vhi: number): boolean {
    const o = lo & 4095;
    if (o + size > 4096) return this.storeBytes(lo, hi, size, vlo, vhi);
    const bus = this.bus;
    const i = (lo >>> 12) & TLB_MASK;
    let off: number;
    let pa = 0;
    let fill = false;
    if (this.wTagLo[i] === (lo & -4096) && this.wTagHi[i] === (hi ^ this.dkey)) {
      off = (this.wOff[i] >>> 0) + o;
    } else {
      pa = this.xlate(lo, hi, STORE, size);
      if (pa < 0) return this.dataFault(this.xcause, lo, hi);
      off = pa - bus.ramBase;
      fill = this.fillOk;
    }
    if (off >= 0 && off < bus.ramSize) {
      const page = off >>> 12;
      if (bus.codePages[page] !== 0) {
        bus.codeWritten(page);
      } else if (fill) {
        this.wTagLo[i] = lo & -4096;
        this.wTagHi[i] = hi ^ this.dkey;
        this.wOff[i] = off - o;
      }
      const m = bus.ram;
      for (let k = 0; k < size; k++) m[off + k] = k < 4 ? vlo >>> (8 * k) : vhi >>> (8 * (k - 4));
      return true;
    }
    if ((lo & (size - 1)) !== 0) return this.dataFault(6, lo, hi);
    const r = bus.findDevice(pa, size);
    if (r === undefined) return this.dataFault(7, lo, hi);
    const doff = pa - r.base;
    if (size === 8) {
      r.dev.write(doff, 4, vlo >>> 0);
      r.dev.write(doff + 4, 4, vhi >>> 0);
    } else {
      r.dev.write(doff, size as 1 | 2 | 4, size === 4 ? vlo >>> 0 : vlo & ((1 << (8 * size)) - 1));
    }
    return true;
  }

  /** A store crossing a page boundary; faults report the faulting part's address as loadBytes. */
  private storeBytes(lo: number, hi: number, size: number, vlo: number, vhi: number): boolean {
    // Translate every byte first so that a fault leaves memory untouched.
    const pas: number[] = [];
    for (let k = 0; k < size; k++) {
      const s = (lo >>> 0) + k;
      const blo = s | 0;
      const bhi = s > 4294967295 ? (hi + 1) | 0 : hi;
      const pa = this.xlate(blo, bhi, STORE);
      if (pa < 0) return this.dataFault(this.xcause, blo, bhi);
      if (this.bus.findDevice(pa, 1) === undefined && !this.bus.isRam(pa, 1)) return this.dataFault(7, blo, bhi);
      pas.push(pa);
    }
    for (let k = 0; k < size; k++) {
      this.bus.write(pas[k], 1, (k < 4 ? vlo >>> (8 * k) : vhi >>> (8 * (k - 4))) & 255);
    }
    return true;
  }

  // =============================== traps ===============================

  /** Takes a trap at the current pc (this.pcLo/pcHi). */
  trap(cause: number, tvalLo: number, tvalHi: number, isInterrupt: boolean): void {
    const priv = this.priv;
    if (this.profile !== null) this.profile.trap(cause, isInterrupt, priv);
    this.resvValid = false;
    const deleg = priv <= 1 && ((isInterrupt ? this.mideleg : this.medeleg) >>> cause) & 1;
    const causeHi = isInterrupt ? -0x80000000 : 0;
    let ms = this.mstatus;
    if (deleg) {
      this.sepcLo = this.pcLo & -2;
      this.sepcHi = this.pcHi;
      this.scauseLo = cause;
      this.scauseHi = causeHi;
      this.stvalLo = tvalLo;
      this.stvalHi = tvalHi;
      ms = (ms & ~(C.MSTATUS_SPIE | C.MSTATUS_SIE | C.MSTATUS_SPP)) | ((ms & C.MSTATUS_SIE) << 4) | (priv << 8);
      this.priv = 1;
      const vec = (this.stvecLo & 1) !== 0 && isInterrupt ? 4 * cause : 0;
      this.setPcRel(this.stvecLo & -4, this.stvecHi, vec);
    } else {
      this.mepcLo = this.pcLo & -2;
      this.mepcHi = this.pcHi;
      this.mcauseLo = cause;
      this.mcauseHi = causeHi;
      this.mtvalLo = tvalLo;
      this.mtvalHi = tvalHi;
      ms = (ms & ~(C.MSTATUS_MPIE | C.MSTATUS_MIE | C.MSTATUS_MPP)) | ((ms & C.MSTATUS_MIE) << 4) | (priv << 11);
      this.priv = 3;
      const vec = (this.mtvecLo & 1) !== 0 && isInterrupt ? 4 * cause : 0;
      this.setPcRel(this.mtvecLo & -4, this.mtvecHi, vec);
    }
    this.mstatus = ms;
    this.updateKeys();
  }

  /** Illegal instruction at pc; tval gets the instruction bits (re-read from memory when raw is 0). */
  illegal(raw: number): void {
    let bits = raw;
    if (bits === 0) bits = this.rereadInsn();
    this.trap(2, bits, 0, false);
  }

  private rereadInsn(): number {
    const lo = this.pcLo;
    const hi = this.pcHi;
    const pa = this.xlate(lo, hi, FETCH);
    if (pa < 0) return 0;
    const h0 = this.bus.read(pa, 2);
    if (h0 < 0) return 0;
    if ((h0 & 3) !== 3) return h0;
    const pa2 = this.xlate((lo + 2) | 0, hi, FETCH);
    const h1 = pa2 < 0 ? -1 : this.bus.read(pa2, 2);
    return h1 < 0 ? 0 : h0 | (h1 << 16) | 0;
  }

  /** Takes the highest-priority pending and enabled interrupt, if any. */
  takeInterrupt(): boolean {
    const pend = this.mip & this.mie;
    if (pend === 0) return false;
    const priv = this.priv;
    const ms = this.mstatus;
    let cand = 0;
    const mPend = pend & ~this.mideleg;
    if (mPend !== 0 && (priv < 3 || (ms & C.MSTATUS_MIE) !== 0)) cand = mPend;
    else {
      const sPend = pend & this.mideleg;
      if (sPend !== 0 && (priv === 0 || (priv === 1 && (ms & C.MSTATUS_SIE) !== 0))) cand = sPend;
    }
    if (cand === 0) return false;
    for (const c of C.IRQ_PRIORITY) {
      if ((cand >>> c) & 1) {
        this.waiting = false;
        this.trap(c, 0, 0, true);
        return true;
      }
    }
    return false;
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
      case Op.MRET: {
        if (this.priv < 3) return this.illegalR();
        let ms = this.mstatus;
        const mpp = (ms >>> 11) & 3;
        ms = (ms & ~(C.MSTATUS_MIE | C.MSTATUS_MPP)) | ((ms >>> 4) & C.MSTATUS_MIE) | C.MSTATUS_MPIE;
        if (mpp !== 3) ms &= ~C.MSTATUS_MPRV;
        this.mstatus = ms;
        this.priv = mpp;
        this.resvValid = false;
        this.pcLo = this.mepcLo & -2;
        this.pcHi = this.mepcHi;
        this.updateKeys();
        return 2;
      }
      case Op.SRET: {
        if (this.priv < 1 || (this.priv === 1 && (this.mstatus & C.MSTATUS_TSR) !== 0)) return this.illegalR();
        let ms = this.mstatus;
        const spp = (ms >>> 8) & 1;
        ms = (ms & ~(C.MSTATUS_SIE | C.MSTATUS_SPP)) | ((ms >>> 4) & C.MSTATUS_SIE) | C.MSTATUS_SPIE;
        ms &= ~C.MSTATUS_MPRV; // SPP is never M
        this.mstatus = ms;
        this.priv = spp;
        this.resvValid = false;
        this.pcLo = this.sepcLo & -2;
        this.pcHi = this.sepcHi;
        this.updateKeys();
        return 2;
      }
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

  private illegalR(raw = 0): number {
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

  private execCsr(op: number, d: number, rs1: number, csr: number, w: number): number {
    const x = this.x;
    const imm = op >= Op.CSRRWI;
    const kind = imm ? op - Op.CSRRWI : op - Op.CSRRW; // 0 write, 1 set, 2 clear
    const srcLo = imm ? rs1 : x[rs1 * 2];
    const srcHi = imm ? 0 : x[rs1 * 2 + 1];
    const writes = kind === 0 || rs1 !== 0;
    if (this.priv < ((csr >>> 8) & 3) || (writes && csr >>> 10 === 3)) return this.illegalR();
    // CSR reads here have no side effects, so CSRRW with rd=x0 may read too (it also checks
    // that the CSR exists).
    if (!this.csrRead(csr)) return this.illegalR();
    const oldLo = this.csrLo;
    const oldHi = this.csrHi;
    if (writes) {
      let nl = srcLo;
      let nh = srcHi;
      // CSRRS/CSRRC on mip: only the software-writable SEIP takes part in the read-modify-write,
      // not the PLIC's level OR-ed into the value read (priv. spec 3.1.9). Otherwise firmware
      // setting SSIP while an external interrupt is pending latches SEIP on forever.
      const rmwLo = csr === C.MIP ? (oldLo & ~C.MIP_SEIP) | (this.mipSoft & C.MIP_SEIP) : oldLo;
      if (kind === 1) {
        nl = rmwLo | srcLo;
        nh = oldHi | srcHi;
      } else if (kind === 2) {
        nl = rmwLo & ~srcLo;
        nh = oldHi & ~srcHi;
      }
      if (!this.csrWrite(csr, nl, nh)) return this.illegalR();
    }
    x[d] = oldLo;
    x[d + 1] = oldHi;
    x[64] = 0;
    x[65] = 0;
    this.advance(w);
    return 2;
  }

  /** Current instret including instructions retired so far in this run() slice. */
  private liveInstret(): number {
    return this.instret + (this.runBudget - this.runLeft) - this.runTraps;
  }

  private set64(v: number): void {
    const hi = Math.floor(v / TWO32);
    this.csrLo = (v - hi * TWO32) | 0;
    this.csrHi = hi | 0;
  }

  /** Counter access rule for cycle/time/instret/hpmcounterN from S and U. */
  private counterOk(bit: number): boolean {
    if (this.priv < 3 && ((this.mcounteren >>> bit) & 1) === 0) return false;
    if (this.priv === 0 && ((this.scounteren >>> bit) & 1) === 0) return false;
    return true;
  }

  /** Reads a CSR into csrLo/csrHi; false when the CSR does not exist or is not accessible. */
  private csrRead(csr: number): boolean {
    this.csrHi = 0;
    switch (csr) {
      case C.FFLAGS:
      case C.FRM:
      case C.FCSR:
        if ((this.mstatus & C.MSTATUS_FS) === 0) return false;
        this.csrLo = csr === C.FFLAGS ? this.fflags : csr === C.FRM ? this.frm : (this.frm << 5) | this.fflags;
        return true;
      case C.CYCLE:
        if (!this.counterOk(0)) return false;
        this.set64(this.liveInstret() + this.cycleOffset);
        return true;
      case C.TIME:
        if (!this.counterOk(1)) return false;
        this.set64(this.clock.now());
        return true;
      case C.INSTRET:
        if (!this.counterOk(2)) return false;
        this.set64(this.liveInstret());
        return true;
      case C.MCYCLE:
        this.set64(this.liveInstret() + this.cycleOffset);
        return true;
      case C.MINSTRET:
        this.set64(this.liveInstret());
        return true;
      case C.SSTATUS:
        this.csrLo = this.mstatus & C.SSTATUS_MASK;
        this.csrHi = C.MSTATUS_HI_UXL | this.sdBit();
        return true;
      case C.MSTATUS:
        this.csrLo = this.mstatus;
        this.csrHi = C.MSTATUS_HI_UXL | C.MSTATUS_HI_SXL | this.sdBit();
        return true;
      case C.SIE:
        this.csrLo = this.mie & this.mideleg;
        return true;
      case C.SIP:
        if ((this.menvcfgHi & C.ENVCFG_STCE_HI) !== 0) this.updateSstc();
        this.csrLo = this.mip & this.mideleg;
        return true;
      case C.MIE:
        this.csrLo = this.mie;
        return true;
      case C.MIP:
        if ((this.menvcfgHi & C.ENVCFG_STCE_HI) !== 0) this.updateSstc();
        this.csrLo = this.mip;
        return true;
      case C.STVEC:
        this.csrLo = this.stvecLo;
        this.csrHi = this.stvecHi;
        return true;
      case C.MTVEC:
        this.csrLo = this.mtvecLo;
        this.csrHi = this.mtvecHi;
        return true;
      case C.SCOUNTEREN:
        this.csrLo = this.scounteren;
        return true;
      case C.MCOUNTEREN:
        this.csrLo = this.mcounteren;
        return true;
      case C.SENVCFG:
        this.csrLo = this.senvcfg;
        return true;
      case C.MENVCFG:
        this.csrLo = this.menvcfgLo;
        this.csrHi = this.menvcfgHi;
        return true;
      case C.SSCRATCH:
        this.csrLo = this.sscratchLo;
        this.csrHi = this.sscratchHi;
        return true;
      case C.MSCRATCH:
        this.csrLo = this.mscratchLo;
        this.csrHi = this.mscratchHi;
        return true;
      case C.SEPC:
        this.csrLo = this.sepcLo & -2;
        this.csrHi = this.sepcHi;
        return true;
      case C.MEPC:
        this.csrLo = this.mepcLo & -2;
        this.csrHi = this.mepcHi;
        return true;
      case C.SCAUSE:
        this.csrLo = this.scauseLo;
        this.csrHi = this.scauseHi;
        return true;
      case C.MCAUSE:
        this.csrLo = this.mcauseLo;
        this.csrHi = this.mcauseHi;
        return true;
      case C.STVAL:
        this.csrLo = this.stvalLo;
        this.csrHi = this.stvalHi;
        return true;
      case C.MTVAL:
        this.csrLo = this.mtvalLo;
        this.csrHi = this.mtvalHi;
        return true;
      case C.STIMECMP:
        if (this.priv === 1 && ((this.mcounteren & 2) === 0 || (this.menvcfgHi & C.ENVCFG_STCE_HI) === 0)) return false;
        this.csrLo = this.stimecmpLo;
        this.csrHi = this.stimecmpHi;
        return true;
      case C.SATP:
        if (this.priv === 1 && (this.mstatus & C.MSTATUS_TVM) !== 0) return false;
        this.csrLo = this.satpLo;
        this.csrHi = this.satpHi;
        return true;
      case C.MISA:
        this.csrLo = C.MISA_LO;
        this.csrHi = C.MISA_HI;
        return true;
      case C.MEDELEG:
        this.csrLo = this.medeleg;
        return true;
      case C.MIDELEG:
        this.csrLo = this.mideleg;
        return true;
      case C.MVENDORID:
      case C.MARCHID:
      case C.MIMPID:
      case C.MCONFIGPTR:
        this.csrLo = 0;
        return true;
      case C.MHARTID:
        this.csrLo = this.hartId;
        return true;
      case C.MCOUNTINHIBIT:
        this.csrLo = this.mcountinhibit;
        return true;
      case C.TSELECT:
      case C.TDATA1:
      case C.TDATA2:
      case C.TDATA3:
        // Debug triggers are not implemented: tselect reads 0 and tdata1 never accepts a trigger
        // type, which is how software (OpenSBI, riscv-tests) detects that there are none.
        this.csrLo = 0;
        return true;
    }
    if (csr >= C.HPMCOUNTER3 && csr <= C.HPMCOUNTER31) {
      if (!this.counterOk(csr - C.CYCLE)) return false;
      this.csrLo = 0;
      return true;
    }
    if ((csr >= C.MHPMCOUNTER3 && csr <= C.MHPMCOUNTER31) || (csr >= C.MHPMEVENT3 && csr <= C.MHPMEVENT31)) {
      this.csrLo = 0;
      return true;
    }
    if (csr >= C.PMPCFG0 && csr <= C.PMPCFG0 + 15) {
      const n = csr - C.PMPCFG0;
      if (n & 1) return false; // RV64: odd pmpcfg registers do not exist
      const c = this.pmpcfg;
      const o = n * 4;
      this.csrLo = c[o] | (c[o + 1] << 8) | (c[o + 2] << 16) | (c[o + 3] << 24);
      this.csrHi = c[o + 4] | (c[o + 5] << 8) | (c[o + 6] << 16) | (c[o + 7] << 24);
      return true;
    }
    if (csr >= C.PMPADDR0 && csr <= C.PMPADDR0 + 63) {
      const n = csr - C.PMPADDR0;
      this.csrLo = this.pmpaddr[2 * n];
      this.csrHi = this.pmpaddr[2 * n + 1];
      return true;
    }
    return false;
  }

  private sdBit(): number {
    return (this.mstatus & C.MSTATUS_FS) === C.MSTATUS_FS ? -0x80000000 : 0;
  }

  private csrWrite(csr: number, lo: number, hi: number): boolean {
    const v64 = (hi >>> 0) * TWO32 + (lo >>> 0);
    switch (csr) {
      case C.FFLAGS:
        this.fflags = lo & 31;
        this.mstatus |= C.MSTATUS_FS;
        return true;
      case C.FRM:
        this.frm = lo & 7;
        this.mstatus |= C.MSTATUS_FS;
        return true;
      case C.FCSR:
        this.fflags = lo & 31;
        this.frm = (lo >>> 5) & 7;
        this.mstatus |= C.MSTATUS_FS;
        return true;
      case C.MCYCLE:
        this.cycleOffset = v64 - this.liveInstret() - 1;
        return true;
      case C.MINSTRET:
        this.instret = v64 - (this.runBudget - this.runLeft - this.runTraps) - 1;
        return true;
      case C.SSTATUS:
        this.writeMstatus((this.mstatus & ~C.SSTATUS_WMASK) | (lo & C.SSTATUS_WMASK));
        return true;
      case C.MSTATUS:
        this.writeMstatus((this.mstatus & ~C.MSTATUS_WMASK) | (lo & C.MSTATUS_WMASK));
        return true;
      case C.SIE:
        this.mie = (this.mie & ~this.mideleg) | (lo & this.mideleg & C.MIE_MASK);
        this.updateMip();
        return true;
      case C.SIP: {
        const m = this.mideleg & C.MIP_SSIP;
        this.mipSoft = (this.mipSoft & ~m) | (lo & m);
        this.updateMip();
        return true;
      }
      case C.MIE:
        this.mie = lo & C.MIE_MASK;
        this.updateMip();
        return true;
      case C.MIP:
        this.mipSoft = (this.mipSoft & ~C.MIP_WMASK) | (lo & C.MIP_WMASK);
        this.updateMip();
        return true;
      case C.STVEC:
        this.stvecLo = (lo & 2) !== 0 ? lo & -4 : lo;
        this.stvecHi = hi;
        return true;
      case C.MTVEC:
        this.mtvecLo = (lo & 2) !== 0 ? lo & -4 : lo;
        this.mtvecHi = hi;
        return true;
      case C.SCOUNTEREN:
        this.scounteren = lo;
        return true;
      case C.MCOUNTEREN:
        this.mcounteren = lo;
        return true;
      case C.SENVCFG:
        this.senvcfg = lo & this.envcfgMask();
        return true;
      case C.MENVCFG: {
        const pbmte = this.menvcfgHi & C.ENVCFG_PBMTE_HI;
        this.menvcfgLo = lo & this.envcfgMask();
        this.menvcfgHi = hi & (C.ENVCFG_STCE_HI | ((this.ext & X_SVPBMT) !== 0 ? C.ENVCFG_PBMTE_HI : 0));
        // Cached translations were made under the old PBMTE (PBMT bits legal or not).
        if ((this.menvcfgHi & C.ENVCFG_PBMTE_HI) !== pbmte) this.flushTlb();
        this.updateSstc();
        return true;
      }
      case C.SSCRATCH:
        this.sscratchLo = lo;
        this.sscratchHi = hi;
        return true;
      case C.MSCRATCH:
        this.mscratchLo = lo;
        this.mscratchHi = hi;
        return true;
      case C.SEPC:
        this.sepcLo = lo & -2;
        this.sepcHi = hi;
        return true;
      case C.MEPC:
        this.mepcLo = lo & -2;
        this.mepcHi = hi;
        return true;
      case C.SCAUSE:
        this.scauseLo = lo;
        this.scauseHi = hi;
        return true;
      case C.MCAUSE:
        this.mcauseLo = lo;
        this.mcauseHi = hi;
        return true;
      case C.STVAL:
        this.stvalLo = lo;
        this.stvalHi = hi;
        return true;
      case C.MTVAL:
        this.mtvalLo = lo;
        this.mtvalHi = hi;
        return true;
      case C.STIMECMP:
        this.stimecmpLo = lo;
        this.stimecmpHi = hi;
        this.updateSstc();
        return true;
      case C.SATP: {
        const mode = hi >>> 28;
        // An unsupported mode (Sv57 without the feature) leaves satp unchanged.
        if (mode !== 0 && mode !== 8 && mode !== 9 && !(mode === 10 && (this.ext & X_SV57) !== 0)) return true;
        this.satpLo = lo;
        this.satpHi = mode === 0 ? 0 : hi;
        if (this.profile !== null) this.profile.satpWrites++;
        this.flushTlb();
        this.updateKeys();
        return true;
      }
      case C.MEDELEG:
        this.medeleg = lo & C.MEDELEG_MASK;
        return true;
      case C.MIDELEG:
        this.mideleg = lo & C.MIDELEG_MASK;
        this.updateMip();
        return true;
      case C.MCOUNTINHIBIT:
        this.mcountinhibit = lo & ~2;
        return true;
      case C.MISA:
        return true;
    }
    if (csr >= C.PMPCFG0 && csr <= C.PMPCFG0 + 15) {
      const o = (csr - C.PMPCFG0) * 4;
      const c = this.pmpcfg;
      for (let k = 0; k < 8; k++) {
        if (c[o + k] & 0x80) continue; // locked
        let b = (k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4))) & 0x9f;
        if ((b & 3) === 2) b &= ~2; // W without R is reserved
        c[o + k] = b;
      }
      this.pmpChanged();
      return true;
    }
    if (csr >= C.PMPADDR0 && csr <= C.PMPADDR0 + 63) {
      const n = csr - C.PMPADDR0;
      if (this.pmpcfg[n] & 0x80) return true;
      if (n + 1 < 64 && (this.pmpcfg[n + 1] & 0x98) === 0x88) return true; // next entry is locked TOR
      this.pmpaddr[2 * n] = lo;
      this.pmpaddr[2 * n + 1] = hi & 0x3fffff;
      this.pmpChanged();
      return true;
    }
    // Read-only-zero registers (hpm counters/events) accept and ignore writes.
    return true;
  }

  /** PMP entries changed: rebuild the checks; cached translations were checked under the old ones. */
  private pmpChanged(): void {
    this.pmp.update(this.pmpcfg, this.pmpaddr);
    this.flushTlb();
  }

  /** Writable xenvcfg low-word bits: FIOM, and the cache-block enables of the extensions present. */
  private envcfgMask(): number {
    return (
      C.ENVCFG_FIOM |
      ((this.ext & X_ZICBOM) !== 0 ? C.ENVCFG_CBIE | C.ENVCFG_CBCFE : 0) |
      ((this.ext & X_ZICBOZ) !== 0 ? C.ENVCFG_CBZE : 0)
    );
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

  private writeMstatus(v: number): void {
    if (((v >>> 11) & 3) === 2) v = (v & ~C.MSTATUS_MPP) | (this.mstatus & C.MSTATUS_MPP);
    this.mstatus = v;
    this.updateKeys();
  }
}

let warmedUp = false;
/** Iterations of about 200 instructions: one gives type feedback; a few dozen also let V8 start
 * optimizing the loop (about 30 ms of CPU, measured against first-run speed of bench/cpu). */
const WARMUP_ITERATIONS = 50;
/** Iterations of the second (other register values) and translated passes: feedback only. */
const WARMUP_EXTRA_ITERATIONS = 4;

/**
 * Runs WARMUP_PROGRAM on scratch buses (see warmup-program.ts for why). Hart construction calls it
 * once per process; returns each pass's hart so tests can check that the program ran to its WFI. Three passes, each of which removed deoptimizations of the interpreter loop seen in the
 * Linux boot (`--trace-deopt`, 13 per boot before, each costing two ~0.5 s TurboFan compiles
 * of `execute` and a stretch in V8's bytecode interpreter):
 *  1. interpreter, large register values (every op, both outcomes of every compare);
 *  2. and 3. interpreter, the register values rotated, then small values with zero words, so
 *     value-dependent paths (shift amounts below and above 32, zero low words for ctz, compares
 *     that reach the low words) have run too;
 *  4. the JS translation tier on from the first block (jitThreshold 0), so the loop's calls into
 *     translated windows, their exits and jitCompile have type feedback (and the window call site
 *     is megamorphic: V8 never inlines one window into the loop) before a guest's first hot window.
 */
export function warmUpInterpreter(): Hart[] {
  warmedUp = true;
  const big = [0x7f4a7c15, -0x61c88647, 0x12345678, -0x7ffffff0, 0x40000001, -3];
  const large = (r: number): [number, number] => [big[r % 6]!, big[(r + 3) % 6]!];
  const rotated = (r: number): [number, number] => [big[(r + 3) % 6]!, big[r % 6]!];
  const small = (r: number): [number, number] => [r % 3 === 0 ? 0 : r * 3, r % 2 === 0 ? 0 : -1];
  return [
    warmUpPass(large, WARMUP_ITERATIONS, Infinity),
    warmUpPass(rotated, WARMUP_EXTRA_ITERATIONS, Infinity),
    warmUpPass(small, WARMUP_EXTRA_ITERATIONS, Infinity),
    warmUpPass(large, WARMUP_EXTRA_ITERATIONS, 0),
  ];
}

function warmUpPass(values: (r: number) => [number, number], iterations: number, jitThreshold: number): Hart {
  const base = 0x80000000;
  const bus = new BusClass(base, 64 * 1024);
  const h = new Hart(bus, 0, { now: () => 12345 });
  // The translated pass gives exec.ts's window call site feedback with JS windows, as before the
  // wasm tier: translating its pages to wasm at every start-up cost ~0.1 s (measured).
  h.tier = 'js';
  h.jitThreshold = jitThreshold;
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
