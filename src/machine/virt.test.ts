import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtMachine, readMachineHeader, type MachineState } from './virt.ts';
import { StateReader } from '../memory/state.ts';
import { VIRT } from './fdt.ts';
import { R, VIRTIO_MMIO_MAGIC } from '../virtio/mmio.ts';
import { VIRTIO_ID_INPUT } from '../virtio/input.ts';
import { MemoryBackend, TestDriver, settle } from '../virtio/testing.ts';
import { VIRTIO_BLK_T_IN } from '../virtio/blk.ts';

const MiB = 1 << 20;

test('reboot: the old board drops its in-flight disk reads, and the new board waits for them', async () => {
  const disk = new MemoryBackend(MiB);
  disk.data.fill(0xaa);
  const opts = { memoryBytes: 16 * MiB, cpus: 1, restoring: true, nowMs: () => 0, onOutput: () => {} };
  const old = new VirtMachine({ ...opts, disks: [{ backend: disk }] });
  const ram = old.bus.ram;
  const base = old.bus.ramBase;
  const drv = new TestDriver(old.virtio[0]!, ram, base);
  drv.init([16], base + 0x1000);
  disk.hold = true;
  for (let i = 0; i < 4; i++) {
    new DataView(ram.buffer).setUint32(0x10000 + 16 * i, VIRTIO_BLK_T_IN, true);
    drv.addChain(0, [
      { addr: base + 0x10000 + 16 * i, len: 16 },
      { addr: base + 0x20000 + 0x2000 * i, len: 4097, write: true },
    ]);
  }
  drv.kick(0);
  assert.equal(disk.log.length, 4);

  let drained = false;
  const done = old.shutdown().then(() => (drained = true));
  const fresh = new VirtMachine({ ...opts, disks: [{ backend: disk }], diskIoAfter: done });
  ram.fill(0x11, 0x20000, 0x28000);
  const rings = ram.slice(0x1000, 0x2000);
  await settle();
  assert.equal(drained, false);
  assert.equal(fresh.blks[0]!.inflightCount, 0);
  disk.release();
  await done;
  assert.equal(drained, true);
  assert.ok(
    ram.subarray(0x20000, 0x28000).every((b) => b === 0x11),
    'no stale read landed in the old RAM',
  );
  assert.deepEqual(ram.slice(0x1000, 0x2000), rings);
  assert.equal(old.blks[0]!.inflightCount, 0);
});

test('a disk completion that raises the interrupt tells the host (the VM wakes from WFI for it)', async () => {
  const disk = new MemoryBackend(MiB);
  let wakes = 0;
  const m = new VirtMachine({
    memoryBytes: 16 * MiB,
    cpus: 1,
    restoring: true,
    nowMs: () => 0,
    onOutput: () => {},
    onDeviceInterrupt: () => wakes++,
    disks: [{ backend: disk }],
  });
  const ram = m.bus.ram;
  const base = m.bus.ramBase;
  const drv = new TestDriver(m.virtio[0]!, ram, base);
  drv.init([16], base + 0x1000);
  disk.hold = true;
  new DataView(ram.buffer).setUint32(0x10000, VIRTIO_BLK_T_IN, true);
  drv.addChain(0, [
    { addr: base + 0x10000, len: 16 },
    { addr: base + 0x20000, len: 513, write: true },
  ]);
  drv.kick(0);
  await settle();
  assert.equal(wakes, 0, 'nothing completed yet');
  disk.release();
  await settle();
  assert.ok(wakes >= 1, 'the completion raised the line and told the host');
});

test('the power button sits at 0x10009000 (IRQ 9), presses reach its driver, and it saves with the board', () => {
  let wakes = 0;
  const opts = { memoryBytes: 16 * MiB, cpus: 1, restoring: true, nowMs: () => 0, onOutput: () => {} };
  const m = new VirtMachine({ ...opts, onDeviceInterrupt: () => wakes++ });
  assert.equal(m.bus.read(VIRT.powerButton.base + R.MagicValue, 4), VIRTIO_MMIO_MAGIC);
  assert.equal(m.bus.read(VIRT.powerButton.base + R.DeviceID, 4), VIRTIO_ID_INPUT);
  // QEMU's eight slots are unchanged: rng and console first, then empty ones.
  assert.equal(m.virtio.length, 2);
  assert.equal(m.bus.read(VIRT.virtio.base + 2 * VIRT.virtio.stride + R.DeviceID, 4), 0);
  assert.equal(m.pressPowerButton(), false, 'no driver yet');
  const ram = m.bus.ram;
  const base = m.bus.ramBase;
  const drv = new TestDriver(m.powerButtonMmio, ram, base);
  drv.init([8, 8], base + 0x1000);
  drv.addChain(0, [{ addr: base + 0x8000, len: 8, write: true }]);
  drv.kick(0);
  assert.equal(m.pressPowerButton(), true);
  assert.deepEqual(drv.takeUsed(0), [{ id: 0, len: 8 }]);
  assert.deepEqual([...ram.subarray(0x8000, 0x8008)], [1, 0, 116, 0, 1, 0, 0, 0], 'EV_KEY KEY_POWER 1');
  assert.ok(wakes >= 1, 'the interrupt tells the host');

  const saved = JSON.parse(JSON.stringify(m.saveState())) as MachineState;
  assert.ok(saved.powerButton);
  const again = new VirtMachine(opts);
  again.bus.ram.set(ram);
  again.loadState(saved);
  assert.equal(again.powerButton.pendingEvents, 3);
  assert.equal(again.pressPowerButton(), true, 'the restored driver still runs the button');

  // A snapshot from before the board had a power button restores with a fresh, driverless one.
  const { powerButton: _gone, ...older } = saved;
  const old = new VirtMachine(opts);
  old.loadState(older);
  assert.equal(old.powerButtonMmio.status, 0);
  assert.equal(old.pressPowerButton(), false);
});

test('the CPU model is saved with the board; a snapshot without one is an rv64gc board', () => {
  const opts = { memoryBytes: 16 * MiB, cpus: 1, restoring: true, nowMs: () => 0, onOutput: () => {} };
  const m = new VirtMachine({ ...opts, cpu: 'rva22' });
  assert.equal(m.harts[0]!.cpu.model, 'rva22');
  const saved = JSON.parse(JSON.stringify(m.saveState())) as MachineState;
  assert.equal(saved.cpu, 'rva22');
  const head = readMachineHeader(new StateReader('machine', saved));
  assert.equal(head.cpu, 'rva22', 'a restore builds the board with the saved model');
  new VirtMachine({ ...opts, cpu: head.cpu }).loadState(saved);
  assert.throws(() => new VirtMachine({ ...opts, cpu: 'max' }).loadState(saved), /cpu.*rva22 saved, the board has max/);

  const { cpu: _none, ...older } = saved;
  assert.equal(readMachineHeader(new StateReader('machine', older)).cpu, 'rv64gc');
  new VirtMachine({ ...opts, cpu: 'rv64gc' }).loadState(older);
  assert.throws(
    () => readMachineHeader(new StateReader('machine', { ...saved, cpu: 'z80' })),
    /unknown CPU model "z80"/,
  );
});
