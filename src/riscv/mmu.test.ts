import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asm, machine, load, RAM_BASE, li64, poke64, peek32, type Machine } from './test-support.ts';
import * as C from './csr.ts';

const V = 1,
  R = 2,
  W = 4,
  X = 8,
  U = 16,
  A = 64,
  D = 128;
const ROOT = RAM_BASE + 0x100000;
const S_HANDLER = RAM_BASE + 0x3000;

function pte(pa: number, flags: number): [number, number] {
  const ppn = Math.floor(pa / 4096);
  return [((ppn % 4194304) << 10) | flags | 0, Math.floor(ppn / 4194304)];
}

/** Page tables in RAM: map(va, pa, flags, level) creates intermediate tables as needed. */
class Tables {
  next = ROOT + 0x1000;
  constructor(
    readonly m: Machine,
    private readonly levels: number,
  ) {}
  map(va: number, pa: number, flags: number, level = 0): number {
    let table = ROOT;
    for (let l = this.levels - 1; l > level; l--) {
      const idx = Math.floor(va / 2 ** (12 + 9 * l)) % 512;
      const addr = table + idx * 8;
      const lo = peek32(this.m.bus, addr);
      if ((lo & V) === 0) {
        poke64(this.m.bus, addr, ...pte(this.next, V));
        table = this.next;
        this.next += 0x1000;
      } else {
        table = Math.floor((lo >>> 10) * 4096) + (peek32(this.m.bus, addr + 4) & 0x3fffff) * 2 ** 34;
      }
    }
    const idx = Math.floor(va / 2 ** (12 + 9 * level)) % 512;
    const addr = table + idx * 8;
    poke64(this.m.bus, addr, ...pte(pa, flags | V));
    return addr;
  }
}

/**
 * Runs `code` (placed at RAM_BASE + 0x2000, mapped at VA 0x2000 RX with A set) in `priv` with
 * translation on. The S handler (identity-mapped through the kernel map) records scause/stval
 * in x30/x31 and spins. Returns the machine after `budget` instructions.
 */
function runPaged(
  priv: number,
  code: number[],
  setupMap: (t: Tables) => void,
  opts: { levels?: number; mstatus?: number; budget?: number } = {},
): Machine {
  const m = machine(4 << 20);
  const levels = opts.levels ?? 3;
  const t = new Tables(m, levels);
  t.map(0x2000, RAM_BASE + 0x2000, R | X | A | (priv === 0 ? U : 0));
  t.map(S_HANDLER - RAM_BASE, S_HANDLER, R | X | A);
  setupMap(t);
  load(m.bus, RAM_BASE + 0x2000, code);
  load(m.bus, S_HANDLER, [asm.csrrs(30, C.SCAUSE, 0), asm.csrrs(31, C.STVAL, 0), asm.jal(0, 0)]);
  const h = m.hart;
  h.stvecLo = S_HANDLER - RAM_BASE;
  h.medeleg = 0xb3ff;
  h.satpLo = Math.floor(ROOT / 4096);
  h.satpHi = (levels === 3 ? 8 : 9) << 28;
  h.mstatus |= opts.mstatus ?? 0;
  h.priv = priv;
  h.flushTlb();
  h.updateKeys();
  h.setPc(0x2000);
  h.run(opts.budget ?? 100);
  return m;
}

test('U-mode cannot access supervisor pages; S-mode needs SUM for user pages', () => {
  const data = RAM_BASE + 0x10000;
  const uOnS = runPaged(0, [asm.lui(1, 0x10), asm.ld(2, 1, 0)], (t) => t.map(0x10000, data, R | W));
  assert.equal(uOnS.hart.readReg(30), 13);
  assert.equal(uOnS.hart.readReg(31), 0x10000);
  const sOnU = runPaged(1, [asm.lui(1, 0x10), asm.ld(2, 1, 0)], (t) => t.map(0x10000, data, R | W | U));
  assert.equal(sOnU.hart.readReg(30), 13);
  const sum = runPaged(
    1,
    [asm.lui(1, 0x10), asm.addi(3, 0, 9), asm.sd(3, 1, 0), asm.ld(2, 1, 0), asm.ebreak()],
    (t) => t.map(0x10000, data, R | W | U),
    { mstatus: C.MSTATUS_SUM },
  );
  assert.equal(sum.hart.readReg(2), 9);
  assert.equal(sum.hart.readReg(30), 3);
  // Even with SUM, S-mode may not execute user pages.
  const exec = runPaged(1, [asm.lui(1, 0x10), asm.jalr(0, 1, 0)], (t) => t.map(0x10000, data, R | X | U), {
    mstatus: C.MSTATUS_SUM,
  });
  assert.equal(exec.hart.readReg(30), 12);
  assert.equal(exec.hart.readReg(31), 0x10000);
});

test('MXR makes execute-only pages readable', () => {
  const data = RAM_BASE + 0x10000;
  const no = runPaged(1, [asm.lui(1, 0x10), asm.ld(2, 1, 0)], (t) => t.map(0x10000, data, X));
  assert.equal(no.hart.readReg(30), 13);
  const yes = runPaged(1, [asm.lui(1, 0x10), asm.ld(2, 1, 0), asm.ebreak()], (t) => t.map(0x10000, data, X), {
    mstatus: C.MSTATUS_MXR,
  });
  assert.equal(yes.hart.readReg(30), 3);
});

test('superpages work; a misaligned superpage is a page fault', () => {
  const m = runPaged(1, [...li64(1, 0x40000000 + 0x12340, 0), asm.addi(3, 0, 77), asm.sd(3, 1, 0), asm.ebreak()], (t) =>
    t.map(0x40000000, RAM_BASE, R | W, 2),
  );
  assert.equal(m.hart.readReg(30), 3);
  assert.equal(peek32(m.bus, RAM_BASE + 0x12340), 77);
  const bad = runPaged(1, [asm.lui(1, 0x200), asm.ld(2, 1, 0)], (t) => t.map(0x200000, RAM_BASE + 0x1000 * 3, R, 1));
  assert.equal(bad.hart.readReg(30), 13);
});

test('reserved PTE bits and W-without-R are page faults; non-canonical addresses fault', () => {
  const data = RAM_BASE + 0x10000;
  const wr = runPaged(1, [asm.lui(1, 0x10), asm.ld(2, 1, 0)], (t) => t.map(0x10000, data, W));
  assert.equal(wr.hart.readReg(30), 13);
  const rsv = runPaged(1, [asm.lui(1, 0x10), asm.ld(2, 1, 0)], (t) => {
    const addr = t.map(0x10000, data, R);
    const bus = t.m.bus;
    poke64(bus, addr, peek32(bus, addr), peek32(bus, addr + 4) | (1 << 30)); // bit 62 (PBMT) set
  });
  assert.equal(rsv.hart.readReg(30), 13);
  const nc = runPaged(1, [asm.addi(1, 0, 1), asm.slli(1, 1, 40), asm.ld(2, 1, 0)], () => {});
  assert.equal(nc.hart.readReg(30), 13);
  assert.equal(nc.hart.readReg(31), 2 ** 40);
});

test('Sv48: a four-level walk translates', () => {
  const va = 0x8000000000; // above Sv39's range
  const m = runPaged(
    1,
    [asm.addi(1, 0, 1), asm.slli(1, 1, 39), asm.addi(3, 0, 5), asm.sd(3, 1, 8), asm.ld(4, 1, 8), asm.ebreak()],
    (t) => t.map(va, RAM_BASE + 0x20000, R | W),
    { levels: 4 },
  );
  assert.equal(m.hart.readReg(30), 3);
  assert.equal(m.hart.readReg(4), 5);
  assert.equal(peek32(m.bus, RAM_BASE + 0x20008), 5);
});

test('stale translations are used until sfence.vma, then the new mapping is seen', () => {
  let leafAddr = 0;
  const run = runPaged(
    1,
    [], // the program is loaded below, once the leaf PTE's address is known
    (t) => {
      leafAddr = t.map(0x10000, RAM_BASE + 0x10000, R | W | A | D);
    },
    { budget: 0 },
  );
  const bus = run.bus;
  poke64(bus, RAM_BASE + 0x10000, 111, 0);
  poke64(bus, RAM_BASE + 0x11000, 222, 0);
  // After the first load, the program rewrites the PTE to point at page B and loads again,
  // before and after sfence.vma.
  const newPte = pte(RAM_BASE + 0x11000, V | R | W | A | D);
  load(bus, RAM_BASE + 0x2000, [
    asm.lui(1, 0x10),
    asm.ld(2, 1, 0),
    ...li64(5, leafAddr - RAM_BASE + 0x40000000, 0), // leaf PTE via the superpage below
    ...li64(6, newPte[0], newPte[1]),
    asm.sd(6, 5, 0),
    asm.ld(3, 1, 0), // stale: still 111
    asm.sfence_vma(1, 0),
    asm.ld(4, 1, 0), // 222
    asm.ebreak(),
  ]);
  // A kernel superpage at VA 1 GiB maps RAM so the program can write the page table.
  poke64(bus, ROOT + 8, ...pte(RAM_BASE, V | R | W | A | D));
  run.hart.run(100);
  const h = run.hart;
  assert.equal(h.readReg(30), 3, `scause ${h.readReg(30)} stval ${h.readReg(31).toString(16)}`);
  assert.equal(h.readReg(2), 111);
  assert.equal(h.readReg(3), 111);
  assert.equal(h.readReg(4), 222);
});

test('MPRV: M-mode loads use MPP translation and permissions', () => {
  const m = machine(4 << 20);
  const t = new Tables(m, 3);
  t.map(0x10000, RAM_BASE + 0x10000, R | W | U);
  poke64(m.bus, RAM_BASE + 0x10000, 4242, 0);
  load(m.bus, RAM_BASE, [asm.lui(1, 0x10), asm.ld(2, 1, 0), asm.ebreak()]);
  const h = m.hart;
  h.satpLo = Math.floor(ROOT / 4096);
  h.satpHi = 8 << 28;
  h.mstatus = C.MSTATUS_MPRV; // MPP = U
  h.updateKeys();
  h.run(10);
  assert.equal(h.readReg(2), 4242);
  assert.equal(h.mcauseLo, 3);
  // Switching MPP to S without SUM makes the same user page fault (stale TLB must not leak).
  load(m.bus, RAM_BASE + 0x100, [asm.ld(3, 1, 0)]);
  h.setPc(RAM_BASE + 0x100);
  h.mstatus = C.MSTATUS_MPRV | (1 << 11);
  h.updateKeys();
  h.run(1);
  assert.equal(h.mcauseLo, 13);
});

test('instruction fetch page fault reports the pc in stval; fetch sets A', () => {
  const m = runPaged(1, [asm.lui(1, 0x10), asm.jalr(0, 1, 4)], (t) => t.map(0x10000, RAM_BASE + 0x10000, R));
  assert.equal(m.hart.readReg(30), 12);
  assert.equal(m.hart.readReg(31), 0x10004);
  let target = 0;
  const n = runPaged(1, [asm.lui(1, 0x10), asm.jalr(0, 1, 0)], (t) => {
    target = t.map(0x10000, RAM_BASE + 0x10000, R | X);
  });
  load(n.bus, RAM_BASE + 0x10000, [asm.ebreak()]);
  n.hart.setPc(0x2000);
  n.hart.run(10);
  assert.equal(n.hart.readReg(30), 3);
  assert.equal(peek32(n.bus, target) & A, A);
  assert.equal(peek32(n.bus, target) & D, 0);
});

test('a 32-bit instruction straddling into a non-executable page faults with stval = next page', () => {
  // U-mode code at 0x2000 (U page); VA 0x3000 is the supervisor handler page (no U): the fetch of
  // the second half of the instruction at 0x2ffe faults.
  const m = runPaged(0, [asm.jal(0, 0xffe)], () => {}, { budget: 0 });
  load(m.bus, RAM_BASE + 0x2ffe, [{ c: 0x0513 }]); // low half of addi a0, a0, ...
  m.hart.setPc(0x2000);
  m.hart.run(10);
  assert.equal(m.hart.readReg(30), 12);
  assert.equal(m.hart.readReg(31), 0x3000);
  assert.equal(m.hart.sepcLo, 0x2ffe);
});

test('a misaligned access crossing into an unmapped page faults with the second page in stval', () => {
  // Linux maps the page stval names and retries: naming the first (present) page would loop
  // forever (seen as dpkg-deb's xz thread spinning on a store at ...fffe).
  const data = RAM_BASE + 0x10000;
  const map = (t: Tables) => t.map(0x10000, data, R | W | A | D);
  // x1 = 0x10ffe: an 8-byte access there covers 0x10ffe..0x11005; 0x11000 is unmapped.
  const addr = [asm.lui(1, 0x11), asm.addi(1, 1, -2)];
  const st = runPaged(1, [...addr, asm.sd(0, 1, 0)], map);
  assert.equal(st.hart.readReg(30), 15, 'store page fault');
  assert.equal(st.hart.readReg(31), 0x11000);
  const ld = runPaged(1, [...addr, asm.ld(2, 1, 0)], map);
  assert.equal(ld.hart.readReg(30), 13, 'load page fault');
  assert.equal(ld.hart.readReg(31), 0x11000);
  // Nothing of a faulting store is written, not even its bytes in the mapped page.
  assert.equal(peek32(st.bus, data + 0xffc), 0);
});
