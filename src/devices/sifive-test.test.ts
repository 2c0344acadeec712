import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SifiveTest, type FinisherResult } from './sifive-test.ts';

test('0x5555 passes, 0x3333 | code << 16 fails with code, 0x7777 resets', () => {
  const seen: FinisherResult[] = [];
  const d = new SifiveTest((r) => seen.push(r));
  d.write(0, 4, 0x5555);
  assert.deepEqual(d.result, { kind: 'pass' });
  d.clear();
  d.write(0, 4, (42 << 16) | 0x3333);
  assert.deepEqual(d.result, { kind: 'fail', code: 42 });
  d.clear();
  d.write(0, 4, 0xffff_3333 >>> 0);
  assert.deepEqual(d.result, { kind: 'fail', code: 0xffff });
  d.clear();
  d.write(0, 4, 0x7777);
  assert.deepEqual(d.result, { kind: 'reset' });
  assert.equal(seen.length, 4);
});

test('other values, other offsets and byte writes are ignored; reads are 0; first verdict stands', () => {
  const d = new SifiveTest();
  d.write(0, 4, 0x1234);
  d.write(4, 4, 0x5555);
  d.write(0, 1, 0x55);
  assert.equal(d.result, null);
  assert.equal(d.read(), 0);
  d.write(0, 2, 0x3333);
  assert.deepEqual(d.result, { kind: 'fail', code: 0 });
  d.write(0, 4, 0x5555);
  assert.deepEqual(d.result, { kind: 'fail', code: 0 });
});
