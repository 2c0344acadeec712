/**
 * How the qcow2 backend uses its store: whole runs of clusters in one write and one read, and
 * data reads outside the image lock that changes wait for.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from '../memory-store.ts';
import type { ByteStore } from '../types.ts';
import { qcow2Format } from './format.ts';

const CS = 65536;

/** A store that logs requests and can hold reads of data-sized requests until released. */
class LoggingStore implements ByteStore {
  readonly log: string[] = [];
  gate: Promise<void> | undefined;
  constructor(private readonly inner: MemoryStore) {}
  get name() {
    return this.inner.name;
  }
  get readOnly() {
    return this.inner.readOnly;
  }
  size() {
    return this.inner.size();
  }
  async read(offset: number, buf: Uint8Array) {
    // Metadata (one cluster: L2 tables, refcount blocks) is never held.
    if (buf.length > CS && this.gate) await this.gate;
    this.log.push(`read ${buf.length}`);
    return this.inner.read(offset, buf);
  }
  write(offset: number, data: Uint8Array) {
    this.log.push(`write ${data.length}`);
    return this.inner.write(offset, data);
  }
  truncate(n: number) {
    return this.inner.truncate(n);
  }
  flush() {
    return this.inner.flush();
  }
  close() {
    return this.inner.close();
  }
}

async function fresh(size: number): Promise<LoggingStore> {
  const mem = new MemoryStore('t.qcow2');
  await qcow2Format.create!(mem, size, { options: {} });
  return new LoggingStore(mem);
}

test('a run of new clusters, unaligned at both ends, is one data write and reads back as one read', async () => {
  const store = await fresh(64 * CS);
  const img = await qcow2Format.open(store, {});
  const data = new Uint8Array(10 * CS).map((_, i) => (i * 7 + 1) & 0xff);
  store.log.length = 0;
  await img.write(4096, data);
  // The uncovered head and tail of the first and last cluster lie past the end of the file.
  assert.deepEqual(
    store.log.filter((l) => l.startsWith('write')),
    [`write ${data.length}`],
  );
  store.log.length = 0;
  const back = new Uint8Array(data.length + 8192);
  await img.read(0, back);
  assert.deepEqual(store.log, [`read ${back.length}`]);
  assert.deepEqual(back.subarray(4096, 4096 + data.length), data);
  assert.ok(back.subarray(0, 4096).every((b) => b === 0) && back.subarray(4096 + data.length).every((b) => b === 0));
  // Rewriting in place, unaligned, is one write too.
  store.log.length = 0;
  await img.write(5000, data.subarray(0, 3 * CS));
  assert.deepEqual(store.log, [`write ${3 * CS}`]);
  await img.close();
});

test('new clusters reused from freed space get their uncovered bytes zeroed', async () => {
  const store = await fresh(64 * CS);
  const img = await qcow2Format.open(store, {});
  await img.write(0, new Uint8Array(4 * CS).fill(0xee));
  await img.discard(0, 4 * CS);
  await img.flush(); // the freed clusters become allocatable again
  await img.write(CS + 100, new Uint8Array(CS).fill(1));
  const back = new Uint8Array(4 * CS);
  await img.read(0, back);
  const want = new Uint8Array(4 * CS);
  want.fill(1, CS + 100, 2 * CS + 100);
  assert.deepEqual(back, want);
  await img.close();
});

test('a change waits for data reads still running outside the lock', async () => {
  const store = await fresh(64 * CS);
  const img = await qcow2Format.open(store, {});
  const old = new Uint8Array(4 * CS).fill(9);
  await img.write(0, old);
  await img.flush();
  let release!: () => void;
  store.gate = new Promise((r) => (release = r));
  store.log.length = 0;
  const buf = new Uint8Array(4 * CS);
  const reading = img.read(0, buf);
  // Other reads are not held up by it: the lock covers only the mapping.
  const other = new Uint8Array(CS); // not held by the store (see LoggingStore)
  await img.read(CS, other);
  assert.ok(other.every((b) => b === 9));
  // Discarding and reusing the clusters being read must wait for the read.
  let changed = false;
  const change = (async () => {
    await img.discard(0, 4 * CS);
    await img.flush();
    await img.write(0, new Uint8Array(4 * CS).fill(3));
    changed = true;
  })();
  for (let i = 0; i < 50; i++) await Promise.resolve();
  assert.equal(changed, false);
  assert.equal(store.log.filter((l) => l.startsWith('write')).length, 0, 'nothing written while the read runs');
  release();
  await Promise.all([reading, change]);
  assert.deepEqual(buf, old);
  const now = new Uint8Array(4 * CS);
  await img.read(0, now);
  assert.ok(now.every((b) => b === 3));
  await img.close();
});
