/**
 * `virtkit img convert` against qemu-img: every image virtkit writes passes `qemu-img check` and
 * `qemu-img compare` against its source, stays as sparse as qemu-img's own conversion, and the
 * source is byte-for-byte unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  creatableFormats,
  qemu,
  qemuDataBytes,
  qemuImg,
  qemuIo,
  qemuJson,
  scratch,
  sha256,
  virtkit,
} from './helpers.ts';

const targets = creatableFormats();

/** 40 MiB raw image: data at scattered, unaligned offsets, and a run of written zeros. */
function rawSource(path: string): void {
  qemu('create', '-q', '-f', 'raw', path, '40M');
  qemuIo(
    path,
    'raw',
    'write -P 0x11 0 64k',
    'write -P 0x22 1M 4k',
    'write -P 0x33 3000000 70000',
    'write -P 0 8M 1M',
    'write -P 0x44 20M 2M',
    'write -P 0x55 41938944 4096',
  );
}

function assertGoodCopy(src: string, dst: string): void {
  const cmp = qemuImg('compare', src, dst);
  assert.equal(cmp.status, 0, `qemu-img compare: ${cmp.stdout}${cmp.stderr}`);
  const chk = qemuImg('check', dst);
  // 63: the format has no checks (raw, vpc); anything else must be clean.
  assert.ok(chk.status === 0 || chk.status === 63, `qemu-img check: ${chk.stdout}${chk.stderr}`);
}

for (const format of targets) {
  test(`convert raw -> ${format} -> raw keeps data and sparseness`, async () => {
    const dir = scratch();
    try {
      const src = dir.path('src.raw');
      rawSource(src);
      const before = sha256(src);
      const dst = dir.path(`dst.${format}`);
      const r = await virtkit('convert', '-O', format, src, dst);
      assert.equal(r.status, 0, r.stderr);
      assertGoodCopy(src, dst);
      assert.equal(sha256(src), before, 'convert must not modify its source');

      // As sparse as qemu-img's own conversion of the same source.
      const ref = dir.path(`ref.${format}`);
      qemu('convert', '-O', format, src, ref);
      assert.ok(
        qemuDataBytes(dst) <= qemuDataBytes(ref),
        `${qemuDataBytes(dst)} data bytes, qemu-img ${qemuDataBytes(ref)}`,
      );

      const back = dir.path('back.raw');
      const dstBefore = sha256(dst);
      assert.equal((await virtkit('convert', '-f', format, '-O', 'raw', dst, back)).status, 0);
      assertGoodCopy(src, back);
      assert.equal(sha256(dst), dstBefore);
      // VHD rounds the size up to its geometry; both tools then warn about the size alone.
      const cmp = await virtkit('compare', src, back);
      assert.equal(cmp.status, 0);
      assert.equal(cmp.stdout, qemuImg('compare', src, back).stdout);
    } finally {
      dir.done();
    }
  });
}

test('convert -S 0 fully allocates; a larger -S keeps short zero runs as data', async () => {
  const dir = scratch();
  try {
    const src = dir.path('src.raw');
    qemu('create', '-q', '-f', 'raw', src, '4M');
    qemuIo(src, 'raw', 'write -P 7 0 4k', 'write -P 7 8k 4k');
    const full = dir.path('full.raw');
    assert.equal((await virtkit('convert', '-S', '0', src, full)).status, 0);
    assert.equal(qemuDataBytes(full), 4 * 1024 * 1024);
    const coarse = dir.path('coarse.raw');
    assert.equal((await virtkit('convert', '-S', '64k', src, coarse)).status, 0);
    assert.equal(qemuDataBytes(coarse), 64 * 1024);
    const fine = dir.path('fine.raw');
    assert.equal((await virtkit('convert', src, fine)).status, 0);
    assert.equal(qemuDataBytes(fine), 8 * 1024);
    assertGoodCopy(src, fine);
  } finally {
    dir.done();
  }
});

test('convert concatenates several sources and prints progress with -p', async () => {
  const dir = scratch();
  try {
    const a = dir.path('a.raw');
    const b = dir.path('b.raw');
    qemu('create', '-q', '-f', 'raw', a, '1M');
    qemu('create', '-q', '-f', 'raw', b, '3M');
    qemuIo(a, 'raw', 'write -P 1 1020k 4k');
    qemuIo(b, 'raw', 'write -P 2 0 8k');
    const dst = dir.path('ab.raw');
    const r = await virtkit('convert', '-p', a, b, dst);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /\(100\.00\/100%\)/);
    const cat = dir.path('cat.raw');
    qemu('convert', a, b, cat);
    assert.equal(qemuImg('compare', cat, dst).status, 0);
  } finally {
    dir.done();
  }
});

if (targets.includes('vmdk')) {
  test('convert -c -O vmdk writes a streamOptimized image qemu-img accepts', async () => {
    const dir = scratch();
    try {
      const src = dir.path('src.raw');
      qemu('create', '-q', '-f', 'raw', src, '8M');
      qemuIo(src, 'raw', 'write -P 0x61 0 300k', 'write -P 0x62 5M 64k');
      const dst = dir.path('c.vmdk');
      assert.equal((await virtkit('convert', '-c', '-O', 'vmdk', src, dst)).status, 0);
      const info = qemuJson('info', '--output=json', dst) as { 'format-specific': { data: Record<string, unknown> } };
      assert.equal(info['format-specific'].data['create-type'], 'streamOptimized');
      assertGoodCopy(src, dst);
    } finally {
      dir.done();
    }
  });
}

test('convert -c to a format without compression is refused', async () => {
  const dir = scratch();
  try {
    const src = dir.path('src.raw');
    qemu('create', '-q', '-f', 'raw', src, '1M');
    const r = await virtkit('convert', '-c', '-O', 'raw', src, dir.path('x.raw'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /does not support compression/);
  } finally {
    dir.done();
  }
});

test('convert -o passes format options; -n writes into an existing image, zeroing what the source has not', async () => {
  const dir = scratch();
  try {
    const src = dir.path('src.raw');
    qemu('create', '-q', '-f', 'raw', src, '4M');
    qemuIo(src, 'raw', 'write -P 3 64k 64k');
    const small = dir.path('small.qcow2');
    assert.equal((await virtkit('convert', '-O', 'qcow2', '-o', 'cluster_size=4096', src, small)).status, 0);
    assert.equal((qemuJson('info', '--output=json', small) as Record<string, unknown>)['cluster-size'], 4096);
    assertGoodCopy(src, small);

    // An existing target full of other data: -n must leave exactly the source's content.
    const existing = dir.path('existing.qcow2');
    qemu('create', '-q', '-f', 'qcow2', existing, '4M');
    qemuIo(existing, 'qcow2', 'write -P 9 0 4M');
    const r = await virtkit('convert', '-n', '-O', 'qcow2', src, existing);
    assert.equal(r.status, 0, r.stderr);
    assertGoodCopy(src, existing);
    // A target smaller than the source is refused.
    const tiny = dir.path('tiny.qcow2');
    qemu('create', '-q', '-f', 'qcow2', tiny, '1M');
    assert.equal((await virtkit('convert', '-n', '-O', 'qcow2', src, tiny)).status, 2);
  } finally {
    dir.done();
  }
});

if (targets.includes('vpc')) {
  test('convert -O vpc -o subformat=fixed: a fixed VHD (no leading signature) opens with -f vpc', async () => {
    const dir = scratch();
    try {
      const src = dir.path('src.raw');
      qemu('create', '-q', '-f', 'raw', src, '8M');
      qemuIo(src, 'raw', 'write -P 0x71 1M 64k');
      const dst = dir.path('fixed.vhd');
      assert.equal((await virtkit('convert', '-O', 'vpc', '-o', 'subformat=fixed', src, dst)).status, 0);
      assert.equal(qemuImg('compare', '-f', 'raw', '-F', 'vpc', src, dst).status, 0);
      const info = await virtkit('info', '-f', 'vpc', '--output=json', dst);
      assert.equal(JSON.parse(info.stdout)['format'], 'vpc');
      // Detected by content: qemu-img sees raw (and would copy the footer into the guest's disk);
      // we recognise the fixed footer at the end whose size matches the file.
      assert.equal(JSON.parse((await virtkit('info', '--output=json', dst)).stdout)['format'], 'vpc');
      assert.equal(JSON.parse(qemu('info', '--output=json', dst))['format'], 'raw');
    } finally {
      dir.done();
    }
  });
}
