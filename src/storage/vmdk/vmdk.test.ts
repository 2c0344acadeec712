import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBlockBackendContract } from '../contract/block-backend-contract.ts';
import { MemoryStore } from '../memory-store.ts';
import { StorageError, type ByteStore } from '../types.ts';
import { formatDescriptor, parseDescriptor } from './descriptor.ts';
import { vmdkFormat } from './index.ts';

/** A directory of in-memory files, as openFile sees them (read-only opens get a snapshot view). */
function memFs() {
  const files = new Map<string, MemoryStore>();
  return {
    files,
    openFile: async (name: string, readOnly: boolean): Promise<ByteStore> => {
      let f = files.get(name);
      if (!f) {
        if (readOnly) throw new StorageError('not-found', `${name}: no such file`);
        f = new MemoryStore(name);
        files.set(name, f);
      }
      return readOnly ? f.readOnlyView() : f;
    },
  };
}

for (const zeroed of ['off', 'on']) {
  runBlockBackendContract(`vmdk monolithicSparse zeroed_grain=${zeroed}`, async (size) => {
    let store = new MemoryStore('disk.vmdk');
    await vmdkFormat.create!(store, size, { options: { zeroed_grain: zeroed } });
    return {
      backend: await vmdkFormat.open(store, {}),
      async reopen(readOnly) {
        store = readOnly ? store.readOnlyView() : store;
        return vmdkFormat.open(store, { readOnly });
      },
    };
  });
}

runBlockBackendContract('vmdk monolithicFlat', async (size) => {
  const fs = memFs();
  const desc = (await fs.openFile('flat.vmdk', false)) as MemoryStore;
  await vmdkFormat.create!(desc, size, { options: { subformat: 'monolithicFlat' }, openFile: fs.openFile });
  assert.ok(fs.files.has('flat-flat.vmdk'));
  return {
    backend: await vmdkFormat.open(desc, { openFile: fs.openFile }),
    async reopen(readOnly) {
      return vmdkFormat.open(readOnly ? desc.readOnlyView() : desc, { readOnly, openFile: fs.openFile });
    },
  };
});

for (const zeroed of ['off', 'on']) {
  runBlockBackendContract(`vmdk delta over a monolithicSparse parent (zeroed_grain=${zeroed})`, async (size) => {
    const fs = memFs();
    const parentStore = (await fs.openFile('base.vmdk', false)) as MemoryStore;
    await vmdkFormat.create!(parentStore, size, { options: {} });
    const parent = await vmdkFormat.open(parentStore, {});
    const initial = new Uint8Array(size);
    for (let i = 0; i < size; i += 8192) initial.fill((i >> 13) + 1, i, Math.min(size, i + 5000));
    await parent.write(0, initial);
    await parent.close();
    const openBacking = async (name: string) => vmdkFormat.open(await fs.openFile(name, true), { readOnly: true });
    let store = new MemoryStore('delta.vmdk');
    await vmdkFormat.create!(store, 0, { options: { zeroed_grain: zeroed }, backingFile: 'base.vmdk', openBacking });
    return {
      backend: await vmdkFormat.open(store, { openBacking }),
      initial,
      async reopen(readOnly) {
        store = readOnly ? store.readOnlyView() : store;
        return vmdkFormat.open(store, { readOnly, openBacking });
      },
    };
  });
}

describe('vmdk descriptor', () => {
  it('parses extents, ddb keys, CIDs and odd spacing', () => {
    const d = parseDescriptor(
      [
        '# Disk DescriptorFile',
        'version=1',
        'encoding="UTF-8"',
        '  CID = fffffffe  ',
        'parentCID=12ab34cd',
        'createType = "twoGbMaxExtentSparse"',
        'parentFileNameHint="../base dir/base.vmdk"',
        '',
        'RW 4192256 SPARSE "disk-s001.vmdk"',
        'RDONLY 2048 FLAT "disk-f002.vmdk" 17',
        'NOACCESS 100 ZERO',
        'ddb.geometry.cylinders = "16383"',
        'ddb.adapterType="lsilogic"',
      ].join('\r\n'),
      'test',
    );
    assert.equal(d.cid, 0xfffffffe);
    assert.equal(d.parentCid, 0x12ab34cd);
    assert.equal(d.createType, 'twoGbMaxExtentSparse');
    assert.equal(d.parentFileNameHint, '../base dir/base.vmdk');
    assert.deepEqual(d.extents, [
      { access: 'RW', sectors: 4192256, type: 'SPARSE', file: 'disk-s001.vmdk', offset: 0 },
      { access: 'RDONLY', sectors: 2048, type: 'FLAT', file: 'disk-f002.vmdk', offset: 17 },
      { access: 'NOACCESS', sectors: 100, type: 'ZERO', file: '', offset: 0 },
    ]);
    assert.equal(d.ddb.get('ddb.geometry.cylinders'), '16383');
    assert.equal(d.ddb.get('ddb.adapterType'), 'lsilogic');
    assert.deepEqual(parseDescriptor(formatDescriptor(d), 'again'), d);
  });
  it('rejects bad numbers, unknown extent types and missing parts, naming the problem', () => {
    const ok = 'createType="monolithicFlat"\nRW 10 FLAT "x" 0\n';
    assert.throws(() => parseDescriptor('CID=xyz\n' + ok, 't'), /CID/);
    assert.throws(() => parseDescriptor('createType="x"\nRW 10 WEIRD "x"\n', 't'), /WEIRD/);
    assert.throws(() => parseDescriptor('RW 10 FLAT "x" 0\n', 't'), /createType/);
    assert.throws(() => parseDescriptor('createType="x"\n', 't'), /no extents/);
    assert.throws(() => parseDescriptor('createType="x"\nRW 99999999999999999999 FLAT "x" 0\n', 't'), {
      code: 'too-large',
    });
    assert.throws(() => parseDescriptor('createType="x"\nRW 10 FLAT\n', 't'), /without a file name/);
  });
});

describe('vmdk create options', () => {
  it('writes the adapter type, hardware version and geometry into the descriptor', async () => {
    const s = new MemoryStore('a.vmdk');
    await vmdkFormat.create!(s, 100 << 20, { options: { adapter_type: 'lsilogic', hwversion: '7' } });
    const b = (await vmdkFormat.open(s, {})) as unknown as {
      descriptor: { ddb: Map<string, string> };
      close(): Promise<void>;
    };
    assert.equal(b.descriptor.ddb.get('ddb.adapterType'), 'lsilogic');
    assert.equal(b.descriptor.ddb.get('ddb.virtualHWVersion'), '7');
    assert.equal(b.descriptor.ddb.get('ddb.geometry.heads'), '255');
    assert.equal(b.descriptor.ddb.get('ddb.geometry.cylinders'), String(Math.floor(204800 / (255 * 63))));
    await b.close();
  });
  it('refuses unknown options and subformats', async () => {
    await assert.rejects(
      vmdkFormat.create!(new MemoryStore(), 1 << 20, { options: { subformat: 'vmfs' } }),
      /subformat/,
    );
    await assert.rejects(
      vmdkFormat.create!(new MemoryStore(), 1 << 20, { options: { cluster_size: '4096' } }),
      /cluster_size/,
    );
    await assert.rejects(
      vmdkFormat.create!(new MemoryStore(), 1 << 20, { options: { adapter_type: 'nvme' } }),
      /adapter_type/,
    );
  });
});

describe('vmdk streamOptimized', () => {
  it('writes sequentially, reads back, and refuses rewriting a grain', async () => {
    const store = new MemoryStore('s.vmdk');
    const size = (3 << 20) + 4096;
    await vmdkFormat.create!(store, size, { options: { subformat: 'streamOptimized' } });
    const b = await vmdkFormat.open(store, {});
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
    data.fill(0, 1 << 20, 2 << 20);
    for (let off = 0; off < size; off += 20000) await b.write(off, data.subarray(off, Math.min(size, off + 20000)));
    const mid = new Uint8Array(size);
    await b.read(0, mid);
    assert.deepEqual(mid, data);
    await b.flush();
    await assert.rejects(b.write(0, new Uint8Array(1)), { code: 'unsupported' });
    await b.close();
    const r = await vmdkFormat.open(store.readOnlyView(), {});
    const got = new Uint8Array(size);
    await r.read(0, got);
    assert.deepEqual(got, data);
    const st = await r.blockStatus(1 << 20, 1 << 20);
    assert.equal(st.data, false);
    assert.equal(st.length, 1 << 20);
    await r.close();
    // Compressed: far smaller than the data.
    assert.ok((await store.size()) < size);
  });
});

describe('vmdk grain tables allocated on demand', () => {
  it('allocates a missing grain table (and its redundant copy) and keeps both directories in step', async () => {
    const store = new MemoryStore('gt.vmdk');
    await vmdkFormat.create!(store, 40 << 20, { options: {} });
    // Remove the second grain table from both directories, as VMware images without preallocation have it.
    const img = store.bytes();
    const dv = new DataView(img.buffer);
    const gd = dv.getUint32(56, true) * 512;
    const rgd = dv.getUint32(48, true) * 512;
    dv.setUint32(gd + 4, 0, true);
    dv.setUint32(rgd + 4, 0, true);
    const s2 = new MemoryStore('gt.vmdk', img);
    const b = await vmdkFormat.open(s2, {});
    const data = new Uint8Array(100_000).fill(0x3c);
    await b.write((32 << 20) + 1000, data);
    await b.close();
    const after = s2.bytes();
    const adv = new DataView(after.buffer);
    const g = adv.getUint32(gd + 4, true);
    const r = adv.getUint32(rgd + 4, true);
    assert.ok(g !== 0 && r !== 0 && g !== r);
    assert.deepEqual(after.subarray(g * 512, g * 512 + 2048), after.subarray(r * 512, r * 512 + 2048));
    const again = await vmdkFormat.open(s2.readOnlyView(), {});
    const got = new Uint8Array(100_000);
    await again.read((32 << 20) + 1000, got);
    assert.deepEqual(got, data);
    await again.close();
  });
});

describe('check', () => {
  it('passes a sound sparse image (tables still in the cache included) and names the sector of a grain past the end', async () => {
    const store = new MemoryStore('c.vmdk');
    await vmdkFormat.create!(store, 8 << 20, { options: {} });
    const img = await vmdkFormat.open(store, {});
    await img.write(0, new Uint8Array(3 * 65536).fill(1));
    const checkable = img as unknown as { check(): Promise<{ corruptions: number }> };
    assert.equal((await checkable.check()).corruptions, 0);
    await img.close();
    // Point grain 2 (sector 256) of the first grain table past the end of the file.
    const head = new Uint8Array(512);
    await store.read(0, head);
    const gd = Number(new DataView(head.buffer).getBigUint64(56, true));
    const e = new Uint8Array(4);
    await store.read(gd * 512, e);
    const gt = new DataView(e.buffer).getUint32(0, true);
    await store.write(gt * 512 + 8, Uint8Array.of(0xff, 0xff, 0xff, 0x00));
    const broken = (await vmdkFormat.open(store, { readOnly: true })) as unknown as typeof checkable & {
      close(): Promise<void>;
    };
    await assert.rejects(broken.check(), (err: unknown) => {
      assert.ok(err instanceof StorageError && err.code === 'corrupt');
      assert.match(err.message, /sector 256 points after EOF/);
      return true;
    });
    await broken.close();
  });
});
