import { test } from 'node:test';
import assert from 'node:assert/strict';
import { R, STATUS_DEVICE_NEEDS_RESET, VirtioMmio } from './mmio.ts';
import {
  BUS_VIRTUAL,
  EV_KEY,
  EV_SYN,
  INPUT_CFG,
  INPUT_CONFIG_SIZE,
  KEY_POWER,
  MAX_PENDING_EVENTS,
  POWER_BUTTON_NAME,
  POWER_BUTTON_SERIAL,
  VIRTIO_ID_INPUT,
  VirtioInput,
} from './input.ts';
import { RecordingIrq, TestDriver } from './testing.ts';

const BASE = 0x8000_0000;
const EVT = 0x8000; // eventq buffers: 8 bytes each from here
const PRESS = [
  [EV_KEY, KEY_POWER, 1],
  [EV_SYN, 0, 0],
  [EV_KEY, KEY_POWER, 0],
  [EV_SYN, 0, 0],
];

function setup() {
  const ram = new Uint8Array(0x20000);
  const input = new VirtioInput();
  const irq = new RecordingIrq();
  const dev = new VirtioMmio({ ram, ramBase: BASE }, irq, input);
  const drv = new TestDriver(dev, ram, BASE);
  return { ram, input, irq, dev, drv };
}

type S = ReturnType<typeof setup>;

/** Selects (select, subsel) as Linux does (byte writes) and returns [size, union bytes]. */
function cfg(s: S, select: number, subsel: number): [number, Uint8Array] {
  s.dev.write(R.Config, 1, select);
  s.dev.write(R.Config + 1, 1, subsel);
  const size = s.dev.read(R.Config + 2, 1);
  const u = new Uint8Array(128);
  for (let i = 0; i < 128; i++) u[i] = s.dev.read(R.Config + 8 + i, 1);
  return [size, u];
}

function text(u: Uint8Array, n: number): string {
  return String.fromCharCode(...u.subarray(0, n));
}

/** Posts `n` 8-byte eventq buffers, each at EVT + 8 * its descriptor index. */
function post(s: S, n: number): void {
  const q = s.drv.queues[0]!;
  for (let i = 0; i < n; i++)
    s.drv.addChain(0, [{ addr: BASE + EVT + 8 * (q.nextDesc % q.size), len: 8, write: true }]);
  s.drv.kick(0);
}

/** The events in used buffers, read back from RAM in used-ring order. */
function events(s: S): number[][] {
  return s.drv.takeUsed(0).map(({ id, len }) => {
    assert.equal(len, 8);
    const v = new DataView(s.ram.buffer, EVT + 8 * id, 8);
    return [v.getUint16(0, true), v.getUint16(2, true), v.getUint32(4, true)];
  });
}

test('identifies as virtio-input with a 136-byte config space', () => {
  const s = setup();
  assert.equal(s.drv.rd(R.DeviceID), VIRTIO_ID_INPUT);
  assert.equal(s.input.config.length, INPUT_CONFIG_SIZE);
  assert.deepEqual(s.input.queueSizes, [64, 64]);
});

test('config space: name, serial, devids, property and event bits', () => {
  const s = setup();
  s.drv.init([8, 8], BASE + 0x1000);
  let [size, u] = cfg(s, INPUT_CFG.ID_NAME, 0);
  assert.equal(text(u, size), POWER_BUTTON_NAME);
  [size, u] = cfg(s, INPUT_CFG.ID_SERIAL, 0);
  assert.equal(text(u, size), POWER_BUTTON_SERIAL);
  [size, u] = cfg(s, INPUT_CFG.ID_DEVIDS, 0);
  assert.equal(size, 8);
  assert.equal(u[0]! | (u[1]! << 8), BUS_VIRTUAL);
  assert.equal(cfg(s, INPUT_CFG.PROP_BITS, 0)[0], 0, 'no input properties');
  [size, u] = cfg(s, INPUT_CFG.EV_BITS, EV_KEY);
  assert.equal(size, (KEY_POWER >> 3) + 1);
  const keys = [...u.subarray(0, size)].flatMap((b, i) =>
    [...Array(8).keys()].filter((k) => b & (1 << k)).map((k) => 8 * i + k),
  );
  assert.deepEqual(keys, [KEY_POWER]);
  [size, u] = cfg(s, INPUT_CFG.EV_BITS, EV_SYN);
  assert.equal(size, 1);
  assert.equal(u[0], 1, 'SYN_REPORT');
  // Everything else is unsupported (size 0), including stale union bytes from the last answer.
  for (const t of [2, 3, 4, 5, 0x11, 0x12, 0x14, 0x15, 0x17, 0x1f]) {
    [size, u] = cfg(s, INPUT_CFG.EV_BITS, t);
    assert.equal(size, 0, `EV_BITS type ${t}`);
    assert.ok(u.every((b) => b === 0));
  }
  for (const [sel, sub] of [
    [INPUT_CFG.ABS_INFO, 0],
    [INPUT_CFG.UNSET, 0],
    [INPUT_CFG.ID_NAME, 1],
    [0x42, 0],
  ] as const)
    assert.equal(cfg(s, sel, sub)[0], 0, `select ${sel}/${sub}`);
  // A driver writing the read-only part gets it rebuilt.
  cfg(s, INPUT_CFG.ID_NAME, 0);
  s.dev.write(R.Config + 8, 4, 0x41414141);
  assert.equal(text(cfg(s, INPUT_CFG.ID_NAME, 0)[1], 4), POWER_BUTTON_NAME.slice(0, 4));
  // Out-of-range config accesses read 0 and are ignored.
  assert.equal(s.dev.read(R.Config + INPUT_CONFIG_SIZE, 4), 0);
  s.dev.write(R.Config + INPUT_CONFIG_SIZE, 4, 1);
});

test('a press is four events, delivered only into posted buffers', () => {
  const s = setup();
  assert.equal(s.input.press(), false, 'no driver yet: not taken');
  s.drv.init([8, 8], BASE + 0x1000);
  assert.equal(s.input.press(), true);
  assert.equal(s.input.pendingEvents, 4);
  assert.deepEqual(events(s), [], 'nothing without buffers');
  post(s, 3);
  assert.deepEqual(events(s), PRESS.slice(0, 3));
  assert.equal(s.irq.level, true);
  s.drv.ack();
  post(s, 2);
  assert.deepEqual(events(s), PRESS.slice(3));
  assert.equal(s.input.pendingEvents, 0);
  // One buffer left posted: the next press fills it at once and waits for more.
  s.drv.ack();
  s.input.press();
  assert.deepEqual(events(s), [PRESS[0]]);
  assert.equal(s.input.pendingEvents, 3);
});

test('pending events are bounded: the oldest whole presses go, a started one is finished', () => {
  const s = setup();
  s.drv.init([8, 8], BASE + 0x1000);
  s.input.press();
  post(s, 1); // the key is down in the guest now: its release must not be dropped
  assert.deepEqual(events(s), [PRESS[0]]);
  for (let i = 0; i < 40; i++) s.input.press();
  assert.ok(s.input.pendingEvents <= MAX_PENDING_EVENTS);
  assert.equal(s.input.pendingEvents, 63);
  assert.ok(s.input.dropped > 0);
  const got: number[][] = [];
  for (let round = 0; round < 16; round++) {
    post(s, 4);
    got.push(...events(s));
  }
  assert.equal(got.length, 63);
  assert.deepEqual(got.slice(0, 3), PRESS.slice(1));
  for (let i = 3; i < got.length; i += 4) assert.deepEqual(got.slice(i, i + 4), PRESS);
});

test('the statusq is consumed and dropped', () => {
  const s = setup();
  s.drv.init([8, 8], BASE + 0x1000);
  for (let i = 0; i < 8; i++) s.drv.addChain(1, [{ addr: BASE + 0x9000 + 8 * i, len: 8 }]);
  s.drv.kick(1);
  assert.equal(s.drv.takeUsed(1).length, 8);
  assert.equal(s.dev.status & STATUS_DEVICE_NEEDS_RESET, 0);
});

test('malformed buffers put the device in NEEDS_RESET, they never throw', () => {
  // A buffer too small for an event.
  let s = setup();
  s.drv.init([8, 8], BASE + 0x1000);
  s.drv.addChain(0, [{ addr: BASE + EVT, len: 4, write: true }]);
  s.drv.kick(0);
  assert.doesNotThrow(() => s.input.press());
  assert.ok(s.dev.status & STATUS_DEVICE_NEEDS_RESET);
  assert.match(s.dev.lastError ?? '', /4 writable bytes/);
  assert.equal(s.input.press(), false, 'a device that needs a reset takes no presses');
  // A buffer outside guest RAM.
  s = setup();
  s.drv.init([8, 8], BASE + 0x1000);
  s.input.press();
  s.drv.addChain(0, [{ addr: BASE + 0x100000, len: 8, write: true }]);
  assert.doesNotThrow(() => s.drv.kick(0));
  assert.ok(s.dev.status & STATUS_DEVICE_NEEDS_RESET);
  // A statusq chain that loops.
  s = setup();
  s.drv.init([8, 8], BASE + 0x1000);
  const q = s.drv.queues[1]!;
  s.drv.setDesc(q.desc, 0, BASE + 0x9000, 8, 1, 0);
  s.drv.publish(1, 0);
  assert.doesNotThrow(() => s.drv.kick(1));
  assert.ok(s.dev.status & STATUS_DEVICE_NEEDS_RESET);
  // A reset brings it back, with nothing pending.
  s.drv.init([8, 8], BASE + 0x1000);
  assert.equal(s.input.pendingEvents, 0);
  assert.equal(s.input.press(), true);
});

test('save/restore keeps pending events and the config selection', () => {
  const s = setup();
  s.drv.init([8, 8], BASE + 0x1000);
  cfg(s, INPUT_CFG.ID_SERIAL, 0);
  s.input.press();
  post(s, 1);
  assert.deepEqual(events(s), [PRESS[0]]);
  s.input.press();
  const saved = JSON.parse(JSON.stringify(s.dev.saveState())) as object;

  const t = setup();
  t.ram.set(s.ram);
  t.dev.loadState(saved);
  t.drv.queues.push(...s.drv.queues.map((q) => ({ ...q })));
  assert.equal(t.input.pendingEvents, 7);
  assert.equal(
    text(new Uint8Array([...Array(15).keys()].map((i) => t.dev.read(R.Config + 8 + i, 1))), 15),
    POWER_BUTTON_SERIAL,
  );
  post(t, 8);
  assert.deepEqual(events(t), [...PRESS.slice(1), ...PRESS]);

  // Malformed device state is a clear error naming the field.
  const bad = (device: unknown) => ({ ...(saved as Record<string, unknown>), device });
  assert.throws(() => setup().dev.loadState(bad({ version: 1, pending: 65, select: 0, subsel: 0 })), /pending/);
  assert.throws(() => setup().dev.loadState(bad({ version: 2 })), /version/);
  assert.throws(() => setup().dev.loadState(bad('x')), /expected an object/);
});

test('a device reset drops pending events', () => {
  const s = setup();
  s.drv.init([8, 8], BASE + 0x1000);
  s.input.press();
  s.drv.wr(R.Status, 0);
  assert.equal(s.input.pendingEvents, 0);
});
