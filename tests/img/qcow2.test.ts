/** The qcow2-specific verbs (snapshot, check, commit, rebase, map, convert -c / -B) against qemu-img. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, statSync, truncateSync, writeSync } from 'node:fs';
import { qemu, qemuDataBytes, qemuImg, qemuIo, qemuJson, scratch, sha256, virtkit, virtkitProcess } from './helpers.ts';

type Json = Record<string, unknown>;

function u64(buf: Uint8Array, off: number): number {
  const dv = new DataView(buf.buffer, buf.byteOffset);
  return dv.getUint32(off) * 2 ** 32 + dv.getUint32(off + 4);
}

/** Sets the 16-bit refcount of host cluster `index` (in the first refcount block) to `value`. */
function pokeRefcount(file: string, index: number, value: number): void {
  const fd = openSync(file, 'r+');
  try {
    const head = new Uint8Array(104);
    readSync(fd, head, 0, 104, 0);
    const clusterBits = new DataView(head.buffer).getUint32(20);
    const table = u64(head, 48);
    const entry = new Uint8Array(8);
    readSync(fd, entry, 0, 8, table);
    const block = u64(entry, 0);
    assert.ok(block > 0 && index < 2 ** clusterBits / 2);
    const v = new Uint8Array([value >> 8, value & 0xff]);
    writeSync(fd, v, 0, 2, block + index * 2);
  } finally {
    closeSync(fd);
  }
}

test('snapshot -c/-l/-a/-d round trip, readable by qemu-img', async () => {
  const dir = scratch();
  try {
    const f = dir.path('s.qcow2');
    qemu('create', '-q', '-f', 'qcow2', f, '8M');
    qemuIo(f, 'qcow2', 'write -P 0x11 0 128k');
    const saved = dir.path('saved.raw');
    qemu('convert', '-O', 'raw', f, saved);
    assert.equal((await virtkit('snapshot', '-c', 'before', f)).status, 0);
    qemuIo(f, 'qcow2', 'write -P 0x22 0 64k');
    assert.equal(qemuImg('compare', f, saved).status, 1);
    const theirs = qemu('snapshot', '-l', f).split('\n');
    const ours = (await virtkit('snapshot', '-l', f)).stdout.split('\n');
    assert.deepEqual(ours.slice(0, 2), theirs.slice(0, 2));
    // Same columns up to the date (the date is local time, ICOUNT is not recorded by virtkit).
    assert.equal(ours[2]!.slice(0, 55), theirs[2]!.slice(0, 55));
    assert.equal((await virtkit('snapshot', '-a', 'before', f)).status, 0);
    assert.equal(qemuImg('compare', f, saved).status, 0);
    assert.equal((await virtkit('snapshot', '-d', 'before', f)).status, 0);
    assert.doesNotMatch(qemu('snapshot', '-l', f), /before/);
    assert.equal(qemuImg('check', f).status, 0);
    assert.equal((await virtkit('snapshot', '-a', 'nosuch', f)).status, 2);
    assert.equal((await virtkit('snapshot', '-l', '-c', 'x', f)).status, 2);
  } finally {
    dir.done();
  }
});

test('check: clean, leaked and corrupt images give qemu-img exit statuses', async () => {
  const dir = scratch();
  try {
    const f = dir.path('c.qcow2');
    qemu('create', '-q', '-f', 'qcow2', f, '16M');
    qemuIo(f, 'qcow2', 'write -P 1 0 192k', 'write -P 2 4M 64k');
    const before = sha256(f);
    const clean = await virtkit('check', '--output=json', f);
    assert.equal(clean.status, 0, clean.stderr);
    const mine = JSON.parse(clean.stdout) as Json;
    const theirs = qemuJson('check', '--output=json', f) as Json;
    for (const k of ['allocated-clusters', 'total-clusters', 'format', 'check-errors'])
      assert.equal(mine[k], theirs[k], k);
    assert.match((await virtkit('check', f)).stdout, /^No errors were found on the image\./);
    assert.equal(sha256(f), before, 'check without -r must not modify the image');

    // A refcount for a cluster nobody uses is a leak (3); -r leaks repairs it.
    const leak = dir.path('leak.qcow2');
    qemu('convert', '-O', 'qcow2', f, leak);
    // Append one cluster nobody references, and count it as used.
    const end = statSync(leak).size;
    truncateSync(leak, end + 65536);
    pokeRefcount(leak, end / 65536, 1);
    assert.equal(qemuImg('check', leak).status, 3);
    const leaky = await virtkit('check', leak);
    assert.equal(leaky.status, 3);
    assert.match(leaky.stderr, /^Leaked cluster \d+ refcount=1 reference=0$/m);
    const leakJson = await virtkit('check', '--output=json', leak);
    assert.equal(leakJson.status, 3);
    assert.deepEqual(JSON.parse(leakJson.stdout), JSON.parse(qemuImg('check', '--output=json', leak).stdout));
    assert.equal((await virtkit('check', '-r', 'leaks', leak)).status, 0);
    assert.equal(qemuImg('check', leak).status, 0);

    // A used cluster with refcount 0 is a corruption (2).
    const bad = dir.path('bad.qcow2');
    qemu('convert', '-O', 'qcow2', f, bad);
    const map = qemuJson('map', '--output=json', bad) as Json[];
    const dataCluster = (map.find((e) => e['data'])!['offset'] as number) / 65536;
    pokeRefcount(bad, dataCluster, 0);
    assert.equal(qemuImg('check', bad).status, 2);
    const r = await virtkit('check', bad);
    assert.equal(r.status, 2);
    assert.match(r.stdout, /errors were found on the image/);
  } finally {
    dir.done();
  }
});

test('map --output json agrees with qemu-img map for a qcow2 chain', async () => {
  const dir = scratch();
  try {
    const base = dir.path('base.qcow2');
    const top = dir.path('top.qcow2');
    qemu('create', '-q', '-f', 'qcow2', base, '8M');
    qemuIo(base, 'qcow2', 'write -P 1 0 256k', 'write -P 2 2M 64k');
    qemu('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', top);
    qemuIo(top, 'qcow2', 'write -P 3 128k 64k', 'write -P 4 6M 128k');
    const ours = await virtkit('map', '--output=json', top);
    assert.equal(ours.status, 0, ours.stderr);
    const keys = ['start', 'length', 'depth', 'present', 'zero', 'data', 'offset'];
    const norm = (l: Json[]) => l.map((e) => Object.fromEntries(keys.map((k) => [k, e[k]])));
    assert.deepEqual(norm(JSON.parse(ours.stdout) as Json[]), norm(qemuJson('map', '--output=json', top) as Json[]));
    const human = await virtkit('map', top);
    assert.equal(human.stdout, qemu('map', top));
  } finally {
    dir.done();
  }
});

test('convert -c writes compressed clusters qemu-img reads back', async () => {
  const dir = scratch();
  try {
    const src = dir.path('src.raw');
    qemu('create', '-q', '-f', 'raw', src, '8M');
    qemuIo(src, 'raw', 'write -P 0x61 0 300k', 'write -P 0x62 5M 64k');
    const dst = dir.path('c.qcow2');
    const r = await virtkit('convert', '-c', '-O', 'qcow2', src, dst);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(qemuImg('compare', src, dst).status, 0);
    const chk = qemuJson('check', '--output=json', dst) as Json;
    assert.ok((chk['compressed-clusters'] as number) >= 5, JSON.stringify(chk));
    assert.equal(chk['check-errors'], 0);
  } finally {
    dir.done();
  }
});

test('convert -B copies only what the overlay holds; the result keeps the backing file', async () => {
  const dir = scratch();
  try {
    const base = dir.path('base.qcow2');
    const top = dir.path('top.qcow2');
    qemu('create', '-q', '-f', 'qcow2', base, '8M');
    qemuIo(base, 'qcow2', 'write -P 1 0 1M');
    qemu('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', top);
    qemuIo(top, 'qcow2', 'write -P 2 2M 64k', 'write -z 256k 64k');
    const out = dir.path('out.qcow2');
    const r = await virtkit('convert', '-O', 'qcow2', '-B', 'base.qcow2', '-F', 'qcow2', top, out);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((qemuJson('info', '--output=json', out) as Json)['backing-filename'], 'base.qcow2');
    assert.equal(qemuImg('compare', top, out).status, 0);
    assert.equal(qemuImg('check', out).status, 0);
    const own = (qemuJson('map', '--output=json', out) as Json[]).filter((e) => e['depth'] === 0 && e['data']);
    assert.equal(
      own.reduce((n, e) => n + (e['length'] as number), 0),
      64 * 1024,
    );
    // Without -B the chain is flattened.
    const flat = dir.path('flat.qcow2');
    assert.equal((await virtkit('convert', '-O', 'qcow2', top, flat)).status, 0);
    assert.equal(qemuImg('compare', top, flat).status, 0);
    assert.equal(qemuDataBytes(flat), 1024 * 1024 - 64 * 1024 + 64 * 1024);
  } finally {
    dir.done();
  }
});

test('commit writes the overlay into its backing file', async () => {
  const dir = scratch();
  try {
    const base = dir.path('base.qcow2');
    const top = dir.path('top.qcow2');
    qemu('create', '-q', '-f', 'qcow2', base, '8M');
    qemuIo(base, 'qcow2', 'write -P 1 0 1M');
    qemu('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', top);
    qemuIo(top, 'qcow2', 'write -P 2 512k 64k', 'write -z 0 64k', 'write -P 3 7M 4k');
    const view = dir.path('view.raw');
    qemu('convert', '-O', 'raw', top, view);
    const r = await virtkit('commit', top);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'Image committed.\n');
    assert.equal(qemuImg('compare', base, view).status, 0);
    assert.equal(qemuImg('compare', top, view).status, 0);
    assert.equal(qemuImg('check', base).status, 0);
    assert.equal(qemuImg('check', top).status, 0);
    // As qemu-img commit: the overlay is emptied and reads through to the base again.
    assert.deepEqual(topLayerData(top), []);
  } finally {
    dir.done();
  }
});

/** The runs qemu-img map says the top layer itself (depth 0) holds. */
function topLayerData(file: string): unknown[] {
  const map = qemuJson('map', '--output=json', file) as { depth: number; data: boolean; zero: boolean }[];
  return map.filter((e) => e.depth === 0 && (e.data || e.zero));
}

test('commit -d keeps the overlay, and so does commit -b (as in qemu-img, -b implies -d)', async () => {
  const dir = scratch();
  try {
    const base = dir.path('base.qcow2');
    const mid = dir.path('mid.qcow2');
    const top = dir.path('top.qcow2');
    qemu('create', '-q', '-f', 'qcow2', base, '4M');
    qemuIo(base, 'qcow2', 'write -P 1 0 1M');
    qemu('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', mid);
    qemuIo(mid, 'qcow2', 'write -P 2 1M 64k');
    qemu('create', '-q', '-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', top);
    qemuIo(top, 'qcow2', 'write -P 3 2M 64k');
    const view = dir.path('view.raw');
    qemu('convert', '-O', 'raw', top, view);
    assert.equal((await virtkit('commit', '-d', top)).status, 0);
    assert.equal(topLayerData(top).length, 1, 'top keeps its cluster');
    assert.equal(qemuImg('compare', mid, view).status, 0);
    assert.equal((await virtkit('commit', '-b', base, mid)).status, 0);
    assert.equal(topLayerData(mid).length, 2, "mid keeps its data (its own and top's) after -b");
    assert.equal(qemuImg('compare', base, view).status, 0);
    assert.equal(qemuImg('check', mid).status, 0);
  } finally {
    dir.done();
  }
});

test('rebase: safe mode keeps the guest view, -u only rewrites the reference', async () => {
  const dir = scratch();
  try {
    const old = dir.path('old.qcow2');
    const other = dir.path('other.qcow2');
    const top = dir.path('top.qcow2');
    qemu('create', '-q', '-f', 'qcow2', old, '8M');
    qemuIo(old, 'qcow2', 'write -P 1 0 1M');
    qemu('create', '-q', '-f', 'qcow2', other, '8M');
    qemuIo(other, 'qcow2', 'write -P 1 0 512k', 'write -P 9 4M 64k');
    qemu('create', '-q', '-f', 'qcow2', '-b', 'old.qcow2', '-F', 'qcow2', top);
    qemuIo(top, 'qcow2', 'write -P 2 64k 64k');
    const view = dir.path('view.raw');
    qemu('convert', '-O', 'raw', top, view);
    const r = await virtkit('rebase', '-b', 'other.qcow2', '-F', 'qcow2', top);
    assert.equal(r.status, 0, r.stderr);
    const info = qemuJson('info', '--output=json', top) as Json;
    assert.equal(info['backing-filename'], 'other.qcow2');
    assert.equal(qemuImg('compare', top, view).status, 0);
    assert.equal(qemuImg('check', top).status, 0);
    // Unsafe: back to old.qcow2 without copying; the view now differs where the files differ.
    assert.equal((await virtkit('rebase', '-u', '-b', 'old.qcow2', top)).status, 0);
    assert.equal((qemuJson('info', '--output=json', top) as Json)['backing-filename'], 'old.qcow2');
    assert.equal(qemuImg('check', top).status, 0);
  } finally {
    dir.done();
  }
});

test('resize grows and (with --shrink) shrinks a qcow2 image', async () => {
  const dir = scratch();
  try {
    const f = dir.path('r.qcow2');
    qemu('create', '-q', '-f', 'qcow2', f, '8M');
    qemuIo(f, 'qcow2', 'write -P 5 0 64k');
    assert.equal((await virtkit('resize', f, '1G')).status, 0);
    assert.equal((qemuJson('info', '--output=json', f) as Json)['virtual-size'], 1024 ** 3);
    assert.equal(qemuImg('check', f).status, 0);
    assert.equal((await virtkit('resize', f, '4M')).status, 2);
    assert.equal((await virtkit('resize', '--shrink', f, '4M')).status, 0);
    assert.equal((qemuJson('info', '--output=json', f) as Json)['virtual-size'], 4 * 1024 ** 2);
    assert.equal(qemuImg('check', f).status, 0);
  } finally {
    dir.done();
  }
});

test('errors through the real CLI: one line on stderr, exit status 2', () => {
  const dir = scratch();
  try {
    const loop = dir.path('loop.qcow2');
    qemu('create', '-q', '-f', 'qcow2', dir.path('a.qcow2'), '1M');
    qemu('create', '-q', '-f', 'qcow2', '-u', '-b', 'loop.qcow2', '-F', 'qcow2', loop, '1M');
    const q = dir.path('a.qcow2');
    const cases: [string[], RegExp][] = [
      [['info', dir.path('missing.img')], /no such file/],
      [['info', '-f', 'vmdk', q], /image is qcow2, not vmdk/],
      [['info', '--backing-chain', loop], /loop/],
      [['convert', '-O', 'qcow2', loop, dir.path('x.qcow2')], /loop/],
      [['create', '-f', 'qcow2', dir.path('y.qcow2'), '99999999999E'], /too large/],
      [['info', '--frob', q], /unknown option/],
    ];
    for (const [args, msg] of cases) {
      const r = virtkitProcess(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    }
  } finally {
    dir.done();
  }
});

test('create -b takes the size from the backing file and records its format', async () => {
  const dir = scratch();
  try {
    const base = dir.path('base.qcow2');
    qemu('create', '-q', '-f', 'qcow2', base, '24M');
    qemuIo(base, 'qcow2', 'write -P 8 0 64k');
    const top = dir.path('top.qcow2');
    const r = await virtkit('create', '-f', 'qcow2', '-b', 'base.qcow2', top);
    assert.equal(r.status, 0, r.stderr);
    const info = qemuJson('info', '--output=json', top) as Json;
    assert.equal(info['virtual-size'], 24 * 1024 * 1024);
    assert.equal(info['backing-filename'], 'base.qcow2');
    assert.equal(info['backing-filename-format'], 'qcow2');
    assert.equal(qemuImg('check', top).status, 0);
    assert.equal(qemuImg('compare', top, base).status, 0);
    // A backing file that does not exist is an error, and so is one in a format it is not.
    assert.equal((await virtkit('create', '-f', 'qcow2', '-b', 'nope.qcow2', dir.path('x.qcow2'))).status, 2);
    assert.equal(
      (await virtkit('create', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'vmdk', dir.path('y.qcow2'))).status,
      2,
    );
  } finally {
    dir.done();
  }
});
