/**
 * Templates through a real daemon, checked with the real qemu-img and qemu-io: a template is a
 * flattened read-only copy of a stopped VM's disk with its configuration; `vm create --template`
 * makes a linked clone (an overlay on the template's copy) whatever the disk's size; a template in
 * use cannot be deleted; bad requests are refused naming the problem.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { TestDaemon, BIN } from './harness.ts';

const d = new TestDaemon();
before(() => d.start());
after(() => d.cleanup());

const qemuIo = (file: string, cmd: string) =>
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', cmd, file], { encoding: 'utf8' });
const info = (file: string) =>
  JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' })) as {
    'backing-filename'?: string;
    'virtual-size': number;
  };
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args, '--socket', d.socket], { encoding: 'utf8' });

test('template create copies a stopped VM; vm create --template makes linked clones; a used template stays', async () => {
  const gold = await d.req('POST', '/v1/vms', {
    name: 'gold',
    memory: 96,
    cpus: 2,
    disks: [{ size: 2048 }],
    nics: [{}],
  });
  assert.equal(gold.status, 201, gold.text);
  const goldDisk = gold.body.disks[0].path as string;
  qemuIo(goldDisk, 'write -P 0x5a 1G 64k');

  const bad: Array<[unknown, number, RegExp]> = [
    [{}, 400, /body: missing field 'name'/],
    [{ name: 't1' }, 400, /body: missing field 'from'/],
    [{ name: 't1', from: 'gold', disks: [] }, 400, /body: unknown field 'disks'/],
    [{ name: 't1', from: 'nope' }, 404, /VM 'nope' does not exist/],
  ];
  for (const [body, status, msg] of bad) {
    const r = await d.req('POST', '/v1/templates', body);
    assert.equal(r.status, status, JSON.stringify(body));
    assert.match(r.body.error.message, msg);
  }

  const c = cli('template', 'create', 't1', '--from', 'gold');
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /created template t1 from gold \(1 disk\(s\)\)/);
  const t = (await d.req('GET', '/v1/templates/t1')).body;
  assert.equal(t.from, 'gold');
  assert.equal(t.memory, 96);
  assert.equal(t.cpus, 2);
  const base = t.disks[0].path as string;
  assert.equal(info(base)['backing-filename'], undefined, 'flattened');
  assert.equal(statSync(base).mode & 0o777, 0o444);
  execFileSync('qemu-img', ['compare', '-U', goldDisk, base]);
  assert.equal((await d.req('POST', '/v1/templates', { name: 't1', from: 'gold' })).status, 409);
  // The source VM stays independent of its template.
  assert.equal((await d.req('DELETE', '/v1/vms/gold')).status, 204);

  const t0 = process.hrtime.bigint();
  const mk = cli('vm', 'create', 'c1', '--template', 't1', '--output', 'json');
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(mk.status, 0, mk.stderr);
  const c1 = JSON.parse(mk.stdout);
  console.log(`vm create --template of a 2 GiB disk: ${ms.toFixed(0)} ms (the whole CLI process)`);
  assert.equal(c1.memory, 96);
  assert.equal(c1.cpus, 2);
  assert.equal(c1.nics.length, 1);
  assert.equal(c1.disks[0].owned, true);
  const overlay = c1.disks[0].path as string;
  assert.equal(info(overlay)['backing-filename'], base);
  assert.equal(info(overlay)['virtual-size'], 2048 * 1024 * 1024);
  assert.ok(statSync(overlay).size < 1 << 20, `the overlay is small: ${statSync(overlay).size} bytes`);
  assert.doesNotMatch(qemuIo(overlay, 'read -P 0x5a 1G 64k'), /verification failed/);
  // A clone's writes stay in its overlay.
  qemuIo(overlay, 'write -P 0x11 1G 4k');
  assert.doesNotMatch(qemuIo(base, 'read -P 0x5a 1G 64k'), /verification failed/);

  const api = await d.req('POST', '/v1/vms', { name: 'c2', template: 't1', memory: 64 });
  assert.equal(api.status, 201, api.text);
  assert.equal(api.body.memory, 64);
  const both = await d.req('POST', '/v1/vms', { name: 'c3', template: 't1', source: { type: 'default' } });
  assert.equal(both.status, 400);
  assert.match(both.body.error.message, /takes its source and disks from it/);
  const none = await d.req('POST', '/v1/vms', { name: 'c3', template: 'nope' });
  assert.equal(none.status, 404);
  assert.match(none.body.error.message, /template 'nope' does not exist/);
  assert.equal(cli('vm', 'create', 'c3', '--template', 't1', '--image', '/x.img').status, 2);

  const used = await d.req('DELETE', '/v1/templates/t1');
  assert.equal(used.status, 409);
  assert.match(used.body.error.message, /template 't1' is the base of VM\(s\) c1, c2/);
  const list = cli('template', 'list');
  assert.match(list.stdout, /^t1\s+gold\s+2\s+96 MiB\s+1$/m);
  for (const n of ['c1', 'c2']) assert.equal((await d.req('DELETE', `/v1/vms/${n}`)).status, 204);
  const del = cli('template', 'delete', 't1');
  assert.equal(del.status, 0, del.stderr);
  assert.ok(!existsSync(base));
  assert.equal((await d.req('GET', '/v1/templates/t1')).status, 404);
  const doc = (await d.req('GET', '/openapi.json')).body;
  assert.ok(doc.paths['/v1/templates'].post && doc.paths['/v1/templates/{template}'].delete);
});
