/**
 * How the qcow2 backend uses its store: whole runs of clusters in one write and one read, and
 * data reads and writes outside the image lock, which changes wait for.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from '../memory-store.ts';
import type { ByteStore } from '../types.ts';
import { openQcow2, qcow2Format } from './format.ts';

const CS = 65536;

/** A store that logs requests and can hold reads or writes of data-sized requests until released. */
class LoggingStore implements ByteStore {
  readonly log: string[] = [];
  gate: Promise<void> | undefined;
  writeGate: Promise<void> | undefined;
  /** Writes longer than this wait for writeGate (metadata is a cluster or less). */
  holdAbove = CS;
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
  async write(offset: number, data: Uint8Array) {
    // Logged when issued, so a test sees which writes are in flight together.
    this.log.push(`write ${data.length}`);
    if (data.length > this.holdAbove && this.writeGate) await this.writeGate;
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

/** Lets every pending promise chain run as far as it can without the store. */
async function settle(turns = 2000): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}

test('writes to different clusters overlap their data I/O; clusters are linked only once their data is written', async () => {
  const store = await fresh(64 * CS);
  const img = await openQcow2(store, {});
  let release!: () => void;
  store.writeGate = new Promise((r) => (release = r));
  store.log.length = 0;
  const a = new Uint8Array(4 * CS).fill(0xa);
  const b = new Uint8Array(4 * CS).fill(0xb);
  let aDone = false;
  const writing = [img.write(0, a).then(() => (aDone = true)), img.write(8 * CS, b)];
  await settle();
  assert.deepEqual(
    store.log.filter((l) => l.startsWith('write')),
    [`write ${4 * CS}`, `write ${4 * CS}`],
    'both data writes issued together',
  );
  assert.equal(aDone, false);
  // Not linked yet: the clusters still read as they were (zeros), with no data read at all.
  const before = new Uint8Array(12 * CS);
  await img.read(0, before);
  assert.ok(before.every((x) => x === 0));
  // A write into a cluster of a write in flight waits for it; so does a flush.
  const c = new Uint8Array(CS).fill(0xc);
  const overlapping = img.write(2 * CS + 512, c);
  let flushed = false;
  const flushing = img.flush().then(() => (flushed = true));
  await settle();
  assert.equal(store.log.filter((l) => l === `write ${CS}`).length, 0, 'the overlapping write waits');
  assert.equal(flushed, false, 'flush waits for data in flight');
  release();
  await Promise.all([...writing, overlapping, flushing]);
  const want = new Uint8Array(12 * CS);
  want.set(a, 0);
  want.set(c, 2 * CS + 512);
  want.set(b, 8 * CS);
  const back = new Uint8Array(12 * CS);
  await img.read(0, back);
  assert.deepEqual(back, want);
  const report = await img.check();
  assert.equal(report.corruptions + report.leaks, 0);
  await img.close();
});

test('a failed data write links nothing and leaves the image consistent', async () => {
  const store = await fresh(64 * CS);
  const img = await openQcow2(store, {});
  let fail!: (e: Error) => void;
  store.writeGate = new Promise((_, rej) => (fail = rej));
  store.writeGate.catch(() => undefined);
  const w = img.write(0, new Uint8Array(4 * CS).fill(1));
  await settle();
  fail(new Error('disk on fire'));
  await assert.rejects(w, /disk on fire/);
  store.writeGate = undefined;
  const back = new Uint8Array(4 * CS);
  await img.read(0, back);
  assert.ok(
    back.every((x) => x === 0),
    'the clusters were never linked',
  );
  // The allocated clusters leak (as after a crash), nothing worse.
  const report = await img.check();
  assert.equal(report.corruptions, 0);
  await img.close();
});

test('L2 tables of writes in flight stay cached while other writes evict tables', async () => {
  // 512-byte clusters: one L2 table maps 32 KiB, and the cache holds two tables.
  const TABLE = 32 * 1024;
  const SIZE = 16 * TABLE;
  const mem = new MemoryStore('small.qcow2');
  await qcow2Format.create!(mem, SIZE, { options: { cluster_size: '512' } });
  const store = new LoggingStore(mem);
  store.holdAbove = 4096; // data runs (up to 32 KiB) are held, metadata (512 bytes) is not
  const img = await openQcow2(store, { l2CacheTables: 2 });
  let release!: () => void;
  store.writeGate = new Promise((r) => (release = r));
  // Each write spans three tables; all of them stay in flight until the gate opens.
  const writes = Array.from({ length: 7 }, (_, i) => ({
    at: i * 2 * TABLE + 100,
    data: new Uint8Array(TABLE + 8192).fill(i + 1),
  }));
  const writing = writes.map((w) => img.write(w.at, w.data));
  await settle(10000);
  const held = store.log.filter((l) => l.startsWith('write ') && Number(l.slice(6)) > 4096).length;
  assert.ok(held >= 14, `data runs of several tables in flight at once (${held})`);
  release();
  await Promise.all(writing);
  const want = new Uint8Array(SIZE);
  for (const w of writes) want.set(w.data, w.at);
  const back = new Uint8Array(SIZE);
  await img.read(0, back);
  assert.deepEqual(back, want);
  await img.close();
  const again = await openQcow2(mem, {});
  const check = await again.check();
  assert.equal(check.corruptions + check.leaks, 0);
  const reread = new Uint8Array(SIZE);
  await again.read(0, reread);
  assert.deepEqual(reread, want);
  await again.close();
});
