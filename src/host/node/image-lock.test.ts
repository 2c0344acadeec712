/**
 * QEMU-compatible image locks on real files: the exact bytes taken (QEMU's layout, read back
 * from /proc/locks), conflicts between two open file descriptions, release on close, and the
 * quiet fallback where locking cannot work.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageError } from '../../storage/types.ts';
import { FileStore } from './file-store.ts';
import { lockImageFd, lockModeFor, setLockWarning } from './image-lock.ts';
import { lockedBytes } from './proc-locks-test-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'virtkit-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const linux = process.platform === 'linux';

describe('image locks', { skip: !linux && 'OFD locks are Linux only' }, () => {
  it("takes QEMU's bytes: writer 100,101,103 + 201,203; reader 100 + 201,203; -U reader 100", async () => {
    const f = join(dir, 'bytes.img');
    writeFileSync(f, new Uint8Array(4096));
    const w = await FileStore.open(f, { lock: lockModeFor(false) });
    assert.deepEqual(lockedBytes(f), [100, 101, 103, 201, 203]);
    await w.close();
    assert.deepEqual(lockedBytes(f), [], 'closing the store releases every lock');
    const r = await FileStore.open(f, { readOnly: true, lock: lockModeFor(true) });
    assert.deepEqual(lockedBytes(f), [100, 201, 203]);
    const u = await FileStore.open(f, { readOnly: true, lock: lockModeFor(true, true) });
    assert.deepEqual(lockedBytes(f), [100, 100, 201, 203]);
    await r.close();
    await u.close();
  });

  it('two writers conflict; readers share; a reader refuses a writer; -U readers do not', async () => {
    const f = join(dir, 'conflict.img');
    writeFileSync(f, new Uint8Array(4096));
    const w = await FileStore.open(f, { lock: lockModeFor(false) });
    await assert.rejects(FileStore.open(f, { lock: lockModeFor(false) }), (e: unknown) => {
      assert.ok(e instanceof StorageError && e.code === 'locked');
      assert.match(e.message, /^Failed to get "write" lock\nIs another process using the image \[.*conflict\.img\]\?$/);
      return true;
    });
    await assert.rejects(FileStore.open(f, { readOnly: true, lock: lockModeFor(true) }), {
      code: 'locked',
      message: /Failed to get shared "write" lock/,
    });
    const u = await FileStore.open(f, { readOnly: true, lock: lockModeFor(true, true) });
    await w.close();
    // After the writer closes, a second writer gets in (the -U reader refuses nothing).
    const w2 = await FileStore.open(f, { lock: lockModeFor(false) });
    await w2.close();
    await u.close();

    const r1 = await FileStore.open(f, { readOnly: true, lock: lockModeFor(true) });
    const r2 = await FileStore.open(f, { readOnly: true, lock: lockModeFor(true) });
    await assert.rejects(FileStore.open(f, { lock: lockModeFor(false) }), { message: /Failed to get "write" lock/ });
    await r1.close();
    await r2.close();
    assert.deepEqual(lockedBytes(f), []);
  });

  it('a locked create does not empty a file another opener holds', async () => {
    const f = join(dir, 'held.img');
    writeFileSync(f, new Uint8Array(4096).fill(7));
    const w = await FileStore.open(f, { lock: lockModeFor(false) });
    await assert.rejects(FileStore.open(f, { create: true, truncate: true, lock: lockModeFor(false) }), {
      code: 'locked',
    });
    assert.equal(statSync(f).size, 4096);
    await w.close();
    const c = await FileStore.open(f, { create: true, truncate: true, lock: lockModeFor(false) });
    assert.equal(await c.size(), 0);
    await c.close();
    assert.equal(statSync(f).size, 0);
  });

  it('force-share on a writable open is refused, as in qemu', () => {
    assert.throws(() => lockModeFor(false, true), /force-share=on can only be used with read-only images/);
  });

  it('where locking cannot work it warns once and runs unlocked; conflicts name the permission', async () => {
    const warnings: string[] = [];
    setLockWarning((t) => warnings.push(t));
    try {
      const unsupported = () => Promise.resolve({ status: 'unsupported' as const, detail: 'cannot run perl: ENOENT' });
      await lockImageFd(0, lockModeFor(false), 'a.img', unsupported);
      await lockImageFd(0, lockModeFor(true), 'b.img', unsupported);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /image locking is unavailable \(cannot run perl: ENOENT\)/);
      const conflict = (detail: string) => () => Promise.resolve({ status: 'conflict' as const, detail });
      await assert.rejects(lockImageFd(0, lockModeFor(false), 'c.img', conflict('conflict want 3')), {
        message: 'Failed to get "resize" lock\nIs another process using the image [c.img]?',
      });
      await assert.rejects(lockImageFd(0, lockModeFor(true), 'c.img', conflict('conflict share 0')), {
        message: /^Failed to get shared "consistent read" lock/,
      });
      // No permissions and nothing refused (qemu-img info -U): no child at all.
      await lockImageFd(0, { perms: 0, unshared: 0 }, 'd.img', () => assert.fail('no child expected'));
    } finally {
      setLockWarning(undefined);
    }
  });
});
