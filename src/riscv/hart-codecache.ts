/**
 * The hart's code cache (split from hart.ts; the Hart class stays the public face and calls these
 * through thin methods): decoded instruction pages and their invalidation, hot-window accounting,
 * translation by the JS tier (jit.ts) or the wasm tier (wasm/wasm-tier.ts), the wasm function
 * table pages chain through, and the bounded cache of translations (docs/cpu.md, "Pre-decoded
 * instruction cache", "Translation tier"). Plain functions taking the hart, so every call site
 * stays monomorphic.
 */
import type { Hart } from './hart.ts';
import { decode16, decode32 } from './decode.ts';
import { Op, JIT_PAGE_BITS, JIT_WINDOW_SHIFT, TLB_SIZE } from './exec.ts';
import { compileWindow } from './jit.ts';
import { compileWasmWindow } from './wasm/wasm-tier.ts';
import type { JitWindow } from './exec-context.ts';
import { FN_SLOTS, TLB_INVALID } from './state-layout.ts';
import { wasmApi, type WasmTable } from './wasm/api.ts';

/**
 * Default thresholds per translator: a window is translated after `threshold` interpreted
 * instructions, or sooner, at `fast`, if it reached them within JIT_FAST_SPAN instructions of the
 * hart's execution (it ran at least 1/10 (wasm) or 1/4 (js) of everything since it started). Tight
 * loops such as bench/cpu's qualify at once; the boot's many lukewarm windows wait for
 * `threshold`. The JS tier's translations are 256-byte windows that V8 optimizes as JS (tens of
 * ms each, measured: 5 M boots faster than 1-2 M, docs/cpu.md "Translation tier"); the wasm
 * tier's are page modules whose regions V8 optimizes only when they run hot, so lukewarm code
 * pays off sooner (measured: 1 M boots faster than 5 M, docs/cpu.md "WebAssembly tier").
 */
export const JIT_DEFAULTS = {
  js: { threshold: 5_000_000, fast: 500_000 },
  wasm: { threshold: 1_000_000, fast: 200_000 },
} as const;
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

export function flushDecoded(h: Hart): void {
  if (h.profile !== null) {
    h.profile.codeFlushes++;
    h.profile.codePagesDropped += h.decodedList.length;
  }
  for (const p of h.decodedList) {
    h.pages[p] = undefined;
    h.dropJit(p);
  }
  h.decodedList = [];
}

/** Forgets the page's translations (its decoded slots changed or are gone). */
export function dropJit(h: Hart, ramPage: number): void {
  const windows = h.jit[ramPage];
  if (windows !== undefined && h.profile !== null) {
    // A wasm page function fills every window of its page: count each translation once.
    let prev: JitWindow | undefined;
    for (const w of windows) {
      if (w !== undefined && w !== prev) h.profile.windowsDropped++;
      prev = w;
    }
  }
  h.jit[ramPage] = undefined;
  h.jitHeat.fill(0, ramPage << JIT_PAGE_BITS, (ramPage + 1) << JIT_PAGE_BITS);
  if (h.wasmPageIdx.size !== 0) h.wasmUninstall(ramPage);
}

/** The function table wasm pages chain through (wasm-tier.ts dispatcherFn), made on first use. */
export function wasmTableFor(h: Hart): WasmTable {
  h.wasmTable ??= new wasmApi!.Table({ element: 'anyfunc', initial: JIT_CACHE_WINDOWS });
  return h.wasmTable;
}

/** Makes a page's wasm function reachable by chaining: a table slot and the ST_FN_* entry. */
export function wasmInstall(h: Hart, ramPage: number, page: unknown): void {
  let idx = h.wasmPageIdx.get(ramPage);
  if (idx === undefined) {
    idx = h.wasmFree.pop() ?? (h.wasmNextIdx < JIT_CACHE_WINDOWS ? h.wasmNextIdx++ : -1);
    if (idx < 0) return; // table full: this page is entered from exec.ts only
    h.wasmPageIdx.set(ramPage, idx);
  }
  h.wasmTable!.set(idx, page);
  const slot = ramPage & (FN_SLOTS - 1);
  h.fnTag[slot] = ramPage;
  h.fnIdx[slot] = idx;
}

export function wasmUninstall(h: Hart, ramPage: number): void {
  const idx = h.wasmPageIdx.get(ramPage);
  if (idx === undefined) return;
  h.wasmPageIdx.delete(ramPage);
  h.wasmTable!.set(idx, null);
  h.wasmFree.push(idx);
  const slot = ramPage & (FN_SLOTS - 1);
  if (h.fnTag[slot] === ramPage) h.fnTag[slot] = -1;
}

/** exec.ts: window `win` starts warming; `ran` = budget used so far in this run(). */
export function jitStamp(h: Hart, win: number, ran: number): void {
  h.jitStart[win] = Math.floor((h.instret + ran) / JIT_STAMP_UNIT);
}

/** exec.ts: window `win` reached jitFastThreshold (or more); translate it if it is due. */
export function jitHot(h: Hart, win: number, hot: number, ran: number): void {
  const span = (h.instret + ran) / JIT_STAMP_UNIT - h.jitStart[win];
  if (hot < h.jitThreshold && span >= JIT_FAST_SPAN / JIT_STAMP_UNIT) return;
  h.jitCompile(win >>> JIT_PAGE_BITS, win & ((1 << JIT_PAGE_BITS) - 1), -1);
}

/**
 * Translates window `wi` of a page (called by exec.ts when its heat reaches jitThreshold);
 * `entry` (or -1) is a page offset about to run, translated even if it has not run yet.
 */
export function jitCompile(h: Hart, ramPage: number, wi: number, entry: number): void {
  const code = h.pages[ramPage];
  const hi = (ramPage << JIT_PAGE_BITS) | wi;
  if (h.jit[ramPage]?.[wi] !== undefined) {
    h.jitHeat[hi] = 0; // translated already (exec.ts does not ask for these; kept as a guard)
    return;
  }
  if (code === undefined || h.jitCount[ramPage] >= JIT_MAX_PER_PAGE) {
    h.jitHeat[hi] = -0x40000000; // do not ask again soon
    return;
  }
  h.jitCount[ramPage]++;
  // Slots to translate: every executed (decoded) instruction and the straight-line code after
  // it, decoded now, so code not run yet needs no re-translation when it first runs. Following
  // instruction lengths from executed starts never translates the middle of an instruction.
  // (Decoding is a pure function of RAM, which the page mirrors.)
  const pageOff = ramPage << 12;
  const incl = h.jitIncl;
  incl.fill(0);
  if (entry >= 0 && (code[entry] & 255) === Op.DECODE) h.decodeRaw(code, pageOff, entry);
  for (let p = 0; p < 4096; p += 2) {
    if ((code[p] & 255) === Op.DECODE || incl[p >> 1] === 1) continue;
    for (let q = p; q < 4096 && incl[q >> 1] === 0; q += (code[q] >>> 27) & 1 ? 2 : 4) {
      if ((code[q] & 255) === Op.DECODE) h.decodeRaw(code, pageOff, q);
      incl[q >> 1] = 1;
      const op = code[q] & 255;
      if (op === Op.ILLEGAL || op === Op.CROSS) break;
    }
  }
  const wasm = h.translator === 'wasm';
  const res = wasm ? compileWasmWindow(h, h.wasmTableFor(), code, incl, wi) : compileWindow(h, code, incl, wi);
  if (res === undefined) {
    // No run-time code generation on this host: without wasm, try JS (from the next hot
    // window on); without either, interpret.
    if (wasm) h.useTranslator('js');
    else h.jitThreshold = Infinity;
    return;
  }
  if (res === null) {
    h.jitHeat[hi] = -0x40000000; // nothing to translate here
    return;
  }
  const fn = typeof res === 'function' ? res : res.run;
  if (typeof res !== 'function') h.wasmInstall(ramPage, res.page);
  let windows = h.jit[ramPage];
  if (windows === undefined) {
    // One more than the windows: exec.ts looks up offset 4096 (the page's end) too.
    windows = new Array<JitWindow | undefined>((1 << JIT_PAGE_BITS) + 1).fill(undefined);
    h.jit[ramPage] = windows;
  }
  // A wasm module covers the whole page (wasm-tier.ts): every window enters it.
  if (wasm) windows.fill(fn, 0, 1 << JIT_PAGE_BITS);
  else windows[wi] = fn;
  h.jitTranslations++;
  if (h.profile !== null) h.profile.windowsTranslated++;
  // Bounded cache: the ring's oldest entry goes (if that window was dropped and translated again
  // meanwhile, its newer translation goes early: harmless, it is translated again when hot).
  const ring = h.jitRing;
  const old = ring[h.jitRingPos];
  if (old >= 0) {
    const op = old >>> JIT_PAGE_BITS;
    const ow = old & ((1 << JIT_PAGE_BITS) - 1);
    const ows = h.jit[op];
    if (ows !== undefined && ows[ow] !== undefined) {
      if (h.translator === 'wasm') h.dropJit(op);
      else {
        ows[ow] = undefined;
        h.jitHeat[old] = 0;
      }
      h.jitEvictions++;
    }
  }
  ring[h.jitRingPos] = hi;
  h.jitRingPos = (h.jitRingPos + 1) % Math.max(1, Math.min(h.jitCacheLimit, ring.length));
}

/**
 * The trampoline (as for page-crossing instructions) holding the decoded slot at `p` of `code`
 * alone: exec.ts runs a load/store that a translated window handed back (jit.ts kind 6) from it,
 * so exactly that one instruction is interpreted before the block ends.
 */
export function oneShot(h: Hart, code: Int32Array, p: number): Int32Array {
  const t = h.tramp;
  t[0] = code[p];
  t[1] = code[p + 1];
  t[2] = Op.PAGE_END;
  t[4] = Op.PAGE_END;
  return t;
}

export function dropWriteTranslations(h: Hart, ramPage: number): void {
  const off = ramPage << 12;
  const tags = h.wTagLo;
  const offs = h.wOff;
  for (let i = 0; i < TLB_SIZE; i++) if (offs[i] === off) tags[i] = TLB_INVALID;
}

export function dropDecodedPage(h: Hart, ramPage: number): void {
  if (h.profile !== null && h.pages[ramPage] !== undefined) h.profile.codePagesDropped++;
  h.pages[ramPage] = undefined;
  h.dropJit(ramPage);
}

export function newCodePage(h: Hart, ramPage: number): Int32Array {
  if (h.profile !== null) h.profile.codePagesMade++;
  const page = new Int32Array(4098);
  page[4096] = Op.PAGE_END;
  h.pages[ramPage] = page;
  h.dropJit(ramPage);
  if (h.decodedList.length > h.pages.length) {
    h.decodedList = [];
    for (let i = 0; i < h.pages.length; i++) if (h.pages[i] !== undefined) h.decodedList.push(i);
  }
  h.decodedList.push(ramPage);
  h.bus.markCode(ramPage);
  return page;
}

export function decodeSlot(h: Hart, code: Int32Array, pageOff: number, p: number): void {
  // A translated window is missing this slot: translate it again once it is hot again.
  const windows = h.jit[pageOff >>> 12];
  const wi = p >>> JIT_WINDOW_SHIFT;
  const hi = ((pageOff >>> 12) << JIT_PAGE_BITS) | wi;
  if (windows !== undefined && windows[wi] !== undefined) {
    windows[wi] = undefined;
    h.jitHeat[hi] = 0;
  } else if (h.jitHeat[hi] < 0) h.jitHeat[hi] = 0; // new code where there was none
  h.decodeRaw(code, pageOff, p);
}

export function decodeRaw(h: Hart, code: Int32Array, pageOff: number, p: number): void {
  const m = h.bus.ram;
  const a = (pageOff >>> 0) + p;
  const lo16 = m[a] | (m[a + 1] << 8);
  const dec = h.dec;
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
