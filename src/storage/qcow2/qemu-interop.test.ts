/**
 * Differential tests against the real qemu-img / qemu-io: images qemu writes are read byte-exact
 * by virtkit (compared with `qemu-img convert -O raw`), images virtkit writes pass `qemu-img
 * check` and `qemu-img compare`, and both checkers agree on leak counts and the image end.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FileStore } from '../../host/node/file-store.ts';
import { openImageFile } from '../../host/node/open-image.ts';
import { makeRng } from '../contract/block-backend-contract.ts';
import type { BlockBackend } from '../types.ts';
import { openQcow2, qcow2Format } from './format.ts';
import type { Qcow2Image } from './image.ts';

const dir = mkdtempSync(join(tmpdir(), 'virtkit-qcow2-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;
const tmp = (name: string): string => join(dir, `${seq++}-${name}`);

function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8' });
}
function qemuIo(file: string, cmds: string[], fmt = 'qcow2'): void {
  execFileSync('qemu-io', ['-f', fmt, ...cmds.flatMap((c) => ['-c', c]), file], { encoding: 'utf8' });
}
interface QemuCheck {
  leaks: number;
  corruptions: number;
  imageEnd: number;
  status: number;
  text: string;
}
function qemuCheck(file: string): QemuCheck {
  const r = spawnSync('qemu-img', ['check', '--output=json', file], { encoding: 'utf8' });
  const j = JSON.parse(r.stdout || '{}') as Record<string, number>;
  return {
    leaks: j.leaks ?? 0,
    corruptions: j.corruptions ?? 0,
    imageEnd: j['image-end-offset'] ?? 0,
    status: r.status ?? -1,
    text: r.stdout + r.stderr,
  };
}
function rawOf(file: string): Uint8Array {
  const out = tmp('ref.raw');
  qemuImg('convert', '-O', 'raw', file, out);
  return new Uint8Array(readFileSync(out));
}
async function readAll(b: BlockBackend): Promise<Uint8Array> {
  const buf = new Uint8Array(b.size);
  await b.read(0, buf);
  return buf;
}
function assertSame(got: Uint8Array, want: Uint8Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== want[i]) assert.fail(`${what}: byte ${i} is ${got[i]}, qemu says ${want[i]}`);
  }
}

const writes = [
  'write -P 0xab 0 64k',
  'write -P 0xcd 1000k 3k',
  'write -P 0x5a 1536k 700k',
  'write -z 1600k 128k',
  'write -P 0x11 3m 512',
  'discard 1536k 64k',
];

describe('qcow2 vs qemu: reading images qemu wrote', () => {
  const combos = [
    'cluster_size=512,refcount_bits=1',
    'cluster_size=4k,refcount_bits=8,compat=1.1',
    'cluster_size=64k',
    'cluster_size=2M,refcount_bits=64',
    'compat=0.10,cluster_size=16k',
    'lazy_refcounts=on,refcount_bits=32',
    'extended_l2=on,cluster_size=64k',
    'extended_l2=on,cluster_size=32k,refcount_bits=4',
    'cluster_size=8k,refcount_bits=2,preallocation=metadata',
  ];
  for (const o of combos) {
    it(`-o ${o}`, async () => {
      const f = tmp('q.qcow2');
      qemuImg('create', '-q', '-f', 'qcow2', '-o', o, f, '4M');
      qemuIo(f, writes);
      const b = await openImageFile(f, { readOnly: true });
      assertSame(await readAll(b), rawOf(f), o);
      const r = await (b as Qcow2Image).check();
      const q = qemuCheck(f);
      assert.deepEqual([r.leaks, r.corruptions, r.imageEndOffset], [q.leaks, q.corruptions, q.imageEnd], q.text);
      await b.close();
    });
  }

  it('a backing chain of depth 3 (qcow2 <- qcow2 <- qcow2 over raw)', async () => {
    const base = tmp('base.raw');
    qemuImg('create', '-q', '-f', 'raw', base, '4M');
    qemuIo(base, ['write -P 0x01 0 4M'], 'raw');
    const l1 = tmp('l1.qcow2');
    const l2 = tmp('l2.qcow2');
    const top = tmp('top.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', base, '-F', 'raw', '-o', 'cluster_size=4k', l1);
    qemuIo(l1, ['write -P 0x02 4k 100k', 'write -z 200k 8k']);
    qemuImg('create', '-q', '-f', 'qcow2', '-b', l1.split('/').pop()!, '-F', 'qcow2', '-o', 'compat=0.10', l2);
    qemuIo(l2, ['write -P 0x03 50k 100k']);
    qemuImg('create', '-q', '-f', 'qcow2', '-b', l2, '-F', 'qcow2', '-o', 'extended_l2=on', top);
    qemuIo(top, ['write -P 0x04 90k 5k', 'discard 0 64k']);
    const b = await openImageFile(top, { readOnly: true });
    assert.equal(b.backing?.backing?.backing?.format, 'raw');
    assertSame(await readAll(b), rawOf(top), 'chain');
    const st = await b.blockStatus(4096 * 60, 4096);
    assert.ok(st.depth >= 1);
    await b.close();
  });

  it('compressed clusters from qemu-img convert -c', async () => {
    const src = tmp('src.raw');
    qemuImg('create', '-q', '-f', 'raw', src, '3M');
    qemuIo(src, ['write -P 0x61 0 1M', 'write -P 0x62 1100k 333k', 'write -P 0 2M 64k'], 'raw');
    for (const cs of ['4k', '64k']) {
      const f = tmp('c.qcow2');
      qemuImg('convert', '-c', '-O', 'qcow2', '-o', `cluster_size=${cs}`, src, f);
      const b = await openImageFile(f, { readOnly: true });
      assertSame(await readAll(b), new Uint8Array(readFileSync(src)), `compressed ${cs}`);
      const r = await (b as Qcow2Image).check();
      assert.ok(r.compressedClusters > 0);
      assert.equal(r.imageEndOffset, qemuCheck(f).imageEnd);
      await b.close();
    }
  });

  it('internal snapshots made by qemu-img: list, read, apply', async () => {
    const f = tmp('snap.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', f, '1M');
    qemuIo(f, ['write -P 0x41 0 200k']);
    qemuImg('snapshot', '-c', 'first', f);
    const atFirst = rawOf(f);
    qemuIo(f, ['write -P 0x42 100k 200k']);
    qemuImg('snapshot', '-c', 'second', f);
    qemuIo(f, ['write -P 0x43 0 8k']);
    const now = rawOf(f);
    const b = (await openImageFile(f)) as Qcow2Image;
    assert.deepEqual(
      (await b.listSnapshots()).map((s) => [s.id, s.name]),
      [
        ['1', 'first'],
        ['2', 'second'],
      ],
    );
    assertSame(await readAll(b), now, 'active');
    await b.applySnapshot('first');
    assertSame(await readAll(b), atFirst, 'after apply');
    await b.close();
    const q = qemuCheck(f);
    assert.equal(q.status, 0, q.text);
    assertSame(rawOf(f), atFirst, 'qemu reads the applied snapshot');
  });
});

describe('qcow2 vs qemu: images virtkit writes', () => {
  async function fill(b: BlockBackend, seed: number, n = 120): Promise<void> {
    const rng = makeRng(seed);
    for (let i = 0; i < n; i++) {
      const len = 1 + rng(100_000);
      const off = rng(b.size - len);
      const k = rng(6);
      if (k === 0) await b.writeZeroes(off, len);
      else if (k === 1) await b.discard(off, len);
      else await b.write(off, new Uint8Array(len).fill(1 + rng(255)));
    }
  }
  async function model(b: BlockBackend): Promise<string> {
    const raw = tmp('model.raw');
    writeFileSync(raw, await readAll(b));
    return raw;
  }

  const combos: Record<string, string>[] = [
    {},
    { cluster_size: '512', refcount_bits: '1' },
    { cluster_size: '2M', refcount_bits: '64' },
    { compat: '0.10', cluster_size: '4k' },
    { lazy_refcounts: 'on', cluster_size: '16k', refcount_bits: '8' },
    { extended_l2: 'on', cluster_size: '32k' },
    { preallocation: 'metadata', cluster_size: '8k', refcount_bits: '4' },
  ];
  for (const o of combos) {
    it(`create + random I/O, ${JSON.stringify(o)}: qemu-img check and compare`, async () => {
      const f = tmp('v.qcow2');
      const s = await FileStore.open(f, { create: true });
      await qcow2Format.create!(s, 6 * 1024 * 1024 + 512, { options: o });
      const b = await openQcow2(s, { l2CacheTables: 3, refcountCacheBlocks: 2 });
      await fill(b, 42);
      const raw = await model(b);
      await b.close();
      const q = qemuCheck(f);
      assert.equal(q.status, 0, q.text);
      qemuImg('compare', '-q', '-f', 'qcow2', '-F', 'raw', f, raw);
      qemuImg('check', '-q', f);
    });
  }

  it('writes over a qemu backing chain and into qemu snapshots', async () => {
    const base = tmp('b.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=16k', base, '2M');
    qemuIo(base, ['write -P 0x77 0 2M']);
    const top = tmp('t.qcow2');
    const s = await FileStore.open(top, { create: true });
    await qcow2Format.create!(s, 2 * 1024 * 1024, {
      options: { cluster_size: '4k' },
      backingFile: base,
      backingFormat: 'qcow2',
    });
    await s.close();
    const b = (await openImageFile(top)) as Qcow2Image;
    await b.write(1000, new Uint8Array(10).fill(9)); // partial cluster: copy-on-write from the backing file
    await b.createSnapshot('mine');
    await b.write(5000, new Uint8Array(9000).fill(8));
    await b.writeZeroes(40960, 8192);
    const raw = await model(b);
    await b.close();
    assert.equal(qemuCheck(top).status, 0);
    qemuImg('compare', '-q', top, raw);
    assert.match(qemuImg('snapshot', '-l', top), /mine/);
    qemuImg('snapshot', '-a', 'mine', top);
    const after = rawOf(top);
    assert.equal(after[1000], 9);
    assert.equal(after[5000], 0x77);
    const b2 = (await openImageFile(top)) as Qcow2Image;
    await b2.deleteSnapshot('mine');
    await b2.close();
    assert.equal(qemuCheck(top).status, 0);
    assert.doesNotMatch(qemuImg('snapshot', '-l', top), /mine/);
  });

  it('compressed writes (convert -c path) read back by qemu', async () => {
    const f = tmp('cw.qcow2');
    const s = await FileStore.open(f, { create: true });
    const size = 1024 * 1024 + 4096;
    await qcow2Format.create!(s, size, { options: { cluster_size: '64k' } });
    const b = await openQcow2(s, {});
    const rng = makeRng(5);
    for (let off = 0; off < size; off += 65536) {
      const n = Math.min(65536, size - off);
      // Compressible text-like data, one random cluster, one long-distance repetition.
      const d = new Uint8Array(n).map((_, i) => (off === 131072 ? rng(256) : 97 + ((i >> 6) % 7) + (i % 3)));
      await b.writeCompressedCluster(off, d);
    }
    const raw = await model(b);
    await b.close();
    const q = qemuCheck(f);
    assert.equal(q.status, 0, q.text);
    qemuImg('compare', '-q', f, raw);
    assert.match(qemuImg('check', f), /compressed/);
  });

  it('leaks: virtkit check counts what qemu-img check counts, and repairs them', async () => {
    const f = tmp('leak.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', f, '4M');
    qemuIo(f, ['write -P 0x31 0 1M']);
    const b = (await openImageFile(f)) as Qcow2Image;
    // Simulate a crash after the refcounts were written but before the L2 tables: only leaks.
    await b.write(2 * 1024 * 1024, new Uint8Array(300_000).fill(3));
    await b.rc.flush();
    await b.store.close();
    const q = qemuCheck(f);
    assert.equal(q.corruptions, 0, q.text);
    assert.ok(q.leaks > 0);
    const ro = (await openImageFile(f, { readOnly: true })) as Qcow2Image;
    const r = await ro.check();
    await ro.close();
    assert.deepEqual([r.leaks, r.corruptions, r.imageEndOffset], [q.leaks, q.corruptions, q.imageEnd]);
    const rw = (await openImageFile(f)) as Qcow2Image;
    const fixed = await rw.check('leaks');
    await rw.close();
    assert.equal(fixed.leaksFixed, q.leaks);
    assert.equal(qemuCheck(f).status, 0);
  });

  it('kill -9 in the middle of writes leaves only leaks', async () => {
    const f = tmp('crash.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k,refcount_bits=4', f, '16M');
    const here = fileURLToPath(new URL('.', import.meta.url));
    const script = tmp('writer.mts');
    writeFileSync(
      script,
      `import { openImageFile } from ${JSON.stringify(join(here, '../../host/node/open-image.ts'))};
       const b = await openImageFile(${JSON.stringify(f)});
       let x = 1;
       for (let i = 0; ; i++) {
         x = (x * 1103515245 + 12345) >>> 0;
         const off = (x % 4000) * 4096 + (x % 3) * 100;
         await b.write(off, new Uint8Array(5000).fill(i & 255));
         if (i % 7 === 0) await b.discard((x % 3000) * 4096, 8192);
         if (i % 50 === 0) await b.flush();
         if (i === 200) process.stdout.write('go\\n');
       }`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res, rej) => {
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('go')) res();
      });
      child.on('exit', (code) => rej(new Error(`writer exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const q = qemuCheck(f);
    assert.equal(q.corruptions, 0, q.text);
  });
});
