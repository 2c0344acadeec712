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

/** A host console that takes at most `room` bytes until refilled, like the board's per-turn budget. */
function budgetSetup(ramSize: number) {
  const ram = new Uint8Array(ramSize);
  const sink = {
    room: 0,
    got: [] as Uint8Array[],
    stalls: 0,
    write(b: Uint8Array) {
      assert.ok(b.length <= this.room, `handed ${b.length} bytes with room for ${this.room}`);
      this.room -= b.length;
      this.got.push(b.slice());
    },
    stall() {
      this.stalls++;
    },
  };
  const con = new VirtioConsole({ room: () => sink.room, write: (b) => sink.write(b), stall: () => sink.stall() });
  const irq = new RecordingIrq();
  const dev = new VirtioMmio({ ram, ramBase: BASE }, irq, con);
  const drv = new TestDriver(dev, ram, BASE);
  return { ram, sink, con, dev, drv };
}

test('tx: a chain of five descriptors over the same 16 MiB is consumed in bounded pieces, in order', () => {
  const REGION = 16 * 1024 * 1024;
  const s = budgetSetup(32 * 1024 * 1024);
  for (let i = 0; i < REGION; i++) s.ram[0x100000 + i] = (i * 7) & 0xff;
  s.drv.init([8, 8], BASE + 0x1000);
  const d = { addr: BASE + 0x100000, len: REGION };
  s.drv.addChain(1, [d, d, d, d, d]);
  s.sink.room = 0;
  s.drv.kick(1);
  assert.equal(s.sink.got.length, 0, 'no room: nothing is consumed');
  assert.ok(s.sink.stalls > 0, 'the device says it waits');
  const PIECE = 64 * 1024;
  let total = 0;
  let rounds = 0;
  while (total < 5 * REGION) {
    s.sink.room = PIECE;
    s.con.resumeOutput();
    const n = s.sink.got.reduce((a, b) => a + b.length, 0);
    assert.equal(n, PIECE, 'each round takes exactly what fits');
    for (const b of s.sink.got) {
      for (let i = 0; i < b.length; i++)
        if (b[i] !== (((total + i) % REGION) * 7) % 256) assert.fail(`byte ${total + i}`);
      total += b.length;
    }
    s.sink.got.length = 0;
    if (total < 5 * REGION) assert.deepEqual(s.drv.takeUsed(1), [], 'the chain stays with the device until printed');
    rounds++;
  }
  assert.equal(rounds, (5 * REGION) / PIECE);
  assert.deepEqual(s.drv.takeUsed(1), [{ id: 0, len: 0 }]);
});

test('tx: chains wait in the ring while the host has no room, and a part-printed chain survives a snapshot', () => {
  const s = budgetSetup(0x40000);
  s.drv.init([8, 8], BASE + 0x1000);
  s.ram.set(new TextEncoder().encode('abcdefghij'), 0x8000);
  s.ram.set(new TextEncoder().encode('KLMNO'), 0x9000);
  s.drv.addChain(1, [{ addr: BASE + 0x8000, len: 10 }]);
  s.drv.addChain(1, [{ addr: BASE + 0x9000, len: 5 }]);
  s.sink.room = 4;
  s.drv.kick(1);
  assert.equal(new TextDecoder().decode(s.sink.got[0]), 'abcd');
  assert.deepEqual(s.drv.takeUsed(1), []);
  const saved = JSON.parse(JSON.stringify(s.dev.saveState()));
  // The restored device goes on where the saved one stopped.
  const t = budgetSetup(0x40000);
  t.ram.set(s.ram);
  t.dev.loadState(saved);
  t.sink.room = 100;
  t.con.resumeOutput();
  assert.equal(t.sink.got.map((b) => new TextDecoder().decode(b)).join(''), 'efghijKLMNO');
  assert.equal(t.dev.read(R.InterruptStatus, 4) & 1, 1, 'used-buffer interrupt');
  assert.throws(() => t.con.loadState({ version: 1, input: [], tx: [99, 0] }), /tx/);
});
