/** Malformed VHDs: each damaged field gives a StorageError naming it, never a crash or a huge allocation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRng } from '../contract/block-backend-contract.ts';
import { MemoryStore } from '../memory-store.ts';
import { StorageError } from '../types.ts';
import { vhdChecksum } from './footer.ts';
import { vpcFormat } from './index.ts';

async function dynamicImage(size = 5 << 20): Promise<Uint8Array> {
  const s = new MemoryStore('d.vhd');
  await vpcFormat.create!(s, size, { options: { force_size: 'on' } });
  const b = await vpcFormat.open(s, {});
  await b.write(0, new Uint8Array(3 << 20).fill(7));
  await b.close();
  return s.bytes();
}

/** Edits both footer copies (or the dynamic header) and fixes their checksums, so only the field is wrong. */
function edit(img: Uint8Array, fn: (dv: DataView, base: number) => void, what: 'footer' | 'header'): Uint8Array {
  const out = img.slice();
  const dv = new DataView(out.buffer);
  const bases = what === 'footer' ? [0, out.length - 512] : [512];
  for (const base of bases) {
    fn(dv, base);
    const len = what === 'footer' ? 512 : 1024;
    const ck = what === 'footer' ? 64 : 36;
    dv.setUint32(base + ck, vhdChecksum(out.subarray(base, base + len), ck));
  }
  return out;
}

async function rejects(img: Uint8Array, code: string, re: RegExp): Promise<void> {
  await assert.rejects(
    async () => {
      const b = await vpcFormat.open(new MemoryStore('bad.vhd', img, true), {});
      try {
        await b.read(0, new Uint8Array(b.size));
      } finally {
        await b.close();
      }
    },
    (e: unknown) => {
      assert.ok(e instanceof StorageError, `not a StorageError: ${String(e)}`);
      assert.equal(e.code, code, e.message);
      assert.match(e.message, re);
      return true;
    },
  );
}

describe('vpc hostile input', () => {
  it('rejects a wrong footer checksum, naming it', async () => {
    const img = await dynamicImage();
    img[30] ^= 1;
    await rejects(img, 'checksum', /footer.*checksum/);
  });
  it('rejects a wrong dynamic header checksum', async () => {
    const img = await dynamicImage();
    img[512 + 600] ^= 0x40;
    await rejects(img, 'checksum', /dynamic header: checksum/);
  });
  it('rejects bad footer fields', async () => {
    const img = await dynamicImage();
    await rejects(
      edit(img, (dv, b) => dv.setUint32(b + 60, 7), 'footer'),
      'unsupported',
      /disk_type 7/,
    );
    await rejects(
      edit(img, (dv, b) => dv.setUint32(b + 16, 0x7fff), 'footer'),
      'corrupt',
      /data_offset/,
    );
    await rejects(
      edit(img, (dv, b) => dv.setUint32(b + 48, 0x1000), 'footer'),
      'too-large',
      /2040 GiB/,
    );
    await rejects(
      edit(img, (dv, b) => dv.setUint32(b + 48, 0xffffffff), 'footer'),
      'too-large',
      /current_size/,
    );
  });
  it('rejects bad dynamic header fields', async () => {
    const img = await dynamicImage();
    await rejects(
      edit(img, (dv, b) => dv.setUint32(b + 32, 3000), 'header'),
      'corrupt',
      /block_size 3000/,
    );
    await rejects(
      edit(img, (dv, b) => dv.setUint32(b + 28, 1), 'header'),
      'corrupt',
      /max_table_entries 1/,
    );
    await rejects(
      edit(img, (dv, b) => dv.setUint32(b + 28, 0x40000000), 'header'),
      'too-large',
      /BAT/,
    );
    await rejects(
      edit(img, (dv, b) => dv.setUint32(b + 28, 1 << 24), 'header'),
      'corrupt',
      /table_offset/,
    );
    await rejects(
      edit(img, (dv, b) => dv.setUint32(b + 20, 1 << 30), 'header'),
      'corrupt',
      /table_offset/,
    );
  });
  it('rejects a BAT entry past the end of the file', async () => {
    const img = await dynamicImage();
    new DataView(img.buffer).setUint32(1536 + 4, 0x00ffffff);
    await rejects(img, 'corrupt', /BAT entry 1/);
  });
  it('rejects a fixed disk shorter than its footer says, and a file too small for a footer', async () => {
    const s = new MemoryStore('f.vhd');
    await vpcFormat.create!(s, 1 << 20, { options: { subformat: 'fixed', force_size: 'on' } });
    const img = s.bytes();
    await rejects(img.slice(img.length - 512), 'corrupt', /fixed disk/);
    await rejects(img.slice(0, 100), 'corrupt', /cannot hold a footer/);
  });
  it('never opens writable on a read-only store', async () => {
    const img = await dynamicImage();
    await assert.rejects(vpcFormat.open(new MemoryStore('ro.vhd', img, true), { readOnly: false }), {
      code: 'read-only',
    });
  });
  it('survives random corruption of the metadata with StorageErrors only', async () => {
    const good = await dynamicImage(3 << 20);
    const rng = makeRng(0xbad);
    let opened = 0;
    for (let iter = 0; iter < 300; iter++) {
      const img = good.slice();
      for (let k = 0; k < 1 + rng(4); k++) img[rng(1536 + 64)] = rng(256);
      // Half the time, repair the checksums so the damage reaches the fields behind them.
      if (rng(2)) {
        const dv = new DataView(img.buffer);
        dv.setUint32(64, vhdChecksum(img.subarray(0, 512), 64));
        dv.setUint32(512 + 36, vhdChecksum(img.subarray(512, 1536), 36));
      }
      try {
        const b = await vpcFormat.open(new MemoryStore('fuzz.vhd', img, true), {});
        opened++;
        if (b.size <= 64 << 20) await b.read(0, new Uint8Array(b.size));
        else await b.read(b.size - 4096, new Uint8Array(4096));
        await b.blockStatus(0, b.size);
        await b.close();
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
      }
    }
    assert.ok(opened > 0);
  });
});
