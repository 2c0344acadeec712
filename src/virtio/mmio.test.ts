import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  R,
  STATUS_ACKNOWLEDGE,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  VirtioMmio,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
} from './mmio.ts';
import { VirtioRng } from './rng.ts';
import { RecordingIrq, TestDriver } from './testing.ts';

const BASE = 0x8000_0000;

function setup() {
  const ram = new Uint8Array(0x20000);
  const irq = new RecordingIrq();
  let n = 0;
  const errors: string[] = [];
  const dev = new VirtioMmio({ ram, ramBase: BASE }, irq, new VirtioRng((b) => b.fill(++n & 0xff)), (m) =>
    errors.push(m),
  );
  return { ram, irq, dev, drv: new TestDriver(dev, ram, BASE), errors };
}

test('identification registers match QEMU virtio-mmio v2', () => {
  const { dev } = setup();
  assert.equal(dev.read(R.MagicValue, 4), 0x74726976);
  assert.equal(dev.read(R.Version, 4), 2);
  assert.equal(dev.read(R.DeviceID, 4), 4);
  assert.equal(dev.read(R.VendorID, 4), 0x554d4551);
  assert.equal(dev.read(R.MagicValue, 1), 0x76, 'byte read of "virt"');
  assert.equal(dev.read(R.QueueNumMax, 4), 64);
  dev.write(R.QueueSel, 4, 1);
  assert.equal(dev.read(R.QueueNumMax, 4), 0, 'no queue 1');
  assert.equal(dev.read(R.SHMLenLow, 4), 0xffffffff);
});

test('feature negotiation: VERSION_1 required, unknown bits refused, FEATURES_OK read back', () => {
  const { drv } = setup();
  const f = drv.deviceFeatures();
  assert.equal(f[1] & 1, 1, 'VERSION_1 offered');
  assert.ok(f[0] & (1 << VIRTIO_F_EVENT_IDX) && f[0] & (1 << VIRTIO_F_INDIRECT_DESC));
  assert.equal(drv.negotiate([0, 0]), false, 'legacy driver refused');
  assert.equal(drv.negotiate([1 << 3, 1]), false, 'feature not offered');
  assert.equal(drv.negotiate([0, 1]), true);
  // DRIVER_OK without FEATURES_OK is not accepted.
  drv.wr(R.Status, 0);
  drv.wr(R.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
  assert.equal(drv.rd(R.Status) & STATUS_DRIVER_OK, 0);
});

test('queue registers: address halves, ready read-back, ignored while ready', () => {
  const { drv, dev } = setup();
  drv.negotiate([0, 1]);
  drv.setupQueue(0, 16, BASE + 0x1000);
  assert.equal(drv.rd(R.QueueReady), 1);
  drv.wr(R.QueueDescLow, 0x1234);
  assert.equal(dev.queues[0]!.descAddr, BASE + 0x1000);
  drv.wr(R.QueueReady, 0);
  assert.equal(drv.rd(R.QueueReady), 0);
  drv.wr(R.QueueDescHigh, 1);
  assert.equal(dev.queues[0]!.descAddr, 2 ** 32 + BASE + 0x1000);
});

test('a queue outside RAM sets DEVICE_NEEDS_RESET; a status write of 0 resets everything', () => {
  const { drv, dev, irq, errors } = setup();
  drv.init([16], BASE + 0x1000);
  drv.wr(R.QueueSel, 0);
  drv.wr(R.QueueReady, 0);
  drv.wr(R.QueueDescLow, 0x100);
  drv.wr(R.QueueReady, 1);
  assert.equal(drv.rd(R.QueueReady), 0);
  assert.ok(drv.rd(R.Status) & STATUS_DEVICE_NEEDS_RESET);
  assert.equal(drv.rd(R.InterruptStatus), 2, 'configuration change interrupt');
  assert.equal(irq.level, true);
  assert.match(errors[0]!, /descriptor table .* outside guest RAM/);
  drv.wr(R.Status, 0);
  assert.equal(drv.rd(R.Status), 0);
  assert.equal(drv.rd(R.InterruptStatus), 0);
  assert.equal(irq.level, false);
  assert.equal(dev.queues[0]!.descAddr, 0);
  drv.init([16], BASE + 0x1000);
  assert.equal(drv.rd(R.Status) & STATUS_DEVICE_NEEDS_RESET, 0);
});

test('notifications before DRIVER_OK or to missing queues are ignored; ConfigGeneration counts', () => {
  const { drv, dev } = setup();
  drv.negotiate([0, 1]);
  drv.setupQueue(0, 8, BASE + 0x1000);
  drv.addChain(0, [{ addr: BASE + 0x8000, len: 4, write: true }]);
  drv.kick(0);
  drv.kick(7);
  assert.deepEqual(drv.takeUsed(0), []);
  drv.wr(R.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  drv.kick(0);
  assert.deepEqual(drv.takeUsed(0), [{ id: 0, len: 4 }]);
  const g = drv.rd(R.ConfigGeneration);
  dev.configChanged();
  assert.equal(drv.rd(R.ConfigGeneration), g + 1);
  assert.equal(drv.ack() & 2, 2);
});

test('saveState/loadState round-trips through JSON', () => {
  const a = setup();
  a.drv.init([8], BASE + 0x1000);
  a.drv.addChain(0, [{ addr: BASE + 0x8000, len: 4, write: true }]);
  a.drv.kick(0);
  assert.equal(a.drv.takeUsed(0).length, 1);
  const json = JSON.stringify(a.dev.saveState());
  const b = setup();
  b.ram.set(a.ram);
  b.dev.loadState(JSON.parse(json));
  assert.equal(b.drv.rd(R.Status), a.drv.rd(R.Status));
  assert.equal(b.drv.rd(R.InterruptStatus), 1);
  assert.equal(b.irq.level, true);
  b.drv.queues[0] = { ...a.drv.queues[0]! };
  b.drv.addChain(0, [{ addr: BASE + 0x8000, len: 4, write: true }]);
  b.drv.kick(0);
  assert.deepEqual(b.drv.takeUsed(0), [{ id: 1, len: 4 }]);
  assert.throws(
    () => b.dev.loadState({ ...JSON.parse(json), queues: [{ size: 'x' }] }),
    /queues\[0\]\.size: expected an integer/,
  );
});

test('an empty slot shows magic and version with DeviceID 0', async () => {
  const { EmptyVirtioSlot } = await import('./empty-slot.ts');
  const slot = new EmptyVirtioSlot();
  assert.equal(slot.read(R.MagicValue, 4), 0x74726976);
  assert.equal(slot.read(R.Version, 4), 2);
  assert.equal(slot.read(R.DeviceID, 4), 0);
  slot.write();
  assert.equal(slot.read(R.Status, 4), 0);
});
