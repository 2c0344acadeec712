/**
 * Second execution tier: translates the pre-decoded instructions of a hot 256-byte window of a
 * RAM page into a JavaScript function, which V8 then compiles to machine code (Hart.jitThreshold
 * says how hot; docs/cpu.md "Translation tier" has the measurements). Compared with the
 * interpreter's loop, a translated instruction has no dispatch (straight-line code falls through
 * from one `case` to the next), no field extraction (register indices and immediates are
 * literals) and no per-op type feedback shared with unrelated code.
 *
 * Contract with exec.ts (the interpreter stays the reference; a window may always decline):
 *   fn(p, n, vLo, vHi) runs from byte offset p of the page (virtual base vLo/vHi) with budget n
 *   (n >= 1) and returns a kind, leaving the remaining budget in h.jN and an offset in h.jOff:
 *     0  pc = page + jOff; the instruction that ended the block still has to be counted (as the
 *        interpreter's exitKind 0: jumps out of the page, slow-path stores, FENCE.I)
 *     1  pc = page + jOff, everything counted (budget exhausted)
 *     2  pc already set in the hart (JALR out of the page), still to be counted
 *     3  a trap was taken (counts one unit of budget, retires nothing)
 *     4  continue at jOff, which lies outside this window (jOff may be 4096: the page's end)
 *     5  interpret the instruction at jOff (not translated: system, FP, atomics, undecoded slot)
 * so the same tail in exec.ts finishes every block whichever tier ran it.
 *
 * Invariants:
 * - Translations depend only on the page's decoded slots: every event that drops or changes
 *   them (a store to the code page, flushDecoded) drops the page's windows first
 *   (Hart.dropJit), and decoding a new slot drops its window. Virtual addresses (AUIPC, links, JALR) come in as vLo/vHi, so one
 *   translation serves every mapping of the physical page.
 * - Each translated instruction has exactly the interpreter's semantics, budget accounting and
 *   slow paths (the same Hart methods); stores that miss the write TLB end the block as in the
 *   interpreter, so self-modifying code and interrupts behave identically.
 * - No allocation while running; compiling allocates (source text, one closure per window).
 * - Where the host forbids run-time code generation (a page's Content-Security-Policy without
 *   'unsafe-eval'), compileWindow() returns undefined once and the hart keeps interpreting.
 */
import type { Hart } from './hart.ts';
import { Op, TLB_MASK, JIT_WINDOW_SHIFT, mulh64, div64, div32 } from './exec.ts';

// Windows of 2^JIT_WINDOW_SHIFT bytes (256: 16 per page) keep each function small enough for V8
// to optimize (512-byte windows mostly were not), and only hot windows are translated.

export type JitWindow = (p: number, n: number, vLo: number, vHi: number) => number;

const FACTORY_PARAMS = [
  'h',
  'x',
  'm8',
  'mI8',
  'mU16',
  'mI16',
  'mI32',
  'rTagLo',
  'rTagHi',
  'rOff',
  'wTagLo',
  'wTagHi',
  'wOff',
  'mulh64',
  'div64',
  'div32',
];

type Factory = (...args: unknown[]) => JitWindow;

let evalAllowed: boolean | undefined;

/**
 * Translates window wi of a page's decoded slots (incl marks the slots to translate). Returns
 * null when the window holds none, undefined when run-time code generation is unavailable.
 */
export function compileWindow(h: Hart, code: Int32Array, incl: Uint8Array, wi: number): JitWindow | null | undefined {
  if (evalAllowed === false) return undefined;
  const body = windowSource(code, incl, wi);
  if (body === undefined) return null;
  let factory: Factory;
  try {
    factory = new Function(...FACTORY_PARAMS, body) as Factory;
    evalAllowed = true;
  } catch {
    // Run-time code generation is disabled (CSP): stay with the interpreter for good.
    evalAllowed = false;
    return undefined;
  }
  const bus = h.bus;
  return factory(
    h,
    h.x,
    bus.ram,
    bus.ramI8,
    bus.ramU16,
    bus.ramI16,
    bus.ramI32,
    h.rTagLo,
    h.rTagHi,
    h.rOff,
    h.wTagLo,
    h.wTagHi,
    h.wOff,
    mulh64,
    div64,
    div32,
  );
}

/** Slots to translate: incl[p >> 1] = 1 (instruction starts reached from executed code). */
let incl: Uint8Array;

function decoded(code: Int32Array, p: number): boolean {
  return p < 4096 && incl[p >> 1] === 1 && (code[p] & 255) !== Op.DECODE;
}

/** Source of the factory for window wi, or undefined when it holds no decoded instruction. */
function windowSource(code: Int32Array, included: Uint8Array, wi: number): string | undefined {
  incl = included;
  const ws = wi << JIT_WINDOW_SHIFT;
  const we = ws + (1 << JIT_WINDOW_SHIFT);
  const parts: string[] = [];
  let any = false;
  for (let p = ws; p < we; p += 2) {
    if (!decoded(code, p)) continue;
    any = true;
    const w = code[p];
    const len = (w >>> 27) & 1 ? 2 : 4;
    const next = p + len;
    parts.push(`case ${p}:`);
    const body = insnSource(w, code[p + 1], p, len, ws, we);
    parts.push(body.text);
    if (!body.ends) {
      // Count the instruction, then fall through to the next case or jump to where flow goes.
      parts.push(`if (--n <= 0) { { off = ${next}; k = 1; break L; } }`);
      if (!(next + 0 < we && decoded(code, next) && isNextCase(code, p, next))) parts.push(goTo(next, ws, we, code));
    }
  }
  if (!any) return undefined;
  // Every exit leaves through the loop's end: exits first taken after V8 optimized the window
  // then cost no deoptimization (assignments and breaks need no type feedback; a call or a
  // property store there would, and the budget exit moves to a new instruction every slice).
  return `return function (p, n, vLo, vHi) {
const dkey = h.dkey;
let k = 5;
let off = 0;
let hi2 = 0;
L: for (;;) {
switch (p) {
${parts.join('\n')}
default: { off = p; k = 5; break L; }
}
}
if (k === 2) { h.pcLo = off; h.pcHi = hi2; }
h.jN = n;
h.jOff = off;
return k;
};`;
}

/** True when the next case emitted after slot p is `next` (no other decoded slot in between). */
function isNextCase(code: Int32Array, p: number, next: number): boolean {
  for (let q = p + 2; q < next; q += 2) if (decoded(code, q)) return false;
  return true;
}

/** Transfers control to byte offset t of the page after the budget was counted. */
function goTo(t: number, ws: number, we: number, code: Int32Array): string {
  if (t >= ws && t < we) return decoded(code, t) ? `p = ${t}; continue;` : `{ off = ${t}; k = 5; break L; }`;
  return `{ off = ${t}; k = 4; break L; }`;
}

/** Branch/jump to page offset expression `t` (in-page already checked by the caller or known). */
function takenDynamic(t: string, ws: number, we: number): string {
  return `{ const t = ${t}; if (--n <= 0) { { off = t; k = 1; break L; } } if (t >= ${ws} && t < ${we}) { p = t; continue; } { off = t; k = 4; break L; } }`;
}

function takenStatic(t: number, ws: number, we: number): string {
  if (t >= 0 && t < 4096) {
    const go = t >= ws && t < we ? `p = ${t}; continue;` : `{ off = ${t}; k = 4; break L; }`;
    return `if (--n <= 0) { { off = ${t}; k = 1; break L; } } ${go}`;
  }
  return `{ off = ${t}; k = 0; break L; }`;
}

interface InsnSource {
  text: string;
  /** Control never falls out of the text (it returns or continues). */
  ends: boolean;
}

const SAVE_PC = (p: number) => `h.pcLo = (vLo + ${p}) | 0; h.pcHi = vHi;`;

/** Effective address of a load/store into lo/hi. */
function addr(a: number, imm: number): string {
  return `const alo = x[${a}]; const lo = (alo + ${imm}) | 0; const hi = (x[${a + 1}] + ${imm >> 31} + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0; const ti = (lo >>> 12) & ${TLB_MASK};`;
}

function insnSource(w: number, imm: number, p: number, len: number, ws: number, we: number): InsnSource {
  const op = w & 255;
  const d = (w >>> 8) & 127;
  const a = (w >>> 15) & 63;
  const b = (w >>> 21) & 63;
  const X = (i: number) => `x[${i}]`;
  const set = (lo: string, hi: string) => `{ const rl = ${lo}; const rh = ${hi}; x[${d}] = rl; x[${d + 1}] = rh; }`;
  const setW = (v: string) => `{ const v = ${v}; x[${d}] = v; x[${d + 1}] = v >> 31; }`;
  const plain = (text: string): InsnSource => ({ text, ends: false });
  const ends = (text: string): InsnSource => ({ text, ends: true });
  const interpret = ends(`{ off = ${p}; k = 5; break L; }`);
  const shift = (kind: 'l' | 'rl' | 'ra', sa: string) => {
    const pre = `const sa = ${sa}; const lo = ${X(a)}; const hi = ${X(a + 1)};`;
    if (kind === 'l')
      return `{ ${pre} if (sa < 32) { x[${d + 1}] = sa === 0 ? hi : (hi << sa) | (lo >>> (32 - sa)); x[${d}] = lo << sa; } else { x[${d + 1}] = lo << (sa - 32); x[${d}] = 0; } }`;
    const hs = kind === 'rl' ? '>>>' : '>>';
    const top = kind === 'rl' ? '0' : 'hi >> 31';
    return `{ ${pre} if (sa < 32) { x[${d}] = sa === 0 ? lo : (lo >>> sa) | (hi << (32 - sa)); x[${d + 1}] = hi ${hs} sa; } else { x[${d}] = hi ${hs} (sa - 32); x[${d + 1}] = ${top}; } }`;
  };
  const branch = (cond: string) => {
    const t = p + imm;
    return plain(`if (${cond}) { ${takenStatic(t, ws, we)} }`);
  };
  const load = (size: number, fast: string, slowLo: string, signHi: string) => {
    const mask = -4096 | (size - 1);
    return plain(
      `{ ${addr(a, imm)} let v; if (rTagLo[ti] === (lo & ${mask}) && rTagHi[ti] === (hi ^ dkey)) { v = ${fast}; } else { ${SAVE_PC(p)} if (!h.load(lo, hi, ${size})) { { off = ${p}; k = 3; break L; } } v = ${slowLo}; } x[${d}] = v; x[${d + 1}] = ${signHi}; }`,
    );
  };
  const store = (size: number, fast: string) => {
    const mask = -4096 | (size - 1);
    return plain(
      `{ ${addr(a, imm)} if (wTagLo[ti] === (lo & ${mask}) && wTagHi[ti] === (hi ^ dkey)) { const o = (wOff[ti] + (lo & 4095)) >>> 0; ${fast} } else { ${SAVE_PC(p)} if (!h.store(lo, hi, ${size}, x[${b}], x[${b + 1}])) { { off = ${p}; k = 3; break L; } } { off = ${p + len}; k = 0; break L; } } }`,
    );
  };
  const link = `{ const s = (vLo >>> 0) + ${p + len}; x[${d}] = s | 0; x[${d + 1}] = s > 4294967295 ? (vHi + 1) | 0 : vHi; }`;

  switch (op) {
    case Op.LUI:
      return plain(set(`${imm}`, `${imm >> 31}`));
    case Op.AUIPC:
      return plain(
        `{ const base = (vLo + ${p}) | 0; const lo = (base + ${imm}) | 0; x[${d}] = lo; x[${d + 1}] = (vHi + ${imm >> 31} + (lo >>> 0 < base >>> 0 ? 1 : 0)) | 0; }`,
      );
    case Op.JAL:
      return ends(`${link} ${takenStatic(p + imm, ws, we)}`);
    case Op.J:
      return ends(takenStatic(p + imm, ws, we));
    case Op.JALR:
      return ends(
        `{ const alo = x[${a}]; const tsum = (alo + ${imm}) | 0; const tlo = tsum & -2; const thi = (x[${a + 1}] + ${imm >> 31} + (tsum >>> 0 < alo >>> 0 ? 1 : 0)) | 0; ${link} if (thi === vHi && (tlo & -4096) === vLo) ${takenDynamic('tlo & 4095', ws, we)} { off = tlo; hi2 = thi; k = 2; break L; } }`,
      );
    case Op.BEQ:
      return branch(`x[${a}] === x[${b}] && x[${a + 1}] === x[${b + 1}]`);
    case Op.BNE:
      return branch(`x[${a}] !== x[${b}] || x[${a + 1}] !== x[${b + 1}]`);
    case Op.BLT:
      return branch(`x[${a + 1}] !== x[${b + 1}] ? x[${a + 1}] < x[${b + 1}] : x[${a}] >>> 0 < x[${b}] >>> 0`);
    case Op.BGE:
      return branch(`x[${a + 1}] !== x[${b + 1}] ? x[${a + 1}] > x[${b + 1}] : x[${a}] >>> 0 >= x[${b}] >>> 0`);
    case Op.BLTU:
      return branch(
        `x[${a + 1}] !== x[${b + 1}] ? x[${a + 1}] >>> 0 < x[${b + 1}] >>> 0 : x[${a}] >>> 0 < x[${b}] >>> 0`,
      );
    case Op.BGEU:
      return branch(
        `x[${a + 1}] !== x[${b + 1}] ? x[${a + 1}] >>> 0 > x[${b + 1}] >>> 0 : x[${a}] >>> 0 >= x[${b}] >>> 0`,
      );
    case Op.LB:
      return load(1, `mI8[(rOff[ti] + (lo & 4095)) >>> 0]`, `(h.ldLo << 24) >> 24`, 'v >> 31');
    case Op.LBU:
      return load(1, `m8[(rOff[ti] + (lo & 4095)) >>> 0]`, `h.ldLo & 255`, '0');
    case Op.LH:
      return load(2, `mI16[(rOff[ti] + (lo & 4095)) >>> 1]`, `(h.ldLo << 16) >> 16`, 'v >> 31');
    case Op.LHU:
      return load(2, `mU16[(rOff[ti] + (lo & 4095)) >>> 1]`, `h.ldLo & 0xffff`, '0');
    case Op.LW:
      return load(4, `mI32[(rOff[ti] + (lo & 4095)) >>> 2]`, `h.ldLo`, 'v >> 31');
    case Op.LWU:
      return load(4, `mI32[(rOff[ti] + (lo & 4095)) >>> 2]`, `h.ldLo`, '0');
    case Op.LD: {
      const mask = -4096 | 7;
      return plain(
        `{ ${addr(a, imm)} if (rTagLo[ti] === (lo & ${mask}) && rTagHi[ti] === (hi ^ dkey)) { const i = (rOff[ti] + (lo & 4095)) >>> 2; const vl = mI32[i]; const vh = mI32[i + 1]; x[${d}] = vl; x[${d + 1}] = vh; } else { ${SAVE_PC(p)} if (!h.load(lo, hi, 8)) { { off = ${p}; k = 3; break L; } } x[${d}] = h.ldLo; x[${d + 1}] = h.ldHi; } }`,
      );
    }
    case Op.SB:
      return store(1, `m8[o] = x[${b}];`);
    case Op.SH:
      return store(2, `mU16[o >>> 1] = x[${b}];`);
    case Op.SW:
      return store(4, `mI32[o >>> 2] = x[${b}];`);
    case Op.SD:
      return store(8, `mI32[o >>> 2] = x[${b}]; mI32[(o >>> 2) + 1] = x[${b + 1}];`);
    case Op.ADDI:
      return plain(
        `{ const alo = x[${a}]; const lo = (alo + ${imm}) | 0; const rh = (x[${a + 1}] + ${imm >> 31} + (lo >>> 0 < alo >>> 0 ? 1 : 0)) | 0; x[${d}] = lo; x[${d + 1}] = rh; }`,
      );
    case Op.LI:
      return plain(set(`${imm}`, `${imm >> 31}`));
    case Op.MV:
      return plain(set(X(a), X(a + 1)));
    case Op.SLTI:
      return plain(
        set(`(x[${a + 1}] !== ${imm >> 31} ? x[${a + 1}] < ${imm >> 31} : x[${a}] >>> 0 < ${imm >>> 0}) ? 1 : 0`, '0'),
      );
    case Op.SLTIU:
      return plain(
        set(
          `(x[${a + 1}] !== ${imm >> 31} ? x[${a + 1}] >>> 0 < ${(imm >> 31) >>> 0} : x[${a}] >>> 0 < ${imm >>> 0}) ? 1 : 0`,
          '0',
        ),
      );
    case Op.XORI:
      return plain(set(`x[${a}] ^ ${imm}`, `x[${a + 1}] ^ ${imm >> 31}`));
    case Op.ORI:
      return plain(set(`x[${a}] | ${imm}`, `x[${a + 1}] | ${imm >> 31}`));
    case Op.ANDI:
      return plain(set(`x[${a}] & ${imm}`, `x[${a + 1}] & ${imm >> 31}`));
    case Op.SLLI:
      return plain(shift('l', `${imm}`));
    case Op.SRLI:
      return plain(shift('rl', `${imm}`));
    case Op.SRAI:
      return plain(shift('ra', `${imm}`));
    case Op.ADD:
      return plain(
        `{ const al = x[${a}]; const lo = (al + x[${b}]) | 0; const rh = (x[${a + 1}] + x[${b + 1}] + (lo >>> 0 < al >>> 0 ? 1 : 0)) | 0; x[${d}] = lo; x[${d + 1}] = rh; }`,
      );
    case Op.SUB:
      return plain(
        `{ const al = x[${a}]; const bl = x[${b}]; const rh = (x[${a + 1}] - x[${b + 1}] - (al >>> 0 < bl >>> 0 ? 1 : 0)) | 0; x[${d}] = (al - bl) | 0; x[${d + 1}] = rh; }`,
      );
    case Op.SLL:
      return plain(shift('l', `x[${b}] & 63`));
    case Op.SRL:
      return plain(shift('rl', `x[${b}] & 63`));
    case Op.SRA:
      return plain(shift('ra', `x[${b}] & 63`));
    case Op.SLT:
      return plain(
        set(`(x[${a + 1}] !== x[${b + 1}] ? x[${a + 1}] < x[${b + 1}] : x[${a}] >>> 0 < x[${b}] >>> 0) ? 1 : 0`, '0'),
      );
    case Op.SLTU:
      return plain(
        set(
          `(x[${a + 1}] !== x[${b + 1}] ? x[${a + 1}] >>> 0 < x[${b + 1}] >>> 0 : x[${a}] >>> 0 < x[${b}] >>> 0) ? 1 : 0`,
          '0',
        ),
      );
    case Op.XOR:
      return plain(set(`x[${a}] ^ x[${b}]`, `x[${a + 1}] ^ x[${b + 1}]`));
    case Op.OR:
      return plain(set(`x[${a}] | x[${b}]`, `x[${a + 1}] | x[${b + 1}]`));
    case Op.AND:
      return plain(set(`x[${a}] & x[${b}]`, `x[${a + 1}] & x[${b + 1}]`));
    case Op.ADDIW:
      return plain(setW(`(x[${a}] + ${imm}) | 0`));
    case Op.SLLIW:
      return plain(setW(`x[${a}] << ${imm}`));
    case Op.SRLIW:
      return plain(setW(`(x[${a}] >>> ${imm}) | 0`));
    case Op.SRAIW:
      return plain(setW(`x[${a}] >> ${imm}`));
    case Op.ADDW:
      return plain(setW(`(x[${a}] + x[${b}]) | 0`));
    case Op.SUBW:
      return plain(setW(`(x[${a}] - x[${b}]) | 0`));
    case Op.SLLW:
      return plain(setW(`x[${a}] << (x[${b}] & 31)`));
    case Op.SRLW:
      return plain(setW(`(x[${a}] >>> (x[${b}] & 31)) | 0`));
    case Op.SRAW:
      return plain(setW(`x[${a}] >> (x[${b}] & 31)`));
    case Op.MUL:
      return plain(
        `{ const al = x[${a}]; const bl = x[${b}]; const a0 = al & 0xffff; const a1 = al >>> 16; const b0 = bl & 0xffff; const b1 = bl >>> 16; const m1 = a1 * b0; const m2 = a0 * b1; const mid = ((a0 * b0) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff); const hu = a1 * b1 + (m1 >>> 16) + (m2 >>> 16) + (mid >>> 16); const rh = (hu + Math.imul(al, x[${b + 1}]) + Math.imul(x[${a + 1}], bl)) | 0; x[${d}] = Math.imul(al, bl); x[${d + 1}] = rh; }`,
      );
    case Op.MULH:
      return plain(`mulh64(x, ${d}, ${a}, ${b}, true, true);`);
    case Op.MULHSU:
      return plain(`mulh64(x, ${d}, ${a}, ${b}, true, false);`);
    case Op.MULHU:
      return plain(`mulh64(x, ${d}, ${a}, ${b}, false, false);`);
    case Op.DIV:
      return plain(`div64(x, ${d}, ${a}, ${b}, true, false);`);
    case Op.DIVU:
      return plain(`div64(x, ${d}, ${a}, ${b}, false, false);`);
    case Op.REM:
      return plain(`div64(x, ${d}, ${a}, ${b}, true, true);`);
    case Op.REMU:
      return plain(`div64(x, ${d}, ${a}, ${b}, false, true);`);
    case Op.MULW:
      return plain(setW(`Math.imul(x[${a}], x[${b}])`));
    case Op.DIVW:
      return plain(`div32(x, ${d}, ${a}, ${b}, true, false);`);
    case Op.DIVUW:
      return plain(`div32(x, ${d}, ${a}, ${b}, false, false);`);
    case Op.REMW:
      return plain(`div32(x, ${d}, ${a}, ${b}, true, true);`);
    case Op.REMUW:
      return plain(`div32(x, ${d}, ${a}, ${b}, false, true);`);
    case Op.FENCE:
      return plain('');
    case Op.FENCE_I:
      // As in the interpreter: nothing to drop (decoded code is coherent), but the block ends.
      return ends(`{ off = ${p + len}; k = 0; break L; }`);
    case Op.SH1ADD:
    case Op.SH2ADD:
    case Op.SH3ADD:
    case Op.ADD_UW:
    case Op.SH1ADD_UW:
    case Op.SH2ADD_UW:
    case Op.SH3ADD_UW: {
      const uw = op === Op.ADD_UW || op === Op.SH1ADD_UW || op === Op.SH2ADD_UW || op === Op.SH3ADD_UW;
      const s =
        op === Op.ADD_UW
          ? 0
          : op === Op.SH1ADD || op === Op.SH1ADD_UW
            ? 1
            : op === Op.SH2ADD || op === Op.SH2ADD_UW
              ? 2
              : 3;
      const ah = uw ? '0' : `x[${a + 1}]`;
      const sh = s === 0 ? ah : `(${ah} << ${s}) | (x[${a}] >>> ${32 - s})`;
      return plain(
        `{ const sl = x[${a}] << ${s}; const sh = ${sh}; const lo = (sl + x[${b}]) | 0; const rh = (sh + x[${b + 1}] + (lo >>> 0 < sl >>> 0 ? 1 : 0)) | 0; x[${d}] = lo; x[${d + 1}] = rh; }`,
      );
    }
    case Op.ANDN:
      return plain(set(`x[${a}] & ~x[${b}]`, `x[${a + 1}] & ~x[${b + 1}]`));
    case Op.ORN:
      return plain(set(`x[${a}] | ~x[${b}]`, `x[${a + 1}] | ~x[${b + 1}]`));
    case Op.XNOR:
      return plain(set(`~(x[${a}] ^ x[${b}])`, `~(x[${a + 1}] ^ x[${b + 1}])`));
    case Op.SEXT_B:
      return plain(setW(`(x[${a}] << 24) >> 24`));
    case Op.SEXT_H:
      return plain(setW(`(x[${a}] << 16) >> 16`));
    case Op.ZEXT_H:
      return plain(set(`x[${a}] & 0xffff`, '0'));
    default:
      // System, atomics, FP, bit-manipulation rarities, CROSS and ILLEGAL: the interpreter's.
      return interpret;
  }
}
