/**
 * CPU models and the RVA22/beyond features at the hart level: which instructions each model
 * has (absent ones trap as illegal with the instruction bits in mtval: Sstvala), the envcfg
 * enables of the cache-block instructions per mode, cbo.zero's effect and faults, Svpbmt,
 * Svnapot, Sv57 walks and PMP enforcement (including the TLB: a cached translation never
 * outlives or bypasses a PMP change).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asm, machine, load, poke64, RAM_BASE, type Machine } from '../test-support.ts';
import { cpuConfig, type CpuModel } from '../cpu-config.ts';
import * as C from '../csr.ts';

const A0 = 10;
const DATA = RAM_BASE + 0x10000;

/** R-type word. */
const R = (f7: number, rs2: number, rs1: number, f3: number, rd: number, op: number) =>
  ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;

/** [name, word, first model that has it]. Registers: a0 = DATA, a1, a2, fa0..fa2. */
const NEW_INSNS: ReadonlyArray<readonly [string, number, CpuModel]> = [
  ['czero.eqz', R(7, 12, 11, 5, 10, 0x33), 'max'],
  ['czero.nez', R(7, 12, 11, 7, 10, 0x33), 'max'],
  ['clmul', R(5, 12, 11, 1, 10, 0x33), 'max'],
  ['clmulr', R(5, 12, 11, 2, 10, 0x33), 'max'],
  ['clmulh', R(5, 12, 11, 3, 10, 0x33), 'max'],
  ['pack', R(4, 12, 11, 4, 10, 0x33), 'max'],
  ['packh', R(4, 12, 11, 7, 10, 0x33), 'max'],
  ['packw', R(4, 12, 11, 4, 10, 0x3b), 'max'],
  ['brev8', 0x6875d513, 'max'],
  ['xperm4', R(0x14, 12, 11, 2, 10, 0x33), 'max'],
  ['xperm8', R(0x14, 12, 11, 4, 10, 0x33), 'max'],
  ['fadd.h', 0x04c5f553, 'max'],
  ['fmadd.h', 0x64c5f543, 'max'],
  ['fclass.h', R(0x72, 0, 11, 1, 10, 0x53), 'max'],
  ['cbo.zero', 0x0045200f, 'rva22'],
  ['cbo.clean', 0x0015200f, 'rva22'],
  ['cbo.flush', 0x0025200f, 'rva22'],
  ['cbo.inval', 0x0005200f, 'rva22'],
  ['sinval.vma', 0x16000073, 'rva22'],
  ['sfence.w.inval', 0x18000073, 'rva22'],
  ['sfence.inval.ir', 0x18100073, 'rva22'],
  ['flh', 0x00051507, 'rva22'],
  ['fsh', 0x00a51027, 'rva22'],
  ['fcvt.s.h', R(0x20, 2, 11, 7, 10, 0x53), 'rva22'],
  ['fcvt.h.d', R(0x22, 1, 11, 7, 10, 0x53), 'rva22'],
  ['fmv.x.h', R(0x72, 0, 11, 0, 10, 0x53), 'rva22'],
  ['fmv.h.x', R(0x7a, 0, 11, 0, 10, 0x53), 'rva22'],
];

const RANK: Record<CpuModel, number> = { rv64gc: 0, rva22: 1, max: 2 };

function hartWith(model: CpuModel, code: number[], translated = false): Machine {
  const m = machine(1 << 20, cpuConfig(model));
  load(m.bus, RAM_BASE, code);
  m.hart.writeReg(A0, DATA);
  m.hart.mstatus |= C.MSTATUS_FS;
  if (translated) m.hart.jitThreshold = 0;
  return m;
}

test('each model has exactly its extensions; absent instructions trap with their bits in mtval', () => {
  for (const model of ['rv64gc', 'rva22', 'max'] as const) {
    for (const [name, word, from] of NEW_INSNS) {
      for (const translated of [false, true]) {
        const m = hartWith(model, [word, asm.ebreak()], translated);
        m.hart.run(2);
        const present = RANK[model] >= RANK[from];
        const what = `${name} on ${model}${translated ? ' (translated)' : ''}`;
        if (present) {
          assert.equal(m.hart.mcauseLo, 3, `${what}: runs, then the ebreak traps`);
        } else {
          assert.equal(m.hart.mcauseLo, 2, `${what}: illegal`);
          assert.equal(m.hart.mtvalLo >>> 0, word, `${what}: mtval holds the instruction`);
        }
      }
    }
  }
});

test('the device-tree ISA strings name what each model implements', () => {
  assert.equal(cpuConfig('rv64gc').isa, 'rv64imafdc_zicsr_zifencei_zicntr_zba_zbb_zbs_sstc');
  const rva22 = cpuConfig('rva22').isa.split('_');
  for (const e of ['zicbom', 'zicboz', 'zicbop', 'zihintpause', 'zfhmin', 'zkt', 'svpbmt', 'svinval', 'sstc'])
    assert.ok(rva22.includes(e), e);
  for (const e of ['zfh', 'zicond', 'zbc', 'svnapot']) assert.ok(!rva22.includes(e), e);
  const max = cpuConfig('max');
  for (const e of ['zfh', 'zicond', 'zbc', 'zbkb', 'zbkc', 'zbkx', 'svnapot'])
    assert.ok(max.isa.split('_').includes(e), e);
  assert.equal(max.mmuType, 'riscv,sv57');
});

/** Runs `word` at privilege priv with the given envcfg low words; returns mcause (0 = ran). */
function cboAt(priv: number, word: number, menvcfg: number, senvcfg: number): number {
  const m = hartWith('max', [word, asm.jal(0, 0)]);
  m.hart.menvcfgLo = menvcfg;
  m.hart.senvcfg = senvcfg;
  m.hart.priv = priv;
  m.hart.updateKeys();
  m.hart.run(2);
  return m.hart.mcauseLo;
}

test('cbo.* are enabled per mode by menvcfg (S) and both envcfg registers (U)', () => {
  const zero = 0x0045200f;
  const clean = 0x0015200f;
  const inval = 0x0005200f;
  assert.equal(cboAt(3, zero, 0, 0), 0, 'M-mode always');
  assert.equal(cboAt(1, zero, 0, 0), 2, 'S without CBZE');
  assert.equal(cboAt(1, zero, C.ENVCFG_CBZE, 0), 0);
  assert.equal(cboAt(0, zero, C.ENVCFG_CBZE, 0), 2, 'U needs senvcfg.CBZE too');
  assert.equal(cboAt(0, zero, C.ENVCFG_CBZE, C.ENVCFG_CBZE), 0);
  assert.equal(cboAt(1, clean, C.ENVCFG_CBZE, 0), 2, 'clean needs CBCFE');
  assert.equal(cboAt(1, clean, C.ENVCFG_CBCFE, 0), 0);
  assert.equal(cboAt(1, inval, 0x10, 0), 0, 'CBIE = 01 (flush)');
  assert.equal(cboAt(1, inval, 0x30, 0), 0, 'CBIE = 11 (invalidate)');
  assert.equal(cboAt(1, inval, 0x20, 0), 2, 'CBIE = 10 is reserved');
  assert.equal(cboAt(0, inval, 0x30, 0x10), 0);
});

test('menvcfg/senvcfg keep only the fields the model has', () => {
  for (const [model, lo, hi] of [
    ['rv64gc', 1, C.ENVCFG_STCE_HI],
    ['max', 0xf1, C.ENVCFG_STCE_HI | C.ENVCFG_PBMTE_HI],
  ] as const) {
    const m = hartWith(model, [
      asm.addi(1, 0, -1),
      asm.csrrw(0, C.MENVCFG, 1),
      asm.csrrw(0, C.SENVCFG, 1),
      asm.ebreak(),
    ]);
    m.hart.run(4);
    assert.equal(m.hart.menvcfgLo, lo, model);
    assert.equal(m.hart.menvcfgHi, hi, model);
    assert.equal(m.hart.senvcfg, lo, model);
  }
});

test('cbo.zero zeroes the aligned 64-byte block holding rs1; a read-only page gives a store page fault', () => {
  const m = hartWith('max', [0x0045200f, asm.ebreak()]);
  m.bus.ram.fill(0xaa, DATA - RAM_BASE - 64, DATA - RAM_BASE + 192);
  m.hart.writeReg(A0, DATA + 0x47);
  m.hart.run(2);
  assert.equal(m.hart.mcauseLo, 3);
  const off = DATA - RAM_BASE;
  assert.deepEqual([...m.bus.ram.subarray(off + 63, off + 129)], [0xaa, ...new Array(64).fill(0), 0xaa]);

  // Sv39, S-mode, a read-only 4 KiB page: cbo.zero faults with cause 15, tval = the block.
  const s = sv39Machine('max', 0x1 | 0x2 | 0x40); // V R A
  s.hart.menvcfgLo = C.ENVCFG_CBZE | C.ENVCFG_CBCFE;
  load(s.bus, CODE_VA_PA, [0x0045200f]);
  s.hart.writeReg(A0, VA + 0x10);
  s.hart.run(1);
  assert.equal(s.hart.mcauseLo, 15);
  assert.equal(s.hart.mtvalLo, VA);
});

// ---- page tables: root at RAM_BASE + 0x20000, code identity-mapped by a 1 GiB leaf ----
const ROOT = RAM_BASE + 0x20000;
const CODE_VA_PA = RAM_BASE + 0x1000;
/** The test page's virtual address (VPN[2] = 1, VPN[1] = 0, VPN[0] = 0). */
const VA = 0x40000000;
const L1 = RAM_BASE + 0x21000;
const L0 = RAM_BASE + 0x22000;
const PAGE = RAM_BASE + 0x40000; // 64 KiB aligned

function pte(pa: number, flags: number, hiBits = 0): [number, number] {
  const ppn = Math.floor(pa / 4096);
  return [((ppn % 4194304) * 1024 + flags) | 0, Math.floor(ppn / 4194304) | hiBits | 0];
}

/** An S-mode hart at CODE_VA_PA (identity gigapage) with VA -> PAGE (leaf flags given, hi bits too). */
function sv39Machine(model: CpuModel, leafFlags: number, leafHi = 0, ppnPa = PAGE): Machine {
  const m = machine(1 << 20, cpuConfig(model));
  m.bus.ram.fill(0, ROOT - RAM_BASE, L0 - RAM_BASE + 4096);
  poke64(m.bus, ROOT + 2 * 8, ...pte(RAM_BASE, 0xcf)); // 0x80000000: V R W X A D
  poke64(m.bus, ROOT + 1 * 8, ...pte(L1, 1));
  poke64(m.bus, L1, ...pte(L0, 1));
  poke64(m.bus, L0, ...pte(ppnPa, leafFlags, leafHi));
  m.hart.satpLo = Math.floor(ROOT / 4096) | 0;
  m.hart.satpHi = 8 << 28;
  m.hart.priv = 1;
  m.hart.updateKeys();
  m.hart.setPc(CODE_VA_PA);
  m.hart.mtvecLo = (RAM_BASE + 0xff000) | 0;
  load(m.bus, RAM_BASE + 0xff000, [asm.jal(0, 0)]);
  return m;
}

/** Loads a doubleword at va in S-mode; returns [mcause (0 = no trap), the value's low word]. */
function sLoad(m: Machine, va: number): [number, number] {
  load(m.bus, CODE_VA_PA, [asm.ld(5, 10, 0), asm.jal(0, 0)]);
  m.hart.setPc(CODE_VA_PA);
  m.hart.mcauseLo = 0;
  m.hart.writeReg(A0, va);
  m.hart.run(2);
  return [m.hart.mcauseLo, m.hart.readRegLo(5)];
}

const RWAD = 0x1 | 0x2 | 0x4 | 0x40 | 0x80;

test('Svpbmt: PBMT NC/IO accepted when menvcfg.PBMTE is set; 3, or any value without PBMTE, faults', () => {
  for (const [pbmt, pbmte, model, cause] of [
    [1, true, 'max', 0],
    [2, true, 'rva22', 0],
    [3, true, 'max', 13],
    [1, false, 'max', 13],
    [1, true, 'rv64gc', 13],
  ] as const) {
    const m = sv39Machine(model, RWAD, pbmt << 29);
    if (pbmte) m.hart.menvcfgHi |= C.ENVCFG_PBMTE_HI;
    poke64(m.bus, PAGE, 0x1234, 0);
    const [c, v] = sLoad(m, VA);
    assert.equal(c, cause, `PBMT ${pbmt}, PBMTE ${pbmte}, ${model}`);
    if (cause === 0) assert.equal(v, 0x1234);
  }
});

test('Svnapot: a 64 KiB NAPOT leaf maps 16 pages; a bad encoding or a model without it faults', () => {
  const m = sv39Machine('max', RWAD, 1 << 31, PAGE + 0x8000); // ppn[3:0] = 1000
  // Every L0 slot of the 64 KiB region holds the same NAPOT PTE, as software writes them.
  for (let k = 1; k < 16; k++) poke64(m.bus, L0 + 8 * k, ...pte(PAGE + 0x8000, RWAD, 1 << 31));
  poke64(m.bus, PAGE + 0x3008, 0x5678, 0);
  assert.deepEqual(sLoad(m, VA + 0x3008), [0, 0x5678]);
  const bad = sv39Machine('max', RWAD, 1 << 31, PAGE + 0x4000); // ppn[3:0] = 0100: reserved
  assert.equal(sLoad(bad, VA)[0], 13);
  const none = sv39Machine('rva22', RWAD, 1 << 31, PAGE + 0x8000);
  assert.equal(sLoad(none, VA)[0], 13);
});

test('Sv57: satp mode 10 only on the max model; a 5-level walk; the 57-bit canonical rule', () => {
  for (const [model, accepted] of [
    ['max', true],
    ['rva22', false],
  ] as const) {
    const m = hartWith(model, [asm.csrrw(0, C.SATP, 11), asm.ebreak()]);
    m.hart.writeReg(11, 10 * 2 ** 60 + 0x80020);
    m.hart.run(2);
    assert.equal(m.hart.satpHi >>> 28, accepted ? 10 : 0, model);
  }
  const m = machine(1 << 20, cpuConfig('max'));
  const L4 = ROOT;
  const L3 = RAM_BASE + 0x23000;
  const L2 = RAM_BASE + 0x24000;
  m.bus.ram.fill(0, ROOT - RAM_BASE, L2 - RAM_BASE + 4096);
  // L4[0] -> L3[0] -> L2: L2[2] = 1 GiB identity over 0x80000000; L2[1] -> L1[0] -> L0[0] = PAGE.
  poke64(m.bus, L4 + 0, ...pte(L3, 1));
  poke64(m.bus, L3 + 0, ...pte(L2, 1));
  poke64(m.bus, L2 + 2 * 8, ...pte(RAM_BASE, 0xcf));
  poke64(m.bus, L2 + 1 * 8, ...pte(L1, 1));
  poke64(m.bus, L1, ...pte(L0, 1));
  poke64(m.bus, L0, ...pte(PAGE, RWAD));
  // A second L4 entry: a 256 TiB leaf is legal in Sv57 (VA 1 << 48 -> PA 0).
  poke64(m.bus, L4 + 8, ...pte(0, 0x1 | 0x2 | 0x40));
  m.hart.satpLo = Math.floor(L4 / 4096) | 0;
  m.hart.satpHi = 10 << 28;
  m.hart.priv = 1;
  m.hart.updateKeys();
  m.hart.mtvecLo = (RAM_BASE + 0xff000) | 0;
  load(m.bus, RAM_BASE + 0xff000, [asm.jal(0, 0)]);
  poke64(m.bus, PAGE + 8, 0x777, 0);
  assert.deepEqual(sLoad(m, VA + 8), [0, 0x777]);
  poke64(m.bus, RAM_BASE + 0x30000, 0x999, 0);
  assert.deepEqual(sLoad(m, 2 ** 48 + RAM_BASE + 0x30000), [0, 0x999]);
  // Bit 56 set with bits 63..57 clear is not canonical (it would be under Sv64-style rules).
  assert.equal(sLoad(m, 2 ** 56)[0], 13);
});

/** NAPOT pmpaddr for [base, base + size). */
const napot = (base: number, size: number) => (base + size / 2 - 1) / 4;

test('PMP: S-mode checks by the lowest matching entry (NAPOT, TOR, NA4); M only under L', () => {
  const m = hartWith('max', []);
  const h = m.hart;
  const set = (cfg: number[], addr: number[]) => {
    h.pmpcfg.fill(0);
    h.pmpaddr.fill(0);
    cfg.forEach((c, i) => (h.pmpcfg[i] = c));
    addr.forEach((a, i) => {
      h.pmpaddr[2 * i] = (a % 2 ** 32) | 0;
      h.pmpaddr[2 * i + 1] = Math.floor(a / 2 ** 32);
    });
    // Entry 7: the code page, executable, so that S-mode can run the test's instructions.
    h.pmpcfg[7] = 0x18 | 4;
    h.pmpaddr[14] = napot(RAM_BASE, 4096);
    h.pmp.update(h.pmpcfg, h.pmpaddr);
    h.flushTlb();
  };
  const NAPOT = 0x18;
  const TOR = 0x08;
  const NA4 = 0x10;
  const R = 1;
  const W = 2;
  const X = 4;
  const L = 0x80;
  const tryLoad = (priv: number, addr: number): number => {
    load(m.bus, RAM_BASE, [asm.ld(5, 10, 0), asm.jal(0, 0)]);
    h.setPc(RAM_BASE);
    h.priv = priv;
    h.updateKeys();
    h.mcauseLo = 0;
    h.writeReg(A0, addr);
    h.run(2);
    return h.mcauseLo;
  };
  // Entry 0: the data page without permissions; entry 1: all memory RWX (OpenSBI's layout).
  set([NAPOT, NAPOT | R | W | X], [napot(DATA, 4096), 2 ** 53 - 1]);
  assert.equal(tryLoad(1, DATA), 5, 'S load denied by entry 0');
  assert.equal(tryLoad(1, DATA + 4096), 0, 'next page: entry 1 allows');
  assert.equal(tryLoad(3, DATA), 0, 'M ignores an unlocked entry');
  set([NAPOT | L, NAPOT | R | W | X], [napot(DATA, 4096), 2 ** 53 - 1]);
  assert.equal(tryLoad(3, DATA), 5, 'M obeys a locked entry');
  // TOR [DATA, DATA + 0x100) readable, the rest of memory nothing: S fails outside (no match).
  set([0, TOR | R], [DATA / 4, (DATA + 0x100) / 4]);
  assert.equal(tryLoad(1, DATA + 0xf8), 0);
  assert.equal(tryLoad(1, DATA + 0x100), 5, 'no entry matches: S/U fail');
  assert.equal(tryLoad(1, DATA + 0xfc), 5, 'an access only partly inside the entry fails');
  assert.equal(tryLoad(3, DATA + 0x100), 0, 'no entry matches: M succeeds');
  // NA4 read-only word inside a NAPOT region without read: the lower index wins.
  set([NA4 | R, NAPOT | W], [(DATA + 8) / 4, napot(DATA, 4096)]);
  assert.equal(tryLoad(1, DATA + 8), 5, 'an 8-byte load is only half inside the 4-byte entry');
  set([NA4 | R, NAPOT], [(DATA + 8) / 4, napot(DATA, 4096)]);
  load(m.bus, RAM_BASE, [asm.lw(5, 10, 0), asm.jal(0, 0)]);
  h.setPc(RAM_BASE);
  h.priv = 1;
  h.updateKeys();
  h.mcauseLo = 0;
  h.writeReg(A0, DATA + 8);
  h.run(2);
  assert.equal(h.mcauseLo, 0, 'a 4-byte load inside NA4 is allowed');
  h.setPc(RAM_BASE);
  h.mcauseLo = 0;
  h.writeReg(A0, DATA + 12);
  h.run(2);
  assert.equal(h.mcauseLo, 5, 'the next word falls to the NAPOT entry, which denies reads');
});

test('PMP: a CSR write takes effect on the next access although the page was in the TLB', () => {
  const m = hartWith('max', [
    asm.ld(5, 10, 0), // fills the read TLB for DATA in S-mode
    asm.ecall(), // to M: the test changes PMP there (via CSRs below)
  ]);
  const h = m.hart;
  h.pmpcfg[0] = 0x1f; // NAPOT RWX over everything
  h.pmpaddr[0] = -1;
  h.pmpaddr[1] = 0x3fffff;
  h.pmp.update(h.pmpcfg, h.pmpaddr);
  h.priv = 1;
  h.updateKeys();
  h.run(2);
  assert.equal(h.mcauseLo, 9, 'ecall from S');
  // M-mode: pmpcfg0 = entry 0 NAPOT no permissions over DATA's page, entry 1 all RWX.
  load(m.bus, RAM_BASE + 0x100, [
    asm.csrrw(0, C.PMPADDR0, 11),
    asm.csrrw(0, C.PMPADDR0 + 1, 12),
    asm.csrrw(0, C.PMPCFG0, 13),
    asm.ebreak(),
  ]);
  h.writeReg(11, napot(DATA, 4096));
  h.writeReg(12, 2 ** 53 - 1);
  h.writeReg(13, 0x1f18);
  h.setPc(RAM_BASE + 0x100);
  h.run(4);
  assert.equal(h.mcauseLo, 3);
  h.priv = 1;
  h.updateKeys();
  h.setPc(RAM_BASE);
  h.mcauseLo = 0;
  h.run(1);
  assert.equal(h.mcauseLo, 5, 'load access fault: the cached translation was dropped');
});
