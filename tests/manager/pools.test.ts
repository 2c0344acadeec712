/**
 * Resource pools through a real daemon: CRUD with usage, bodies the schemas refuse, the VM-count
 * and disk quotas at creation (create and clone), the memory quota at start (one VM process is
 * started: a start is refused while it runs and the pool's usage shows it), and the CLI verbs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, TestDaemon } from './harness.ts';

const d = new TestDaemon();
before(() => d.start());
after(() => d.cleanup());

const MiB = 1024 * 1024;

test('the default pool exists and lists its usage; bad pool bodies are 400 naming the field', async () => {
  const list = await d.req('GET', '/v1/pools');
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.body.map((p: { name: string; quota: object; usage: object }) => [p.name, p.quota, p.usage]),
    [['default', {}, { vcpus: 0, memory: 0, disk: 0, vms: 0 }]],
  );
  const bad: Array<[unknown, RegExp]> = [
    [{}, /body: missing field 'name'/],
    [{ name: 'x', quota: { memory: '1G' } }, /body\.quota\.memory: must be integer,null/],
    [{ name: 'x', quota: { cpus: 2 } }, /body\.quota: unknown field 'cpus'/],
    [{ name: 'x', quota: { vms: -1 } }, /body\.quota\.vms: must be >= 0/],
    [{ name: 'x', quota: { vcpus: 1.5 } }, /body\.quota\.vcpus: must be integer/],
    [{ name: '../x' }, /body\.name: not a valid name/],
    [{ name: 'x', colour: 'red' }, /body: unknown field 'colour'/],
  ];
  for (const [body, msg] of bad) {
    const r = await d.req('POST', '/v1/pools', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error.code, 'invalid-request');
    assert.match(r.body.error.message, msg);
  }
  assert.equal((await d.req('PATCH', '/v1/pools/default', {})).status, 400);
  assert.equal((await d.req('GET', '/v1/pools/nope')).status, 404);
  assert.equal((await d.req('PATCH', '/v1/pools/nope', { quota: {} })).status, 404);
  const del = await d.req('DELETE', '/v1/pools/default');
  assert.equal(del.status, 409);
  assert.match(del.body.error.message, /'default' cannot be deleted/);
  const doc = (await d.req('GET', '/openapi.json')).body;
  for (const p of ['/v1/pools', '/v1/pools/{pool}']) assert.ok(doc.paths[p], `${p} in the OpenAPI document`);
  assert.ok(doc.paths['/v1/pools/{pool}'].patch && doc.paths['/v1/pools/{pool}'].delete);
});

test('VM-count and disk quotas refuse a create (and a clone) with 409 quota_exceeded; nothing is left behind', async () => {
  const c = await d.req('POST', '/v1/pools', { name: 'dev', quota: { vms: 1, disk: 32 * MiB } });
  assert.equal(c.status, 201, c.text);
  assert.deepEqual(c.body.quota, { vms: 1, disk: 32 * MiB });
  assert.equal((await d.req('POST', '/v1/pools', { name: 'dev' })).status, 409);

  const a = await d.req('POST', '/v1/vms', { name: 'd1', pool: 'dev', memory: 64, disks: [{ size: 16 }] });
  assert.equal(a.status, 201, a.text);
  assert.equal(a.body.pool, 'dev');
  assert.equal((await d.req('GET', '/v1/vms/d1')).body.pool, 'dev');
  const vmsBefore = readdirSync(join(d.stateDir, 'vms')).length;

  const b = await d.req('POST', '/v1/vms', { name: 'd2', pool: 'dev', memory: 64 });
  assert.equal(b.status, 409);
  assert.deepEqual(b.body.error, {
    code: 'quota_exceeded',
    message: 'pool "dev": vms quota 1 would be exceeded (1 used, 1 asked)',
  });
  const clone = await d.req('POST', '/v1/vms/d1/clone', { name: 'd1-clone', mode: 'full' });
  assert.equal(clone.status, 409);
  assert.equal(clone.body.error.code, 'quota_exceeded');

  const up = await d.req('PATCH', '/v1/pools/dev', { quota: { vms: 3 } });
  assert.equal(up.status, 200, up.text);
  assert.deepEqual(up.body.quota, { vms: 3, disk: 32 * MiB });
  assert.deepEqual(up.body.usage, { vcpus: 0, memory: 0, disk: 16 * MiB, vms: 1 });
  const big = await d.req('POST', '/v1/vms', { name: 'd2', pool: 'dev', disks: [{ size: 32 }] });
  assert.equal(big.status, 409);
  assert.equal(big.body.error.message, 'pool "dev": disk quota 32 MiB would be exceeded (16 MiB used, 32 MiB asked)');
  assert.equal(readdirSync(join(d.stateDir, 'vms')).length, vmsBefore, 'the refused VM left no directory');
  assert.equal((await d.req('GET', '/v1/vms/d2')).status, 404);

  const nope = await d.req('POST', '/v1/vms', { name: 'd3', pool: 'nope' });
  assert.equal(nope.status, 404);
  assert.match(nope.body.error.message, /pool 'nope' does not exist/);

  const del = await d.req('DELETE', '/v1/pools/dev');
  assert.equal(del.status, 409);
  assert.match(del.body.error.message, /pool 'dev' has VMs \(d1\)/);
  assert.equal((await d.req('DELETE', '/v1/vms/d1')).status, 204);
  assert.equal((await d.req('DELETE', '/v1/pools/dev')).status, 204);
  assert.equal((await d.req('GET', '/v1/pools/dev')).status, 404);
});

test('the memory quota counts active VMs: a start beyond it is 409 while another VM of the pool runs', async () => {
  const c = await d.req('POST', '/v1/pools', { name: 'small', quota: { memory: 192 * MiB, vcpus: 4 } });
  assert.equal(c.status, 201, c.text);
  for (const n of ['m1', 'm2'])
    assert.equal((await d.req('POST', '/v1/vms', { name: n, pool: 'small', memory: 128 })).status, 201);
  const s1 = await d.req('POST', '/v1/vms/m1/start');
  assert.equal(s1.status, 200, s1.text);
  const usage = (await d.req('GET', '/v1/pools/small')).body.usage;
  assert.deepEqual(usage, { vcpus: 1, memory: 128 * MiB, disk: 0, vms: 2 });
  const s2 = await d.req('POST', '/v1/vms/m2/start');
  assert.equal(s2.status, 409);
  assert.deepEqual(s2.body.error, {
    code: 'quota_exceeded',
    message: 'pool "small": memory quota 192 MiB would be exceeded (128 MiB used, 128 MiB asked)',
  });
  assert.equal((await d.req('GET', '/v1/vms/m2')).body.state, 'stopped');
  assert.equal((await d.req('POST', '/v1/vms/m1/stop')).status, 200);
  assert.deepEqual((await d.req('GET', '/v1/pools/small')).body.usage, { vcpus: 0, memory: 0, disk: 0, vms: 2 });
  for (const n of ['m1', 'm2']) assert.equal((await d.req('DELETE', `/v1/vms/${n}`)).status, 204);
});

const cli = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args, '--socket', d.socket], { encoding: 'utf8' });

test('virtkit pool create|list|show|set|delete and vm create --pool', () => {
  const c = cli('pool', 'create', 'web', '--memory', '1G', '--vcpus', '2', '--vms', '3', '--disk', '10G');
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /created pool web/);
  const show = cli('pool', 'show', 'web', '--output', 'json');
  assert.equal(show.status, 0, show.stderr);
  assert.deepEqual(JSON.parse(show.stdout).quota, { vcpus: 2, memory: 1 << 30, disk: 10 * 1024 ** 3, vms: 3 });
  const set = cli('pool', 'set', 'web', '--memory', 'none', '--vms', '5');
  assert.equal(set.status, 0, set.stderr);
  assert.deepEqual(JSON.parse(cli('pool', 'show', 'web', '--output', 'json').stdout).quota, {
    vcpus: 2,
    disk: 10 * 1024 ** 3,
    vms: 5,
  });
  const vm = cli('vm', 'create', 'w1', '--pool', 'web', '--memory', '64');
  assert.equal(vm.status, 0, vm.stderr);
  const list = cli('pool', 'list');
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /^NAME\s+VMS\s+VCPUS\s+MEMORY\s+DISK/m);
  assert.match(list.stdout, /^web\s+1\/5\s+0\/2\s+0 B\/-\s+0 B\/10 GiB/m);
  assert.match(list.stdout, /^default\s+0\/-/m);
  const text = cli('pool', 'show', 'web');
  assert.match(text.stdout, /vms:\s+1 of 5/);
  const busy = cli('pool', 'delete', 'web');
  assert.equal(busy.status, 1);
  assert.match(busy.stderr, /pool 'web' has VMs \(w1\)/);
  const badFlag = cli('pool', 'set', 'web', '--memory', 'lots');
  assert.equal(badFlag.status, 2);
  assert.match(badFlag.stderr, /invalid --memory 'lots'/);
  const nothing = cli('pool', 'set', 'web');
  assert.equal(nothing.status, 2);
  assert.equal(cli('vm', 'delete', 'w1').status, 0);
  const del = cli('pool', 'delete', 'web');
  assert.equal(del.status, 0, del.stderr);
  assert.ok(!existsSync(join(d.stateDir, 'nothing-here')));
});
