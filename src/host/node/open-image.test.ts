/**
 * Host image opening: names inside images resolve beside the referring image, and create()
 * paths can make companion files (a monolithicFlat VMDK's -flat extent) through hostFileCreator.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { vmdkFormat } from '../../storage/vmdk/index.ts';
import { FileStore } from './file-store.ts';
import { createHostFile, hostFileCreator, openHostFile, openImageFile, resolveImageRef } from './open-image.ts';

const dir = mkdtempSync(join(tmpdir(), 'virtkit-open-image-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('host image files', () => {
  it('resolves relative names against the referring image', () => {
    assert.equal(resolveImageRef('b.qcow2', '/x/y/a.qcow2'), '/x/y/b.qcow2');
    assert.equal(resolveImageRef('/abs/b.qcow2', '/x/y/a.qcow2'), '/abs/b.qcow2');
  });

  it('a writable image that names itself as backing file is a loop, not a lock conflict with itself', async () => {
    const f = join(dir, 'self.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', f, '1M']);
    execFileSync('qemu-img', ['rebase', '-u', '-b', 'self.qcow2', '-F', 'qcow2', f]);
    for (const readOnly of [false, true]) {
      await assert.rejects(openImageFile(f, { readOnly }), { code: 'backing-loop', message: /loops back to/ });
    }
    // Nothing stays locked: a writer gets the file after the failed opens.
    const s = await FileStore.open(f, { lock: { perms: 2, unshared: 2 } });
    await s.close();
  });

  it('openHostFile never creates a missing file; createHostFile does when writable', async () => {
    const ref = join(dir, 'ref.img');
    await assert.rejects(openHostFile('missing.img', false, ref), { code: 'not-found' });
    assert.equal(existsSync(join(dir, 'missing.img')), false);
    await assert.rejects(createHostFile('missing-ro.img', true, ref), { code: 'not-found' });
    const s = await createHostFile('made.img', false, ref);
    await s.write(0, new Uint8Array([1, 2, 3]));
    await s.close();
    assert.equal(statSync(join(dir, 'made.img')).size, 3);
  });

  it('creates a monolithicFlat VMDK with its -flat extent, which qemu-img and openImageFile read', async () => {
    const path = join(dir, 'flat.vmdk');
    const store = await FileStore.open(path, { create: true });
    await vmdkFormat.create!(store, 3 << 20, {
      options: { subformat: 'monolithicFlat' },
      openFile: hostFileCreator(path),
    });
    await store.close();
    assert.equal(statSync(join(dir, 'flat-flat.vmdk')).size, 3 << 20);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', path], { encoding: 'utf8' })) as {
      'virtual-size': number;
      format: string;
    };
    assert.equal(info.format, 'vmdk');
    assert.equal(info['virtual-size'], 3 << 20);
    const img = await openImageFile(path);
    await img.write(1 << 20, new Uint8Array(512).fill(7));
    const back = new Uint8Array(512);
    await img.read(1 << 20, back);
    assert.deepEqual(back, new Uint8Array(512).fill(7));
    await img.close();
  });
});
