import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_BOUNDS_US, addLatency, newLatencyHistogram, observeLatency } from './latency.ts';

test('latency histogram: each request lands in the first bucket whose bound holds it; bounds are inclusive', () => {
  const h = newLatencyHistogram();
  assert.equal(h.counts.length, LATENCY_BOUNDS_US.length + 1);
  observeLatency(h, 10);
  observeLatency(h, 50);
  observeLatency(h, 51);
  observeLatency(h, 3_000_000);
  observeLatency(h, -5);
  assert.deepEqual(h.counts.slice(0, 3), [3, 1, 0]);
  assert.equal(h.counts.at(-1), 1);
  assert.equal(h.sumUs, 10 + 50 + 51 + 3_000_000);
});

test('latency histograms add bucket by bucket (a reboot carries the old board counts)', () => {
  const a = newLatencyHistogram();
  const b = newLatencyHistogram();
  observeLatency(a, 700);
  observeLatency(b, 700);
  observeLatency(b, 20);
  const s = addLatency(a, b);
  assert.equal(s.counts[0], 1);
  assert.equal(s.counts[4], 2);
  assert.equal(s.sumUs, 1420);
  assert.equal(a.counts[4], 1, 'the operands are unchanged');
});
