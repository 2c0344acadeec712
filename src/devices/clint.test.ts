import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Clint, MIP_MSIP, MIP_MTIP } from './clint.ts';

class Pins {
  mip = 0;
  calls = 0;
  setPending(mask: number, level: boolean) {
    this.calls++;
    this.mip = level ? this.mip | mask : this.mip & ~mask;
  }
}

function setup(harts = 2) {
  const clock = {
    t: 1000,
    now() {
      return this.t;
    },
  };
  const pins = Array.from({ length: harts }, () => new Pins());
  return { clock, pins, clint: new Clint(pins, clock) };
}

test('msip per hart drives MSIP', () => {
  const { clint, pins } = setup();
  clint.write(4, 4, 1);
  assert.equal(pins[1]!.mip, MIP_MSIP);
  assert.equal(pins[0]!.mip, 0);
  assert.equal(clint.read(4, 4), 1);
  clint.write(4, 4, 0xfffffffe);
  assert.equal(pins[1]!.mip, 0, 'only bit 0 counts');
});

test('mtime reads the clock as two 32-bit halves; writes move an offset', () => {
  const { clint, clock } = setup();
  clock.t = 0x1_2345_6789;
  assert.equal(clint.read(0xbff8, 4), 0x2345_6789);
  assert.equal(clint.read(0xbffc, 4), 1);
  clint.write(0xbffc, 4, 0);
  clint.write(0xbff8, 4, 50);
  assert.equal(clint.mtime(), 50);
  clock.t += 10;
  assert.equal(clint.read(0xbff8, 4), 60);
});

test('mtimecmp written the OpenSBI way (hi=~0, lo, hi) drives MTIP and nextDeadline', () => {
  const { clint, clock, pins } = setup();
  assert.equal(clint.nextDeadline(), undefined);
  const cmp = 0x4000 + 8;
  clint.write(cmp + 4, 4, 0xffffffff);
  clint.write(cmp, 4, 2000);
  clint.write(cmp + 4, 4, 0);
  assert.equal(pins[1]!.mip & MIP_MTIP, 0);
  assert.equal(clint.nextDeadline(), 2000);
  assert.equal(clint.read(cmp, 4), 2000);
  clock.t = 1999;
  clint.update();
  assert.equal(pins[1]!.mip & MIP_MTIP, 0);
  clock.t = 2000;
  clint.update();
  assert.equal(pins[1]!.mip & MIP_MTIP, MIP_MTIP);
  assert.equal(pins[0]!.mip, 0);
  assert.equal(clint.nextDeadline(), undefined, 'already pending');
  const calls = pins[1]!.calls;
  clint.update();
  assert.equal(pins[1]!.calls, calls, 'no redundant pin updates');
  clint.write(cmp, 4, 5000);
  assert.equal(pins[1]!.mip & MIP_MTIP, 0, 'writing a later compare clears MTIP');
  // An mtime offset shifts the deadline into clock units.
  clint.write(0xbff8, 4, 4000); // mtime jumps ahead by 2000 ticks
  assert.equal(clint.nextDeadline(), 3000);
});

test('64-bit mtimecmp compare stays exact above 2^32', () => {
  const { clint, clock, pins } = setup(1);
  clock.t = 2 ** 32 + 5;
  clint.write(0x4000, 4, 6);
  clint.write(0x4004, 4, 1);
  assert.equal(pins[0]!.mip & MIP_MTIP, 0);
  clock.t++;
  clint.update();
  assert.equal(pins[0]!.mip & MIP_MTIP, MIP_MTIP);
});

test('saveState/loadState continues mtime on a new clock', () => {
  const a = setup();
  a.clint.write(0, 4, 1);
  a.clint.write(0x4000, 4, 1500);
  a.clint.write(0x4004, 4, 0);
  const saved = JSON.parse(JSON.stringify(a.clint.saveState()));
  const b = setup();
  b.clock.t = 99;
  b.clint.loadState(saved);
  assert.equal(b.clint.mtime(), 1000);
  assert.equal(b.pins[0]!.mip, MIP_MSIP);
  b.clock.t = 599;
  b.clint.update();
  assert.equal(b.pins[0]!.mip, MIP_MSIP | MIP_MTIP);
  assert.throws(() => b.clint.loadState({ ...saved, msip: [1] }), /msip/);
});

test('a low-then-high mtime read does not tear when the low half wraps in between', () => {
  const { clint, clock } = setup();
  clock.t = 2 ** 32 - 1;
  const lo = clint.read(0xbff8, 4);
  clock.t = 2 ** 32;
  const hi = clint.read(0xbffc, 4);
  assert.equal(hi * 2 ** 32 + lo, 2 ** 32 - 1);
  // Without a preceding low read the high half is current.
  assert.equal(clint.read(0xbffc, 4), 1);
  clint.read(0xbff8, 4);
  clint.read(0x4000, 4);
  clock.t = 2 ** 33;
  assert.equal(clint.read(0xbffc, 4), 2, 'latch dropped by another access');
});
