import { test } from 'node:test';
import assert from 'node:assert/strict';
import { processCpuTicks, processMemory, ticksPerSecond } from './proc.ts';

test('processMemory finds a touched "guest RAM" buffer and counts only its resident part', () => {
  const ramKiB = 64 * 1024;
  const ram = new Uint8Array(ramKiB * 1024);
  for (let i = 0; i < ram.length / 2; i += 4096) ram[i] = 1; // touch the first half
  const m = processMemory(process.pid, ramKiB);
  assert.ok(m.guestRamRssKiB >= 30 * 1024 && m.guestRamRssKiB <= 34 * 1024, `resident ${m.guestRamRssKiB} KiB`);
  assert.ok(m.pssKiB > m.guestRamRssKiB);
  ram[0] = 2; // keep the buffer alive until after the measurement
});

test('processCpuTicks grows while this process computes', () => {
  const a = processCpuTicks(process.pid);
  let x = 0;
  const until = Date.now() + 300;
  while (Date.now() < until) x += Math.sqrt(x + 1);
  assert.ok(x > 0);
  assert.ok(processCpuTicks(process.pid) > a);
  assert.ok(ticksPerSecond() >= 100);
});
