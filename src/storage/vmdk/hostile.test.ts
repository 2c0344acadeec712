/** Malformed VMDKs: each damaged field gives a StorageError naming it, never a crash or a huge allocation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRng } from '../contract/block-backend-contract.ts';
import { MemoryStore } from '../memory-store.ts';
import { utf8Encode } from '../text.ts';
import { StorageError, type ByteStore } from '../types.ts';
import { vmdkFormat } from './index.ts';

async function sparseImage(subformat = 'monolithicSparse', size = 3 << 20): Promise<Uint8Array> {
  const s = new MemoryStore('d.vmdk');
  await vmdkFormat.create!(s, size, { options: { subformat } });
  const b = await vmdkFormat.open(s, {});
  const data = new Uint8Array(2 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13) >> 3;
  await b.write(0, data);
  await b.close();
  return s.bytes();
}

function withU32(img: Uint8Array, off: number, v: number): Uint8Array {
  const out = img.slice();
  new DataView(out.buffer).setUint32(off, v, true);
  return out;
}

async function openAndRead(img: Uint8Array, openFile?: (n: string, ro: boolean) => Promise<ByteStore>): Promise<void> {
  const b = await vmdkFormat.open(new MemoryStore('bad.vmdk', img, true), { openFile });
  try {
    await b.read(0, new Uint8Array(Math.min(b.size, 8 << 20)));
  } finally {
    await b.close();
  }
}

async function rejects(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof StorageError, `not a StorageError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  });
}

describe('vmdk hostile input', () => {
  it('rejects bad sparse header fields, naming them', async () => {
    const img = await sparseImage();
    await rejects(openAndRead(withU32(img, 4, 9)), 'unsupported', /version 9/);
    await rejects(openAndRead(withU32(img, 20, 3)), 'corrupt', /grainSize 3/);
    await rejects(openAndRead(withU32(img, 20, 1 << 20)), 'too-large', /grainSize/);
    await rejects(openAndRead(withU32(img, 44, 4096)), 'corrupt', /numGTEsPerGT 4096/);
    await rejects(openAndRead(withU32(img, 56, 0x100000)), 'corrupt', /gdOffset/);
    await rejects(openAndRead(withU32(img, 48, 0x100000)), 'corrupt', /rgdOffset/);
    await rejects(openAndRead(withU32(withU32(img, 12, 0), 16, 0x800)), 'too-large', /grain directory/);
    await rejects(openAndRead(withU32(img, 16, 0x10000)), 'too-large', /capacity/);
    await rejects(openAndRead(withU32(img, 36, 5000)), 'corrupt', /embedded descriptor/);
  });
  it('rejects GD and GT entries that point outside the file', async () => {
    const img = await sparseImage();
    const dv = new DataView(img.buffer);
    const gd = dv.getUint32(56, true) * 512;
    await rejects(openAndRead(withU32(img, gd, 0x7fffffff)), 'corrupt', /gdOffset entry 0/);
    const gt = dv.getUint32(gd, true) * 512;
    await rejects(openAndRead(withU32(img, gt + 8, 0x7fffffff)), 'corrupt', /grain 2 /);
  });
  it('rejects damaged compressed grains and markers', async () => {
    const img = await sparseImage('streamOptimized');
    const first = 128 * 512; // the first grain marker follows the 64 KiB overhead
    await rejects(openAndRead(withU32(img, first + 8, 0x7fffffff)), 'corrupt', /grain 0 marker size/);
    const bad = img.slice();
    bad.fill(0x55, first + 12, first + 40);
    await rejects(openAndRead(bad), 'corrupt', /compressed grain 0/);
    await rejects(openAndRead(withU32(img, img.length - 1536 + 12, 9)), 'corrupt', /footer/);
    const alg = img.slice();
    new DataView(alg.buffer).setUint16(alg.length - 1024 + 77, 2, true);
    await rejects(openAndRead(alg), 'unsupported', /compressAlgorithm 2/);
  });
  it('checks descriptor files and their extents', async () => {
    const files = new Map<string, Uint8Array>([['small-flat.vmdk', new Uint8Array(4096)]]);
    const openFile = async (n: string): Promise<ByteStore> => {
      const f = files.get(n);
      if (!f) throw new StorageError('not-found', `${n}: no such file`);
      return new MemoryStore(n, f, true);
    };
    const desc = (ext: string) =>
      utf8Encode(`# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType="monolithicFlat"\n${ext}\n`);
    await rejects(
      openAndRead(desc('RW 16 FLAT "small-flat.vmdk" 0'), openFile),
      'corrupt',
      /small-flat\.vmdk" is 4096 bytes/,
    );
    await rejects(openAndRead(desc('RW 16 FLAT "missing.vmdk" 0'), openFile), 'not-found', /missing\.vmdk/);
    await rejects(openAndRead(desc('RW 16 FLAT "small-flat.vmdk" 0')), 'not-found', /openFile/);
    await rejects(openAndRead(desc('RW 8 VMFSSPARSE "x.vmdk"'), openFile), 'unsupported', /VMFSSPARSE/);
    await rejects(
      openAndRead(
        utf8Encode(
          '# Disk DescriptorFile\ncreateType="monolithicFlat"\nRW 8 FLAT "small-flat.vmdk" 0\nparentCID=1234\n',
        ),
        openFile,
      ),
      'corrupt',
      /parentFileNameHint/,
    );
    // Exactly fits: reads fine.
    await openAndRead(desc('RW 8 FLAT "small-flat.vmdk" 0'), openFile);
  });
  it('survives random corruption of the metadata with StorageErrors only', async () => {
    for (const sub of ['monolithicSparse', 'streamOptimized']) {
      const good = await sparseImage(sub, 2 << 20);
      const rng = makeRng(sub.length);
      const gdAt = sub === 'streamOptimized' ? good.length - 3 * 512 - 2048 : 21 * 512;
      let opened = 0;
      for (let iter = 0; iter < 150; iter++) {
        const img = good.slice();
        for (let k = 0; k < 1 + rng(3); k++) {
          const where = rng(3);
          const off = where === 0 ? rng(80) : where === 1 ? gdAt + rng(2048) : 128 * 512 + rng(4096);
          img[Math.min(off, img.length - 1)] = rng(256);
        }
        try {
          const b = await vmdkFormat.open(new MemoryStore('fuzz.vmdk', img, true), {});
          opened++;
          await b.read(0, new Uint8Array(Math.min(b.size, 4 << 20)));
          await b.blockStatus(0, b.size);
          await b.close();
        } catch (e) {
          if (!(e instanceof StorageError)) throw e;
        }
      }
      assert.ok(opened > 0, sub);
    }
  });
});
