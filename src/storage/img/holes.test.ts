import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../memory-store.ts';
import { rawFormat } from '../raw.ts';
import type { BlockBackend } from '../types.ts';
import { FileHolesBackend, HoleMappedBackend, normaliseRanges } from './holes.ts';

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

test('HoleMappedBackend waits for a map still on its way, and without one reports what the image says', async () => {
  const store = new MemoryStore('r', new Uint8Array(1000).fill(7));
  const inner = await rawFormat.open(store, { readOnly: true });
  let give!: (r: { offset: number; length: number }[] | undefined) => void;
  const later = new HoleMappedBackend(inner, new Promise((r) => (give = r)));
  const status = later.blockStatus(0, 1000);
  give([{ offset: 600, length: 400 }]);
  assert.deepEqual(await status, { offset: 0, length: 600, data: false, zero: true, depth: 0, hostOffset: 0 });
  assert.equal((await later.blockStatus(600, 400)).data, true);
  for (const none of [Promise.resolve(undefined), Promise.reject(new Error('no filefrag'))]) {
    const b = new HoleMappedBackend(inner, none);
    assert.deepEqual(await b.blockStatus(0, 1000), await inner.blockStatus(0, 1000));
  }
});

test('FileHolesBackend turns own data runs whose file bytes are a hole into zero runs', async () => {
  // A fake image: virtual [0, 1000) is one allocated run stored at host offset 5000.
  const status = (offset: number, length: number) => ({
    offset,
    length: Math.min(length, 1000 - offset),
    data: true,
    zero: false,
    depth: 0,
    hostOffset: 5000 + offset,
  });
  const inner = {
    format: 'vpc',
    readOnly: true,
    size: 1000,
    blockStatus: async (o: number, l: number) => status(o, l),
  } as unknown as BlockBackend;
  // The file holds data at [5000, 5100) and [5600, 5700), and ends at 5800.
  const b = new FileHolesBackend(
    inner,
    Promise.resolve([
      { offset: 5000, length: 100 },
      { offset: 5600, length: 100 },
    ]),
    5800,
  );
  assert.deepEqual(await b.blockStatus(0, 1000), { ...status(0, 1000), length: 100 });
  assert.deepEqual(await b.blockStatus(100, 900), { offset: 100, length: 500, data: false, zero: true, depth: 0 });
  assert.deepEqual(await b.blockStatus(650, 350), { ...status(650, 350), length: 50 });
  assert.deepEqual(await b.blockStatus(700, 300), { offset: 700, length: 100, data: false, zero: true, depth: 0 });
  assert.deepEqual(await b.blockStatus(800, 200), { offset: 800, length: 200, data: false, zero: true, depth: 0 });
  // No map: what the image says stands.
  const blind = new FileHolesBackend(inner, Promise.resolve(undefined), 5800);
  assert.deepEqual(await blind.blockStatus(100, 900), status(100, 900));
});
