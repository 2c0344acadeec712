import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtioMmio } from './mmio.ts';
import { RNG_MAX_REQUEST, VirtioRng } from './rng.ts';
import { RecordingIrq, TestDriver } from './testing.ts';

const BASE = 0x8000_0000;

test('fills writable buffers from the entropy source, capped per request', () => {
  const ram = new Uint8Array(0x40000);
  let calls = 0;
  const dev = new VirtioMmio({ ram, ramBase: BASE }, new RecordingIrq(), new VirtioRng((b) => (calls++, b.fill(0x5a))));
  const drv = new TestDriver(dev, ram, BASE);
  drv.init([8], BASE + 0x1000);
  drv.addChain(0, [
    { addr: BASE + 0x8000, len: 3, write: true },
    { addr: BASE + 0x9000, len: 5, write: true },
  ]);
  drv.addChain(0, [{ addr: BASE + 0x10000, len: 0x30000, write: true }]);
  drv.kick(0);
  assert.deepEqual(drv.takeUsed(0), [
    { id: 0, len: 8 },
    { id: 2, len: RNG_MAX_REQUEST },
  ]);
  assert.deepEqual([...ram.subarray(0x8000, 0x8004)], [0x5a, 0x5a, 0x5a, 0]);
  assert.ok(calls > 1);
});

test('the default source is globalThis.crypto', () => {
  const ram = new Uint8Array(0x20000);
  const dev = new VirtioMmio({ ram, ramBase: BASE }, new RecordingIrq(), new VirtioRng());
  const drv = new TestDriver(dev, ram, BASE);
  drv.init([8], BASE + 0x1000);
  drv.addChain(0, [{ addr: BASE + 0x8000, len: 64, write: true }]);
  drv.kick(0);
  assert.equal(drv.takeUsed(0)[0]!.len, 64);
  assert.ok(ram.subarray(0x8000, 0x8040).some((b) => b !== 0));
});
