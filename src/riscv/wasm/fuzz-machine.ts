/**
 * The differential fuzzer's machine (fuzz.ts makes the programs): builds a whole test case —
 * physical memory with the program, its data, page tables (Sv39/Sv48/Sv57 sharing one tree, plus
 * an Sv39 root that maps the data pages the other way round), an M-mode prologue that sets the
 * CSRs and `mret`s into the program in M, S or U mode, an M-mode trap handler and a small S-mode
 * one — runs it on one tier in slices, with a timer whose clock advances between slices, and
 * reads back the whole architectural state. Test-only code (imports test-support.ts).
 *
 * Virtual layout of paged cases (everything the program names with lui is below 2^31):
 *   code        low (0x0001_0000..) or high (-2^38 + ...) half, 1-3 pages at a random offset, so a
 *               block may cross into a page that is mapped elsewhere (or not yet mapped)
 *   code alias  a writable (sometimes executable) second mapping of the code pages
 *   data        two pages in the second GiB (x8 points at their boundary), maybe both onto one
 *               physical page; a third page aliases the first; a 2 MiB superpage maps all of RAM
 *   CLINT       msip and mtimecmp pages of the test timer (fuzz-handlers.ts, with the handlers)
 * Page-table entries start broken (invalid, missing a permission, reserved bits, U bit wrong, A/D
 * clear) or get broken by an `ecall` (x17 selects one); the M-mode handler repairs an entry on a
 * page fault at its page and retries, skips other faulting instructions (reading their length
 * with MPRV+MXR), and moves an instruction fetch it cannot repair to the loop's tail.
 */
import { asm, machine, RAM_BASE, type Machine } from '../test-support.ts';
import type { Tier } from '../tier.ts';
import type { HartProfile } from '../hart-profile.ts';
import { Rng, randomProgram, layout, wordsLength, LOOP, PTR, type ProgramCtx, type Word } from './fuzz.ts';
import { fpValue } from './fuzz-fp.ts';
import { TIMER_BASE, H_RECOVER, H_TABLE, FIX_ENTRIES, M_HANDLER, S_HANDLER, Timer } from './fuzz-handlers.ts';
import { wasmTuning } from './wasm-tier.ts';

const PAGE = 4096;
const RAM_SIZE = 1 << 20;
const RAM_PAGES = RAM_SIZE / PAGE;
/** Physical pages: 0 the prologue, RAM_PAGES-2 the M-mode handler, the last one test-support's halt. */
const HANDLER_PG = RAM_PAGES - 2;
const PA = (pg: number) => RAM_BASE + pg * PAGE;
/** The prologue's table of CSR values. */
const SETUP = 0x400;

/** A 64-bit value as [lo, hi] words from a JS number in (-2^53, 2^53). */
const split = (v: number): [number, number] => {
  const hi = Math.floor(v / 4294967296);
  return [(v - hi * 4294967296) | 0, hi | 0];
};

/** Order in which the prologue writes the setup table's CSRs (mstatus last: it holds MPP). */
const SETUP_CSRS = [
  0x305, 0x105, 0x302, 0x303, 0x304, 0x30a, 0x10a, 0x306, 0x106, 0x180, 0x300, 0x003, 0x340, 0x140, 0x341, 0x300,
];

export interface FuzzCase {
  /** Physical memory contents (page number → bytes). */
  pages: Map<number, Uint8Array>;
  regs: [number, number][];
  fregs: [number, number][];
  /**
   * The test timer's mtimecmp at reset; clock ticks added after each slice; software interrupts
   * raised after each slice (0 none, 1 SSIP as an SBI IPI would, 2 msip as another hart would).
   */
  timerCmp: [number, number];
  ticks: number[];
  ipis: number[];
  budget: number;
  /** The wasm translator's region size for this case (wasm-tier.ts pageRegions). */
  regionMin: number;
  /** Summary for failure messages. */
  what: string;
}

/** Sv39 page-table builder over physical pages; the Sv48/Sv57 roots wrap the Sv39 root. */
class Tables {
  constructor(
    private readonly page: (pg: number) => Uint8Array,
    private readonly alloc: () => number,
    readonly root: number,
  ) {
    page(root);
  }
  private pte(pg: number, idx: number): DataView {
    const b = this.page(pg);
    return new DataView(b.buffer, b.byteOffset + idx * 8, 8);
  }
  /** Maps va's 4 KiB page (level 0) or 2 MiB page (level 1) to physical page ppn; returns the PTE's address. */
  map(va: number, ppn: number, flags: number, level = 0, root = this.root): number {
    let t = root;
    for (let i = 2; i > level; i--) {
      const vpn = (((Math.floor(va / 2 ** (12 + 9 * i)) % 512) + 512) % 512) | 0;
      const e = this.pte(t, vpn);
      let next = e.getUint32(0, true);
      if ((next & 1) === 0) {
        const n = this.alloc();
        this.page(n);
        next = ((((RAM_BASE >>> 12) + n) << 10) | 1) >>> 0;
        e.setUint32(0, next, true);
      }
      t = (next >>> 10) - (RAM_BASE >>> 12);
    }
    const vpn = (((Math.floor(va / 2 ** (12 + 9 * level)) % 512) + 512) % 512) | 0;
    const e = this.pte(t, vpn);
    const v = ppn * 1024 + flags;
    e.setUint32(0, v % 4294967296, true);
    e.setUint32(4, Math.floor(v / 4294967296), true);
    return PA(t) + vpn * 8;
  }
  /** Makes page n a root one level up whose first and last entries point at `lower` (same mappings). */
  wrap(n: number, lower: number): void {
    const v = ((((RAM_BASE >>> 12) + lower) << 10) | 1) >>> 0;
    this.pte(n, 0).setUint32(0, v, true);
    this.pte(n, 511).setUint32(0, v, true);
  }
}

const V = 1;
const R_ = 2;
const W_ = 4;
const X_ = 8;
const U_ = 16;
const G_ = 32;
const A_ = 64;
const D_ = 128;

/** A page-table entry value made bad in one of the ways a walk must notice (or fix up: A/D). */
function breakPte(r: Rng, good: number, priv: number): number {
  const flags = good % 1024;
  const base = good - flags;
  switch (r.int(7)) {
    case 0:
      return base + (flags & ~V);
    case 1:
      return base + (flags & ~(R_ | X_)) + (flags & W_ ? 0 : W_); // W without R: reserved
    case 2:
      return base + (flags & ~W_);
    case 3:
      return base + (flags & ~X_) + R_;
    case 4:
      return base + (priv === 0 ? flags & ~U_ : flags | U_);
    case 5:
      return good + 2 ** 54 * (1 + r.int(3)); // reserved bits 54.. (or PBMT, not enabled)
    default:
      return base + (flags & ~(A_ | D_));
  }
}

/** Overrides of the generator's random choices (the random numbers drawn stay the same). */
export interface CaseOptions {
  /** Chance of an FP item (VIRTKIT_FUZZ_FP: FP-heavy runs for the FP translation). */
  fp?: number;
}

/** A random whole test case. */
export function randomCase(r: Rng, opts: CaseOptions = {}, length = 48, loops = 4): FuzzCase {
  const pages = new Map<number, Uint8Array>();
  const page = (pg: number) => {
    if (!Number.isInteger(pg) || pg < 0 || pg >= RAM_PAGES) throw new Error(`fuzz: no RAM page ${pg}`);
    let b = pages.get(pg);
    if (b === undefined) {
      b = new Uint8Array(PAGE);
      pages.set(pg, b);
    }
    return b;
  };
  const free: number[] = [];
  for (let pg = 1; pg < HANDLER_PG; pg++) free.push(pg);
  for (let k = free.length - 1; k > 0; k--) {
    const j = r.int(k + 1);
    [free[k], free[j]] = [free[j]!, free[k]!];
  }
  const alloc = () => free.pop()!;

  const priv = r.pick([3, 3, 1, 1, 1, 0, 0]);
  const paged = priv !== 3 && r.chance(0.8);
  const mode = paged ? r.pick([8, 8, 9, 10]) : 0;
  const ctx: ProgramCtx = {
    priv,
    fp: r.pick([0, 0.1, 0.25, 0.5]),
    sys: r.pick([0.02, 0.06, 0.12]),
    codeVa: 0,
    codeAlias: 0,
    clint: TIMER_BASE,
    satps: [],
    targets: [],
  };
  if (opts.fp !== undefined) ctx.fp = opts.fp;
  // Code placement: start of a page, anywhere in it, or near its end (crossing into the next).
  const codeOff = r.pick([0, 2 * r.int(1800), PAGE - 2 * (1 + r.int(40))]);

  // Physical pages of code and data. Bare cases: contiguous (virtual = physical).
  const codePgs: number[] = [];
  const dataPgs: number[] = [];
  let codeVa: number;
  let dataVa: number;
  const nCode = 3;
  let roots: number[] = [];
  let shVa = PA(HANDLER_PG) + 0xc00;
  if (!paged) {
    const base = 1 + r.int(HANDLER_PG - 8);
    for (let k = 0; k < nCode; k++) codePgs.push(base + k);
    dataPgs.push(base + nCode, base + nCode + 1);
    for (const pg of [...codePgs, ...dataPgs]) free.splice(free.indexOf(pg), 1);
    codeVa = PA(codePgs[0]!);
    dataVa = PA(dataPgs[0]!);
  } else {
    for (let k = 0; k < nCode; k++) codePgs.push(alloc());
    const d0 = alloc();
    dataPgs.push(d0, r.chance(0.15) ? d0 : alloc());
    codeVa = r.chance(0.5) ? (0x10 + r.int(0x3000)) * PAGE : -(2 ** 38) + r.int(0x3000) * PAGE;
    dataVa = 0x40000000 + r.int(0x3fff0) * PAGE;
    ctx.codeAlias = (0x4000 + r.int(0x3000)) * PAGE;
    ctx.clint = 0x08000000 + r.int(0x1000) * 0x8000;
    shVa = (0x7800 + r.int(0x400)) * PAGE;
    ctx.targets = [shVa, shVa, ctx.codeAlias, dataVa, 0x20000000];
    // Roots (allocated now: the program may switch between them): Sv39, Sv48 and Sv57 over one
    // tree, and an Sv39 root whose data pages are swapped.
    roots = [alloc(), alloc(), alloc(), alloc()];
    const satpOf = (pg: number, m: number): [number, number] => [(RAM_BASE >>> 12) + pg, m << 28];
    ctx.satps = [satpOf(roots[0]!, 8), satpOf(roots[1]!, 9), satpOf(roots[2]!, 10), satpOf(roots[3]!, 8)];
  }
  ctx.codeVa = codeVa;
  const body = randomProgram(r, length, ctx);
  const words = layout(body, codeOff);
  const bodyLen = wordsLength(words);
  // loop: body; addi x7, x7, -1; bne x7, x0, -(bodyLen + 4); then `j .` (translated too) until the budget ends.
  // Or the loop's way back is a JALR (beq x7, x0 to the `j .`; auipc x6; jalr x0, x6, back): no
  // branch then spans the body, so the wasm tier may split it into regions (small ones here).
  const regionMin = r.pick([1, 2, 5, 16, 48]);
  const viaJalr = r.chance(0.5) && bodyLen + 8 <= 2048;
  const back = viaJalr
    ? [asm.beq(LOOP, 0, 12), asm.auipc(6, 0), asm.jalr(0, 6, -(bodyLen + 8))]
    : [asm.bne(LOOP, 0, -(bodyLen + 4))];
  const all: Word[] = [...words, asm.addi(LOOP, LOOP, -1), ...back, asm.jal(0, 0)];
  const image = new Uint8Array(nCode * PAGE);
  let pos = codeOff;
  for (const w of all) {
    const v = typeof w === 'number' ? w : w.c;
    const n = typeof w === 'number' ? 4 : 2;
    for (let k = 0; k < n; k++) image[pos + k] = v >>> (8 * k);
    pos += n;
  }
  if (pos > image.length) throw new Error('fuzz: program longer than its code pages');
  codePgs.forEach((pg, k) => page(pg).set(image.subarray(k * PAGE, (k + 1) * PAGE)));
  const entry = codeVa + codeOff;
  const recover = entry + bodyLen;

  // Data: random words.
  for (const pg of dataPgs) {
    const b = page(pg);
    for (let k = 0; k < PAGE; k++) b[k] = r.next();
  }

  // Page tables, the fix list, the S handler's page.
  const fix: { key: number; pte: number; good: number; bad: number }[] = [];
  let sHandler = PA(HANDLER_PG) + 0xc00; // bare: a physical copy next to the M handler (in its page)
  let satp: [number, number] = [0, 0];
  const u = priv === 0 ? U_ : 0;
  if (paged) {
    const t = new Tables(page, alloc, roots[0]!);
    const g = () => (r.chance(0.2) ? G_ : 0);
    const add = (va: number, pg: number, flags: number, breakable: boolean, brokenAtStart = 0.25) => {
      const good = (RAM_BASE / PAGE + pg) * 1024 + flags;
      const bad = breakPte(r, good, priv);
      const broken = breakable && r.chance(brokenAtStart);
      const pte = t.map(va, RAM_BASE / PAGE + pg, flags);
      if (breakable) {
        if (broken) {
          const dv = new DataView(page(Math.floor((pte - RAM_BASE) / PAGE)).buffer, pte % PAGE, 8);
          dv.setUint32(0, bad % 4294967296, true);
          dv.setUint32(4, Math.floor(bad / 4294967296), true);
        }
        fix.push({ key: Math.floor(va / PAGE), pte, good, bad });
      }
      return pte;
    };
    const codeFlags = V | R_ | X_ | A_ | u | (r.chance(0.3) ? W_ | D_ : 0) | g();
    codePgs.forEach((pg, k) => add(codeVa + k * PAGE, pg, codeFlags, k > 0 || r.chance(0.3), 0.3));
    const dataFlags = V | R_ | W_ | A_ | D_ | (priv === 0 || r.chance(0.15) ? U_ : 0) | g();
    dataPgs.forEach((pg, k) => add(dataVa + k * PAGE, pg, dataFlags, true));
    add(dataVa + 2 * PAGE, dataPgs[0]!, dataFlags, true);
    const aliasX = r.chance(0.6) ? X_ : 0;
    codePgs.forEach((pg, k) => add(ctx.codeAlias + k * PAGE, pg, V | R_ | W_ | A_ | D_ | aliasX | u, true, 0.1));
    // Test timer: msip and mtimecmp pages (physical addresses above RAM).
    t.map(ctx.clint, TIMER_BASE / PAGE, V | R_ | W_ | A_ | D_ | u);
    t.map(ctx.clint + 0x4000, TIMER_BASE / PAGE + 4, V | R_ | W_ | A_ | D_ | u);
    // A 2 MiB superpage over the start of RAM (its upper half faults: no RAM there).
    t.map(0x20000000, RAM_BASE / PAGE, V | R_ | W_ | A_ | D_ | u, 1);
    // The S-mode handler's page (never a U page).
    const shPg = alloc();
    t.map(shVa, RAM_BASE / PAGE + shPg, V | R_ | X_ | A_);
    load0(page(shPg), 0, S_HANDLER);
    sHandler = shVa;
    // Sv48 and Sv57 roots over the Sv39 tree; the other Sv39 root is a copy of it with another
    // subtree for the data's GiB.
    t.wrap(roots[1]!, roots[0]!);
    t.wrap(roots[2]!, roots[1]!);
    const alt = roots[3]!;
    page(alt).set(page(t.root));
    const sub = alloc();
    page(sub);
    new DataView(page(alt).buffer, (((dataVa / 2 ** 30) | 0) % 512) * 8, 8).setUint32(
      0,
      ((((RAM_BASE >>> 12) + sub) << 10) | 1) >>> 0,
      true,
    );
    t.map(dataVa, RAM_BASE / PAGE + dataPgs[1]!, dataFlags, 0, alt);
    t.map(dataVa + PAGE, RAM_BASE / PAGE + dataPgs[0]!, dataFlags, 0, alt);
    satp = ctx.satps[mode - 8]!;
  } else {
    load0(page(HANDLER_PG), 0xc00, S_HANDLER);
  }
  // The M handler, its data and the fix list (padded with entries that match no page).
  const hp = page(HANDLER_PG);
  load0(hp, 0, M_HANDLER);
  const hv = new DataView(hp.buffer);
  const put64 = (off: number, v: number) => {
    const [lo, hi] = split(v);
    hv.setInt32(off, lo, true);
    hv.setInt32(off + 4, hi, true);
  };
  put64(H_RECOVER, recover);
  for (let k = 0; k < FIX_ENTRIES; k++) {
    const e = fix[k];
    const o = H_TABLE + 32 * k;
    if (e === undefined) {
      // a dummy: key matches nothing (its top bits are set), the PTE is a scratch word
      put64(o, -2);
      put64(o + 8, PA(HANDLER_PG) + 0xbf0);
      continue;
    }
    const key = e.key < 0 ? 2 ** 52 + e.key : e.key; // (va >> 12) as a 64-bit logical shift
    put64(o, key);
    put64(o + 8, e.pte);
    put64(o + 16, e.good);
    put64(o + 24, e.bad);
  }
  put64(H_TABLE + 32 * FIX_ENTRIES, -1);

  // Registers: random values, some pointing into the mappings.
  const regs: [number, number][] = [];
  for (let k = 0; k < 32; k++) regs.push(regValue(r, dataVa, ctx, paged));
  regs[0] = [0, 0];
  regs[LOOP] = [loops, 0];
  regs[PTR] = split(dataVa + PAGE);
  const fregs: [number, number][] = [];
  for (let k = 0; k < 32; k++) fregs.push(fpValue(r));

  // The prologue's CSR values (SETUP_CSRS order).
  const fs = r.pick([0, 1, 1, 2, 3, 3]) << 13;
  const mstatusFinal =
    (priv << 11) |
    fs |
    (r.chance(0.5) ? 1 << 7 : 0) | // MPIE: M-mode interrupts enabled after mret
    (r.chance(0.5) ? 1 << 1 : 0) | // SIE
    (r.chance(0.3) ? 1 << 18 : 0) | // SUM
    (r.chance(0.2) ? 1 << 19 : 0); // MXR
  const envcfg = () => r.pick([0, 0xf0, 0x80, 0x40, 0x10, 0x30]);
  const setup: number[] = [
    PA(HANDLER_PG),
    sHandler,
    priv === 0 && r.chance(0.6) ? 1 << 8 : 0,
    r.chance(0.4) ? 2 : 0,
    r.pick([0, 0x2, 0x8, 0x80, 0x8a, 0x2aa, 0xaaa, 0xaaa]),
    envcfg(),
    envcfg(),
    r.int(8),
    r.int(8),
    0, // satp: set below (a 64-bit value)
    1 << 13, // mstatus: FS on for the fcsr write
    ((r.chance(0.85) ? r.int(5) : 5 + r.int(3)) << 5) | (r.chance(0.2) ? r.int(32) : 0), // fcsr: frm (sometimes reserved), fflags
    r.next() | 0,
    r.next() | 0,
    entry,
    0, // mstatus: final (set below)
  ];
  const pro: number[] = [asm.auipc(30, 0), asm.addi(30, 30, SETUP)];
  SETUP_CSRS.forEach((csr, k) => pro.push(asm.ld(29, 30, 8 * k), asm.csrrw(0, csr, 29)));
  // x29 and x30 get their random values back (x30 last: it is the table's base)
  pro.push(
    asm.sfence_vma(0, 0),
    asm.ld(29, 30, 8 * SETUP_CSRS.length),
    asm.ld(30, 30, 8 * SETUP_CSRS.length + 8),
    asm.mret(),
  );
  const p0 = page(0);
  load0(p0, 0, pro);
  const pv = new DataView(p0.buffer);
  setup.forEach((v, k) => {
    const [lo, hi] = split(v);
    pv.setInt32(SETUP + 8 * k, lo, true);
    pv.setInt32(SETUP + 8 * k + 4, hi, true);
  });
  // menvcfg.STCE (bit 63, Sstc: stimecmp drives STIP) in 40% of the cases
  if (r.chance(0.4)) pv.setInt32(SETUP + 8 * 5 + 4, -0x80000000, true);
  pv.setInt32(SETUP + 8 * 9, satp[0], true);
  pv.setInt32(SETUP + 8 * 9 + 4, satp[1], true);
  pv.setInt32(SETUP + 8 * 15, mstatusFinal, true);
  pv.setInt32(SETUP + 8 * SETUP_CSRS.length, regs[29]![0], true);
  pv.setInt32(SETUP + 8 * SETUP_CSRS.length + 4, regs[29]![1], true);
  pv.setInt32(SETUP + 8 * SETUP_CSRS.length + 8, regs[30]![0], true);
  pv.setInt32(SETUP + 8 * SETUP_CSRS.length + 12, regs[30]![1], true);

  // Timer: armed in the near future, at once, or not at all; ticks between slices.
  const timerCmp: [number, number] = r.pick([[1000 + r.int(300), 0] as [number, number], [0, 0], [-1, -1]]);
  const ticks: number[] = [];
  const ipis: number[] = [];
  for (let k = 0; k < 64; k++) {
    ticks.push(r.chance(0.3) ? r.int(100) : 0);
    ipis.push(r.chance(0.08) ? 1 + r.int(2) : 0);
  }

  // Usually a budget that ends mid-program (pc and instret then show where each slice stopped,
  // so budget accounting is checked), sometimes one that reaches the final spin.
  const full = loops * (length + 30) * 8 + 40;
  const budget = r.chance(0.5) ? 30 + r.int(full) : full;
  const what = `${['M', 'S', '?', 'U'][priv === 3 ? 0 : priv === 1 ? 1 : 3]}-mode, ${paged ? ['sv39', 'sv48', 'sv57'][mode - 8] : 'bare'}, fp ${ctx.fp}, sys ${ctx.sys}, budget ${budget}`;
  return { pages, regs, fregs, timerCmp, ticks, ipis, budget, what: `${what}, regions ${regionMin}`, regionMin };
}

function load0(b: Uint8Array, off: number, words: readonly number[]): void {
  const v = new DataView(b.buffer, b.byteOffset);
  words.forEach((w, k) => v.setUint32(off + 4 * k, w >>> 0, true));
}

function regValue(r: Rng, dataVa: number, ctx: ProgramCtx, paged: boolean): [number, number] {
  const edge = [0, -1, 1, -0x80000000, 0x7fffffff, 0x12345678];
  switch (r.int(6)) {
    case 0:
      return [r.pick(edge), r.pick(edge)];
    case 1:
      return [r.int(64) - 32, r.chance(0.5) ? 0 : -1];
    case 2: {
      // a pointer: into the data pages, their alias, the superpage's view of RAM, the code alias, the timer
      const p = r.pick(
        paged
          ? [
              dataVa + 2 * PAGE,
              dataVa + PAGE * 2 + 2048,
              0x20000000 + r.int(RAM_SIZE / 8) * 8,
              ctx.codeAlias,
              ctx.clint,
            ]
          : [dataVa + 2048, ctx.clint],
      );
      return split(p + (r.int(64) - 32) * 8);
    }
    default:
      return [r.next() | 0, r.next() | 0];
  }
}

const SLICES = [37, 500, 3, 211, 1000, 64, 1, 17, 4000];

/** Runs a case on one tier (translated from the first instruction) and returns the machine. */
export function runCase(fc: FuzzCase, tier: Tier, profile: HartProfile | null = null): Machine {
  const m = machine(RAM_SIZE);
  const h = m.hart;
  h.profile = profile;
  h.tier = tier;
  if (tier !== 'interp') h.jitThreshold = 0;
  m.clock.t = 1000;
  const timer = new Timer(h, m.clock);
  m.bus.addDevice('fuzz-timer', TIMER_BASE, 0x10000, timer);
  for (const [pg, b] of fc.pages) m.bus.ram.set(b, pg * PAGE);
  m.bus.notifyWrite(RAM_BASE, RAM_SIZE - PAGE);
  fc.regs.forEach(([lo, hi], k) => h.writeRegParts(k, lo, hi));
  fc.fregs.forEach(([lo, hi], k) => {
    h.f[2 * k] = lo;
    h.f[2 * k + 1] = hi;
  });
  timer.cmpLo = fc.timerCmp[0] >>> 0;
  timer.cmpHi = fc.timerCmp[1] >>> 0;
  timer.update();
  const tuned = wasmTuning.regionMin;
  wasmTuning.regionMin = fc.regionMin;
  try {
    runSlices(m, timer, fc);
  } finally {
    wasmTuning.regionMin = tuned;
  }
  return m;
}

function runSlices(m: Machine, timer: Timer, fc: FuzzCase): void {
  const h = m.hart;
  let left = fc.budget;
  for (let i = 0; left > 0; i++) {
    if (h.waiting) {
      // WFI: time passes until the timer fires; if nothing can wake the hart, the case ends
      m.clock.t += 1000;
      timer.update();
      if (h.waiting && (h.mip & h.mie) === 0) break;
    }
    left -= Math.max(1, h.run(Math.min(left, SLICES[i % SLICES.length]!)));
    // Between slices time passes and other harts may send IPIs: these interrupts arrive at
    // whatever instruction boundary the slice ended at, in the middle of translated code too.
    m.clock.t += fc.ticks[i % fc.ticks.length]!;
    timer.update();
    const ipi = fc.ipis[i % fc.ipis.length];
    if (ipi === 1) h.setSoftwarePending(1 << 1, true);
    else if (ipi === 2) timer.write(0, 4, 1);
  }
}

/** FNV-1a over RAM words (the comparison's digest of memory; a mismatch then lists the words). */
function ramDigest(a: Int32Array): number {
  let hsh = 0x811c9dc5;
  for (let k = 0; k < a.length; k++) hsh = Math.imul(hsh ^ a[k]!, 0x01000193);
  return hsh >>> 0;
}

/** The architectural state compared between tiers. */
export function stateOf(m: Machine): Record<string, unknown> {
  const h = m.hart;
  const csr = (n: number) => {
    // read through the hart's own CSR path (M-mode view), so derived bits (mstatus.SD) are included
    const hh = h as unknown as { csrRead(c: number): boolean; csrLo: number; csrHi: number; priv: number };
    const p = hh.priv;
    hh.priv = 3;
    const ok = hh.csrRead(n);
    hh.priv = p;
    return ok ? [hh.csrLo, hh.csrHi] : 'n/a';
  };
  const resv = h as unknown as { resvValid: boolean; resvAddr: number };
  return {
    x: Array.from(h.x.subarray(0, 64)),
    f: Array.from(h.f),
    pc: h.getPc(),
    priv: h.priv,
    instret: h.instret,
    waiting: h.waiting,
    fcsr: [h.frm, h.fflags],
    reservation: resv.resvValid ? resv.resvAddr : 'none',
    csrs: Object.fromEntries(
      [
        ['mstatus', 0x300],
        ['mepc', 0x341],
        ['mcause', 0x342],
        ['mtval', 0x343],
        ['mip', 0x344],
        ['mie', 0x304],
        ['mscratch', 0x340],
        ['sepc', 0x141],
        ['scause', 0x142],
        ['stval', 0x143],
        ['sscratch', 0x140],
        ['satp', 0x180],
      ].map(([k, n]) => [k, csr(n as number)]),
    ),
    ram: ramDigest(m.bus.ramI32),
  };
}

/** The first RAM words that differ between two machines (for a failure message). */
export function ramDiff(a: Machine, b: Machine): string {
  const out: string[] = [];
  const x = a.bus.ramI32;
  const y = b.bus.ramI32;
  for (let k = 0; k < x.length && out.length < 8; k++)
    if (x[k] !== y[k]) out.push(`0x${(RAM_BASE + 4 * k).toString(16)}: ${x[k]! >>> 0} vs ${y[k]! >>> 0}`);
  return out.join(', ');
}
