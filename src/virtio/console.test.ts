import { test } from 'node:test';
import assert from 'node:assert/strict';
import { R } from './mmio.ts';
import { VirtioMmio } from './mmio.ts';
import { VirtioConsole } from './console.ts';
import { RecordingIrq, TestDriver } from './testing.ts';

const BASE = 0x8000_0000;

function setup(inputCapacity = 16) {
  const ram = new Uint8Array(0x20000);
  const out: number[] = [];
  const con = new VirtioConsole((b) => out.push(...b), { inputCapacity });
  const irq = new RecordingIrq();
  const dev = new VirtioMmio({ ram, ramBase: BASE }, irq, con);
  const drv = new TestDriver(dev, ram, BASE);
  return { ram, out, con, dev, drv, irq };
}

test('tx: guest output reaches the callback in order', () => {
  const s = setup();
  s.drv.init([8, 8], BASE + 0x1000);
  s.ram.set(
    [...'hello '].map((c) => c.charCodeAt(0)),
    0x8000,
  );
  s.ram.set(
    [...'world'].map((c) => c.charCodeAt(0)),
    0x9000,
  );
  s.drv.addChain(1, [
    { addr: BASE + 0x8000, len: 6 },
    { addr: BASE + 0x9000, len: 5 },
  ]);
  s.drv.kick(1);
  assert.equal(String.fromCharCode(...s.out), 'hello world');
  assert.deepEqual(s.drv.takeUsed(1), [{ id: 0, len: 0 }]);
  assert.equal(s.irq.level, true);
});

test('rx: input typed before the driver loads is kept, bounded, and delivered into rx buffers', () => {
  const s = setup(16);
  s.dev.device.attach(s.dev);
  const bytes = Uint8Array.from({ length: 20 }, (_, i) => 65 + i);
  assert.equal(s.con.pushInput(bytes), 16, 'back-pressure: only 16 fit');
  assert.equal(s.con.inputSpace(), 0);
  s.drv.init([8, 8], BASE + 0x1000);
  s.drv.addChain(0, [{ addr: BASE + 0x8000, len: 10, write: true }]);
  s.drv.kick(0);
  assert.deepEqual(s.drv.takeUsed(0), [{ id: 0, len: 10 }]);
  assert.equal(String.fromCharCode(...s.ram.subarray(0x8000, 0x800a)), 'ABCDEFGHIJ');
  assert.equal(s.con.inputSpace(), 10);
  s.drv.addChain(0, [{ addr: BASE + 0x9000, len: 64, write: true }]);
  s.drv.kick(0);
  assert.deepEqual(s.drv.takeUsed(0), [{ id: 1, len: 6 }]);
  // Wrapping around the FIFO and delivery on pushInput when buffers are already posted.
  s.drv.addChain(0, [{ addr: BASE + 0xa000, len: 64, write: true }]);
  s.drv.kick(0);
  assert.deepEqual(s.drv.takeUsed(0), []);
  assert.equal(s.con.pushInput(bytes.subarray(0, 14)), 14);
  assert.deepEqual(s.drv.takeUsed(0), [{ id: 2, len: 14 }]);
  assert.equal(String.fromCharCode(...s.ram.subarray(0xa000, 0xa00e)), 'ABCDEFGHIJKLMN');
});

test('emergency write and config', () => {
  const s = setup();
  s.drv.init([8, 8], BASE + 0x1000);
  assert.equal(s.dev.read(R.Config + 4, 4), 1, 'max_nr_ports');
  s.dev.write(R.Config + 8, 4, 0x21);
  assert.deepEqual(s.out, [0x21]);
});

test('pending input survives saveState/loadState', () => {
  const a = setup();
  a.drv.init([8, 8], BASE + 0x1000);
  a.con.pushInput(Uint8Array.of(1, 2, 3));
  const b = setup();
  b.dev.loadState(JSON.parse(JSON.stringify(a.dev.saveState())));
  assert.equal(b.con.inputSpace(), 13);
  assert.throws(() => b.con.loadState({ version: 1, input: [300] }), /input/);
});
