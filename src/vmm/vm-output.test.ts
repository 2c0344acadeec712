/**
 * Guest console output reaches the host in bounded chunks, one per turn, however much the guest
 * asks to print at once, and stops while the host's console is behind (the device then stops
 * consuming: the guest waits). Turns are run one at a time by a hand-driven host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm, type StopReason, type VmHost } from './vm.ts';
import { TestDriver } from '../virtio/testing.ts';
import { IDLE, dbcnKernel, boardOf } from './testing.ts';

const MiB = 1024 * 1024;
const RAM_BASE = 0x8000_0000;
/** Generous: the board's per-turn budget is smaller; without one, a turn hands over everything at once. */
const TURN_BOUND = 256 * 1024;

/** A host whose turns the test runs one at a time; its clock moves a little on every reading. */
function manualHost() {
  let t = 0;
  const ready: (() => void)[] = [];
  let sleeper: (() => void) | undefined;
  const host: VmHost = {
    nowMs: () => (t += 0.25),
    yieldTo: (fn) => ready.push(fn),
    sleep: (fn) => {
      sleeper = fn;
      return () => {
        if (sleeper === fn) sleeper = undefined;
      };
    },
  };
  /** Runs the next scheduled turn (a yield, else the pending sleep's wake-up); false when none is. */
  const step = (): boolean => {
    let fn = ready.shift();
    if (!fn && sleeper) {
      fn = sleeper;
      sleeper = undefined;
    }
    if (!fn) return false;
    fn();
    return true;
  };
  return { host, step };
}

/** Checks the output against `reference` repeated for ever, and records the bytes per turn. */
class OutputCheck {
  total = 0;
  turnBytes = 0;
  largestTurn = 0;
  constructor(private readonly reference: () => Uint8Array) {}
  take(bytes: Uint8Array): void {
    const ref = this.reference();
    let at = 0;
    while (at < bytes.length) {
      const from = (this.total + at) % ref.length;
      const n = Math.min(bytes.length - at, ref.length - from);
      if (Buffer.compare(bytes.subarray(at, at + n), ref.subarray(from, from + n)) !== 0)
        assert.fail(`output bytes ${this.total + at}..${this.total + at + n} differ from what the guest printed`);
      at += n;
    }
    this.total += bytes.length;
    this.turnBytes += bytes.length;
  }
  endTurn(): void {
    this.largestTurn = Math.max(this.largestTurn, this.turnBytes);
    this.turnBytes = 0;
  }
}

const pattern = (i: number) => (i * 31 + (i >>> 13)) & 0xff;

test('one virtio-console chain of five descriptors over the same 32 MiB arrives intact in bounded turns', () => {
  const REGION = 32 * MiB;
  const REGION_OFF = 16 * MiB;
  const { host, step } = manualHost();
  let stopped: StopReason | undefined;
  const vm = new Vm({ memoryBytes: 64 * MiB, cpus: 1, kernel: IDLE }, host, {
    output: (b) => check.take(b),
    stopped: (r) => (stopped = r),
  });
  const ram = boardOf(vm).bus.ram;
  const check = new OutputCheck(() => ram.subarray(REGION_OFF, REGION_OFF + REGION));
  vm.start();
  for (let i = 0; i < 3; i++) step();
  for (let i = 0; i < REGION; i++) ram[REGION_OFF + i] = pattern(i);
  const drv = new TestDriver(boardOf(vm).virtio.at(-1)!, ram, RAM_BASE);
  drv.init([8, 8], RAM_BASE + 0x10000);
  const d = { addr: RAM_BASE + REGION_OFF, len: REGION };
  drv.addChain(1, [d, d, d, d, d]);
  drv.kick(1);
  let turns = 0;
  let sawInProgress = false;
  while (check.total < 5 * REGION && turns < 100_000) {
    assert.ok(step(), 'a turn is scheduled while output is pending');
    check.endTurn();
    turns++;
    if (check.total === 2 * REGION) sawInProgress = drv.takeUsed(1).length === 0;
  }
  check.endTurn();
  assert.deepEqual(boardOf(vm).deviceErrors, []);
  assert.equal(stopped, undefined);
  assert.equal(check.total, 5 * REGION, 'every byte of the chain was printed once');
  assert.ok(check.largestTurn <= TURN_BOUND, `a turn handed over ${check.largestTurn} bytes`);
  assert.ok(turns >= (5 * REGION) / TURN_BOUND, `${turns} turns`);
  assert.ok(sawInProgress, 'the chain is not returned before it has been printed');
  step();
  assert.deepEqual(drv.takeUsed(1), [{ id: 0, len: 0 }], 'the chain is returned once printed');
  vm.stop();
});

test('SBI DBCN writes of 1 MiB get short counts; the retrying guest prints everything in bounded turns', () => {
  const CALLS = 16;
  const { host, step } = manualHost();
  const check = new OutputCheck(() => boardOf(vm).bus.ram.subarray(0, MiB));
  let stopped: StopReason | undefined;
  const vm = new Vm({ memoryBytes: 64 * MiB, cpus: 1, kernel: dbcnKernel(CALLS) }, host, {
    output: (b) => check.take(b),
    stopped: (r) => (stopped = r),
  });
  const ram = boardOf(vm).bus.ram;
  for (let i = 0; i < MiB; i++) ram[i] = pattern(i);
  vm.start();
  let turns = 0;
  while (!stopped && turns < 100_000 && step()) {
    check.endTurn();
    turns++;
  }
  assert.deepEqual(stopped, { kind: 'poweroff' }, 'the guest saw no error and finished');
  assert.equal(check.total, CALLS * MiB);
  assert.ok(check.largestTurn <= TURN_BOUND, `a turn handed over ${check.largestTurn} bytes`);
});

test('while the host console is behind the console device consumes nothing; after it drains the rest follows', () => {
  const CHAIN = 48 * 1024;
  const CHAINS = 8;
  const OFF = 8 * MiB;
  const check = new OutputCheck(() => boardOf(vm).bus.ram.subarray(OFF, OFF + CHAIN * CHAINS));
  const { host, step } = manualHost();
  let behind = false;
  const vm: Vm = new Vm({ memoryBytes: 64 * MiB, cpus: 1, kernel: IDLE }, host, {
    output: (b) => {
      check.take(b);
      // The host's console takes the first chunk, then reports it is behind.
      if (!behind) {
        behind = true;
        vm.holdOutput();
      }
    },
    stopped: () => {},
  });
  vm.start();
  for (let i = 0; i < 3; i++) step();
  const ram = boardOf(vm).bus.ram;
  for (let i = 0; i < CHAIN * CHAINS; i++) ram[OFF + i] = pattern(i);
  const drv = new TestDriver(boardOf(vm).virtio.at(-1)!, ram, RAM_BASE);
  drv.init([16, 16], RAM_BASE + 0x10000);
  for (let c = 0; c < CHAINS; c++) drv.addChain(1, [{ addr: RAM_BASE + OFF + c * CHAIN, len: CHAIN }]);
  drv.kick(1);
  for (let i = 0; i < 20; i++) step();
  assert.ok(behind);
  const printed = check.total;
  assert.ok(printed > 0 && printed < CHAIN * CHAINS, `${printed} bytes printed before the host fell behind`);
  const used = drv.takeUsed(1);
  assert.ok(used.length < CHAINS - 1, `${used.length} chains consumed while the host was behind`);
  for (let i = 0; i < 20; i++) step();
  assert.equal(check.total, printed, 'nothing more is printed while the host is behind');
  assert.deepEqual(drv.takeUsed(1), [], 'no chain is consumed while the host is behind');

  vm.releaseOutput();
  for (let i = 0; i < 100 && check.total < CHAIN * CHAINS; i++) {
    step();
    check.endTurn();
  }
  assert.equal(check.total, CHAIN * CHAINS, 'the rest arrives intact after the drain');
  step();
  assert.equal(used.length + drv.takeUsed(1).length, CHAINS, 'every chain is returned');
  vm.stop();
});

test('a snapshot taken mid-chain resumes printing where it stopped', async () => {
  const LEN = MiB;
  const OFF = 8 * MiB;
  const first = manualHost();
  let printed = 0;
  const vm = new Vm({ memoryBytes: 64 * MiB, cpus: 1, kernel: IDLE }, first.host, {
    output: (b) => (printed += b.length),
    stopped: () => {},
  });
  vm.start();
  for (let i = 0; i < 3; i++) first.step();
  const ram = boardOf(vm).bus.ram;
  for (let i = 0; i < LEN; i++) ram[OFF + i] = pattern(i);
  const drv = new TestDriver(boardOf(vm).virtio.at(-1)!, ram, RAM_BASE);
  drv.init([8, 8], RAM_BASE + 0x10000);
  drv.addChain(1, [{ addr: RAM_BASE + OFF, len: LEN }]);
  drv.kick(1);
  for (let i = 0; i < 3; i++) first.step();
  assert.ok(printed > 0 && printed < LEN);
  const snap = await vm.snapshot({ config: {} });
  vm.stop();

  const second = manualHost();
  const check = new OutputCheck(() => ram.subarray(OFF + printed, OFF + LEN));
  const restored = await Vm.restore(snap, async () => ({}), second.host, {
    output: (b) => check.take(b),
    stopped: () => {},
  });
  restored.start();
  for (let i = 0; i < 100 && check.total < LEN - printed; i++) second.step();
  assert.equal(check.total, LEN - printed, 'the rest of the chain, once');
  restored.stop();
});

test('console input the guest has not taken yet is bounded', () => {
  const { host } = manualHost();
  const vm = new Vm({ memoryBytes: 16 * MiB, cpus: 1, kernel: IDLE }, host, { output: () => {}, stopped: () => {} });
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  let accepted = 0;
  for (let i = 0; i < 256; i++) accepted += vm.input(chunk) as unknown as number;
  assert.ok(vm.pendingInputBytes <= 4 * MiB, `${vm.pendingInputBytes} bytes of input held`);
  // input() reports what it took: what waits, plus what the UART's receive FIFO (at most 16) took.
  assert.ok(accepted >= vm.pendingInputBytes && accepted <= vm.pendingInputBytes + 16, `${accepted} accepted`);
  vm.stop();
});
