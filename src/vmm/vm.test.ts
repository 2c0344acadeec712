import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_BOOT_FILES, Vm, type BootReloader, type StopReason, type VmHost } from './vm.ts';
import { TestDriver } from '../virtio/testing.ts';
import { boardOf } from './testing.ts';
import { nodeVmHost } from '../host/node/vm-host.ts';

// Tiny S-mode "kernels" in the RISC-V Image format: print some bytes on the UART, then write the
// SiFive test finisher (0x7777 reboot, 0x5555 poweroff). Encoded here so the test needs no toolchain.
const T0 = 5;
const T1 = 6;
const lui = (rd: number, imm20: number) => ((imm20 << 12) | (rd << 7) | 0x37) >>> 0;
const addi = (rd: number, rs1: number, imm: number) => (((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13) >>> 0;
const store = (funct3: number, rs2: number, rs1: number) => ((rs2 << 20) | (rs1 << 15) | (funct3 << 12) | 0x23) >>> 0;
const SPIN = 0x0000006f; // j .
const JUMP_OVER_HEADER = 0x0400006f; // j +64

function kernel(text: string, finisher: number): Uint8Array {
  const code = [lui(T0, 0x10000)];
  for (const c of text) code.push(addi(T1, 0, c.charCodeAt(0)), store(0, T1, T0));
  code.push(lui(T0, 0x100), lui(T1, finisher >> 12), addi(T1, T1, finisher & 0xfff), store(2, T1, T0), SPIN);
  const img = new Uint8Array(64 + code.length * 4);
  const dv = new DataView(img.buffer);
  dv.setUint32(0, JUMP_OVER_HEADER, true);
  dv.setUint32(8, 0x200000, true); // text_offset
  dv.setUint32(16, img.length, true); // image_size
  dv.setUint32(56, 0x05435352, true); // "RSC\x05"
  code.forEach((w, i) => dv.setUint32(64 + i * 4, w, true));
  return img;
}

const REBOOT = 0x7777;
const POWEROFF = 0x5555;

const host: VmHost = nodeVmHost;

interface Outcome {
  output: string;
  reason: StopReason;
}

/** A snapshot of a VM that has not run yet: restored, it runs `first` from its entry. */
async function snapshotOf(first: Uint8Array): Promise<Uint8Array> {
  const vm = new Vm({ memoryBytes: 16 * 1024 * 1024, cpus: 1, kernel: first }, host, {
    output: () => {},
    stopped: () => {},
  });
  return vm.snapshot({ config: { note: 'unit test' } });
}

async function restoreAndRun(snap: Uint8Array, reloadBoot?: BootReloader): Promise<Outcome> {
  let output = '';
  let finish!: (r: StopReason) => void;
  const stopped = new Promise<StopReason>((r) => (finish = r));
  const vm = await Vm.restore(
    snap,
    async (config) => {
      assert.deepEqual(config, { note: 'unit test' });
      return reloadBoot ? { reloadBoot } : {};
    },
    host,
    { output: (b) => (output += new TextDecoder().decode(b)), stopped: finish },
  );
  vm.start();
  return { reason: await stopped, output };
}

test('a restored VM reboots from the files its host reloads', async () => {
  const snap = await snapshotOf(kernel('first;', REBOOT));
  let calls = 0;
  const r = await restoreAndRun(snap, async () => {
    calls++;
    return { kernel: kernel('second;', POWEROFF) };
  });
  assert.equal(calls, 1);
  assert.equal(r.output, 'first;second;');
  assert.deepEqual(r.reason, { kind: 'poweroff' });
});

test('a reloaded VM that reboots again rebuilds from the reloaded files without asking twice', async () => {
  const snap = await snapshotOf(kernel('a', REBOOT));
  let calls = 0;
  // The reloaded kernel reboots itself for ever: the test quits once it has seen three boots of it.
  const reloaded = kernel('b', REBOOT);
  let vmOutput = '';
  let finish!: (r: StopReason) => void;
  const stopped = new Promise<StopReason>((r) => (finish = r));
  const vm = await Vm.restore(
    snap,
    async () => ({
      reloadBoot: async () => {
        calls++;
        return { kernel: reloaded };
      },
    }),
    host,
    {
      output: (b) => {
        vmOutput += new TextDecoder().decode(b);
        if (vmOutput.length >= 4) vm.stop({ kind: 'quit' });
      },
      stopped: finish,
    },
  );
  vm.start();
  assert.deepEqual(await stopped, { kind: 'quit' });
  assert.match(vmOutput, /^abbb/);
  assert.equal(calls, 1);
});

test('a restored VM whose boot files cannot be reloaded stops with the reason', async () => {
  const snap = await snapshotOf(kernel('x', REBOOT));
  const r = await restoreAndRun(snap, async () => {
    throw new Error('the kernel /somewhere/Image is gone');
  });
  assert.equal(r.output, 'x');
  assert.deepEqual(r.reason, { kind: 'reboot', why: 'the kernel /somewhere/Image is gone' });
});

test('reloaded files that do not boot stop the VM with the board error, not an exception', async () => {
  const snap = await snapshotOf(kernel('x', REBOOT));
  const r = await restoreAndRun(snap, async () => ({ kernel: Uint8Array.from('\x7fELF' + 'A'.repeat(96), (c) => c.charCodeAt(0)) }));
  assert.equal(r.reason.kind, 'reboot');
  assert.match((r.reason as { why: string }).why, /kernel ELF: unknown ELF class 65/);
});

test('a restored VM without a reloader stops on reboot', async () => {
  const snap = await snapshotOf(kernel('y', REBOOT));
  const r = await restoreAndRun(snap);
  assert.deepEqual(r.reason, { kind: 'reboot', why: NO_BOOT_FILES });
});

test('a snapshot asked for mid-reboot waits for the reloaded board and saves it', async () => {
  const snap = await snapshotOf(kernel('old;', REBOOT));
  let release!: () => void;
  let asked!: () => void;
  const reloadAsked = new Promise<void>((r) => (asked = r));
  let finish!: (r: StopReason) => void;
  const stopped = new Promise<StopReason>((r) => (finish = r));
  const vm = await Vm.restore(
    snap,
    async () => ({
      reloadBoot: () => {
        asked();
        return new Promise((r) => (release = () => r({ kernel: kernel('new;', POWEROFF) })));
      },
    }),
    host,
    { output: () => {}, stopped: finish },
  );
  vm.start();
  await reloadAsked;
  const saving = vm.snapshot({ config: { note: 'unit test' } });
  release();
  const midReboot = await saving;
  vm.stop();
  await stopped;
  // The saved board is the reloaded one, not yet run: restored, it boots the new kernel.
  const r = await restoreAndRun(midReboot);
  assert.equal(r.output, 'new;');
  assert.deepEqual(r.reason, { kind: 'poweroff' });
});

test('each guest reboot is reported once, between the old boot and the new one', async () => {
  // A booted VM whose kernel reboots itself for ever: quit after the third boot's output.
  const log: string[] = [];
  let finish!: (r: StopReason) => void;
  const stopped = new Promise<StopReason>((r) => (finish = r));
  const vm = new Vm({ memoryBytes: 16 * 1024 * 1024, cpus: 1, kernel: kernel('k', REBOOT) }, host, {
    output: (b) => {
      log.push(new TextDecoder().decode(b));
      if (log.join('').split('k').length > 3) vm.stop({ kind: 'quit' });
    },
    stopped: finish,
    rebooted: () => log.push('|'),
  });
  vm.start();
  await stopped;
  assert.equal(log.join(''), 'k|k|k');
});

test('a restored VM reports its reboot once the reloaded board is built', async () => {
  const snap = await snapshotOf(kernel('first;', REBOOT));
  let out = '';
  let finish!: (r: StopReason) => void;
  const stopped = new Promise<StopReason>((r) => (finish = r));
  const vm = await Vm.restore(
    snap,
    async () => ({ reloadBoot: async () => ({ kernel: kernel('second;', POWEROFF) }) }),
    host,
    {
      output: (b) => (out += new TextDecoder().decode(b)),
      stopped: finish,
      rebooted: () => (out += '|'),
    },
  );
  vm.start();
  assert.deepEqual(await stopped, { kind: 'poweroff' });
  assert.equal(out, 'first;|second;');
});

test('the power button: pressed only while the VM runs a driver for it, and it wakes the VM', async () => {
  const vm = new Vm({ memoryBytes: 16 * 1024 * 1024, cpus: 1, kernel: kernel('', POWEROFF) }, host, {
    output: () => {},
    stopped: () => {},
  });
  assert.equal(vm.pressPowerButton(), false, 'no guest driver');
  // Play the guest's virtio-input driver on the board's power button.
  const m = boardOf(vm);
  const drv = new TestDriver(m.powerButtonMmio, m.bus.ram, m.bus.ramBase);
  drv.init([8, 8], m.bus.ramBase + 0x400000);
  for (let i = 0; i < 4; i++) drv.addChain(0, [{ addr: m.bus.ramBase + 0x410000 + 8 * i, len: 8, write: true }]);
  drv.kick(0);
  assert.equal(vm.pressPowerButton(), true);
  assert.equal(drv.takeUsed(0).length, 4, 'press, sync, release, sync');
  vm.stop();
  assert.equal(vm.pressPowerButton(), false, 'stopped');
});
