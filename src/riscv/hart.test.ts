import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asm, machine, load, runProgram, RAM_BASE, li64, poke64, peek32 } from './test-support.ts';
import * as C from './csr.ts';
import { warmUpInterpreter } from './hart.ts';

const hex = (v: number): string => '0x' + (v >>> 0).toString(16);

test('integer ALU: addi/add/sub/shifts/compare with 64-bit carries', () => {
  const m = runProgram([
    asm.addi(1, 0, -1), // x1 = -1
    asm.addi(2, 0, 1),
    asm.add(3, 1, 2), // 0
    asm.srli(4, 1, 32), // 0x00000000ffffffff
    asm.add(5, 4, 2), // 0x100000000
    asm.sub(6, 0, 5), // -0x100000000
    asm.slt(7, 6, 0), // 1
    asm.sltu(8, 6, 0), // 0
    asm.srai(9, 6, 4), // -0x10000000
    asm.slli(10, 2, 63), // 0x8000000000000000
    asm.sra(11, 10, 2), // 0xc000000000000000 (shift by x2=1)
    asm.addiw(12, 4, 1), // 0xffffffff + 1 = 0 (32-bit) -> 0
    asm.addiw(13, 4, 0), // sext(0xffffffff) = -1
    asm.sltiu(14, 0, 1), // 1
    asm.xori(15, 0, -1), // -1
    asm.addi(0, 0, 5), // x0 stays 0
    asm.ebreak(),
  ]);
  const h = m.hart;
  assert.equal(h.readReg(3), 0);
  assert.equal(h.readReg(4), 0xffffffff);
  assert.equal(h.readReg(5), 0x100000000);
  assert.equal(h.readReg(6), -0x100000000);
  assert.equal(h.readReg(7), 1);
  assert.equal(h.readReg(8), 0);
  assert.equal(h.readReg(9), -0x10000000);
  assert.equal(h.readRegHi(10), -0x80000000);
  assert.equal(h.readRegHi(11), -0x40000000 | 0);
  assert.equal(h.readReg(12), 0);
  assert.equal(h.readReg(13), -1);
  assert.equal(h.readReg(14), 1);
  assert.equal(h.readReg(15), -1);
  assert.equal(h.readReg(0), 0);
  assert.equal(h.mcauseLo, 3); // ebreak trapped
  assert.equal(h.mepcLo >>> 0, RAM_BASE + 16 * 4);
});

test('branches and a counted loop; jal/jalr link', () => {
  const m = runProgram([
    asm.addi(1, 0, 0),
    asm.addi(2, 0, 10),
    asm.addi(1, 1, 1), // loop
    asm.blt(1, 2, -4),
    asm.jal(5, 8), // skip next
    asm.addi(1, 0, 99),
    asm.auipc(6, 0), // pc of this insn
    asm.jalr(7, 6, 12), // jump to auipc+12
    asm.addi(1, 0, 77),
    asm.ebreak(),
  ]);
  const h = m.hart;
  assert.equal(h.readReg(1), 10);
  assert.equal(h.readReg(5), RAM_BASE + 20);
  assert.equal(h.readReg(6), RAM_BASE + 24);
  assert.equal(h.readReg(7), RAM_BASE + 32);
  assert.equal(h.mepcLo >>> 0, RAM_BASE + 36);
});

test('loads and stores of every width, sign and zero extension', () => {
  const m = machine();
  const data = RAM_BASE + 0x1000;
  poke64(m.bus, data, 0x89abcdef | 0, 0x01234567);
  load(m.bus, RAM_BASE, [
    ...li64(1, data, 0),
    asm.lb(2, 1, 0), // 0xef -> -17
    asm.lbu(3, 1, 0),
    asm.lh(4, 1, 2), // 0x89ab -> negative
    asm.lhu(5, 1, 2),
    asm.lw(6, 1, 0),
    asm.lwu(7, 1, 0),
    asm.ld(8, 1, 0),
    asm.sd(8, 1, 8),
    asm.sw(6, 1, 16),
    asm.sh(6, 1, 20),
    asm.sb(6, 1, 22),
    asm.ld(9, 1, 16),
    asm.ebreak(),
  ]);
  m.hart.run(100);
  const h = m.hart;
  assert.equal(h.readReg(2), -17);
  assert.equal(h.readReg(3), 0xef);
  assert.equal(h.readReg(4), (0x89ab << 16) >> 16);
  assert.equal(h.readReg(5), 0x89ab);
  assert.equal(h.readReg(6), 0x89abcdef | 0);
  assert.equal(h.readReg(7), 0x89abcdef);
  assert.equal(h.readRegLo(8), 0x89abcdef | 0);
  assert.equal(h.readRegHi(8), 0x01234567);
  assert.equal(peek32(m.bus, data + 8), 0x89abcdef | 0);
  assert.equal(peek32(m.bus, data + 12), 0x01234567);
  assert.equal(h.readRegLo(9), 0x89abcdef | 0);
  assert.equal(h.readRegHi(9), 0x00efcdef);
});

test('misaligned loads and stores are done in hardware, also across pages', () => {
  const m = machine();
  const data = RAM_BASE + 0x2000 - 3; // crosses into the next page
  load(m.bus, RAM_BASE, [
    ...li64(1, data, 0),
    ...li64(2, 0x55667788, 0x11223344),
    asm.sd(2, 1, 0),
    asm.ld(3, 1, 0),
    asm.lw(4, 1, 1),
    asm.lh(5, 1, 1),
    asm.ebreak(),
  ]);
  m.hart.run(100);
  const h = m.hart;
  assert.equal(h.readRegLo(3), 0x55667788);
  assert.equal(h.readRegHi(3), 0x11223344);
  assert.equal(h.readReg(4), 0x44556677);
  assert.equal(h.readReg(5), 0x6677);
  assert.equal(m.bus.ram[0x2000 - 3], 0x88);
  assert.equal(m.bus.ram[0x2000 + 4], 0x11);
});

test('M extension: mul/mulh/mulhsu/mulhu/div/rem with edge cases', () => {
  const m = runProgram([
    asm.addi(1, 0, -7),
    asm.addi(2, 0, 3),
    asm.mul(3, 1, 2), // -21
    asm.div(4, 1, 2), // -2
    asm.rem(5, 1, 2), // -1
    asm.divu(6, 1, 2), // (2^64-7)/3
    asm.remu(7, 1, 2),
    asm.mulh(8, 1, 2), // -1
    asm.mulhu(9, 1, 2), // 2
    asm.mulhsu(10, 1, 2), // -1
    asm.div(11, 1, 0), // -1
    asm.rem(12, 1, 0), // -7
    asm.slli(13, 2, 63), // INT64_MIN
    asm.addi(14, 0, -1),
    asm.div(15, 13, 14), // overflow -> INT64_MIN
    asm.rem(16, 13, 14), // 0
    asm.mulw(17, 1, 2),
    asm.divw(18, 1, 2),
    asm.remuw(19, 1, 2),
    asm.ebreak(),
  ]);
  const h = m.hart;
  assert.equal(h.readReg(3), -21);
  assert.equal(h.readReg(4), -2);
  assert.equal(h.readReg(5), -1);
  // (2^64 - 7) / 3 = 6148914691236517203, remainder 0
  assert.equal(h.readRegHi(6), 0x55555555);
  assert.equal(h.readRegLo(6), 0x55555553);
  assert.equal(h.readReg(7), 0);
  assert.equal(h.readReg(8), -1);
  assert.equal(h.readReg(9), 2);
  assert.equal(h.readReg(10), -1);
  assert.equal(h.readReg(11), -1);
  assert.equal(h.readReg(12), -7);
  assert.equal(h.readRegHi(15), -0x80000000);
  assert.equal(h.readRegLo(15), 0);
  assert.equal(h.readReg(16), 0);
  assert.equal(h.readReg(17), -21);
  assert.equal(h.readReg(18), -2);
  assert.equal(h.readReg(19), (0xfffffff9 >>> 0) % 3);
});

test('M extension: mul/mulhu/div/rem on random 64-bit operands match a BigInt reference', () => {
  // Covers the written-out MUL and the 16-bit-digit division used for 32-bit divisors.
  let seed = 12345;
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) | 0;
    return seed;
  };
  const M64 = (1n << 64n) - 1n;
  const u = (lo: number, hi: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  const s64 = (v: bigint) => BigInt.asIntN(64, v);
  for (let k = 0; k < 200; k++) {
    const al = rnd();
    const ah = k % 4 === 0 ? 0 : rnd();
    const bl = k % 7 === 0 ? (rnd() & 0xffff) | 1 : rnd() | 1;
    const bh = k % 3 === 0 ? rnd() : 0; // mostly 32-bit divisors
    const m = machine();
    const words = [
      ...li64(1, al, ah),
      ...li64(2, bl, bh),
      asm.mul(3, 1, 2),
      asm.mulhu(4, 1, 2),
      asm.divu(5, 1, 2),
      asm.remu(6, 1, 2),
      asm.div(7, 1, 2),
      asm.rem(8, 1, 2),
      asm.ebreak(),
    ];
    runProgram(words, 1000, m);
    const A = u(al, ah);
    const B = u(bl, bh);
    const got = (r: number) => u(m.hart.readRegLo(r), m.hart.readRegHi(r));
    const ctx = `a=${A.toString(16)} b=${B.toString(16)}`;
    assert.equal(got(3), (A * B) & M64, `mul ${ctx}`);
    assert.equal(got(4), (A * B) >> 64n, `mulhu ${ctx}`);
    assert.equal(got(5), A / B, `divu ${ctx}`);
    assert.equal(got(6), A % B, `remu ${ctx}`);
    assert.equal(got(7), BigInt.asUintN(64, s64(A) / s64(B)), `div ${ctx}`);
    assert.equal(got(8), BigInt.asUintN(64, s64(A) % s64(B)), `rem ${ctx}`);
  }
});

test('compressed instructions execute with 2-byte steps', () => {
  // c.li x10, 5 ; c.addi x10, 3 ; c.mv x11, x10 ; c.add x11, x10 ; c.slli x11, 2 ; c.j +4 ; c.li x10, 0 ; ebreak
  const m = runProgram([
    { c: 0x4515 }, // c.li a0,5
    { c: 0x050d }, // c.addi a0,3
    { c: 0x85aa }, // c.mv a1,a0
    { c: 0x95aa }, // c.add a1,a0
    { c: 0x058a }, // c.slli a1,2
    { c: 0xa011 }, // c.j +4
    { c: 0x4501 }, // c.li a0,0 (skipped)
    { c: 0x9002 }, // c.ebreak
  ]);
  const h = m.hart;
  assert.equal(h.readReg(10), 8);
  assert.equal(h.readReg(11), 64);
  assert.equal(h.mcauseLo, 3);
  assert.equal(h.mepcLo >>> 0, RAM_BASE + 14);
});

test('a 32-bit instruction straddling a page boundary', () => {
  const m = machine();
  const words: (number | { c: number })[] = [asm.jal(0, 0xffe)];
  load(m.bus, RAM_BASE, words);
  load(m.bus, RAM_BASE + 0xffe, [asm.addi(5, 0, 42), asm.ebreak()]);
  m.hart.run(10);
  assert.equal(m.hart.readReg(5), 42);
  assert.equal(m.hart.mcauseLo, 3);
  assert.equal(m.hart.mepcLo >>> 0, RAM_BASE + 0x1002);
});

test('CSR access: read/write/set/clear, read-only and privilege checks', () => {
  const m = runProgram([
    asm.addi(1, 0, 0x5a),
    asm.csrrw(2, C.MSCRATCH, 1),
    asm.csrrsi(3, C.MSCRATCH, 1),
    asm.csrrci(4, C.MSCRATCH, 2),
    asm.csrrs(5, C.MSCRATCH, 0),
    asm.csrrs(6, C.MISA, 0),
    asm.csrrs(7, C.MHARTID, 0),
    asm.ebreak(),
  ]);
  const h = m.hart;
  assert.equal(h.readReg(2), 0);
  assert.equal(h.readReg(3), 0x5a);
  assert.equal(h.readReg(4), 0x5b);
  assert.equal(h.readReg(5), 0x59);
  assert.equal(h.readRegHi(6), -0x80000000);
  assert.ok(h.readRegLo(6) & (1 << 18));
  assert.equal(h.readReg(7), 0);

  // Writing a read-only CSR traps with the instruction bits in mtval.
  const insn = asm.csrrw(0, C.MHARTID, 1);
  const m2 = runProgram([insn]);
  assert.equal(m2.hart.mcauseLo, 2);
  assert.equal(m2.hart.mtvalLo >>> 0, insn);
});

test('trap entry and mret: ecall from U to M, mepc/mcause/mstatus.MPP', () => {
  const m = machine();
  const handler = RAM_BASE + 0x100;
  load(m.bus, RAM_BASE, [
    ...li64(1, handler, 0),
    asm.csrrw(0, C.MTVEC, 1),
    ...li64(2, RAM_BASE + 0x80, 0),
    asm.csrrw(0, C.MEPC, 2),
    asm.mret(), // MPP=0 -> U mode at 0x80
  ]);
  load(m.bus, RAM_BASE + 0x80, [asm.ecall()]);
  load(m.bus, handler, [asm.csrrs(10, C.MCAUSE, 0), asm.csrrs(11, C.MSTATUS, 0), asm.jal(0, 0)]);
  m.hart.run(100);
  const h = m.hart;
  assert.equal(h.readReg(10), 8); // ecall from U
  assert.equal((h.readRegLo(11) >>> 11) & 3, 0); // MPP = U
  assert.equal(h.mepcLo >>> 0, RAM_BASE + 0x80);
  assert.equal(h.priv, 3);
});

test('exception delegation to S-mode and sret', () => {
  const m = machine();
  const sHandler = RAM_BASE + 0x200;
  load(m.bus, RAM_BASE, [
    ...li64(1, sHandler, 0),
    asm.csrrw(0, C.STVEC, 1),
    asm.addi(2, 0, 1 << 8), // delegate ecall from U (cause 8)
    asm.csrrw(0, C.MEDELEG, 2),
    ...li64(3, RAM_BASE + 0x80, 0),
    asm.csrrw(0, C.MEPC, 3),
    asm.mret(),
  ]);
  load(m.bus, RAM_BASE + 0x80, [asm.ecall(), asm.addi(20, 0, 7), asm.ebreak()]);
  load(m.bus, sHandler, [
    asm.csrrs(10, C.SCAUSE, 0),
    asm.csrrs(11, C.SEPC, 0),
    asm.addi(11, 11, 4),
    asm.csrrw(0, C.SEPC, 11),
    asm.sret(),
  ]);
  m.hart.run(200);
  const h = m.hart;
  assert.equal(h.readReg(10), 8);
  assert.equal(h.readReg(20), 7);
  assert.equal(h.mcauseLo, 3); // final ebreak from U goes to M (not delegated)
  assert.equal((h.mstatus >>> 11) & 3, 0);
});

test('SBI hook handles ecall from S-mode', () => {
  const m = machine();
  let calls = 0;
  m.hart.sbiHandler = (hart) => {
    calls++;
    hart.writeReg(10, hart.readReg(17) + 1);
    return true;
  };
  load(m.bus, RAM_BASE, [
    ...li64(1, RAM_BASE + 0x80, 0),
    asm.csrrw(0, C.MEPC, 1),
    asm.lui(2, 1), // MPP = S (0x800)
    asm.addi(2, 2, -0x800),
    asm.csrrs(0, C.MSTATUS, 2),
    asm.mret(),
  ]);
  load(m.bus, RAM_BASE + 0x80, [asm.addi(17, 0, 41), asm.ecall(), asm.ebreak()]);
  m.hart.run(100);
  assert.equal(calls, 1);
  assert.equal(m.hart.readReg(10), 42);
  assert.equal(m.hart.mcauseLo, 3);
});

test('interrupts: priority, enables, delegation, WFI waiting', () => {
  const m = machine();
  const handler = RAM_BASE + 0x100;
  load(m.bus, RAM_BASE, [
    ...li64(1, handler, 0),
    asm.csrrw(0, C.MTVEC, 1),
    asm.addi(2, 0, 0x7ff),
    asm.addi(2, 2, 0x7ff), // enable all in mie (masked to 0xaaa)
    asm.csrrw(0, C.MIE, 2),
    asm.wfi(),
    asm.csrrsi(0, C.MSTATUS, 8), // MIE=1
    asm.nop(),
    asm.ebreak(),
  ]);
  load(m.bus, handler, [asm.csrrs(10, C.MCAUSE, 0), asm.jal(0, 0)]);
  const h = m.hart;
  h.run(100);
  assert.equal(h.waiting, true);
  assert.equal(h.run(100), 0);
  h.setPending(C.MIP_MTIP | C.MIP_MSIP | C.MIP_SEIP, true);
  assert.equal(h.waiting, false);
  h.run(100);
  // MSI (3) beats MTI (7) and SEI (9)
  assert.equal(h.readRegLo(10), 3);
  assert.equal(h.readRegHi(10), -0x80000000);
});

test('MMU: Sv39 walk, superpage, A/D bits set in hardware, page faults, TLB flush', () => {
  const m = machine(1 << 22);
  const bus = m.bus;
  const root = RAM_BASE + 0x10000;
  const l1 = RAM_BASE + 0x11000;
  const l0 = RAM_BASE + 0x12000;
  const pte = (pa: number, flags: number): [number, number] => {
    const ppn = Math.floor(pa / 4096);
    return [(ppn << 10) | flags | 0, Math.floor(ppn / 4194304)];
  };
  // root[2] -> 1 GiB identity superpage for 0x80000000 (RWX, A/D preset, not U)
  poke64(bus, root + 2 * 8, ...pte(0x80000000, 0xcf));
  // root[0] -> l1 ; l1[0] -> l0 ; l0[5] -> data page 0x80030000, RW, U=0, A=D=0
  poke64(bus, root, ...pte(l1, 1));
  poke64(bus, l1, ...pte(l0, 1));
  poke64(bus, l0 + 5 * 8, ...pte(RAM_BASE + 0x30000, 0x07));
  // l0[6] -> read-only page
  poke64(bus, l0 + 6 * 8, ...pte(RAM_BASE + 0x31000, 0x03));
  const satp = Math.floor(root / 4096);
  const sHandler = RAM_BASE + 0x400;
  load(bus, RAM_BASE, [
    ...li64(1, satp, 8 << 28),
    asm.csrrw(0, C.SATP, 1),
    ...li64(2, RAM_BASE + 0x100, 0),
    asm.csrrw(0, C.MEPC, 2),
    ...li64(3, sHandler, 0),
    asm.csrrw(0, C.STVEC, 3),
    asm.addi(4, 0, -1),
    asm.csrrw(0, C.MEDELEG, 4),
    asm.lui(5, 1),
    asm.addi(5, 5, -0x800),
    asm.csrrs(0, C.MSTATUS, 5), // MPP = S
    asm.mret(),
  ]);
  load(bus, RAM_BASE + 0x100, [
    asm.lui(6, 5), // va 0x5000
    asm.addi(7, 0, 123),
    asm.sd(7, 6, 8),
    asm.ld(8, 6, 8),
    asm.lui(9, 6), // va 0x6000 read-only
    asm.ld(10, 9, 0),
    asm.sd(7, 9, 0), // store page fault (15)
    asm.ebreak(),
  ]);
  load(bus, sHandler, [asm.csrrs(20, C.SCAUSE, 0), asm.csrrs(21, C.STVAL, 0), asm.jal(0, 0)]);
  m.hart.run(200);
  const h = m.hart;
  assert.equal(h.readReg(8), 123);
  assert.equal(peek32(bus, RAM_BASE + 0x30008), 123);
  assert.equal(h.readReg(20), 15);
  assert.equal(h.readReg(21), 0x6000);
  // A and D set on the data page PTE, only A on the read-only page
  assert.equal(peek32(bus, l0 + 5 * 8) & 0xc0, 0xc0);
  assert.equal(peek32(bus, l0 + 6 * 8) & 0xc0, 0x40);
});

test('LR/SC: success with reservation, failure without; AMOs', () => {
  const m = machine();
  const data = RAM_BASE + 0x1000;
  poke64(m.bus, data, 10, 0);
  load(m.bus, RAM_BASE, [
    ...li64(1, data, 0),
    asm.lr_d(2, 1),
    asm.addi(2, 2, 1),
    asm.sc_d(3, 1, 2), // success -> 0
    asm.sc_d(4, 1, 2), // no reservation -> 1
    asm.addi(5, 0, 5),
    asm.amo(0, true, 6, 1, 5), // amoadd.d: x6 = 11, mem = 16
    asm.amo(0x14, false, 7, 1, 0), // amomax.w with 0: x7 = 16, mem = 16
    asm.amo(1, false, 8, 1, 0), // amoswap.w: x8 = 16, mem = 0
    asm.ld(9, 1, 0),
    asm.ebreak(),
  ]);
  m.hart.run(100);
  const h = m.hart;
  assert.equal(h.readReg(3), 0);
  assert.equal(h.readReg(4), 1);
  assert.equal(h.readReg(6), 11);
  assert.equal(h.readReg(7), 16);
  assert.equal(h.readReg(8), 16);
  assert.equal(h.readReg(9), 0);
});

test('self-modifying code is seen after a store (decoded page invalidated)', () => {
  const m = machine();
  const target = RAM_BASE + 0x100;
  load(m.bus, RAM_BASE, [
    asm.jal(1, 0x100), // call target first time
    ...li64(2, target, 0),
    ...li64(3, asm.addi(10, 0, 2), 0),
    asm.sw(3, 2, 0), // patch
    asm.fence_i(),
    asm.jal(1, 0x100 - 4 * 19), // call again
    asm.ebreak(),
  ]);
  load(m.bus, target, [asm.addi(10, 0, 1), asm.addi(11, 10, 0), asm.jalr(0, 1, 0)]);
  m.hart.run(200);
  assert.equal(m.hart.readReg(11), 2, `x11=${m.hart.readReg(11)} mcause=${m.hart.mcauseLo} mepc=${hex(m.hart.mepcLo)}`);
});

test('access fault for unmapped physical memory reports the address', () => {
  const m = runProgram([asm.lui(1, 0x10), asm.ld(2, 1, 0)]);
  assert.equal(m.hart.mcauseLo, 5);
  assert.equal(m.hart.mtvalLo, 0x10000);
});

test('saveState/loadState round trip', () => {
  const m = runProgram([asm.addi(1, 0, 9), asm.csrrwi(0, C.MSCRATCH, 7), asm.ebreak()]);
  const s = JSON.parse(JSON.stringify(m.hart.saveState()));
  const m2 = machine();
  m2.hart.loadState(s);
  assert.equal(m2.hart.readReg(1), 9);
  assert.equal(m2.hart.mscratchLo, 7);
  assert.equal(m2.hart.getPc(), m.hart.getPc());
  assert.throws(() => m2.hart.loadState({ version: 99 }), /version/);
});

test('saveState/loadState carries the FP registers, frm and fflags; translated code sees them', () => {
  const m = machine();
  m.hart.f[6] = 0x11223344;
  m.hart.f[7] = 0x55667788;
  m.hart.f[62] = 0x3f800000;
  m.hart.f[63] = -1;
  m.hart.frm = 3;
  m.hart.fflags = 0x11;
  const s = JSON.parse(JSON.stringify(m.hart.saveState()));
  const m2 = machine();
  m2.hart.loadState(s);
  assert.deepEqual(Array.from(m2.hart.f), Array.from(m.hart.f));
  assert.equal(m2.hart.frm, 3);
  assert.equal(m2.hart.fflags, 0x11);
  // Hart.f is a view on the state area that wasm code reads (state-layout.ts ST_F).
  m2.hart.tier = 'wasm';
  m2.hart.jitThreshold = 0;
  load(m2.bus, RAM_BASE, [
    asm.lui(5, 6),
    asm.csrrs(0, C.MSTATUS, 5),
    0xe2018553, // fmv.x.d a0, f3
    0xe00f85d3, // fmv.x.w a1, f31
    asm.ebreak(),
  ]);
  m2.hart.setPc(RAM_BASE);
  m2.hart.run(20);
  assert.equal(m2.hart.readRegLo(10), 0x11223344);
  assert.equal(m2.hart.readRegHi(10), 0x55667788);
  assert.equal(m2.hart.readReg(11), 0x3f800000);
  assert.ok(m2.hart.jitRan >= 2, 'ran translated');
});

test('every warm-up pass runs the program through every iteration to its final WFI', () => {
  const passes = warmUpInterpreter();
  // interp (rotated values), interp (small values), js, wasm (where available), interp (long)
  const wasm = passes.length === 5;
  assert.ok(passes.length === 4 || wasm, `passes ${passes.length}`);
  for (const [i, h] of passes.entries()) {
    assert.equal(h.waiting, true, `pass ${i} waiting`);
    assert.equal(h.readReg(27), 0, `pass ${i} s11`); // counted down to zero
    assert.equal(h.priv, 3, `pass ${i} priv`);
  }
  assert.ok(passes.at(-1)!.instret > 50 * 150, `instret ${passes.at(-1)!.instret}`);
  // The translated passes ran translated windows (jitThreshold 0), the wasm one in wasm.
  assert.equal(passes[2]!.tier, 'js');
  assert.ok(passes[2]!.jitRan > 0, 'js windows ran');
  if (wasm) {
    assert.equal(passes[3]!.tier, 'wasm');
    assert.ok(passes[3]!.jitRan > 0 && passes[3]!.wasmPageIdx.size > 0, 'wasm pages ran');
  }
});

test('8-byte MMIO accesses are split into two 4-byte device accesses, low word first', () => {
  const m = machine();
  const log: string[] = [];
  m.bus.addDevice('dev', 0x10000000, 0x1000, {
    read: (off, size) => {
      log.push(`r${size}@${off}`);
      return off === 8 ? 0x89abcdef : 0x01234567;
    },
    write: (off, size, v) => {
      log.push(`w${size}@${off}=${v.toString(16)}`);
    },
  });
  load(m.bus, RAM_BASE, [
    asm.lui(1, 0x10000),
    ...li64(2, 0x55667788, 0x11223344),
    asm.sd(2, 1, 0),
    asm.ld(3, 1, 8),
    asm.lw(4, 1, 8),
    asm.ebreak(),
  ]);
  m.hart.run(50);
  assert.deepEqual(log, ['w4@0=55667788', 'w4@4=11223344', 'r4@8', 'r4@12', 'r4@8']);
  assert.equal(m.hart.readRegLo(3), 0x89abcdef | 0);
  assert.equal(m.hart.readRegHi(3), 0x01234567);
  assert.equal(m.hart.readReg(4), 0x89abcdef | 0); // lw sign-extends
});

test('pc and register conventions: signed 64-bit values as JS numbers', () => {
  const m = machine();
  const h = m.hart;
  h.setPc(-0x80000000); // 0xffffffff80000000
  assert.equal(h.pcHi, -1);
  assert.equal(h.pcLo, -0x80000000);
  assert.equal(h.getPc(), -0x80000000);
  h.setPc(0x1_2345_6788);
  assert.equal(h.getPc(), 0x1_2345_6788);
  h.writeReg(5, -2);
  assert.equal(h.readReg(5), -2);
  assert.equal(h.readRegHi(5), -1);
  h.writeReg(6, 2 ** 40 + 3);
  assert.equal(h.readReg(6), 2 ** 40 + 3);
  h.writeReg(0, 7);
  assert.equal(h.readReg(0), 0);
});

test('a misaligned access at an odd address of page 0 does not hit a flushed TLB entry', () => {
  // Regression (found by wasm/fuzz.test.ts): empty TLB entries had the low tag 1, which equals
  // `lo & (-4096 | 7)` for `ld` at address 1, so after a flush the stale translation of slot 0
  // (here RAM_BASE's page) was used instead of the slow path's trap (misaligned, no RAM there).
  for (const tier of ['interp', 'js', 'wasm'] as const) {
    const m = machine();
    m.hart.tier = tier;
    if (tier !== 'interp') m.hart.jitThreshold = 0;
    runProgram(
      [
        asm.auipc(6, 0), // x6 = RAM_BASE: the read TLB's slot 0
        asm.ld(5, 6, 0x400),
        asm.csrrw(0, 0x180, 0), // satp write: flushes the TLB
        asm.addi(7, 0, 7),
        asm.ld(7, 0, 1), // no RAM at address 1: a trap, x7 unchanged
        asm.jal(0, 0),
      ],
      50,
      m,
    );
    assert.equal(m.hart.mcauseLo, 4, `${tier}: load address misaligned`);
    assert.equal(m.hart.mtvalLo, 1, `${tier}: mtval`);
    assert.equal(m.hart.readReg(7), 7, `${tier}: x7 not loaded`);
  }
});
