import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIP_MEIP, MIP_SEIP, Plic } from './plic.ts';

class Pins {
  mip = 0;
  setPending(mask: number, level: boolean) {
    this.mip = level ? this.mip | mask : this.mip & ~mask;
  }
}

const ENABLE = (ctx: number) => 0x2000 + 0x80 * ctx;
const THRESHOLD = (ctx: number) => 0x200000 + 0x1000 * ctx;
const CLAIM = (ctx: number) => THRESHOLD(ctx) + 4;

function setup() {
  const pins = [new Pins(), new Pins()];
  return { pins, plic: new Plic(pins, 95) };
}

test('Linux S-mode flow: priority, enable, threshold, claim, complete', () => {
  const { plic, pins } = setup();
  const uart = plic.irqLine(10);
  plic.write(4 * 10, 4, 1);
  plic.write(ENABLE(1), 4, 1 << 10); // hart 0, S-mode
  plic.write(THRESHOLD(1), 4, 0);
  uart.set(true);
  assert.equal(pins[0]!.mip, MIP_SEIP);
  assert.equal(pins[1]!.mip, 0);
  assert.equal(plic.read(0x1000, 4), 1 << 10);
  assert.equal(plic.read(CLAIM(1), 4), 10);
  assert.equal(pins[0]!.mip, 0, 'claimed source is no longer pending');
  assert.equal(plic.read(CLAIM(1), 4), 0);
  // Line still high at completion: pending again.
  plic.write(CLAIM(1), 4, 10);
  assert.equal(pins[0]!.mip, MIP_SEIP);
  assert.equal(plic.read(CLAIM(1), 4), 10);
  uart.set(false);
  plic.write(CLAIM(1), 4, 10);
  assert.equal(pins[0]!.mip, 0);
});

test('highest priority wins, lowest ID breaks ties, threshold masks', () => {
  const { plic, pins } = setup();
  for (const [src, prio] of [
    [1, 2],
    [3, 5],
    [8, 5],
    [40, 7],
  ]) {
    plic.write(4 * src!, 4, prio!);
    plic.irqLine(src!).set(true);
  }
  plic.write(ENABLE(2), 4, (1 << 1) | (1 << 3) | (1 << 8)); // hart 1, M-mode
  plic.write(ENABLE(2) + 4, 4, 1 << (40 - 32));
  assert.equal(pins[1]!.mip, MIP_MEIP);
  plic.write(THRESHOLD(2), 4, 7);
  assert.equal(pins[1]!.mip, 0, 'threshold 7 masks everything');
  plic.write(THRESHOLD(2), 4, 4);
  assert.deepEqual([plic.read(CLAIM(2), 4), plic.read(CLAIM(2), 4), plic.read(CLAIM(2), 4)], [40, 3, 8]);
  assert.equal(plic.read(CLAIM(2), 4), 0, 'priority 2 is below threshold 4');
  assert.equal(plic.read(4 * 3, 4), 5);
});

test('priority 0 never interrupts; enables for source 0 and sources past ndev are not writable', () => {
  const { plic, pins } = setup();
  plic.irqLine(5).set(true);
  plic.write(ENABLE(0), 4, 0xffffffff);
  assert.equal(pins[0]!.mip, 0);
  assert.equal(plic.read(ENABLE(0), 4), 0xfffffffe);
  plic.write(ENABLE(0) + 8, 4, 0xffffffff);
  assert.equal(plic.read(ENABLE(0) + 8, 4), 0xffffffff, 'sources 64..95');
  plic.write(ENABLE(0) + 12, 4, 0xffffffff);
  assert.equal(plic.read(ENABLE(0) + 12, 4), 0);
  assert.throws(() => plic.irqLine(96), RangeError);
  assert.throws(() => plic.irqLine(0), RangeError);
  assert.equal(plic.read(4 * 200, 4), 0);
  assert.equal(plic.read(CLAIM(9), 4), 0, 'context beyond the harts');
});

test('complete for a source not enabled in the context is ignored', () => {
  const { plic } = setup();
  plic.write(4 * 2, 4, 1);
  plic.write(ENABLE(1), 4, 1 << 2);
  plic.irqLine(2).set(true);
  assert.equal(plic.read(CLAIM(1), 4), 2);
  plic.write(CLAIM(0), 4, 2);
  assert.equal(plic.read(CLAIM(1), 4), 0, 'still claimed');
  plic.write(CLAIM(1), 4, 2);
  assert.equal(plic.read(CLAIM(1), 4), 2);
});

test('saveState/loadState restores claims and outputs', () => {
  const a = setup();
  a.plic.write(4 * 7, 4, 3);
  a.plic.write(ENABLE(3), 4, 1 << 7);
  a.plic.irqLine(7).set(true);
  const b = setup();
  b.plic.loadState(JSON.parse(JSON.stringify(a.plic.saveState())));
  assert.equal(b.pins[1]!.mip, MIP_SEIP);
  assert.equal(b.plic.read(CLAIM(3), 4), 7);
  assert.throws(() => b.plic.loadState({ version: 1 }), /priority/);
});

test('a partial last enable word only keeps sources up to ndev', () => {
  const plic = new Plic([new Pins()], 40);
  plic.write(ENABLE(0) + 4, 4, 0xffffffff);
  assert.equal(plic.read(ENABLE(0) + 4, 4), 0x1ff, 'sources 32..40');
});
