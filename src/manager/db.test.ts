/** The manager database: migrations by user_version, atomic transitions, bounded events. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MAX_EVENTS_PER_VM, ManagerDb, SCHEMA_VERSION, type VmRow } from './db.ts';

const dir = mkdtempSync(join(tmpdir(), 'vk-db-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const vm = (name: string): VmRow => ({
  id: `id-${name}`,
  name,
  state: 'stopped',
  memory: 128,
  cpus: 1,
  source: { type: 'default' },
  disks: [],
  nics: [],
  created: new Date(0).toISOString(),
  pool: 'default',
});

test('a new database is migrated to the current schema, in WAL mode; reopening keeps the data', () => {
  const path = join(dir, 'a.db');
  const db = new ManagerDb(path);
  assert.equal(db.schemaVersion, SCHEMA_VERSION);
  assert.ok(db.insertVm(vm('one')));
  assert.equal(db.insertVm(vm('one')), false, 'names are unique');
  db.close();
  const raw = new Database(path);
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  raw.close();
  const again = new ManagerDb(path);
  assert.deepEqual(again.getVm('one'), vm('one'));
  again.close();
});

test('a database from a newer virtkit is refused, not downgraded', () => {
  const path = join(dir, 'b.db');
  const raw = new Database(path);
  raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  raw.close();
  assert.throws(() => new ManagerDb(path), /written by a newer virtkit/);
});

test('transition moves only from the given states: of two starts, one wins', () => {
  const db = new ManagerDb(join(dir, 'c.db'));
  db.insertVm(vm('r'));
  assert.equal(db.transition('id-r', ['stopped', 'crashed'], 'starting', { pid: 42 }), 'stopped');
  assert.equal(db.transition('id-r', ['stopped', 'crashed'], 'starting'), undefined);
  assert.equal(db.getVm('r')!.pid, 42);
  assert.equal(db.transition('id-r', ['starting'], 'crashed', { pid: null, reason: 'killed by SIGKILL' }), 'starting');
  const r = db.getVm('r')!;
  assert.equal(r.state, 'crashed');
  assert.equal(r.pid, undefined);
  assert.equal(r.reason, 'killed by SIGKILL');
  db.close();
});

test('events are kept per VM up to the bound, oldest dropped; deleting a VM drops its events and snapshots', () => {
  const db = new ManagerDb(join(dir, 'd.db'));
  db.insertVm(vm('e'));
  for (let i = 0; i < MAX_EVENTS_PER_VM + 5; i++)
    db.addEvent({ vm: 'e', vmId: 'id-e', state: 'running', reason: `n${i}`, time: 't' });
  const ev = db.events('id-e', 10_000);
  assert.equal(ev.length, MAX_EVENTS_PER_VM);
  assert.equal(ev[0]!.reason, 'n5');
  assert.ok(db.insertSnapshot({ vmId: 'id-e', name: 's', created: 't', vmState: false }));
  assert.equal(db.insertSnapshot({ vmId: 'id-e', name: 's', created: 't', vmState: false }), false);
  db.deleteVm('id-e');
  assert.deepEqual(db.events('id-e', 10), []);
  assert.deepEqual(db.listSnapshots('id-e'), []);
  db.close();
});

test('migration 2: a schema-1 database gets the pools table with its default pool, and its VMs are in it', () => {
  const path = join(dir, 'e.db');
  const raw = new Database(path);
  raw.exec(`CREATE TABLE vms (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
    memory INTEGER NOT NULL, cpus INTEGER NOT NULL, source TEXT NOT NULL, append TEXT, disks TEXT NOT NULL,
    nics TEXT NOT NULL, created TEXT NOT NULL, started_at TEXT, pid INTEGER, reason TEXT);
    CREATE TABLE snapshots (vm_id TEXT NOT NULL, name TEXT NOT NULL, created TEXT NOT NULL, vm_state INTEGER NOT NULL,
    state_file TEXT, PRIMARY KEY (vm_id, name));
    CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, vm_id TEXT NOT NULL, vm_name TEXT NOT NULL,
    state TEXT NOT NULL, previous TEXT, reason TEXT, time TEXT NOT NULL);
    INSERT INTO vms VALUES ('old1', 'old', 'stopped', 64, 1, '{"type":"default"}', NULL, '[]', '[]', 't', NULL, NULL, NULL);`);
  raw.pragma('user_version = 1');
  raw.close();
  const db = new ManagerDb(path);
  assert.equal(db.schemaVersion, SCHEMA_VERSION);
  assert.equal(db.getVm('old')!.pool, 'default');
  assert.deepEqual(
    db.listPools().map((p) => [p.name, p.quota]),
    [['default', {}]],
  );
  assert.ok(db.insertPool({ name: 'dev', quota: { vms: 2, memory: 1 << 30 }, created: 't' }));
  assert.equal(db.insertPool({ name: 'dev', quota: {}, created: 't' }), false);
  assert.deepEqual(db.getPool('dev')!.quota, { vms: 2, memory: 1 << 30 });
  db.setPoolQuota('dev', { vcpus: 4 });
  assert.deepEqual(db.getPool('dev')!.quota, { vcpus: 4 });
  assert.ok(db.insertVm({ ...vm('in-dev'), pool: 'dev' }));
  assert.equal(db.deletePool('dev'), false, 'a pool with VMs stays');
  db.deleteVm('id-in-dev');
  assert.equal(db.deletePool('dev'), true);
  db.close();
});
