/**
 * Differential tests against qemu-img/qemu-io: VMDKs qemu writes (every subformat) read
 * byte-exact here, VMDKs written here pass `qemu-img check` and `qemu-img compare`, and both
 * agree on the virtual size.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { FileStore } from '../../host/node/file-store.ts';
import { openImageFile } from '../../host/node/open-image.ts';
import type { OpenOptions } from '../formats.ts';
import { patternBytes, qemuVirtualSize as virtualSize, readAll, run as qemu, scratchDir } from '../testing.ts';
import type { ByteStore } from '../types.ts';
import { vmdkFormat } from './index.ts';

const dir = scratchDir('virtkit-vmdk-');
const qemuVirtualSize = (path: string) => virtualSize(path, 'vmdk');

const openFile = (name: string, readOnly: boolean): Promise<ByteStore> =>
  FileStore.open(resolve(dir, name), { readOnly, create: !readOnly });
const openBacking: OpenOptions['openBacking'] = async (name) =>
  vmdkFormat.open(await openFile(name, true), { readOnly: true, openFile });

const SIZE = (3 << 20) + 5 * 512;
const rawPath = join(dir, 'pattern.raw');
// Counters, random-looking bytes, and three whole grains of zeros.
const pattern = patternBytes(SIZE, { seed: 99, counter: 64, random: 1436, zeros: [1 << 20, (1 << 20) + (192 << 10)] });
writeFileSync(rawPath, pattern);

describe('vmdk images written by qemu', () => {
  for (const sub of [
    'monolithicSparse',
    'streamOptimized',
    'monolithicFlat',
    'twoGbMaxExtentSparse',
    'twoGbMaxExtentFlat',
  ]) {
    it(`reads qemu-img convert -o subformat=${sub} byte-exact`, async () => {
      const img = join(dir, `q-${sub}.vmdk`);
      qemu('qemu-img', 'convert', '-f', 'raw', '-O', 'vmdk', '-o', `subformat=${sub}`, rawPath, img);
      const back = join(dir, `q-${sub}.raw`);
      qemu('qemu-img', 'convert', '-f', 'vmdk', '-O', 'raw', img, back);
      const b = await vmdkFormat.open(await FileStore.open(img, { readOnly: true }), { openFile });
      try {
        assert.equal(b.size, qemuVirtualSize(img));
        assert.deepEqual(await readAll(b), new Uint8Array(readFileSync(back)));
        assert.deepEqual((await readAll(b)).subarray(0, SIZE), pattern);
      } finally {
        await b.close();
      }
    });
  }

  it('reads a qemu delta disk through its parent, and qemu-io writes to it', async () => {
    const base = join(dir, 'qbase.vmdk');
    const delta = join(dir, 'qdelta.vmdk');
    qemu('qemu-img', 'convert', '-f', 'raw', '-O', 'vmdk', rawPath, base);
    qemu('qemu-img', 'create', '-q', '-f', 'vmdk', '-b', 'qbase.vmdk', '-F', 'vmdk', delta);
    qemu('qemu-io', '-f', 'vmdk', '-c', 'write -P 0xab 70000 5000', '-c', 'write -z 2M 64k', delta);
    const b = await vmdkFormat.open(await FileStore.open(delta, { readOnly: true }), { openBacking, readOnly: true });
    try {
      const expect = pattern.slice();
      expect.fill(0xab, 70000, 75000);
      expect.fill(0, 2 << 20, (2 << 20) + (64 << 10));
      assert.equal(b.size, SIZE);
      assert.deepEqual(await readAll(b), expect);
      const st = await b.blockStatus(5 << 19, 4096);
      assert.equal(st.depth, 1);
    } finally {
      await b.close();
    }
  });
});

describe('vmdk images written by virtkit', () => {
  for (const sub of ['monolithicSparse', 'streamOptimized', 'monolithicFlat']) {
    it(`${sub}: qemu-img check passes and compare matches the source`, async () => {
      const img = join(dir, `v-${sub}.vmdk`);
      const store = await FileStore.open(img, { create: true });
      await vmdkFormat.create!(store, SIZE, {
        options: { subformat: sub, adapter_type: 'lsilogic', hwversion: '6' },
        openFile,
      });
      const b = await vmdkFormat.open(store, { openFile });
      // Sequential writes in 100000-byte pieces (not grain aligned), skipping the all-zero grains.
      for (let off = 0; off < SIZE; off += 100_000) {
        const part = pattern.subarray(off, Math.min(SIZE, off + 100_000));
        if (part.some((v) => v !== 0)) await b.write(off, part);
      }
      await b.close();
      assert.equal(qemuVirtualSize(img), SIZE);
      if (sub !== 'monolithicFlat') qemu('qemu-img', 'check', '-f', 'vmdk', img);
      qemu('qemu-img', 'compare', '-f', 'vmdk', '-F', 'raw', img, rawPath);
      const info = JSON.parse(qemu('qemu-img', 'info', '-f', 'vmdk', '--output=json', img));
      assert.equal(info['format-specific'].data['create-type'], sub);
    });
  }

  it('a delta disk on a qemu parent reads identically in qemu', async () => {
    const base = join(dir, 'vbase.vmdk');
    qemu('qemu-img', 'convert', '-f', 'raw', '-O', 'vmdk', rawPath, base);
    const img = join(dir, 'vdelta.vmdk');
    const store = await FileStore.open(img, { create: true });
    await vmdkFormat.create!(store, 0, { options: {}, backingFile: 'vbase.vmdk', backingFormat: 'vmdk', openBacking });
    const b = await vmdkFormat.open(store, { openBacking });
    await b.write(12345, new Uint8Array(70000).fill(0x5c));
    await b.writeZeroes(2 << 20, 64 << 10);
    await b.close();
    const expect = pattern.slice();
    expect.fill(0x5c, 12345, 12345 + 70000);
    expect.fill(0, 2 << 20, (2 << 20) + (64 << 10));
    const expectPath = join(dir, 'vdelta.expect.raw');
    writeFileSync(expectPath, expect);
    qemu('qemu-img', 'check', '-f', 'vmdk', img);
    qemu('qemu-img', 'compare', '-f', 'vmdk', '-F', 'raw', img, expectPath);
  });

  it('reads back what qemu-img create made and what qemu-io wrote into it', async () => {
    const img = join(dir, 'qc.vmdk');
    qemu('qemu-img', 'create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicSparse,zeroed_grain=on', img, '5M');
    qemu(
      'qemu-io',
      '-f',
      'vmdk',
      '-c',
      'write -P 0x11 0 100k',
      '-c',
      'write -P 0x22 4M 1k',
      '-c',
      'write -z 0 64k',
      img,
    );
    const b = await vmdkFormat.open(await FileStore.open(img, { readOnly: true }), {});
    try {
      assert.equal(b.size, qemuVirtualSize(img));
      const got = await readAll(b);
      const expect = new Uint8Array(5 << 20);
      expect.fill(0x11, 0, 100 << 10);
      expect.fill(0, 0, 64 << 10);
      expect.fill(0x22, 4 << 20, (4 << 20) + 1024);
      assert.deepEqual(got, expect);
      const st = await b.blockStatus(0, 1 << 20);
      assert.equal(st.zero, true); // zeroed grain (GTE 1) written by write -z
      assert.equal(st.length, 64 << 10);
    } finally {
      await b.close();
    }
  });
});

describe('vmdk through the registry', () => {
  it('is detected by content and opens descriptor files, extents and parents via the host', async () => {
    const img = join(dir, 'reg-2gb.vmdk');
    qemu('qemu-img', 'convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse', rawPath, img);
    const delta = join(dir, 'reg-delta.vmdk');
    qemu('qemu-img', 'create', '-q', '-f', 'vmdk', '-b', 'reg-2gb.vmdk', '-F', 'vmdk', delta);
    for (const path of [img, delta]) {
      const b = await openImageFile(path, { readOnly: true });
      try {
        assert.equal(b.format, 'vmdk');
        assert.deepEqual((await readAll(b)).subarray(0, SIZE), pattern);
      } finally {
        await b.close();
      }
    }
  });
});
