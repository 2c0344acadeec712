import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asm, machine, load, RAM_BASE, li64, poke64, peek32, type Machine } from './test-support.ts';
import * as C from './csr.ts';

const HANDLER = RAM_BASE + 0x800;
const SPIN = asm.jal(0, 0);

/** A machine whose M and S trap vectors point at spin loops; code at RAM_BASE runs in `priv`. */
function setup(priv: number, code: number[], ram = 1 << 20): Machine {
  const m = machine(ram);
  load(m.bus, RAM_BASE, code);
  load(m.bus, HANDLER, [SPIN]);
  load(m.bus, HANDLER + 0x100, [SPIN]);
  m.hart.mtvecLo = HANDLER | 0;
  m.hart.stvecLo = (HANDLER + 0x100) | 0;
  m.hart.priv = priv;
  m.hart.updateKeys();
  return m;
}

test('S-mode cannot touch M CSRs; U-mode cannot touch S CSRs', () => {
  const m = setup(1, [asm.csrrs(1, C.MSTATUS, 0)]);
  m.hart.run(10);
  assert.equal(m.hart.mcauseLo, 2);
  assert.equal(m.hart.mtvalLo >>> 0, asm.csrrs(1, C.MSTATUS, 0));
  const u = setup(0, [asm.csrrs(1, C.SSTATUS, 0)]);
  u.hart.run(10);
  assert.equal(u.hart.mcauseLo, 2);
  const ok = setup(1, [asm.csrrs(1, C.SSTATUS, 0), asm.ebreak()]);
  ok.hart.run(10);
  assert.equal(ok.hart.mcauseLo, 3);
});

test('sstatus is a masked view of mstatus; UXL reads 2; SD follows FS', () => {
  const m = setup(3, [
    asm.lui(1, 0x7ffff), // lots of bits set in low word
    asm.addi(1, 1, 0x7ff),
    asm.csrrw(0, C.MSTATUS, 1),
    asm.csrrs(2, C.SSTATUS, 0),
    asm.csrrs(3, C.MSTATUS, 0),
    asm.ebreak(),
  ]);
  m.hart.run(20);
  const h = m.hart;
  assert.equal(h.readRegLo(2) & ~C.SSTATUS_MASK, 0);
  assert.equal(h.readRegHi(2) & 3, 2); // UXL
  assert.equal(h.readRegHi(3) & 0xf, 0xa); // UXL, SXL
  assert.equal(h.readRegLo(3) & C.MSTATUS_FS, C.MSTATUS_FS);
  assert.equal(h.readRegHi(3) >>> 31, 1); // SD
  assert.notEqual((h.readRegLo(3) >>> 11) & 3, 2); // MPP never holds the reserved value
});

test('counter access: mcounteren/scounteren gate cycle/time/instret', () => {
  const denied = setup(1, [asm.csrrs(1, C.TIME, 0)]);
  denied.hart.run(5);
  assert.equal(denied.hart.mcauseLo, 2);
  const allowed = setup(1, [asm.csrrs(1, C.TIME, 0), asm.csrrs(2, C.INSTRET, 0), asm.ebreak()]);
  allowed.hart.mcounteren = 7;
  allowed.clock.t = 12345;
  allowed.hart.run(5);
  assert.equal(allowed.hart.readReg(1), 12345);
  assert.equal(allowed.hart.readReg(2), 1);
  const user = setup(0, [asm.csrrs(1, C.CYCLE, 0)]);
  user.hart.mcounteren = 7;
  user.hart.run(5);
  assert.equal(user.hart.mcauseLo, 2); // scounteren.CY = 0
});

test('TVM traps satp and sfence.vma in S; TSR traps sret; TW traps wfi', () => {
  for (const [insn, bit] of [
    [asm.csrrs(1, C.SATP, 0), C.MSTATUS_TVM],
    [asm.sfence_vma(0, 0), C.MSTATUS_TVM],
    [asm.sret(), C.MSTATUS_TSR],
    [asm.wfi(), C.MSTATUS_TW],
  ] as const) {
    const m = setup(1, [insn]);
    m.hart.mstatus |= bit;
    m.hart.run(5);
    assert.equal(m.hart.mcauseLo, 2, `insn 0x${insn.toString(16)}`);
    const free = setup(1, [insn, asm.ebreak()]);
    free.hart.sepcLo = (RAM_BASE + 4) | 0;
    free.hart.mstatus |= C.MSTATUS_SPP;
    free.hart.setPending(C.MIP_MSIP, true); // so WFI does not idle
    free.hart.mie = 0;
    free.hart.run(5);
    assert.notEqual(free.hart.mcauseLo, 2, `insn 0x${insn.toString(16)} without the trap bit`);
  }
  const u = setup(0, [asm.wfi()]);
  u.hart.run(5);
  assert.equal(u.hart.mcauseLo, 2);
});

test('mip/sip writability and mideleg masking', () => {
  const m = setup(3, [
    asm.addi(1, 0, -1),
    asm.csrrw(0, C.MIDELEG, 1),
    asm.csrrs(2, C.MIDELEG, 0),
    asm.csrrw(0, C.MEDELEG, 1),
    asm.csrrs(3, C.MEDELEG, 0),
    asm.csrrw(0, C.MIE, 1),
    asm.csrrs(4, C.SIE, 0),
    asm.csrrw(0, C.MIP, 1),
    asm.csrrs(5, C.MIP, 0),
    asm.csrrw(0, C.MIP, 0),
    asm.csrrw(0, C.SIP, 1),
    asm.csrrs(6, C.SIP, 0),
    asm.ebreak(),
  ]);
  m.hart.run(30);
  const h = m.hart;
  assert.equal(h.readReg(2), 0x222);
  assert.equal(h.readReg(3), 0xb3ff);
  assert.equal(h.readReg(4), 0x222);
  assert.equal(h.readReg(5), 0x222); // only SSIP/STIP/SEIP are writable in mip
  assert.equal(h.readReg(6), 0x2); // only SSIP through sip
});

test('interrupt delegation: S-level interrupt taken in S, masked in M, priority among S', () => {
  const m = setup(0, [asm.nop(), asm.nop(), asm.nop()]);
  const h = m.hart;
  h.mideleg = C.MIDELEG_MASK;
  h.mie = 0xaaa;
  h.setPending(C.MIP_STIP | C.MIP_SEIP, true);
  h.run(1);
  assert.equal(h.priv, 1);
  assert.equal(h.scauseLo, 9); // SEI before STI
  assert.equal(h.scauseHi, -0x80000000);
  // In S with SIE=0 nothing more is taken; in M, delegated interrupts are never taken.
  h.setPc(HANDLER + 0x100);
  const before = h.scauseLo;
  h.run(3);
  assert.equal(h.scauseLo, before);
  h.priv = 3;
  h.mstatus |= C.MSTATUS_MIE | C.MSTATUS_SIE;
  h.run(3);
  assert.equal(h.priv, 3);
  assert.equal(h.mcauseHi, 0);
  // A non-delegated machine timer is taken in M when MIE=1.
  h.setPending(C.MIP_MTIP, true);
  h.run(1);
  assert.equal(h.mcauseLo, 7);
  assert.equal(h.mcauseHi, -0x80000000);
});

test('vectored mtvec: interrupts go to base + 4*cause, exceptions to base', () => {
  const m = setup(0, [asm.nop(), asm.ecall()]);
  const h = m.hart;
  h.mtvecLo = HANDLER | 1 | 0;
  load(m.bus, HANDLER + 4 * 7, [SPIN]);
  h.mie = C.MIP_MTIP;
  h.setPending(C.MIP_MTIP, true);
  h.run(1);
  assert.equal(h.getPc(), HANDLER + 28);
  const e = setup(0, [asm.ecall()]);
  e.hart.mtvecLo = HANDLER | 1 | 0;
  e.hart.run(1);
  assert.equal(e.hart.getPc(), HANDLER);
  assert.equal(e.hart.mcauseLo, 8);
});

test('WFI idles run() until an enabled interrupt is pending, even with MIE=0', () => {
  const m = setup(3, [asm.wfi(), asm.addi(5, 0, 1), SPIN]);
  const h = m.hart;
  h.mie = C.MIP_MEIP;
  assert.equal(h.run(100), 1); // the WFI itself retires
  assert.equal(h.waiting, true);
  assert.equal(h.run(100), 0);
  h.setPending(C.MIP_MTIP, true); // not enabled in mie: still waiting
  assert.equal(h.waiting, true);
  h.setPending(C.MIP_MEIP, true);
  assert.equal(h.waiting, false);
  h.run(2);
  assert.equal(h.readReg(5), 1); // MIE=0: resumes after WFI without trapping
});

test('Sstc: stimecmp drives STIP when menvcfg.STCE is set', () => {
  const m = setup(3, [asm.nop(), asm.nop(), asm.nop(), asm.nop()]);
  const h = m.hart;
  h.menvcfgHi = C.ENVCFG_STCE_HI;
  h.stimecmpLo = 1000;
  h.stimecmpHi = 0;
  m.clock.t = 999;
  h.run(1);
  assert.equal(h.mip & C.MIP_STIP, 0);
  m.clock.t = 1000;
  h.run(1);
  assert.equal(h.mip & C.MIP_STIP, C.MIP_STIP);
  assert.equal(h.stimecmp, 1000);
  // S-mode access needs mcounteren.TM
  const s = setup(1, [asm.csrrs(1, C.STIMECMP, 0)]);
  s.hart.menvcfgHi = C.ENVCFG_STCE_HI;
  s.hart.run(2);
  assert.equal(s.hart.mcauseLo, 2);
});

test('FP loads/stores: FS=Off is illegal; FLW NaN-boxes; FS becomes dirty', () => {
  const m = setup(3, [asm.flw(1, 0, 0)]);
  m.hart.run(2);
  assert.equal(m.hart.mcauseLo, 2);
  const data = RAM_BASE + 0x400;
  const f = setup(3, [
    ...li64(5, data, 0),
    asm.flw(1, 5, 0),
    asm.fld(2, 5, 8),
    asm.fsd(1, 5, 16),
    asm.fsw(2, 5, 24),
    asm.ebreak(),
  ]);
  poke64(f.bus, data, 0x3f800000, 0x12345678);
  poke64(f.bus, data + 8, 0x11111111, 0x22222222);
  f.hart.mstatus |= 1 << 13; // FS = Initial
  f.hart.run(40);
  assert.equal(f.hart.mcauseLo, 3);
  assert.equal(f.hart.f[2], 0x3f800000);
  assert.equal(f.hart.f[3], -1);
  assert.equal(f.hart.f[5], 0x22222222);
  assert.equal(peek32(f.bus, data + 16), 0x3f800000);
  assert.equal(peek32(f.bus, data + 20), -1);
  assert.equal(peek32(f.bus, data + 24), 0x11111111);
  assert.equal(f.hart.mstatus & C.MSTATUS_FS, C.MSTATUS_FS);
  // fcsr maps onto frm/fflags
  const c = setup(3, [
    asm.addi(1, 0, 0xff),
    asm.csrrw(0, C.FCSR, 1),
    asm.csrrs(2, C.FRM, 0),
    asm.csrrs(3, C.FFLAGS, 0),
    asm.ebreak(),
  ]);
  c.hart.mstatus |= 1 << 13;
  c.hart.run(10);
  assert.equal(c.hart.readReg(2), 7);
  assert.equal(c.hart.readReg(3), 31);
  assert.equal(c.hart.frm, 7);
});

test('misaligned AMO and LR raise address-misaligned; SC fails after a trap', () => {
  const m = setup(3, [...li64(1, RAM_BASE + 0x401, 0), asm.amo(0, false, 2, 1, 0)]);
  m.hart.run(20);
  assert.equal(m.hart.mcauseLo, 6);
  assert.equal(m.hart.mtvalLo >>> 0, RAM_BASE + 0x401);
  const l = setup(3, [...li64(1, RAM_BASE + 0x402, 0), asm.lr_w(2, 1)]);
  l.hart.run(20);
  assert.equal(l.hart.mcauseLo, 4);
});

test('Zba/Zbb/Zbs execute correctly', () => {
  const R = (f7: number, f3: number, op: number) => (rd: number, a: number, b: number) => asm.r(f7, f3, op, rd, a, b);
  const prog = [
    asm.addi(1, 0, -2),
    asm.addi(2, 0, 3),
    R(0x10, 4, 0x33)(3, 2, 1), // sh2add x3 = (3<<2) + -2 = 10
    R(0x04, 0, 0x3b)(4, 1, 2), // add.uw x4 = zext32(-2) + 3 = 0x1_0000_0001
    0x60009293 | 0, // clz x5, x1 = 0
    0x60111313 | 0, // ctz x6, x2 = 0
    0x60209393 | 0, // cpop x7, x1 = 63
    R(0x05, 4, 0x33)(8, 1, 2), // min x8 = -2
    R(0x05, 5, 0x33)(9, 1, 2), // minu x9 = 3
    R(0x30, 1, 0x33)(10, 2, 2), // rol x10 = 3 << 3 = 24
    0x6b815593 | 0, // rev8 x11, x2 = 0x0300000000000000
    R(0x24, 5, 0x33)(12, 2, 0), // bext x12 = bit 0 of 3 = 1
    R(0x14, 1, 0x33)(13, 0, 2), // bset x13 = 1<<3 = 8
    R(0x20, 7, 0x33)(14, 2, 1), // andn x14 = 3 & ~-2 = 1
    0x60411793 | 0, // sext.b x15, x2 = 3
    asm.ebreak(),
  ];
  const z = setup(3, prog);
  z.hart.run(40);
  const h = z.hart;
  assert.equal(h.mcauseLo, 3);
  assert.equal(h.readReg(3), 10);
  assert.equal(h.readReg(4), 0x100000001);
  assert.equal(h.readReg(5), 0);
  assert.equal(h.readReg(6), 0);
  assert.equal(h.readReg(7), 63);
  assert.equal(h.readReg(8), -2);
  assert.equal(h.readReg(9), 3);
  assert.equal(h.readReg(10), 24);
  assert.equal(h.readRegHi(11), 0x03000000);
  assert.equal(h.readRegLo(11), 0);
  assert.equal(h.readReg(12), 1);
  assert.equal(h.readReg(13), 8);
  assert.equal(h.readReg(14), 1);
  assert.equal(h.readReg(15), 3);
});

test('PMP CSRs are WARL storage: all-ones pmpaddr reads back 54 bits; odd pmpcfg is illegal', () => {
  const m = setup(3, [
    asm.addi(1, 0, -1),
    asm.csrrw(0, C.PMPADDR0, 1),
    asm.csrrs(2, C.PMPADDR0, 0),
    asm.csrrs(3, C.PMPCFG0 + 1, 0),
  ]);
  m.hart.run(10);
  assert.equal(m.hart.readRegLo(2), -1);
  assert.equal(m.hart.readRegHi(2), 0x3fffff);
  assert.equal(m.hart.mcauseLo, 2);
});

test('csrrs/csrrc on mip use the software SEIP bit, not the PLIC level read back', () => {
  // OpenSBI's IPI handler does `csrs mip, SSIP`; with the PLIC's SEIP asserted at that moment a
  // naive read-modify-write latches SEIP in software and the hart takes external interrupts forever.
  const m = setup(3, [
    asm.addi(1, 0, C.MIP_SSIP),
    asm.csrrs(2, C.MIP, 1),
    asm.csrrc(3, C.MIP, 1),
    asm.csrrs(4, C.MIP, 0),
    SPIN,
  ]);
  const h = m.hart;
  h.setPending(C.MIP_SEIP, true); // the PLIC asserts the S-mode external line
  h.run(2);
  assert.equal(h.readRegLo(2) & C.MIP_SEIP, C.MIP_SEIP, 'the value read includes the PLIC level');
  h.setPending(C.MIP_SEIP, false); // the PLIC line drops
  assert.equal(h.mip & C.MIP_SEIP, 0, 'SEIP was not latched by csrs');
  assert.equal(h.mip & C.MIP_SSIP, C.MIP_SSIP);
  h.run(2);
  assert.equal(h.readRegLo(4) & (C.MIP_SEIP | C.MIP_SSIP), 0);
});
