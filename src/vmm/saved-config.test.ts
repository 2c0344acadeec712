/**
 * The one builder of a snapshot's configuration, as `virtkit run` and the page use it, read
 * back by the one reader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StateReader } from '../memory/state.ts';
import { MemoryBackend } from '../virtio/testing.ts';
import { fingerprintDisk, identityMismatch } from './disk-identity.ts';
import { SAVED_CONFIG_VERSION, buildSavedConfig, readSavedConfig } from './saved-config.ts';

const read = (x: unknown, page = false) =>
  readSavedConfig(new StateReader('snapshot', JSON.parse(JSON.stringify(x)), undefined, 'meta.config'), { page });

test("virtkit run's configuration: disks with identities, NICs, boot record; it reads back", async () => {
  const disk = new MemoryBackend(1 << 20);
  const identity = await fingerprintDisk(disk);
  const boot = { version: 1, kernel: { path: '/k', size: 10, sha256: 'ab'.repeat(32) } };
  const written = buildSavedConfig({
    append: 'console=ttyS0',
    nets: ['user'],
    disks: [{ path: '/d.qcow2', format: identity.format, readOnly: false, identity }],
    boot,
  });
  assert.equal(written.version, SAVED_CONFIG_VERSION);
  assert.equal(written.web, undefined);
  const r = read(written);
  assert.deepEqual(r.nets, ['user']);
  assert.equal(r.append, 'console=ttyS0');
  assert.deepEqual(r.boot, boot);
  assert.equal(r.disks[0]!.path, '/d.qcow2');
  assert.equal(identityMismatch(r.disks[0]!.identity!, identity), undefined);
  // A restored VM without a boot record saves none.
  assert.equal('boot' in buildSavedConfig({ append: 'a', nets: [], disks: [] }), false);
});

test("the page's configuration: run's disks only when the page has none, its own records under web", () => {
  const ref = { kind: 'url' as const, name: 'http://x/d.qcow2', writable: false };
  const withDisks = buildSavedConfig({ append: 'a', webDisks: [ref] });
  assert.equal('disks' in withDisks, false, '`virtkit run` must not restore disks it cannot reopen');
  assert.deepEqual(withDisks.web, { disks: [ref] });
  assert.deepEqual(read(withDisks, true).web, { disks: [ref] });
  assert.throws(() => read(withDisks), /meta\.config\.disks/);
  const none = buildSavedConfig({ append: 'a', webDisks: [] });
  assert.deepEqual(none.disks, []);
  assert.deepEqual(read(none).disks, []);
});
