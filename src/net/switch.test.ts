import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EthernetSwitch } from './switch.ts';
import { ManualTimers } from './types.ts';

function frameFrom(src: number, dst: number | 'bcast'): Uint8Array {
  const f = new Uint8Array(60);
  if (dst === 'bcast') f.fill(0xff, 0, 6);
  else f.set([0x52, 0x54, 0, 0, 0, dst], 0);
  f.set([0x52, 0x54, 0, 0, 0, src], 6);
  f[12] = 0x08;
  return f;
}

function attach(sw: EthernetSwitch, n: number) {
  return Array.from({ length: n }, () => {
    const p = sw.port();
    const got: number[] = [];
    p.connect((f) => got.push(f[5]!));
    return { p, got };
  });
}

test('floods unknown and broadcast destinations, then forwards learned MACs to one port only', () => {
  const t = new ManualTimers();
  const sw = new EthernetSwitch(t);
  const [a, b, c] = attach(sw, 3);
  a!.p.transmit(frameFrom(1, 2)); // 2 unknown: flood
  assert.deepEqual([a!.got, b!.got, c!.got], [[], [2], [2]]);
  b!.p.transmit(frameFrom(2, 1)); // 1 was learned on a
  assert.deepEqual([a!.got, b!.got, c!.got], [[1], [2], [2]]);
  a!.p.transmit(frameFrom(1, 2)); // 2 was learned on b
  assert.deepEqual([a!.got, b!.got, c!.got], [[1], [2, 2], [2]]);
  c!.p.transmit(frameFrom(3, 'bcast'));
  assert.deepEqual([a!.got.length, b!.got.length, c!.got.length], [2, 3, 1]);
});

test('entries age out and the table is bounded; detached ports are forgotten; runts are dropped', () => {
  const t = new ManualTimers();
  const sw = new EthernetSwitch(t, { agingMs: 1000, maxMacs: 8 });
  const [a, b, c] = attach(sw, 3);
  b!.p.transmit(frameFrom(2, 'bcast'));
  assert.equal(sw.lookup(frameFrom(0, 2)), b!.p);
  t.advance(2000);
  assert.equal(sw.lookup(frameFrom(0, 2)), undefined);
  a!.p.transmit(frameFrom(1, 2));
  assert.equal(c!.got.length, 2, 'aged entry: flooded again');
  for (let i = 0; i < 200; i++) a!.p.transmit(frameFrom(i, 'bcast'));
  assert.ok(sw.macCount <= 8);
  b!.p.close();
  assert.equal(sw.portCount, 2);
  a!.p.transmit(new Uint8Array(5));
  assert.equal(sw.dropped, 1);
});
