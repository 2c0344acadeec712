/**
 * Differential tests against qemu-img: images qemu writes read byte-exact here, images written
 * here read byte-exact in qemu, and both agree on the virtual size.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileStore } from '../../host/node/file-store.ts';
import { openImageFile } from '../../host/node/open-image.ts';
import { patternBytes, qemuVirtualSize, readAll, run, scratchDir } from '../testing.ts';
import { vpcFormat } from './index.ts';

const dir = scratchDir('virtkit-vhd-');
const qemuImg = (...args: string[]) => run('qemu-img', ...args);

const SIZE = (5 << 20) + 7 * 512;
const rawPath = join(dir, 'pattern.raw');
// Counters, random-looking bytes, and a hole that includes a whole 2 MiB block of zeros.
const pattern = patternBytes(SIZE, { seed: 12345, counter: 100, random: 600, zeros: [1 << 20, 4 << 20] });
writeFileSync(rawPath, pattern);

describe('vpc against qemu-img', () => {
  for (const subformat of ['dynamic', 'fixed']) {
    for (const forceSize of ['on', 'off']) {
      const tag = `${subformat} force_size=${forceSize}`;
      it(`reads qemu-img convert output (${tag}) byte-exact with the same virtual size`, async () => {
        const img = join(dir, `q-${subformat}-${forceSize}.vhd`);
        qemuImg(
          'convert',
          '-f',
          'raw',
          '-O',
          'vpc',
          '-o',
          `subformat=${subformat},force_size=${forceSize}`,
          rawPath,
          img,
        );
        const back = join(dir, `q-${subformat}-${forceSize}.raw`);
        qemuImg('convert', '-f', 'vpc', '-O', 'raw', img, back);
        const b = await vpcFormat.open(await FileStore.open(img, { readOnly: true }), {});
        try {
          assert.equal(b.size, qemuVirtualSize(img, 'vpc'));
          assert.deepEqual(await readAll(b), new Uint8Array(readFileSync(back)));
        } finally {
          await b.close();
        }
      });

      it(`writes images qemu reads identically (${tag})`, async () => {
        const img = join(dir, `v-${subformat}-${forceSize}.vhd`);
        const store = await FileStore.open(img, { create: true });
        await vpcFormat.create!(store, SIZE, { options: { subformat, force_size: forceSize } });
        const b = await vpcFormat.open(store, {});
        // Write runs of non-zero 4 KiB pages (never more than 300000 bytes), so allocation happens mid-block.
        for (let off = 0; off < SIZE;) {
          let end = off;
          while (end < SIZE && end - off < 300_000 && pattern.subarray(end, end + 4096).some((v) => v !== 0))
            end += 4096;
          end = Math.min(end, SIZE);
          if (end > off) await b.write(off, pattern.subarray(off, end));
          off = Math.max(end, off + 4096);
        }
        const size = b.size;
        await b.close();
        assert.equal(qemuVirtualSize(img, 'vpc'), size);
        const expect = join(dir, `v-${subformat}-${forceSize}.expect.raw`);
        const full = new Uint8Array(size);
        full.set(pattern);
        writeFileSync(expect, full);
        qemuImg('compare', '-f', 'vpc', '-F', 'raw', img, expect);
        if (subformat === 'dynamic') {
          // Blocks of pure zeros were never written, so never allocated.
          const map = JSON.parse(qemuImg('map', '-f', 'vpc', '--output=json', img)) as {
            start: number;
            data: boolean;
          }[];
          const at = (o: number) => map.filter((m) => m.start <= o).pop()!;
          assert.equal(at(2 << 20).data, false);
          assert.equal(at(3 << 20).data, false);
          assert.equal(at(0).data, true);
        }
      });
    }
  }

  it('agrees with qemu-img on sizes qemu-img create picks', async () => {
    for (const size of [1, 511, 10_000_000, 1 << 30, 130 * 2 ** 30]) {
      for (const forceSize of ['on', 'off']) {
        const img = join(dir, `sz.vhd`);
        rmSync(img, { force: true });
        qemuImg('create', '-q', '-f', 'vpc', '-o', `subformat=dynamic,force_size=${forceSize}`, img, String(size));
        const b = await vpcFormat.open(await FileStore.open(img, { readOnly: true }), {});
        const ours = join(dir, 'sz-ours.vhd');
        rmSync(ours, { force: true });
        const s = await FileStore.open(ours, { create: true });
        await vpcFormat.create!(s, size, { options: { force_size: forceSize } });
        await s.close();
        try {
          assert.equal(b.size, qemuVirtualSize(img, 'vpc'), `qemu's image, size ${size} force_size=${forceSize}`);
          assert.equal(qemuVirtualSize(ours, 'vpc'), b.size, `our image, size ${size} force_size=${forceSize}`);
        } finally {
          await b.close();
        }
      }
    }
  });
});

describe('vpc through the registry', () => {
  it('detects dynamic disks by content and reads them', async () => {
    const img = join(dir, 'reg.vhd');
    qemuImg('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=dynamic,force_size=on', rawPath, img);
    const b = await openImageFile(img, { readOnly: true });
    try {
      assert.equal(b.format, 'vpc');
      assert.deepEqual((await readAll(b)).subarray(0, SIZE), pattern);
    } finally {
      await b.close();
    }
  });
});
