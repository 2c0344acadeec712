/**
 * The virtio fuzzer in CI (see fuzz/harness.ts for what it drives and asserts). A fixed seed
 * keeps CI deterministic; FUZZ_SEED, FUZZ_ITERS (episodes) and FUZZ_KEEP_GOING=1 (report every
 * kind of failure, not just the first) are for longer local runs:
 *
 *   FUZZ_SEED=123 FUZZ_ITERS=5000 node --import tsx --test tests/virtio-fuzz/fuzz.test.ts
 *
 * Event-loop delay is measured and printed, never asserted (no timing assertions): the
 * per-step work bounds in LIMITS are the deterministic stand-in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { VmHost } from '../../src/vmm/vm.ts';
import { UserNet } from '../../src/net/user/user-net.ts';
import { FakeHost } from '../../src/net/testing.ts';
import { Bus } from '../../src/memory/bus.ts';
import { VirtioMmio, R } from '../../src/virtio/mmio.ts';
import { VirtioConsole } from '../../src/virtio/console.ts';
import { OUTPUT_TURN_BUDGET } from '../../src/machine/console-output.ts';
import { GuestDevice } from './guest.ts';
import { RESERVED_LOW } from './chains.ts';
import { formatFailure, VirtioFuzzer } from './harness.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20240611);
const EPISODES = Number(process.env.FUZZ_ITERS ?? 600);
const KEEP_GOING = process.env.FUZZ_KEEP_GOING === '1';
const MiB = 1024 * 1024;

const vmHost: VmHost = {
  nowMs: () => performance.now(),
  yieldTo: (fn) => void setImmediate(fn),
  sleep: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

const macrotask = (): Promise<void> => new Promise((res) => setImmediate(res));

test(`virtio fuzz: seed ${SEED}, ${EPISODES} episodes over every device: no host exception, bounded work and memory, sane after reset`, async () => {
  const nat = new FakeHost();
  const fuzzer = new VirtioFuzzer(
    { seed: SEED, episodes: EPISODES, keepGoing: KEEP_GOING },
    {
      vmHost,
      macrotask,
      memory: () => process.memoryUsage(),
      nat: {
        backend: new UserNet(nat, { maxTcpConnections: 32, maxUdpMappings: 16 }),
        advance: (ms) => nat.timers.advance(ms),
      },
      log: (line) => console.log(line),
    },
  );
  const onRejection = (e: unknown) => fuzzer.hostError('unhandledRejection', e);
  const onException = (e: unknown) => fuzzer.hostError('uncaughtException', e);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const t0 = performance.now();
  let failures;
  try {
    failures = await fuzzer.run();
  } finally {
    delay.disable();
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  }
  const s = fuzzer.stats;
  console.log(
    `virtio fuzz seed=${SEED}: ${s.episodes} episodes, ${s.steps} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
      `event-loop delay max ${(delay.max / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms (printed, not asserted)`,
  );
  console.log(
    `  per step max: console ${s.maxConsoleBytesPerStep} B, net ${s.maxNetFramesPerStep} frames / ${s.maxNetBytesPerStep} B; ` +
      `max blk in flight ${s.maxBlkInflight}, net held ${s.maxNetHeld}, backlog ${s.maxNetBacklog}, disk ops pending ${s.maxDiskPending}; ` +
      `guest-caused device errors ${s.deviceErrors}; heap +${(s.heapGrowth / MiB).toFixed(1)} MiB, rss +${(s.rssGrowth / MiB).toFixed(1)} MiB`,
  );
  console.log(`  slowest step ${s.slowestStepMs.toFixed(1)} ms (printed, not asserted): ${s.slowestStep}`);
  const text = failures.map(formatFailure).join('\n\n');
  if (text) console.log(text);
  assert.deepEqual(
    failures.map((f) => f.check),
    [],
    `the virtio fuzzer found problems:\n${text}`,
  );
});

test('virtio fuzz, targeted: a console tx chain of 5 descriptors aliasing all of 128 MiB RAM is paced: no turn outputs more than its budget', () => {
  const ramBase = 0x80000000;
  const bus = new Bus(ramBase, 128 * MiB);
  // The device is paced as on the board: a sink with a per-turn budget (ConsoleOutput's 64 KiB).
  let out = 0;
  let calls = 0;
  let turnUsed = 0;
  let maxTurn = 0;
  const budget = OUTPUT_TURN_BUDGET;
  const dev = new VirtioConsole({
    room: () => budget - turnUsed,
    write: (bytes) => {
      out += bytes.length;
      turnUsed += bytes.length;
      maxTurn = Math.max(maxTurn, turnUsed);
      calls++;
    },
  });
  const irq = { set: () => {} };
  const mmio = new VirtioMmio(bus, irq, dev);
  bus.addDevice('console', 0x10001000, 0x1000, mmio);
  const port = {
    read: (o: number, s: 1 | 2 | 4) => bus.read(0x10001000 + o, s),
    write: (o: number, s: 1 | 2 | 4, v: number) => void bus.write(0x10001000 + o, s, v),
  };
  const g = new GuestDevice('console', port, bus.ram, ramBase, ramBase + 0x100000, ramBase + 0x200000, 0x100000, 2);
  assert.ok(g.init(g.deviceFeatures(), [16, 16]));
  const len = 128 * MiB - RESERVED_LOW;
  g.addChain(
    1,
    Array.from({ length: 5 }, () => ({ addr: ramBase + RESERVED_LOW, len })),
  );
  g.kick(1);
  // Turns go by: each starts with a fresh budget and resumes the device, as the board does.
  let turns = 0;
  while (out < 5 * len && turns < 20_000) {
    turnUsed = 0;
    dev.resumeOutput();
    turns++;
  }
  console.log(`aliasing chain: ${out} bytes in ${calls} output calls over ${turns} turns; status 0x${g.rd(R.Status).toString(16)}`);
  assert.ok(maxTurn <= budget, `one turn output ${maxTurn} bytes, over the ${budget}-byte budget`);
  assert.ok(out <= 5 * len, 'never more than the chain holds');
  // The device still works for an ordinary write afterwards (after a reset if it demanded one).
  assert.ok(g.init(g.deviceFeatures(), [16, 16]));
  g.put(ramBase + 0x200000, new TextEncoder().encode('ok'));
  out = 0;
  turnUsed = 0;
  g.addChain(1, [{ addr: ramBase + 0x200000, len: 2 }]);
  g.kick(1);
  assert.equal(out, 2);
});
