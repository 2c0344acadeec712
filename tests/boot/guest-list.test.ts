/**
 * `virtkit guest list` against a cache directory built here (VIRTKIT_CACHE): complete entries of
 * the current layout are listed with their versions, modules and location; stale, incomplete or
 * malformed ones are not; `run` boots from the cache it finds there. Nothing is downloaded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { virtkit } from '../support/virtkit.ts';
import { DEFAULT_GUEST, GUEST_LAYOUT } from '../../src/host/node/guest/debian-guest.ts';

const root = mkdtempSync(join(tmpdir(), 'virtkit-cache-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

/** A cache entry the way `guest fetch` writes one; `recordedDir` is where guest.json says it lives. */
function entry(cache: string, name: string, info: Record<string, unknown>, files = ['Image', 'initramfs.cpio']) {
  const dir = join(cache, 'guests', name);
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(join(dir, f), '\x7fELF' + 'A'.repeat(4092)); // an ELF in name only
  const recordedDir = '/elsewhere/virtkit/guests/' + name; // as if the cache had been moved here
  const json = {
    name,
    dir: recordedDir,
    kernel: join(recordedDir, 'Image'),
    initrd: join(recordedDir, 'initramfs.cpio'),
    kernelPackage: 'linux-image-6.1.0-test-riscv64',
    kernelVersion: '6.1.0-test-riscv64',
    busyboxVersion: '1:1.36.1-9',
    modules: ['virtio_mmio', 'virtio_blk'],
    fetchedAt: '2026-01-02T03:04:05.000Z',
    layout: GUEST_LAYOUT,
    ...info,
  };
  writeFileSync(join(dir, 'guest.json'), JSON.stringify(json));
  return dir;
}

const cache = join(root, 'cache');
const good = entry(cache, DEFAULT_GUEST, {});
const other = entry(cache, 'zz-second', { name: 'zz-second', kernelVersion: '6.2.0-x', modules: [] });
entry(cache, 'old-layout', { name: 'old-layout', layout: GUEST_LAYOUT - 1 });
entry(cache, 'no-initrd', { name: 'no-initrd' }, ['Image']);
entry(cache, 'bad-modules', { name: 'bad-modules', modules: 'virtio_blk' });
mkdirSync(join(cache, 'guests', 'empty-dir'));
writeFileSync(join(cache, 'guests', 'stray-file'), 'x');
const env = { VIRTKIT_CACHE: cache };

test('guest list shows each complete, current entry with versions, modules and its directory', async () => {
  const r = await virtkit(['guest', 'list'], '', 60_000, env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      `${DEFAULT_GUEST}  kernel 6.1.0-test-riscv64  busybox 1:1.36.1-9  modules virtio_mmio,virtio_blk`,
      `  ${good}`,
      'zz-second  kernel 6.2.0-x  busybox 1:1.36.1-9  modules ',
      `  ${other}`,
      '',
    ].join('\n'),
  );
});

test('guest list --json gives the same entries as data, located in this cache', async () => {
  const r = await virtkit(['guest', 'list', '--json'], '', 60_000, env);
  assert.equal(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  assert.deepEqual(
    list.map((g) => g.name),
    [DEFAULT_GUEST, 'zz-second'],
  );
  assert.equal(list[0]!.dir, good);
  assert.equal(list[0]!.kernel, join(good, 'Image'));
  assert.equal(list[0]!.initrd, join(good, 'initramfs.cpio'));
  assert.deepEqual(list[0]!.modules, ['virtio_mmio', 'virtio_blk']);
  assert.equal(list[0]!.kernelPackage, 'linux-image-6.1.0-test-riscv64');
  assert.equal(list[1]!.kernelVersion, '6.2.0-x');
});

test('an empty or missing cache says how to fill it', async () => {
  for (const dir of [join(root, 'none'), join(root, 'empty')]) {
    if (dir.endsWith('empty')) mkdirSync(join(dir, 'guests'), { recursive: true });
    const r = await virtkit(['guest', 'list'], '', 60_000, { VIRTKIT_CACHE: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "no guests cached (run 'virtkit guest fetch')\n");
    const j = await virtkit(['guest', 'list', '--json'], '', 60_000, { VIRTKIT_CACHE: dir });
    assert.deepEqual(JSON.parse(j.stdout), []);
  }
});

test('guest list refuses stray arguments', async () => {
  const r = await virtkit(['guest', 'list', 'everything'], '', 60_000, env);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unexpected argument 'everything'/);
});

test('run boots the default guest from the cache it finds (here a fake kernel, refused as such)', async () => {
  const r = await virtkit(['run'], '', 60_000, env);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /kernel ELF: unknown ELF class 65/);
  assert.doesNotMatch(r.stderr, /fetching/);
});
