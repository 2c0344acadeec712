/** create, resize, compare, check, map and measure against qemu-img. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { nodeImgHost } from '../../src/host/node/img-host.ts';
import { creatableFormats, qemu, qemuImg, qemuIo, qemuJson, scratch, sha256, virtkit } from './helpers.ts';

type Json = Record<string, unknown>;
const formats = creatableFormats();

for (const format of formats) {
  test(`create -f ${format} makes an image qemu-img accepts`, async () => {
    const dir = scratch();
    try {
      const f = dir.path(`new.${format}`);
      const r = await virtkit('create', '-f', format, f, '100M');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Formatting '.*', fmt=${format} size=104857600`));
      const info = qemuJson('info', '--output=json', f) as Json;
      assert.equal(info['format'], format);
      // VHD rounds sizes up to its CHS geometry, as qemu-img does.
      assert.ok((info['virtual-size'] as number) >= 104857600);
      const chk = qemuImg('check', f);
      assert.ok(chk.status === 0 || chk.status === 63, chk.stdout + chk.stderr);
      // Data written by qemu reads back through virtkit.
      qemuIo(f, format, 'write -P 0x3c 1M 64k');
      const copy = dir.path('copy.raw');
      assert.equal((await virtkit('convert', '-O', 'raw', f, copy)).status, 0);
      assert.equal(qemuImg('compare', f, copy).status, 0);
    } finally {
      dir.done();
    }
  });
}

test('create understands size suffixes and refuses bad sizes and options', async () => {
  const dir = scratch();
  try {
    const f = dir.path('a.raw');
    assert.equal((await virtkit('create', '-q', f, '1.5M')).status, 0);
    assert.equal((qemuJson('info', '--output=json', f) as Json)['virtual-size'], 1572864);
    for (const bad of ['12Q', 'lots', '-5', '99999999E']) {
      const r = await virtkit('create', dir.path('b.raw'), bad);
      assert.equal(r.status, 2, `size ${bad}`);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
    assert.equal((await virtkit('create', '-o', 'bogus=1', dir.path('c.raw'), '1M')).status, 2);
    assert.equal((await virtkit('create', '--bogus', dir.path('c.raw'), '1M')).status, 2);
    assert.equal((await virtkit('create', '-f', 'nosuch', dir.path('c.raw'), '1M')).status, 2);
  } finally {
    dir.done();
  }
});

test('resize grows, refuses to shrink without --shrink, and shrinks with it (raw)', async () => {
  const dir = scratch();
  try {
    const f = dir.path('r.raw');
    qemu('create', '-q', '-f', 'raw', f, '8M');
    assert.equal((await virtkit('resize', f, '+8M')).stdout, 'Image resized.\n');
    assert.equal((qemuJson('info', '--output=json', f) as Json)['virtual-size'], 16 * 1024 * 1024);
    const refuse = await virtkit('resize', f, '-4M');
    assert.equal(refuse.status, 2);
    assert.match(refuse.stderr, /--shrink/);
    assert.equal((await virtkit('resize', '--shrink', f, '-4M')).status, 0);
    assert.equal((qemuJson('info', '--output=json', f) as Json)['virtual-size'], 12 * 1024 * 1024);
    assert.equal((await virtkit('resize', f, '5M', 'extra')).status, 2);
  } finally {
    dir.done();
  }
});

test('compare: exit statuses and messages as qemu-img', async () => {
  const dir = scratch();
  try {
    const a = dir.path('a.raw');
    const b = dir.path('b.raw');
    const c = dir.path('c.raw');
    qemu('create', '-q', '-f', 'raw', a, '2M');
    qemu('create', '-q', '-f', 'raw', b, '2M');
    qemu('create', '-q', '-f', 'raw', c, '3M');
    const ha = sha256(a);
    assert.deepEqual(await virtkit('compare', a, b), { status: 0, stdout: 'Images are identical.\n', stderr: '' });
    qemuIo(b, 'raw', 'write -P 1 1000 1');
    const diff = await virtkit('compare', a, b);
    assert.equal(diff.status, 1);
    assert.equal(diff.stdout, qemuImg('compare', a, b).stdout);
    // A larger image whose tail is zero is identical except in strict mode.
    assert.equal((await virtkit('compare', a, c)).stdout, 'Warning: Image size mismatch!\nImages are identical.\n');
    assert.equal((await virtkit('compare', '-s', a, c)).status, 1);
    qemuIo(c, 'raw', 'write -P 9 2500000 1');
    const tail = await virtkit('compare', a, c);
    assert.equal(tail.status, 1);
    assert.equal(tail.stdout, qemuImg('compare', a, c).stdout);
    assert.equal((await virtkit('compare', a, dir.path('missing'))).status, 2);
    assert.equal(sha256(a), ha);
  } finally {
    dir.done();
  }
});

test('check: raw has no checks (63), missing file is an error', async () => {
  const dir = scratch();
  try {
    const f = dir.path('a.raw');
    qemu('create', '-q', '-f', 'raw', f, '1M');
    assert.equal((await virtkit('check', f)).status, qemuImg('check', f).status);
    assert.equal((await virtkit('check', dir.path('missing'))).status, 2);
  } finally {
    dir.done();
  }
});

test('measure agrees with qemu-img for raw and qcow2 sizes', async () => {
  for (const args of [
    ['-O', 'qcow2', '--size', '1G'],
    ['-O', 'qcow2', '--size', '100T'],
    ['-O', 'qcow2', '-o', 'cluster_size=4096,refcount_bits=8', '--size', '10G'],
    ['-O', 'qcow2', '-o', 'extended_l2=on', '--size', '3G'],
    ['-O', 'raw', '--size', '5M'],
  ]) {
    const ours = await virtkit('measure', '--output', 'json', ...args);
    assert.equal(ours.status, 0, ours.stderr);
    const theirs = qemuJson('measure', '--output=json', ...args) as Json;
    const mine = JSON.parse(ours.stdout) as Json;
    assert.equal(mine['required'], theirs['required'], args.join(' '));
    assert.equal(mine['fully-allocated'], theirs['fully-allocated'], args.join(' '));
  }
  const dir = scratch();
  try {
    const f = dir.path('a.raw');
    qemu('create', '-q', '-f', 'raw', f, '5M');
    const ours = await virtkit('measure', '-O', 'raw', f);
    assert.equal(ours.stdout, qemu('measure', '-O', 'raw', f));
    // From an image's contents: only its allocated clusters count as required.
    const q = dir.path('a.qcow2');
    qemu('create', '-q', '-f', 'qcow2', q, '64M');
    qemuIo(q, 'qcow2', 'write -P 1 0 100k', 'write -P 2 30M 1M');
    for (const opts of [[], ['-o', 'cluster_size=4096']]) {
      const mine = JSON.parse((await virtkit('measure', '--output=json', '-O', 'qcow2', ...opts, q)).stdout) as Json;
      const theirs = qemuJson('measure', '--output=json', '-O', 'qcow2', ...opts, q) as Json;
      assert.equal(mine['required'], theirs['required']);
      assert.equal(mine['fully-allocated'], theirs['fully-allocated']);
    }
    assert.equal((await virtkit('measure', '-O', 'raw', '--size', '1M', f)).status, 2);
  } finally {
    dir.done();
  }
});

test('map of a sparse raw image agrees with qemu-img map when the host knows its holes', async () => {
  const dir = scratch();
  try {
    const f = dir.path('sparse.raw');
    qemu('create', '-q', '-f', 'raw', f, '32M');
    qemuIo(f, 'raw', 'write -P 1 6M 192k', 'write -P 2 20M 64k');
    const ours = JSON.parse((await virtkit('map', '--output=json', f)).stdout) as Json[];
    const holes = await nodeImgHost.dataRanges!(f);
    if (holes) {
      assert.deepEqual(ours, qemuJson('map', '--output=json', f));
    } else {
      // No hole map on this host (no filefrag, or no FIEMAP): the file is one data run.
      assert.deepEqual(ours, [
        { start: 0, length: 32 << 20, depth: 0, present: true, zero: false, data: true, offset: 0 },
      ]);
    }
  } finally {
    dir.done();
  }
});

test('map --output json of a raw image matches the virtual layout', async () => {
  const dir = scratch();
  try {
    const f = dir.path('a.raw');
    writeFileSync(f, new Uint8Array(1024 * 1024).fill(1));
    const ours = JSON.parse((await virtkit('map', '--output=json', f)).stdout) as Json[];
    const theirs = qemuJson('map', '--output=json', f) as Json[];
    assert.deepEqual(ours, theirs);
  } finally {
    dir.done();
  }
});

test('unknown verbs, options and missing arguments are usage errors; help is complete', async () => {
  assert.equal((await virtkit('frobnicate')).status, 2);
  assert.equal((await virtkit('info')).status, 2);
  assert.equal((await virtkit('info', '--nope', 'x')).status, 2);
  assert.equal((await virtkit('info', '--output', 'xml', 'x')).status, 2);
  for (const verb of [
    'info',
    'create',
    'convert',
    'check',
    'resize',
    'snapshot',
    'compare',
    'commit',
    'rebase',
    'map',
    'measure',
  ]) {
    const h = await virtkit(verb, '--help');
    assert.equal(h.status, 0);
    assert.match(h.stdout, new RegExp(`^usage: virtkit img ${verb} `));
  }
});
