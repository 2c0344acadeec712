import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../storage/memory-store.ts';
import { StorageError } from '../../storage/types.ts';
import { OverlayStore } from './overlay-store.ts';

function pattern(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
}

async function readAll(s: OverlayStore | MemoryStore, off: number, len: number): Promise<Uint8Array> {
  const b = new Uint8Array(len);
  await s.read(off, b);
  return b;
}

test('reads the base until written, and never writes to it', async () => {
  const base = new MemoryStore('base', pattern(10_000), true);
  const o = await OverlayStore.open(base);
  assert.deepEqual(await readAll(o, 100, 50), pattern(10_000).subarray(100, 150));
  await o.write(4090, new Uint8Array(20).fill(0xee)); // straddles two blocks
  const got = await readAll(o, 4000, 200);
  const want = pattern(10_000).subarray(4000, 4200).slice();
  want.fill(0xee, 90, 110);
  assert.deepEqual(got, want);
  assert.deepEqual(await readAll(base, 0, 10_000), pattern(10_000));
  assert.equal(o.overlayBytes, 8192);
});

test('matches a writable memory store under a mixed sequence of writes, growth and truncation', async () => {
  const init = pattern(9000);
  const o = await OverlayStore.open(new MemoryStore('b', init, true));
  const ref = new MemoryStore('ref', init);
  let seed = 12345;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  for (let i = 0; i < 200; i++) {
    const op = rnd(10);
    if (op < 6) {
      const data = Uint8Array.from({ length: rnd(9000) + 1 }, () => rnd(256));
      const off = rnd(20_000);
      await o.write(off, data);
      await ref.write(off, data);
    } else if (op < 8) {
      const size = rnd(20_000);
      await o.truncate(size);
      await ref.truncate(size);
    } else {
      const off = rnd(22_000);
      const len = rnd(5000);
      assert.deepEqual(await readAll(o, off, len), await readAll(ref, off, len), `step ${i}`);
    }
    assert.equal(await o.size(), await ref.size());
  }
});

test('refuses to grow past its cap and rejects negative offsets', async () => {
  const o = await OverlayStore.open(new MemoryStore('b', pattern(100), true), 8192);
  await assert.rejects(o.write(8190, new Uint8Array(4)), (e) => e instanceof StorageError && e.code === 'too-large');
  await assert.rejects(o.read(-1, new Uint8Array(1)), (e) => e instanceof StorageError && e.code === 'out-of-range');
});
