import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../memory-store.ts';
import { openQcow2, qcow2Format } from './format.ts';
import { viewSnapshot } from './snapshot-view.ts';

test('a snapshot view reads the disk as it was at the snapshot, while the writer goes on', async () => {
  const store = new MemoryStore('q');
  await qcow2Format.create!(store, 4 << 20, { options: {} });
  const w = await openQcow2(store, {});
  await w.write(0, new Uint8Array(70000).fill(0x41));
  await w.createSnapshot('b1');
  await w.write(0, new Uint8Array(100).fill(0x42));
  await w.write(3 << 20, new Uint8Array(10).fill(0x43));
  await w.flushAll();

  const r = await openQcow2(store, { readOnly: true });
  await viewSnapshot(r, 'b1');
  const head = new Uint8Array(70001);
  await r.read(0, head);
  assert.ok(head.subarray(0, 70000).every((b) => b === 0x41));
  assert.equal(head[70000], 0);
  const far = new Uint8Array(10);
  await r.read(3 << 20, far);
  assert.ok(far.every((b) => b === 0));
  // The live image still reads its own data.
  const live = new Uint8Array(1);
  await w.read(0, live);
  assert.equal(live[0], 0x42);
  await assert.rejects(viewSnapshot(r, 'nope'), /no snapshot 'nope'/);
  await assert.rejects(viewSnapshot(w, 'b1'), /read-only/);
});
