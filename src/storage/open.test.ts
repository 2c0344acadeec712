import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from './memory-store.ts';
import { detectFormatName, openImage } from './open.ts';
import { qcow2Format } from './qcow2/format.ts';
import { detectFormat } from './registry.ts';
import type { ByteStore } from './types.ts';

/** A little in-memory "file system" of named stores. */
function fsOf(files: Record<string, MemoryStore>) {
  return async (name: string): Promise<ByteStore> => {
    const s = files[name];
    if (!s) throw new Error(`no ${name}`);
    return s.readOnlyView();
  };
}

async function qcow2(size: number, backing?: string, backingFormat?: string): Promise<MemoryStore> {
  const s = new MemoryStore(backing ? `over-${backing}` : 'q');
  await qcow2Format.create!(s, size, { options: { cluster_size: '4k' }, backingFile: backing, backingFormat });
  return s;
}

describe('registry and openImage', () => {
  it('detects qcow2 by magic and falls back to raw', async () => {
    assert.equal((await detectFormat(await qcow2(1 << 20))).name, 'qcow2');
    assert.equal((await detectFormat(new MemoryStore('r', new Uint8Array(1000)))).name, 'raw');
    assert.equal(await detectFormatName(new MemoryStore('e')), 'raw');
  });

  it('refuses a -f that does not match the content, but allows raw', async () => {
    const s = await qcow2(1 << 20);
    await assert.rejects(openImage(s, { format: 'vmdk' }), /unknown image format|image is qcow2, not vmdk/);
    const raw = new MemoryStore('plain', new Uint8Array(4096));
    await assert.rejects(openImage(raw, { format: 'qcow2' }), {
      code: 'bad-magic',
      message: /image is raw, not qcow2/,
    });
    const asRaw = await openImage(s, { format: 'raw' });
    assert.equal(asRaw.format, 'raw');
  });

  it('opens a backing chain, backing layers read-only', async () => {
    const files: Record<string, MemoryStore> = {};
    files['base'] = new MemoryStore('base', new Uint8Array(1 << 20).fill(7));
    files['mid'] = Object.assign(await qcow2(1 << 20, 'base', 'raw'), { name: 'mid' });
    const top = await qcow2(1 << 20, 'mid');
    const b = await openImage(top, { openFile: fsOf(files) });
    assert.equal(b.backing?.format, 'qcow2');
    assert.equal(b.backing?.readOnly, true);
    assert.equal(b.backing?.backing?.format, 'raw');
    const buf = new Uint8Array(4);
    await b.read(5000, buf);
    assert.deepEqual(buf, new Uint8Array(4).fill(7));
  });

  it('detects backing loops', async () => {
    const a = new MemoryStore('a');
    await qcow2Format.create!(a, 1 << 20, { options: {}, backingFile: 'b' });
    const b = new MemoryStore('b');
    await qcow2Format.create!(b, 1 << 20, { options: {}, backingFile: 'a' });
    await assert.rejects(openImage(a, { openFile: fsOf({ a, b }) }), { code: 'backing-loop' });
    const self = new MemoryStore('self');
    await qcow2Format.create!(self, 1 << 20, { options: {}, backingFile: 'self' });
    await assert.rejects(openImage(self, { openFile: fsOf({ self }) }), { code: 'backing-loop' });
  });

  it('caps the chain depth', async () => {
    const files: Record<string, MemoryStore> = { f0: new MemoryStore('f0', new Uint8Array(4096)) };
    for (let i = 1; i <= 6; i++) {
      const s = new MemoryStore(`f${i}`);
      await qcow2Format.create!(s, 4096, { options: {}, backingFile: `f${i - 1}` });
      files[`f${i}`] = s;
    }
    await assert.rejects(openImage(files['f6']!, { openFile: fsOf(files), maxDepth: 3 }), { code: 'backing-depth' });
    const ok = await openImage(files['f6']!, { openFile: fsOf(files), maxDepth: 6 });
    assert.equal(ok.format, 'qcow2');
  });

  it('needs openFile for backing files', async () => {
    await assert.rejects(openImage(await qcow2(4096, 'x')), { code: 'not-found' });
  });
});
