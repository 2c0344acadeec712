import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../memory/bus.ts';
import { Hart } from './hart.ts';
import { asm, load, FakeClock, RAM_BASE, li64, poke64, peek32 } from './test-support.ts';

function twoHarts(): { bus: Bus; h0: Hart; h1: Hart } {
  const bus = new Bus(RAM_BASE, 1 << 20);
  const clock = new FakeClock();
  const h0 = new Hart(bus, 0, clock);
  const h1 = new Hart(bus, 1, clock);
  const spin = RAM_BASE + 0xff000;
  load(bus, spin, [asm.jal(0, 0)]);
  h0.mtvecLo = h1.mtvecLo = spin | 0;
  return { bus, h0, h1 };
}

test('an SC fails when another hart ran between the LR and the SC', () => {
  const { bus, h0, h1 } = twoHarts();
  const data = RAM_BASE + 0x8000;
  poke64(bus, data, 1, 0);
  // hart 0: lr.d; (slice ends) ; sc.d
  load(bus, RAM_BASE, [...li64(1, data, 0), asm.lr_d(2, 1), asm.addi(2, 2, 1), asm.sc_d(3, 1, 2), asm.jal(0, 0)]);
  // hart 1: store 100 to the same address
  load(bus, RAM_BASE + 0x1000, [...li64(1, data, 0), asm.addi(2, 0, 100), asm.sd(2, 1, 0), asm.jal(0, 0)]);
  h0.setPc(RAM_BASE);
  h1.setPc(RAM_BASE + 0x1000);
  h0.run(9); // li64 (8) + lr.d
  h1.run(20);
  h0.run(10);
  assert.equal(h0.readReg(3), 1, 'SC must fail');
  assert.equal(peek32(bus, data), 100);
  // Without interference, the same sequence succeeds.
  h0.setPc(RAM_BASE);
  h0.run(12);
  assert.equal(h0.readReg(3), 0);
  assert.equal(peek32(bus, data), 101);
});

test("a store by one hart invalidates another hart's decoded copy of the code", () => {
  const { bus, h0, h1 } = twoHarts();
  const fn = RAM_BASE + 0x4000;
  load(bus, fn, [asm.addi(10, 0, 1), asm.jal(0, 0)]);
  h1.setPc(fn);
  h1.run(5); // hart 1 decodes and runs the function
  assert.equal(h1.readReg(10), 1);
  load(bus, RAM_BASE, [...li64(1, fn, 0), ...li64(2, asm.addi(10, 0, 2), 0), asm.sw(2, 1, 0), asm.jal(0, 0)]);
  h0.setPc(RAM_BASE);
  h0.run(30);
  h1.setPc(fn);
  h1.run(5);
  assert.equal(h1.readReg(10), 2);
});
