import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SnapshotError, decodeSnapshot, encodeSnapshot } from './snapshot-file.ts';

test('state and RAM survive a round trip; zero pages cost nothing', () => {
  const ram = new Uint8Array(1024 * 1024);
  ram[5] = 1;
  ram[500000] = 0xfe;
  for (let i = 0; i < 4096; i++) ram[200 * 4096 + i] = i & 0xff;
  const bytes = encodeSnapshot({ harts: [{ pc: 0x80200000 }], note: 'x' }, ram);
  assert.ok(bytes.length < 4096, `snapshot of 3 used pages is ${bytes.length} bytes`);
  const snap = decodeSnapshot(bytes);
  assert.deepEqual(snap.state, { harts: [{ pc: 0x80200000 }], note: 'x' });
  const back = new Uint8Array(ram.length); // a new board's RAM: zeroed
  snap.restoreRam(back);
  assert.deepEqual(back, ram);
});

test('corrupt, truncated and foreign snapshots are refused with a reason', () => {
  const good = encodeSnapshot({ a: 1 }, new Uint8Array(8192).fill(3));
  assert.throws(() => decodeSnapshot(new Uint8Array(10)), /bad magic/);
  const wrongVersion = good.slice();
  wrongVersion[8] = 99;
  assert.throws(() => decodeSnapshot(wrongVersion), /version 99 is not supported/);
  assert.throws(() => decodeSnapshot(good.subarray(0, good.length - 5)), /truncated/);
  const badRam = good.slice();
  badRam[badRam.length - 3]! ^= 0xff;
  badRam[badRam.length - 8]! ^= 0xff;
  assert.throws(() => decodeSnapshot(badRam).restoreRam(new Uint8Array(8192)), SnapshotError);
  assert.throws(() => decodeSnapshot(good).restoreRam(new Uint8Array(4096)), /8192 bytes/);
});
