import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWorkerHost } from './worker-host.ts';

test('yields run in order, after already queued callbacks, and stop after close', async () => {
  const host = createWorkerHost();
  const seen: number[] = [];
  await new Promise<void>((done) => {
    host.yieldTo(() => seen.push(1));
    host.yieldTo(() => {
      seen.push(2);
      done();
    });
    seen.push(0);
  });
  assert.deepEqual(seen, [0, 1, 2]);
  host.close();
  host.yieldTo(() => seen.push(3));
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(seen, [0, 1, 2]);
});

test('sleep can be cancelled, and nowMs moves forward', async () => {
  const host = createWorkerHost();
  let fired = 0;
  const cancel = host.sleep(() => fired++, 5);
  cancel();
  const t0 = host.nowMs();
  await new Promise<void>((r) => host.sleep(() => r(), 10));
  assert.equal(fired, 0);
  assert.ok(host.nowMs() > t0);
  host.close();
});
