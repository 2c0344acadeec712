import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runBlockBackendContract } from '../../storage/contract/block-backend-contract.ts';
import { rawFormat } from '../../storage/raw.ts';
import { formats } from '../../storage/registry.ts';
import { FileStore } from './file-store.ts';
import { openImageFile } from './open-image.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtkit-fs-'));
});
after(() => rm(dir, { recursive: true, force: true }));

let n = 0;
runBlockBackendContract('raw over FileStore', async (size) => {
  const path = join(dir, `c${n++}.raw`);
  const store = await FileStore.open(path, { create: true });
  await rawFormat.create!(store, size, { options: {} });
  return {
    backend: await rawFormat.open(store, {}),
    reopen: (readOnly) => openImageFile(path, { readOnly, format: 'raw' }),
  };
});

describe('FileStore', () => {
  it('reads zeros past the end, grows on write, truncates', async () => {
    const path = join(dir, 'a.bin');
    await writeFile(path, Uint8Array.of(1, 2, 3));
    const s = await FileStore.open(path);
    const buf = new Uint8Array(6);
    await s.read(1, buf);
    assert.deepEqual(buf, Uint8Array.of(2, 3, 0, 0, 0, 0));
    await s.write(10, Uint8Array.of(9));
    assert.equal(await s.size(), 11);
    await s.truncate(2);
    assert.equal(await s.size(), 2);
    await s.close();
  });
  it('keeps size() equal to the file length through writes, concurrent writes and truncates', async () => {
    const path = join(dir, 'size.bin');
    await writeFile(path, new Uint8Array(100));
    const s = await FileStore.open(path);
    const onDisk = async () => (await stat(path)).size;
    assert.equal(await s.size(), 100);
    await s.write(50, new Uint8Array(10));
    assert.equal(await s.size(), 100);
    await s.write(4096, new Uint8Array(0));
    assert.equal(await s.size(), 100, 'an empty write does not grow the file');
    const pending = [s.write(5000, new Uint8Array(1000)), s.write(300, new Uint8Array(10))];
    assert.equal(await s.size(), 6000, 'a write in progress counts');
    await Promise.all(pending);
    assert.equal(await s.size(), await onDisk());
    await s.truncate(10);
    assert.equal(await s.size(), 10);
    await s.truncate(70000);
    assert.equal(await s.size(), 70000);
    assert.equal(await onDisk(), 70000);
    await s.close();
  });
  it('maps errors to StorageError codes', async () => {
    await assert.rejects(FileStore.open(join(dir, 'missing')), { code: 'not-found' });
    const path = join(dir, 'ro.bin');
    await writeFile(path, new Uint8Array(4));
    const s = await FileStore.open(path, { readOnly: true });
    await assert.rejects(s.write(0, new Uint8Array(1)), { code: 'read-only' });
    await s.close();
  });
  it('create with truncate empties an existing file, or creates it', async () => {
    const path = join(dir, 't.bin');
    await writeFile(path, new Uint8Array(5000).fill(3));
    const s = await FileStore.open(path, { create: true, truncate: true });
    assert.equal(await s.size(), 0);
    assert.equal((await stat(path)).size, 0);
    await s.write(10, Uint8Array.of(1));
    assert.equal(await s.size(), 11);
    await s.close();
    const fresh = await FileStore.open(join(dir, 't2.bin'), { create: true, truncate: true });
    assert.equal(await fresh.size(), 0);
    await fresh.close();
  });
  it('create with exclusive refuses an existing file', async () => {
    const path = join(dir, 'x.bin');
    await (await FileStore.open(path, { create: true, exclusive: true })).close();
    await assert.rejects(FileStore.open(path, { create: true, exclusive: true }));
  });
});

/*
 * Real file I/O completes out of order (the thread pool), which in-memory stores never do: the
 * VHDX writer once lost data when concurrent writes into one new block both allocated it.
 */
describe('concurrent writes into a fresh image on a FileStore', () => {
  for (const fmt of formats.filter((f) => f.create)) {
    it(`${fmt.name}: eight 2 MiB writes at once read back intact`, async () => {
      const path = join(dir, `conc.${fmt.name}`);
      const size = 256 * 1024 * 1024;
      const store = await FileStore.open(path, { create: true });
      await fmt.create!(store, size, { options: {} });
      await store.close();
      const chunk = 2 * 1024 * 1024;
      const data = (i: number) => new Uint8Array(chunk).fill(i * 17 + 3);
      let b = await openImageFile(path, { readOnly: false, format: fmt.name });
      try {
        await Promise.all(Array.from({ length: 8 }, (_, i) => b.write(i * chunk, data(i))));
        await b.close();
        b = await openImageFile(path, { readOnly: true, format: fmt.name });
        const got = new Uint8Array(chunk);
        for (let i = 0; i < 8; i++) {
          await b.read(i * chunk, got);
          assert.equal(Buffer.compare(got, data(i)), 0, `chunk ${i} reads back wrong`);
        }
      } finally {
        await b.close();
      }
    });
  }
});

describe('FileStore open errors', () => {
  it('say the host error in words (a directory, a path below a file), not a bare code', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtkit-fs-err-'));
    try {
      await assert.rejects(openImageFile(dir), /: is a directory, not a file$/);
      await writeFile(join(dir, 'f'), 'x');
      await assert.rejects(openImageFile(join(dir, 'f', 'g')), /a component of the path is not a directory$/);
      await assert.rejects(openImageFile(join(dir, 'nope')), /: no such file$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
