import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../memory-store.ts';
import { rawFormat } from '../raw.ts';
import { HoleMappedBackend, normaliseRanges } from './holes.ts';

test('normaliseRanges sorts, merges and clips; refuses nonsense', () => {
  assert.deepEqual(
    normaliseRanges(
      [
        { offset: 100, length: 50 },
        { offset: 0, length: 10 },
        { offset: 140, length: 100 },
        { offset: 5000, length: 1 },
      ],
      200,
    ),
    [
      { offset: 0, length: 10 },
      { offset: 100, length: 100 },
    ],
  );
  assert.equal(normaliseRanges([{ offset: -1, length: 5 }], 100), undefined);
  assert.equal(normaliseRanges([{ offset: 1.5, length: 5 }], 100), undefined);
});

test('HoleMappedBackend reports holes as zero runs and data ranges as data', async () => {
  const store = new MemoryStore('r', new Uint8Array(1000).fill(7));
  const inner = await rawFormat.open(store, { readOnly: true });
  const b = new HoleMappedBackend(inner, [
    { offset: 100, length: 100 },
    { offset: 500, length: 500 },
  ]);
  assert.deepEqual(await b.blockStatus(0, 1000), {
    offset: 0,
    length: 100,
    data: false,
    zero: true,
    depth: 0,
    hostOffset: 0,
  });
  assert.deepEqual(await b.blockStatus(150, 1000 - 150), {
    offset: 150,
    length: 50,
    data: true,
    zero: false,
    depth: 0,
    hostOffset: 150,
  });
  assert.equal((await b.blockStatus(200, 800)).length, 300);
  assert.equal((await b.blockStatus(900, 50)).length, 50);
  const buf = new Uint8Array(10);
  await b.read(0, buf); // reads pass through unchanged
  assert.deepEqual(buf, new Uint8Array(10).fill(7));
  await assert.rejects(b.write(), /read-only/);
  await assert.rejects(b.blockStatus(990, 20), /outside/);
});
