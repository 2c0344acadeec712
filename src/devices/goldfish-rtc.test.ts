import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GoldfishRtc } from './goldfish-rtc.ts';

function setup() {
  let ns = 1_700_000_000_123_456_789n;
  const irq = {
    level: false,
    set(l: boolean) {
      this.level = l;
    },
  };
  const rtc = new GoldfishRtc(irq, () => ns);
  return { rtc, irq, advance: (d: bigint) => (ns += d) };
}

test('TIME_LOW then TIME_HIGH gives the wall clock in ns', () => {
  const { rtc } = setup();
  const lo = rtc.read(0, 4);
  const hi = rtc.read(4, 4);
  assert.equal((BigInt(hi) << 32n) | BigInt(lo), 1_700_000_000_123_456_789n);
});

test('setting the time (HIGH then LOW) keeps running from the new value', () => {
  const { rtc, advance } = setup();
  rtc.write(4, 4, 0);
  rtc.write(0, 4, 1000);
  advance(500n);
  assert.equal(rtc.read(0, 4), 1500);
  assert.equal(rtc.read(4, 4), 0);
});

test('alarm fires at its time when enabled, and is cleared', () => {
  const { rtc, irq, advance } = setup();
  const t = rtc.now() + 1000n;
  rtc.write(0x10, 4, 1);
  rtc.write(0x0c, 4, Number(t >> 32n));
  rtc.write(0x08, 4, Number(t & 0xffffffffn));
  assert.equal(rtc.read(0x18, 4), 1);
  assert.equal(irq.level, false);
  advance(999n);
  rtc.update();
  assert.equal(irq.level, false);
  advance(1n);
  rtc.update();
  assert.equal(irq.level, true);
  assert.equal(rtc.read(0x18, 4), 0);
  rtc.write(0x1c, 4, 1);
  assert.equal(irq.level, false);
});

test('saveState/loadState keeps the guest time offset', () => {
  const a = setup();
  a.rtc.write(4, 4, 0);
  a.rtc.write(0, 4, 42);
  const b = setup();
  b.rtc.loadState(JSON.parse(JSON.stringify(a.rtc.saveState())));
  assert.equal(b.rtc.read(0, 4), 42);
  assert.throws(() => b.rtc.loadState({ ...(a.rtc.saveState() as object), offset: 'x' }), /offset/);
});
