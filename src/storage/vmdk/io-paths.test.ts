/** How a monolithicSparse VMDK uses its store: runs of grains in one write and one read. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from '../memory-store.ts';
import type { ByteStore } from '../types.ts';
import { vmdkFormat } from './index.ts';

const GRAIN = 65536;

/** Logs the size of every read and write. */
function logging(inner: MemoryStore): ByteStore & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    name: inner.name,
    readOnly: inner.readOnly,
    size: () => inner.size(),
    read: (o, b) => (log.push(`read ${b.length}`), inner.read(o, b)),
    write: (o, d) => (log.push(`write ${d.length}`), inner.write(o, d)),
    truncate: (n) => inner.truncate(n),
    flush: () => inner.flush(),
    close: () => inner.close(),
  };
}

test('whole grains of one request are one write, and contiguous grains one read', async () => {
  const mem = new MemoryStore('d.vmdk');
  await vmdkFormat.create!(mem, 256 * GRAIN, { options: {} });
  const store = logging(mem);
  const img = await vmdkFormat.open(store, {});
  assert.equal((img as { clusterSize?: number }).clusterSize, GRAIN);
  const data = new Uint8Array(12 * GRAIN).map((_, i) => (i * 31 + 5) & 0xff);
  // Unaligned: a partial grain at each end, ten whole grains between.
  await img.write(GRAIN / 2, data.subarray(0, 11 * GRAIN));
  store.log.length = 0;
  await img.write(20 * GRAIN, data);
  assert.deepEqual(store.log, [`write ${data.length}`], 'a new run of grains');
  store.log.length = 0;
  await img.write(20 * GRAIN, data.subarray(0, 5 * GRAIN));
  assert.deepEqual(store.log, [`write ${5 * GRAIN}`], 'rewritten in place');
  store.log.length = 0;
  const back = new Uint8Array(12 * GRAIN);
  await img.read(20 * GRAIN, back);
  assert.deepEqual(store.log, [`read ${back.length}`]);
  assert.deepEqual(back, data);
  // Unallocated grains around data read as zeros; the whole request is still correct.
  const wide = new Uint8Array(40 * GRAIN);
  await img.read(0, wide);
  const want = new Uint8Array(40 * GRAIN);
  want.set(data.subarray(0, 11 * GRAIN), GRAIN / 2);
  want.set(data, 20 * GRAIN);
  assert.deepEqual(wide, want);
  await img.close();
  // And after a reopen (grain tables from the file).
  const again = await vmdkFormat.open(mem, { readOnly: true });
  const after = new Uint8Array(40 * GRAIN);
  await again.read(0, after);
  assert.deepEqual(after, want);
  await again.close();
});
