/** `virtkit img info` against `qemu-img info`, for every format virtkit knows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formats } from '../../src/storage/registry.ts';
import { qemu, qemuIo, qemuJson, scratch, sha256, virtkit } from './helpers.ts';

type Json = Record<string, unknown>;
const FIELDS = ['format', 'virtual-size', 'backing-filename', 'cluster-size', 'backing-filename-format'];

function pick(o: Json): Json {
  const r: Json = {};
  for (const k of FIELDS) r[k] = o[k];
  const snaps = o['snapshots'] as Json[] | undefined;
  r['snapshots'] = snaps?.map((s) => ({
    id: s['id'],
    name: s['name'],
    'vm-state-size': s['vm-state-size'],
    'date-sec': s['date-sec'],
  }));
  return r;
}

/** One sample image per format, written by qemu-img with some data in it. */
function sample(dir: { path(n: string): string }, format: string): string {
  const f = dir.path(`sample.${format}`);
  qemu('create', '-q', '-f', format, f, '24M');
  qemuIo(f, format, 'write -P 0x5a 0 64k', 'write -P 0xa5 5M 128k');
  return f;
}

const names = formats.map((f) => f.name);

for (const format of names) {
  test(`info --output json agrees with qemu-img for ${format}`, async () => {
    const dir = scratch();
    try {
      const f = sample(dir, format);
      const before = sha256(f);
      const ours = await virtkit('info', '--output', 'json', f);
      assert.equal(ours.status, 0, ours.stderr);
      assert.deepEqual(pick(JSON.parse(ours.stdout) as Json), pick(qemuJson('info', '--output=json', f) as Json));
      const human = await virtkit('info', f);
      assert.match(human.stdout, new RegExp(`^image: .*\\nfile format: ${format}\\nvirtual size: `));
      assert.equal(sha256(f), before, 'info must not modify the image');
    } finally {
      dir.done();
    }
  });
}

test('info reports cluster-size like qemu-img for every VMDK and VHD subformat', async () => {
  const dir = scratch();
  try {
    const cases = [
      ['vmdk', 'monolithicSparse'],
      ['vmdk', 'streamOptimized'],
      ['vmdk', 'monolithicFlat'],
      ['vpc', 'dynamic'],
      ['vpc', 'fixed'],
    ].filter(([format]) => names.includes(format!));
    for (const [format, sub] of cases) {
      const f = dir.path(`${sub}.${format}`);
      qemu('create', '-q', '-f', format!, '-o', `subformat=${sub}`, f, '24M');
      const ours = await virtkit('info', '--output', 'json', f);
      assert.equal(ours.status, 0, ours.stderr);
      const want = (qemuJson('info', '--output=json', f) as Json)['cluster-size'];
      assert.equal((JSON.parse(ours.stdout) as Json)['cluster-size'], want, `${format} ${sub}`);
    }
  } finally {
    dir.done();
  }
});

if (names.includes('qcow2')) {
  test('info shows qcow2 backing files, the backing chain and snapshots like qemu-img', async () => {
    const dir = scratch();
    try {
      const base = dir.path('base.qcow2');
      const top = dir.path('top.qcow2');
      qemu('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', base, '16M');
      qemuIo(base, 'qcow2', 'write -P 1 0 8k');
      qemu('snapshot', '-c', 'first', base);
      qemu('snapshot', '-c', 'second', base);
      qemu('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', top);
      const ours = await virtkit('info', '--output=json', '--backing-chain', top);
      assert.equal(ours.status, 0, ours.stderr);
      const theirs = qemuJson('info', '--output=json', '--backing-chain', top) as Json[];
      const mine = JSON.parse(ours.stdout) as Json[];
      assert.equal(mine.length, 2);
      assert.deepEqual(mine.map(pick), theirs.map(pick));
      assert.equal(mine[0]!['full-backing-filename'], theirs[0]!['full-backing-filename']);
      const human = await virtkit('info', top);
      assert.match(
        human.stdout,
        /backing file: base\.qcow2 \(actual path: .*base\.qcow2\)\nbacking file format: qcow2/,
      );
      const list = await virtkit('snapshot', '-l', base);
      assert.deepEqual(
        list.stdout
          .split('\n')
          .slice(2, 4)
          .map((l) => l.split(/\s+/).slice(0, 2)),
        [
          ['1', 'first'],
          ['2', 'second'],
        ],
      );
    } finally {
      dir.done();
    }
  });
}
