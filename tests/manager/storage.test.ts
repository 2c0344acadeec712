/**
 * Snapshots, clones, export and import of stopped VMs through a real daemon, checked with the
 * real qemu-img and qemu-io: internal snapshots in the owned qcow2 disks, revert restoring the
 * data, linked clones as overlays on the source's disk (which then cannot start or be deleted),
 * full clones as flattened copies, an OVA export that imports back as a VM with the same data.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon } from './harness.ts';

const d = new TestDaemon();
before(() => d.start());
after(() => d.cleanup());

const qemuIo = (file: string, cmd: string) =>
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', cmd, file], { encoding: 'utf8' });
const pattern = (file: string, byte: number) => qemuIo(file, `read -P ${byte} 0 64k`);
const info = (file: string) =>
  JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' })) as {
    'backing-filename'?: string;
    snapshots?: Array<{ name: string }>;
    format: string;
  };

test('snapshot of a stopped VM: an internal snapshot in each writable qcow2 disk; revert restores the data; delete removes it', async () => {
  const vm = (await d.req('POST', '/v1/vms', { name: 'snappy', disks: [{ size: 16 }, { size: 8 }] })).body;
  const [d0, d1] = vm.disks.map((x: { path: string }) => x.path) as [string, string];
  qemuIo(d0, 'write -P 0x11 0 64k');
  const s = await d.req('POST', '/v1/vms/snappy/snapshots', { name: 'before' });
  assert.equal(s.status, 201, s.text);
  assert.equal(s.body.name, 'before');
  assert.equal(s.body.vmState, false);
  for (const p of [d0, d1])
    assert.deepEqual(
      info(p).snapshots?.map((x) => x.name),
      ['before'],
    );
  assert.equal((await d.req('POST', '/v1/vms/snappy/snapshots', { name: 'before' })).status, 409);
  const list = await d.req('GET', '/v1/vms/snappy/snapshots');
  assert.deepEqual(
    list.body.map((x: { name: string; vmState: boolean }) => [x.name, x.vmState]),
    [['before', false]],
  );

  qemuIo(d0, 'write -P 0x22 0 64k');
  assert.match(pattern(d0, 0x22), /read 65536/);
  const r = await d.req('POST', '/v1/vms/snappy/snapshots/before/revert');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.state, 'stopped');
  assert.doesNotMatch(pattern(d0, 0x11), /Pattern verification failed/);
  execFileSync('qemu-img', ['check', d0]);

  assert.equal((await d.req('DELETE', '/v1/vms/snappy/snapshots/before')).status, 204);
  assert.equal(info(d0).snapshots, undefined);
  assert.deepEqual((await d.req('GET', '/v1/vms/snappy/snapshots')).body, []);
  assert.equal((await d.req('DELETE', '/v1/vms/snappy/snapshots/before')).status, 404);
  assert.equal((await d.req('DELETE', '/v1/vms/snappy')).status, 204);
});

test('a writable raw disk cannot hold snapshots: 422 naming it, nothing changed', async () => {
  const raw = join(d.root, 'plain.raw');
  writeFileSync(raw, Buffer.alloc(1 << 20));
  assert.equal((await d.req('POST', '/v1/vms', { name: 'rawvm', disks: [{ path: raw }] })).status, 201);
  const s = await d.req('POST', '/v1/vms/rawvm/snapshots', { name: 's1' });
  assert.equal(s.status, 422);
  assert.match(s.body.error.message, /plain\.raw is raw, and only qcow2 disks hold snapshots/);
  assert.deepEqual((await d.req('GET', '/v1/vms/rawvm/snapshots')).body, []);
  assert.equal((await d.req('DELETE', '/v1/vms/rawvm')).status, 204);
  assert.ok(existsSync(raw));
});

test('clones: linked is an overlay on the source disk (source then cannot start or be deleted); full is a flattened copy', async () => {
  const src = (
    await d.req('POST', '/v1/vms', {
      name: 'base',
      memory: 64,
      disks: [{ size: 16 }],
      nics: [{ hostfwd: ['tcp::18022-:22'] }],
    })
  ).body;
  const srcDisk = src.disks[0].path as string;
  qemuIo(srcDisk, 'write -P 0x33 0 64k');

  const linked = await d.req('POST', '/v1/vms/base/clone', { name: 'base-linked', mode: 'linked' });
  assert.equal(linked.status, 201, linked.text);
  const ld = linked.body.disks[0].path as string;
  assert.equal(info(ld)['backing-filename'], srcDisk);
  assert.doesNotMatch(pattern(ld, 0x33), /verification failed/);
  assert.deepEqual(linked.body.nics, [{ hostfwd: [] }]);
  assert.equal(linked.body.memory, 64);

  const full = await d.req('POST', '/v1/vms/base/clone', { name: 'base-full', mode: 'full' });
  assert.equal(full.status, 201, full.text);
  const fd = full.body.disks[0].path as string;
  assert.equal(info(fd)['backing-filename'], undefined);
  execFileSync('qemu-img', ['compare', '-U', srcDisk, fd]);

  const start = await d.req('POST', '/v1/vms/base/start');
  assert.equal(start.status, 409);
  assert.match(start.body.error.message, /base of linked clone\(s\) base-linked/);
  const del = await d.req('DELETE', '/v1/vms/base');
  assert.equal(del.status, 409);
  assert.match(del.body.error.message, /has linked clones \(base-linked\)/);

  assert.equal((await d.req('DELETE', '/v1/vms/base-linked')).status, 204);
  assert.ok(!existsSync(ld));
  for (const n of ['base-full', 'base']) assert.equal((await d.req('DELETE', `/v1/vms/${n}`)).status, 204);
});

test('export as an OVA and import it back: same disk contents, CPU and memory; an existing file is never overwritten', async () => {
  const src = (await d.req('POST', '/v1/vms', { name: 'exp', memory: 96, cpus: 2, disks: [{ size: 8 }] })).body;
  qemuIo(src.disks[0].path, 'write -P 0x44 1M 128k');
  const ova = join(d.root, 'exp.ova');
  const e = await d.req('POST', '/v1/vms/exp/export', { path: ova });
  assert.equal(e.status, 200, e.text);
  assert.equal(e.body.path, ova);
  assert.ok(e.body.size > 0);
  const tar = execFileSync('tar', ['tf', ova], { encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(tar, ['exp.ovf', 'exp.mf', 'exp-disk1.vmdk']);
  const again = await d.req('POST', '/v1/vms/exp/export', { path: ova });
  assert.equal(again.status, 409);
  assert.match(again.body.error.message, /exists: export never overwrites/);

  const imp = await d.req('POST', '/v1/vms/import', { path: ova, name: 'imported' });
  assert.equal(imp.status, 201, imp.text);
  assert.equal(imp.body.cpus, 2);
  assert.equal(imp.body.memory, 96);
  assert.ok(Array.isArray(imp.body.warnings));
  assert.ok(imp.body.warnings.some((w: string) => /boots the default guest/.test(w)));
  assert.equal(imp.body.disks[0].owned, true);
  execFileSync('qemu-img', ['compare', '-U', src.disks[0].path, imp.body.disks[0].path]);

  // The same package unpacked: an .ovf beside its disk file imports too.
  const unpacked = join(d.root, 'unpacked');
  mkdirSync(unpacked);
  execFileSync('tar', ['xf', ova, '-C', unpacked]);
  const fromOvf = await d.req('POST', '/v1/vms/import', { path: join(unpacked, 'exp.ovf'), name: 'from-ovf' });
  assert.equal(fromOvf.status, 201, fromOvf.text);
  execFileSync('qemu-img', ['compare', '-U', src.disks[0].path, fromOvf.body.disks[0].path]);
  assert.equal((await d.req('DELETE', '/v1/vms/from-ovf')).status, 204);

  const bad = join(d.root, 'bad.ova');
  writeFileSync(bad, 'not a tar file at all');
  const b = await d.req('POST', '/v1/vms/import', { path: bad, name: 'bad' });
  assert.equal(b.status, 422);
  assert.match(b.body.error.message, /cannot import .*bad\.ova/);
  assert.equal((await d.req('GET', '/v1/vms/bad')).status, 404);
  for (const n of ['exp', 'imported']) assert.equal((await d.req('DELETE', `/v1/vms/${n}`)).status, 204);
});
