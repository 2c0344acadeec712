/**
 * Disk images from the wild, against qemu-img: damaged headers and tables that qemu-img refuses
 * (virtkit must refuse them too, with a clear message, never convert wrong data with exit 0).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { qemu, qemuImg, qemuIo, qemuJson, scratch, virtkit } from './helpers.ts';

type Json = Record<string, unknown>;

/** The file with `patch` applied to its bytes, written under a new name. */
function patched(src: string, dst: string, patch: (dv: DataView, b: Uint8Array) => void): string {
  const b = new Uint8Array(readFileSync(src));
  patch(new DataView(b.buffer, b.byteOffset, b.length), b);
  writeFileSync(dst, b);
  return dst;
}

test('qcow2: an L2 entry pointing inside a cluster fails the read (as qemu-img) and is named', async () => {
  const dir = scratch();
  try {
    const f = dir.path('a.qcow2');
    qemu('create', '-q', '-f', 'qcow2', f, '4M');
    qemuIo(f, 'qcow2', 'write -P 0x5a 0 64k');
    const l2 = (qemuJson('map', '--output=json', f) as Json[])[0]!['offset'] as number;
    assert.ok(l2 > 0);
    // The L1 table (at the offset in header bytes 40..47) holds the L2 table's offset in entry 0.
    const bad = patched(f, dir.path('bad.qcow2'), (dv) => {
      const l1 = Number(dv.getBigUint64(40));
      const table = Number(dv.getBigUint64(l1) & 0x00fffffffffffe00n);
      dv.setUint32(table + 4, dv.getUint32(table + 4) + 512);
    });
    const q = qemuImg('convert', '-O', 'raw', bad, dir.path('q.raw'));
    assert.notEqual(q.status, 0, 'qemu-img reads it');
    const v = await virtkit('convert', '-O', 'raw', bad, dir.path('v.raw'));
    assert.equal(v.status, 2, v.stdout);
    assert.match(
      v.stderr,
      /L2 entry 0 of the table at 0x[0-9a-f]+ points at cluster offset 0x[0-9a-f]+200, which is not cluster aligned/,
    );
    assert.notEqual(qemuImg('check', bad).status, 0);
    const c = await virtkit('check', bad);
    assert.notEqual(c.status, 0);
    assert.match(c.stdout + c.stderr, /not properly aligned/);
  } finally {
    dir.done();
  }
});

test('vmdk with header capacity 0 and vhdx with Virtual Disk Size 0 are refused, as qemu-img does', async () => {
  const dir = scratch();
  try {
    const vmdk = dir.path('a.vmdk');
    qemu('create', '-q', '-f', 'vmdk', vmdk, '1M');
    const vmdk0 = patched(vmdk, dir.path('zero.vmdk'), (dv) => dv.setBigUint64(12, 0n, true));
    const vhdx = dir.path('a.vhdx');
    qemu('create', '-q', '-f', 'vhdx', vhdx, '1M');
    const vhdx0 = patched(vhdx, dir.path('zero.vhdx'), (dv, b) => {
      // The metadata table entry of Virtual Disk Size (GUID 2FA54224-CD1B-4876-B211-5DBED83BF4B8).
      const guid = [0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48, 0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8];
      const table = Buffer.from(b).indexOf('metadata');
      const item = Buffer.from(b).indexOf(Buffer.from(guid), table);
      dv.setBigUint64(table + dv.getUint32(item + 16, true), 0n, true);
    });
    for (const [f, re] of [
      [vmdk0, /capacity is 0 sectors/],
      [vhdx0, /Virtual Disk Size is 0/],
    ] as const) {
      assert.notEqual(qemuImg('convert', '-O', 'raw', f, dir.path('q.raw')).status, 0, `qemu-img converts ${f}`);
      const v = await virtkit('convert', '-O', 'raw', f, dir.path('v.raw'));
      assert.equal(v.status, 2, `${f}: ${v.stderr}`);
      assert.match(v.stderr, re);
    }
    // Nor does virtkit write an empty VMDK (qemu-img writes one that it cannot open again).
    const c = await virtkit('create', '-f', 'vmdk', dir.path('empty.vmdk'), '0');
    assert.equal(c.status, 2);
    assert.match(c.stderr, /size 0 must be positive/);
  } finally {
    dir.done();
  }
});

for (const sub of ['twoGbMaxExtentSparse', 'twoGbMaxExtentFlat', 'monolithicFlat', 'monolithicSparse']) {
  test(`vmdk ${sub}: info lists the extents and counts their files, map names the file holding the data`, async () => {
    const dir = scratch();
    try {
      const f = dir.path(`${sub}.vmdk`);
      qemu('create', '-q', '-f', 'vmdk', '-o', `subformat=${sub}`, f, '2100M');
      qemuIo(f, 'vmdk', 'write -P 1 0 64k', 'write -P 2 2050M 64k');
      // Field by field, key order included (the JSON text), as qemu-img prints it.
      const q = qemu('info', '--output=json', f);
      const v = await virtkit('info', '--output=json', f);
      assert.equal(v.status, 0, v.stderr);
      assert.equal(v.stdout.trim(), q.trim());
      assert.equal((await virtkit('info', f)).stdout.trim(), qemu('info', f).trim());
      // Each data run lives in (and is named by) an extent file, not the descriptor.
      const files = (text: string) =>
        text
          .split('\n')
          .slice(1)
          .map((l) => l.split(/\s+/)[3]);
      const vm = await virtkit('map', f);
      assert.equal(vm.status, 0, vm.stderr);
      assert.deepEqual([...new Set(files(vm.stdout.trim()))], [...new Set(files(qemu('map', f).trim()))]);
      if (sub.endsWith('Sparse')) {
        assert.equal(vm.stdout.trim(), qemu('map', f).trim());
        assert.equal((await virtkit('map', '--output=json', f)).stdout.trim(), qemu('map', '--output=json', f).trim());
      }
    } finally {
      dir.done();
    }
  });
}

test('map: zero clusters (qcow2, VMDK zeroed grains) and unallocated VHD blocks are present, as qemu-img says', async () => {
  const dir = scratch();
  try {
    const base = dir.path('base.qcow2');
    qemu('create', '-q', '-f', 'qcow2', base, '4M');
    qemuIo(base, 'qcow2', 'write -P 1 0 64k', 'write -z 64k 128k', 'write -z -u 1M 64k');
    const top = dir.path('top.qcow2');
    qemu('create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', top);
    qemuIo(top, 'qcow2', 'write -z 0 64k', 'write -z 2M 64k');
    const vmdk = dir.path('z.vmdk');
    qemu('create', '-q', '-f', 'vmdk', '-o', 'zeroed_grain=on', vmdk, '4M');
    qemuIo(vmdk, 'vmdk', 'write -P 1 0 64k', 'write -z 64k 64k');
    const vhd = dir.path('d.vhd');
    qemu('create', '-q', '-f', 'vpc', vhd, '8M');
    qemuIo(vhd, 'vpc', 'write -P 1 0 64k');
    for (const f of [base, top, vmdk, vhd]) {
      const v = await virtkit('map', '--output=json', f);
      assert.equal(v.status, 0, v.stderr);
      assert.equal(v.stdout.trim(), qemu('map', '--output=json', f).trim(), f);
    }
  } finally {
    dir.done();
  }
});

test('qcow2: a backing file name of NUL bytes is no backing file, as for qemu-img', async () => {
  const dir = scratch();
  try {
    qemu('create', '-q', '-f', 'qcow2', dir.path('base.qcow2'), '4M');
    qemuIo(dir.path('base.qcow2'), 'qcow2', 'write -P 3 0 1M');
    const f = dir.path('a.qcow2');
    qemu('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', f, '4M');
    qemuIo(f, 'qcow2', 'write -P 7 0 64k');
    const nul = patched(f, dir.path('nul.qcow2'), (dv, b) => {
      const off = Number(dv.getBigUint64(8));
      b.fill(0, off, off + dv.getUint32(16));
    });
    // And a name cut short by a NUL: qemu reads it as a C string.
    const cut = patched(f, dir.path('cut.qcow2'), (dv, b) => {
      b[Number(dv.getBigUint64(8)) + 4] = 0;
    });
    const v = await virtkit('info', '--output=json', nul);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout.trim(), qemu('info', '--output=json', nul).trim());
    assert.equal((await virtkit('info', nul)).stdout.trim(), qemu('info', nul).trim());
    const out = dir.path('out.raw');
    assert.equal((await virtkit('convert', '-O', 'raw', nul, out)).status, 0);
    assert.equal(qemuImg('compare', '-f', 'qcow2', '-F', 'raw', nul, out).status, 0);
    const c = await virtkit('info', '--output=json', cut);
    assert.equal((JSON.parse(c.stdout) as Json)['backing-filename'], 'base');
    assert.equal(c.stdout.trim(), qemu('info', '--output=json', cut).trim());
  } finally {
    dir.done();
  }
});

test('measure prints "bitmaps" where qemu-img does (a qcow2 v3 source, a v3 target), in its key order', async () => {
  const dir = scratch();
  try {
    const v3 = dir.path('v3.qcow2');
    qemu('create', '-q', '-f', 'qcow2', v3, '100M');
    qemuIo(v3, 'qcow2', 'write -P 1 0 1M');
    const v2 = dir.path('v2.qcow2');
    qemu('create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', v2, '10M');
    const bm = dir.path('bm.qcow2');
    qemu('create', '-q', '-f', 'qcow2', bm, '100M');
    qemu('bitmap', '--add', bm, 'b1');
    qemu('bitmap', '--add', '-g', '4096', bm, 'a-longer-bitmap-name');
    const raw = dir.path('a.raw');
    qemu('create', '-q', '-f', 'raw', raw, '1M');
    const cases = [
      ['-O', 'qcow2', v3],
      ['-O', 'qcow2', '-o', 'compat=0.10', v3],
      ['-O', 'qcow2', v2],
      ['-O', 'raw', v3],
      ['-O', 'qcow2', bm],
      ['-O', 'qcow2', '-o', 'cluster_size=4k', bm],
      ['-O', 'qcow2', '--size', '1G'],
    ];
    for (const args of cases) {
      for (const out of [['--output=json'], []]) {
        const v = await virtkit('measure', ...out, ...args);
        assert.equal(v.status, 0, v.stderr);
        assert.equal(v.stdout.trim(), qemu('measure', ...out, ...args).trim(), args.join(' '));
      }
    }
  } finally {
    dir.done();
  }
});

test('qcow2 zstd: images qemu-img compresses are read, images virtkit compresses qemu-img reads', async () => {
  const dir = scratch();
  try {
    // 3 MiB: source text, a run of zeros, incompressible noise.
    const src = readFileSync(new URL('../../src/storage/qcow2/image.ts', import.meta.url));
    const data = new Uint8Array(3 << 20).map((_, i) => src[i % src.length]!);
    data.fill(0, 1 << 20, (1 << 20) + (512 << 10));
    let x = 1;
    for (let i = 2 << 20; i < (2 << 20) + (256 << 10); i++)
      data[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
    const raw = dir.path('data.raw');
    writeFileSync(raw, data);

    const theirs = dir.path('qemu.qcow2');
    qemu('convert', '-c', '-O', 'qcow2', '-o', 'compression_type=zstd', '-f', 'raw', raw, theirs);
    const back = dir.path('back.raw');
    const r = await virtkit('convert', '-O', 'raw', theirs, back);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(new Uint8Array(readFileSync(back)), data);

    const ours = dir.path('ours.qcow2');
    const w = await virtkit('convert', '-c', '-O', 'qcow2', '-o', 'compression_type=zstd', '-f', 'raw', raw, ours);
    assert.equal(w.status, 0, w.stderr);
    const info = qemuJson('info', '--output=json', ours) as { 'format-specific': { data: Json } };
    assert.equal(info['format-specific'].data['compression-type'], 'zstd');
    assert.equal(qemuImg('check', ours).status, 0);
    assert.equal(qemuImg('compare', '-f', 'qcow2', '-F', 'raw', ours, raw).status, 0);
    const zlib = dir.path('zlib.qcow2');
    assert.equal((await virtkit('convert', '-c', '-O', 'qcow2', '-f', 'raw', raw, zlib)).status, 0);
    const size = (f: string) => readFileSync(f).length;
    console.log(
      `zstd: ours ${size(ours)} bytes, qemu-img's ${size(theirs)}, our zlib ${size(zlib)}, raw ${data.length}`,
    );
    assert.ok(size(ours) < data.length * 0.6, 'our zstd frames compress');

    // create -o compression_type=zstd: the header qemu-img writes, and data written by qemu-io reads back.
    const made = dir.path('made.qcow2');
    assert.equal((await virtkit('create', '-q', '-f', 'qcow2', '-o', 'compression_type=zstd', made, '8M')).status, 0);
    const twin = dir.path('twin.qcow2');
    qemu('create', '-q', '-f', 'qcow2', '-o', 'compression_type=zstd', twin, '8M');
    const specific = (j: unknown) => (j as { 'format-specific': unknown })['format-specific'];
    const mine = JSON.parse((await virtkit('info', '--output=json', made)).stdout) as unknown;
    assert.deepEqual(specific(mine), specific(qemuJson('info', '--output=json', twin)));
    qemuIo(made, 'qcow2', 'write -c -P 0x33 1M 64k');
    const v = await virtkit('compare', made, twin);
    assert.equal(v.status, 1, v.stdout);
    assert.match(v.stdout, /mismatch at offset 1048576/);
    assert.equal(
      (await virtkit('create', '-q', '-f', 'qcow2', '-o', 'compat=0.10,compression_type=zstd', made, '8M')).status,
      2,
    );
  } finally {
    dir.done();
  }
});

test('qcow2 create rounds the size up to whole sectors, as qemu-img does (qemu reads it rounded down)', async () => {
  const dir = scratch();
  try {
    const f = dir.path('odd.qcow2');
    assert.equal((await virtkit('create', '-q', '-f', 'qcow2', f, '40024')).status, 0);
    assert.equal((qemuJson('info', '--output=json', f) as Json)['virtual-size'], 40448);
  } finally {
    dir.done();
  }
});
