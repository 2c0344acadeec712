import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asm, machine, load, RAM_BASE, li64, type Machine } from './test-support.ts';

/**
 * The translation tiers must match the interpreter exactly: the same programs run with every page
 * translated from its first block (jitThreshold 0; by the JS tier and by the wasm tier) and
 * interpreted only.
 */
const SLICES = [37, 500, 3, 211, 1000, 64];

function runBoth(words: number[], budget: number, setup?: (m: Machine) => void): [Machine, Machine] {
  const out: Machine[] = [];
  for (const tier of ['interp', 'js', 'wasm'] as const) {
    const m = machine();
    m.hart.tier = tier;
    if (tier !== 'interp') m.hart.jitThreshold = 0;
    setup?.(m);
    load(m.bus, RAM_BASE, words);
    let left = budget;
    // Slices of varied sizes, so budget exits land on many different instructions, both inside
    // translated windows and in the interpreter (a window hands over when the budget left is
    // at most its instruction count).
    for (let i = 0; left > 0 && !m.hart.waiting; i++)
      left -= Math.max(1, m.hart.run(Math.min(left, SLICES[i % SLICES.length]!)));
    out.push(m);
  }
  // The wasm tier (wasm/wasm-tier.ts) must match too, all of RAM included; callers check the JS tier.
  assert.ok(out[2]!.hart.jitTranslations > 0, 'wasm tier: windows were translated');
  sameState(out[0]!, out[2]!);
  assert.ok(
    out[0]!.bus.ram.every((v, i) => out[2]!.bus.ram[i] === v),
    'wasm tier: RAM',
  );
  return [out[0]!, out[1]!];
}

function sameState(a: Machine, b: Machine): void {
  // x0..x31 (words 64.. are the x0 sink and the translated windows' scratch results)
  assert.deepEqual(Array.from(b.hart.x.subarray(0, 64)), Array.from(a.hart.x.subarray(0, 64)), 'registers');
  assert.equal(b.hart.getPc(), a.hart.getPc(), 'pc');
  assert.equal(b.hart.instret, a.hart.instret, 'instret');
  assert.equal(b.hart.mcauseLo, a.hart.mcauseLo, 'mcause');
  assert.deepEqual(b.bus.ram.subarray(0x8000, 0x8100), a.bus.ram.subarray(0x8000, 0x8100), 'data');
}

test('translated loop with loads, stores, multiply and calls matches the interpreter', () => {
  const data = RAM_BASE + 0x8000;
  const prog = [
    ...li64(8, data, 0), // s0 = data
    asm.addi(9, 0, 40), // s1 = loop count
    asm.addi(10, 0, 7),
    ...li64(11, 0x9e3779b9, 0x7f4a7c15),
    // loop:
    asm.mul(12, 10, 11),
    asm.mulhu(13, 10, 11),
    asm.add(10, 12, 13),
    asm.srli(14, 10, 33),
    asm.xor(10, 10, 14),
    asm.andi(15, 9, 31),
    asm.slli(15, 15, 3),
    asm.add(15, 15, 8),
    asm.sd(10, 15, 0),
    asm.ld(16, 15, 0),
    asm.lw(17, 15, 4),
    asm.lbu(18, 15, 1),
    asm.sltu(19, 16, 11),
    asm.addiw(20, 17, -5),
    asm.jal(1, 16), // call the callee
    asm.addi(9, 9, -1),
    asm.bne(9, 0, -4 * 16), // back to loop
    asm.jal(0, 12), // skip the callee
    asm.addi(21, 21, 3), // callee
    asm.jalr(0, 1, 0),
    asm.divu(22, 10, 11),
    asm.remu(23, 10, 9),
    asm.ebreak(),
  ];
  const [a, b] = runBoth(prog, 5000);
  assert.equal(a.hart.mcauseLo, 3, 'program reached its ebreak');
  assert.equal(a.hart.readReg(21), 120, 'the callee ran once per iteration');
  sameState(a, b);
});

test('translated code takes page faults and misaligned accesses like the interpreter', () => {
  const prog = [
    ...li64(8, RAM_BASE + 0x8003, 0), // misaligned address (hardware handles it)
    ...li64(9, 0x11223344, 0x55667788),
    asm.sd(9, 8, 0),
    asm.ld(10, 8, 0),
    asm.lhu(11, 8, 1),
    ...li64(12, 0x40, 0), // unmapped physical address: access fault
    asm.ld(13, 12, 0),
    asm.ebreak(),
  ];
  const [a, b] = runBoth(prog, 500);
  assert.equal(a.hart.mcauseLo, 5, 'load access fault');
  assert.equal(a.hart.readRegLo(10), 0x11223344);
  sameState(a, b);
});

test('a store into translated code is seen by the next instruction', () => {
  const target = RAM_BASE + 0x100;
  const prog = [
    asm.addi(5, 0, 3), // run the callee three times, patching it after the first call
    asm.jal(1, 0x100 - 4), // call target
    ...li64(2, target, 0),
    ...li64(3, asm.addi(10, 10, 100), 0),
    asm.sw(3, 2, 0), // patch: addi a0, a0, 1 -> addi a0, a0, 100
    asm.addi(5, 5, -1),
    asm.bne(5, 0, -4 * 19),
    asm.ebreak(),
  ];
  const [a, b] = runBoth(prog, 2000, (m) => load(m.bus, target, [asm.addi(10, 10, 1), asm.jalr(0, 1, 0)]));
  assert.equal(a.hart.readReg(10), 201);
  sameState(a, b);
});

test('loads and stores that miss the TLB inside translated code run alone in the interpreter', () => {
  // Every iteration touches a new page (TLB misses inside a translated window: jit.ts kind 6),
  // with a misaligned access among them; small slices end budgets on every instruction.
  const prog = [
    ...li64(8, RAM_BASE + 0x10000, 0), // s0: first data page
    asm.addi(9, 0, 40), // s1: iterations
    ...li64(11, 0x01020304, 0x05060708),
    ...li64(15, 4096, 0),
    // loop:
    asm.sd(11, 8, 0),
    asm.ld(12, 8, 0),
    asm.add(11, 11, 12),
    asm.sw(11, 8, 9), // misaligned
    asm.lwu(13, 8, 9),
    asm.lb(14, 8, 2),
    asm.add(10, 10, 13),
    asm.add(10, 10, 14),
    asm.add(8, 8, 15), // next page
    asm.addi(9, 9, -1),
    asm.bne(9, 0, -4 * 10),
    asm.ebreak(),
  ];
  const [a, b] = runBoth(prog, 3000);
  assert.equal(a.hart.mcauseLo, 3, 'program reached its ebreak');
  assert.equal(a.hart.readReg(9), 0, 'every iteration ran');
  assert.equal(a.hart.readReg(8), RAM_BASE + 0x10000 + 40 * 4096);
  assert.ok(
    b.hart.jit.some((w) => w !== undefined),
    'the loop was translated',
  );
  sameState(a, b);
  assert.deepEqual(b.bus.ram.subarray(0x10000, 0x38010), a.bus.ram.subarray(0x10000, 0x38010), 'pages');
});

test('budgets that run out inside translated loops stop on the same instruction as the interpreter', () => {
  // The program is far from done when the budget ends, so pc, registers and instret show exactly
  // where each slice stopped (straight-line runs are counted per run, not per instruction).
  const prog = [
    asm.addi(9, 0, 2000),
    // loop: a straight run, an inner forward branch, a call and a return
    asm.addi(10, 10, 1),
    asm.xor(11, 11, 10),
    asm.andi(12, 10, 3),
    asm.beq(12, 0, 8), // skip the next instruction every fourth iteration
    asm.addi(13, 13, 5),
    asm.jal(1, 20), // call
    asm.addi(9, 9, -1),
    asm.bne(9, 0, -4 * 7),
    asm.ebreak(),
    asm.nop(),
    asm.add(14, 14, 10), // callee
    asm.jalr(0, 1, 0),
  ];
  for (const budget of [1, 2, 3, 4, 5, 6, 7, 8, 29, 997, 4321]) {
    const [a, b] = runBoth(prog, budget);
    assert.ok(a.hart.readReg(9) > 0, 'stopped inside the loop');
    sameState(a, b);
  }
});
