import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asm, machine, load, RAM_BASE } from '../test-support.ts';
import { Bus } from '../../memory/bus.ts';
import { Hart } from '../hart.ts';
import { FakeClock } from '../test-support.ts';
import { wasmStats } from './wasm-tier.ts';
import { MISC_CHAINS } from '../state-layout.ts';

test('tier: wasm needs the hart state in the RAM memory; unknown tiers are refused by name', () => {
  const m = machine();
  m.hart.tier = 'wasm';
  assert.equal(m.hart.tier, 'wasm');
  m.hart.tier = 'interp';
  assert.equal(m.hart.tier, 'interp');
  assert.equal(m.hart.jitThreshold, Infinity);
  m.hart.tier = 'js';
  assert.equal(m.hart.tier, 'js');
  assert.ok(Number.isFinite(m.hart.jitThreshold), 'a translating tier restores the default threshold');
  // RAM that is not a whole number of 64 KiB wasm pages lives in a plain ArrayBuffer.
  const h = new Hart(new Bus(RAM_BASE, (1 << 20) + 4096), 0, new FakeClock());
  assert.equal(h.stateOffset, -1);
  assert.throws(() => (h.tier = 'wasm'), /wasm tier needs WebAssembly and the hart state/);
  assert.throws(() => (m.hart.tier = 'jit' as never), /unknown tier "jit" \(interp, js or wasm\)/);
});

/** A loop on page 0 calling one function on each of pages 1..3 (each returns with jalr). */
function crossPageProgram(m: ReturnType<typeof machine>): void {
  const call = (from: number, to: number) => asm.jal(1, to - from);
  const main = RAM_BASE;
  load(m.bus, main, [
    asm.addi(9, 0, 40),
    call(main + 4, RAM_BASE + 0x1000),
    call(main + 8, RAM_BASE + 0x2000),
    call(main + 12, RAM_BASE + 0x3000),
    asm.addi(9, 9, -1),
    asm.bne(9, 0, -16),
    asm.ebreak(),
  ]);
  load(m.bus, RAM_BASE + 0x1000, [asm.addi(10, 10, 1), asm.slli(13, 10, 40), asm.jalr(0, 1, 0)]);
  load(m.bus, RAM_BASE + 0x2000, [asm.addi(11, 11, 3), asm.mul(14, 11, 13), asm.jalr(0, 1, 0)]);
  load(m.bus, RAM_BASE + 0x3000, [asm.xor(12, 12, 10), asm.add(12, 12, 14), asm.jalr(0, 1, 0)]);
}

test('a bounded code cache evicts the oldest page and translates it again, with unchanged results', () => {
  const ref = machine();
  ref.hart.tier = 'interp';
  crossPageProgram(ref);
  const runSliced = (h: Hart) => {
    for (let left = 5000; left > 0;) left -= Math.max(1, h.run(Math.min(left, 97)));
  };
  runSliced(ref.hart);
  const m = machine();
  m.hart.tier = 'wasm';
  m.hart.jitThreshold = 0;
  m.hart.jitCacheLimit = 2;
  crossPageProgram(m);
  const rejected = wasmStats.rejected;
  runSliced(m.hart);
  assert.ok(m.hart.jitEvictions > 10, `evictions: ${m.hart.jitEvictions}`);
  // Calls and returns between translated pages chained inside wasm some of the time (the other
  // times the target had just been evicted).
  assert.ok(m.hart.stMisc[MISC_CHAINS]! > 10, `chained: ${m.hart.stMisc[MISC_CHAINS]}`);
  assert.ok(m.hart.jitTranslations > m.hart.jitEvictions, 'pages were translated again after eviction');
  assert.equal(wasmStats.rejected, rejected);
  for (const r of [9, 10, 11, 12, 13, 14]) assert.equal(m.hart.readReg(r), ref.hart.readReg(r), `x${r}`);
  assert.equal(ref.hart.readReg(9), 0, 'the loop finished');
  assert.equal(m.hart.getPc(), ref.hart.getPc());
  assert.equal(m.hart.instret, ref.hart.instret);
});

test('calls and returns between translated pages chain inside wasm and match the interpreter', () => {
  const ref = machine();
  ref.hart.tier = 'interp';
  crossPageProgram(ref);
  ref.hart.run(3000);
  const m = machine();
  m.hart.tier = 'wasm';
  m.hart.jitThreshold = 0;
  crossPageProgram(m);
  m.hart.run(3000);
  // 40 iterations of three calls and three returns: nearly all of them chained.
  assert.ok(m.hart.stMisc[MISC_CHAINS]! >= 200, `chained: ${m.hart.stMisc[MISC_CHAINS]}`);
  for (const r of [9, 10, 11, 12, 13, 14]) assert.equal(m.hart.readReg(r), ref.hart.readReg(r), `x${r}`);
  assert.equal(m.hart.getPc(), ref.hart.getPc());
  assert.equal(m.hart.instret, ref.hart.instret);
});

test('a pending interrupt stops chaining (exec.ts takes it between blocks)', () => {
  const m = machine();
  m.hart.tier = 'wasm';
  m.hart.jitThreshold = 0;
  crossPageProgram(m);
  // MSIP pending and enabled in mie, but mstatus.MIE off: never taken, yet never chained past.
  m.hart.setSoftwarePending(8, true);
  (m.hart as unknown as { mie: number }).mie = 8;
  m.hart.setSoftwarePending(8, true);
  m.hart.run(3000);
  assert.equal(m.hart.stMisc[MISC_CHAINS], 0);
  assert.equal(m.hart.readReg(9), 0, 'the loop finished');
});

test('a jump into the middle of an instruction, then straight on, runs as in the interpreter', () => {
  // The JALR at 0x1c jumps to 0x1e, the middle of itself: the 4-byte instruction there (its upper
  // half and the next halfword: beq s10, s6, not taken) falls through to 0x22, which is also the
  // second instruction after the c.and at 0x20. Translated, 0x22 must start a case of its own:
  // entering the case of [c.and, addi] at its start ran the c.and that the guest never runs.
  const program = (m: ReturnType<typeof machine>) => {
    load(m.bus, RAM_BASE, [
      asm.addi(11, 0, -822),
      asm.addi(26, 0, 1),
      asm.addi(22, 0, 2),
      asm.addi(27, 0, 20),
      asm.auipc(6, 0), // 0x10: t1 = the loop's start
      asm.addi(0, 0, 0),
      asm.addi(0, 0, 0),
      asm.jalr(10, 6, 14), // 0x1c: a0 = 0x20, to 0x1e
      { c: 0x8d6d }, // 0x20: c.and a0, a1 (the bytes 0x1e..0x21 are beq s10, s6, -1856)
      asm.addi(27, 27, -1), // 0x22
      asm.bne(27, 0, 0x10 - 0x26),
      asm.jal(0, 0),
    ]);
    m.hart.setPc(RAM_BASE);
    for (let i = 0; i < 100; i++) m.hart.run(20);
  };
  const ref = machine();
  ref.hart.tier = 'interp';
  program(ref);
  assert.equal(ref.hart.readReg(27), 0, 'the loop finished');
  assert.equal(ref.hart.readReg(10), RAM_BASE + 0x20);
  for (const tier of ['js', 'wasm'] as const) {
    const m = machine();
    m.hart.tier = tier;
    m.hart.jitThreshold = 0;
    program(m);
    for (const r of [10, 11, 27]) assert.equal(m.hart.readReg(r), ref.hart.readReg(r), `${tier}: x${r}`);
    assert.equal(m.hart.getPc(), ref.hart.getPc());
    assert.equal(m.hart.instret, ref.hart.instret);
    assert.ok(m.hart.jitRan > 0, `${tier}: translated code ran`);
  }
});
