/**
 * The valid images the fuzzer starts from: one per format and important variant, made in memory
 * with virtkit's own create() and writers, plus a few made by the real qemu-img in a temp dir.
 * Each seed says how to open it and which of its files can be mutated, with a layout map each.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import { openImage } from '../../src/storage/open.ts';
import { exportOva } from '../../src/storage/ova/ova.ts';
import { Sha256 } from '../../src/storage/ova/sha.ts';
import { TarWriter } from '../../src/storage/ova/tar.ts';
import { findFormat } from '../../src/storage/registry.ts';
import { canWriteCompressed, hasSnapshots, StorageError, type BlockBackend } from '../../src/storage/types.ts';
import { qcow2Map, rawMap, tarMap, textMap, vhdMap, vhdxMap, vmdkSparseMap } from './maps.ts';
import type { StructMap } from './structure.ts';

export type Files = Record<string, Uint8Array>;

export interface Target {
  /** Which file is mutated (a key of files, or an OVA member for member targets). */
  file: string;
  map: StructMap;
  weight: number;
  /** The file is text as a whole (a descriptor): edits may change its length. */
  wholeText?: boolean;
  /** The unmutated bytes, when the target is not one of the seed's files (an OVA member). */
  bytes?: Uint8Array;
  /** Puts the mutated bytes back (default: replace files[file]). OVA members repack the archive. */
  apply?: (mutated: Uint8Array, files: Files) => Promise<Files>;
}

export interface Seed {
  name: string;
  files: Files;
  main: string;
  /** Format to pass to openImage (fixed VHDs cannot be detected from their first bytes). */
  format?: string;
  /** The main file is an OVA: import it, then open every disk in it. */
  ova?: boolean;
  /** A streamOptimized image: rewriting a grain is refused ('unsupported') even when valid. */
  appendOnly?: boolean;
  targets: Target[];
}

const KiB = 1024;
const MiB = 1024 * 1024;

/** Recognisable data with holes, so images have allocated, zero and unallocated parts. */
export function pattern(size: number, salt: number): Uint8Array {
  const b = new Uint8Array(size);
  let x = salt * 2654435761 + 1;
  for (let off = 0; off < size; off += 16 * KiB) {
    if (((off >> 14) + salt) % 3 === 0) continue;
    const end = Math.min(size, off + 5000 + (salt % 7) * 100);
    for (let i = off; i < end; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      b[i] = x >>> 24 || 1;
    }
  }
  return b;
}

function memOpenBacking(files: Files) {
  return async (name: string, format: string | undefined): Promise<BlockBackend> => {
    const data = files[name];
    if (!data) throw new StorageError('not-found', `seed: no file ${name}`);
    return openImage(new MemoryStore(name, data, true), { format, readOnly: true });
  };
}

/** create() + open + writes, all in memory; returns the file's bytes (and any companions made). */
async function build(
  format: string,
  name: string,
  size: number,
  options: Record<string, string>,
  files: Files,
  fill: (b: BlockBackend) => Promise<void>,
  backing?: { file: string; format: string },
): Promise<Uint8Array> {
  const fmt = findFormat(format);
  const store = new MemoryStore(name);
  const extra: Record<string, MemoryStore> = {};
  const openFile = async (n: string) => (extra[n] ??= new MemoryStore(n));
  await fmt.create!(store, size, {
    options,
    backingFile: backing?.file,
    backingFormat: backing?.format,
    openBacking: memOpenBacking(files),
    openFile,
  });
  const img = await openImage(store, {
    format,
    openFile: async (n, ro) => {
      if (extra[n]) return extra[n];
      const data = files[n];
      if (!data) throw new StorageError('not-found', `seed: no file ${n}`);
      return new MemoryStore(n, data, ro);
    },
  });
  await fill(img);
  await img.close();
  for (const [n, s] of Object.entries(extra)) files[n] = s.bytes();
  files[name] = store.bytes();
  return files[name];
}

const writePattern = (salt: number, len?: number) => async (b: BlockBackend) => {
  const data = pattern(len ?? b.size, salt);
  for (let off = 0; off < data.length; off += 64 * KiB) {
    const piece = data.subarray(off, Math.min(data.length, off + 64 * KiB));
    if (piece.some((v) => v !== 0)) await b.write(off, piece);
  }
};

/** qcow2 with data, compressed clusters and an internal snapshot taken between two writes. */
const qcow2Fill = (salt: number, snapshot: boolean) => async (b: BlockBackend) => {
  await writePattern(salt, b.size / 2)(b);
  if (snapshot && hasSnapshots(b)) await b.createSnapshot('snap1', { dateSec: 1, dateNsec: 2, vmClockNsec: 3 });
  if (snapshot && canWriteCompressed(b)) {
    const cs = b.clusterSize;
    for (let k = 0; k < 4; k++) {
      const off = b.size / 2 + k * 3 * cs;
      if (off + cs <= b.size) await b.writeCompressedCluster(off, new Uint8Array(cs).fill(k + 1));
    }
  }
  await b.write(8 * KiB, new Uint8Array(12 * KiB).fill(0xab));
};

function single(name: string, files: Files, map: StructMap, extra: Partial<Seed> = {}): Seed {
  return {
    name,
    files,
    main: Object.keys(files).at(-1)!,
    targets: [{ file: Object.keys(files).at(-1)!, map, weight: 1 }],
    ...extra,
  };
}

async function qcow2Seed(name: string, options: Record<string, string>, size = MiB): Promise<Seed> {
  const files: Files = {};
  // A 1-bit refcount cannot count a cluster shared with a snapshot or by packed compressed
  // clusters (qemu refuses too).
  const snapshot = options.refcount_bits !== '1';
  const b = await build('qcow2', `${name}.qcow2`, size, options, files, qcow2Fill(3, snapshot));
  return single(name, files, qcow2Map(b));
}

async function ovaSeed(): Promise<Seed> {
  const srcFiles: Files = {};
  await build('raw', 'src.raw', 768 * KiB, {}, srcFiles, writePattern(9));
  const src = await openImage(new MemoryStore('src.raw', srcFiles['src.raw'], true), { format: 'raw', readOnly: true });
  const out = new MemoryStore('vm.ova');
  await exportOva(
    { name: 'fuzz vm', cpus: 2, memoryBytes: 512 * MiB, nics: [{ network: 'lan', model: 'E1000' }] },
    [src],
    out,
  );
  await src.close();
  const ova = out.bytes();
  // Members, to mutate one and repack with a manifest that matches again.
  const members: [string, Uint8Array][] = [];
  for (let off = 0; off + 512 <= ova.length && ova[off] !== 0;) {
    let name = '';
    for (let i = 0; i < 100 && ova[off + i]; i++) name += String.fromCharCode(ova[off + i]!);
    const size = parseInt(String.fromCharCode(...ova.subarray(off + 124, off + 135)), 8);
    members.push([name, ova.slice(off + 512, off + 512 + size)]);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  const repack =
    (member: string, freshManifest: boolean) =>
    async (mutated: Uint8Array, files: Files): Promise<Files> => {
      const list = members.map(([n, d]): [string, Uint8Array] => [n, n === member ? mutated : d]);
      if (freshManifest) {
        const lines = list
          .filter(([n]) => !n.endsWith('.mf'))
          .map(([n, d]) => {
            const h = new Sha256();
            h.update(d);
            return `SHA256(${n})= ${h.hex()}\n`;
          })
          .join('');
        const mf = list.findIndex(([n]) => n.endsWith('.mf'));
        list[mf] = [list[mf]![0], new Uint8Array([...lines].map((c) => c.charCodeAt(0)))];
      }
      const s = new MemoryStore('vm.ova');
      const w = new TarWriter(s);
      for (const [n, d] of list) await w.add(n, d);
      await w.end();
      return { ...files, 'vm.ova': s.bytes() };
    };
  const files: Files = { 'vm.ova': ova };
  const targets: Target[] = [{ file: 'vm.ova', map: tarMap(ova), weight: 3 }];
  for (const [n, d] of members) {
    const map = n.endsWith('.vmdk') ? vmdkSparseMap(d) : textMap(d);
    const wholeText = !n.endsWith('.vmdk');
    targets.push({ file: n, map, weight: 3, wholeText, bytes: d, apply: repack(n, true) });
    targets.push({ file: n, map, weight: 1, wholeText, bytes: d, apply: repack(n, false) });
  }
  return { name: 'ova', files, main: 'vm.ova', ova: true, targets };
}

/** The unmutated bytes of a target: a file of the seed, or an OVA member. */
export function targetBytes(seed: Seed, t: Target): Uint8Array {
  return t.bytes ?? seed.files[t.file]!;
}

export async function virtkitSeeds(): Promise<Seed[]> {
  const seeds: Seed[] = [];
  {
    const files: Files = {};
    const b = await build('raw', 'disk.raw', 256 * KiB, {}, files, writePattern(1));
    seeds.push(single('raw', files, rawMap(b)));
  }
  seeds.push(await qcow2Seed('qcow2-v3', { cluster_size: '4k', refcount_bits: '16' }));
  seeds.push(await qcow2Seed('qcow2-extl2', { cluster_size: '16k', extended_l2: 'on' }, 2 * MiB));
  seeds.push(await qcow2Seed('qcow2-refbits1', { cluster_size: '4k', refcount_bits: '1' }));
  seeds.push(await qcow2Seed('qcow2-refbits64', { cluster_size: '4k', refcount_bits: '64', lazy_refcounts: 'on' }));
  {
    const files: Files = {};
    const base = await build('qcow2', 'base.qcow2', MiB, { cluster_size: '4k' }, files, writePattern(5));
    const top = await build(
      'qcow2',
      'top.qcow2',
      MiB,
      { cluster_size: '4k', compat: '0.10' },
      files,
      writePattern(6, MiB / 2),
      {
        file: 'base.qcow2',
        format: 'qcow2',
      },
    );
    seeds.push({
      name: 'qcow2-v2-backing',
      files,
      main: 'top.qcow2',
      targets: [
        { file: 'top.qcow2', map: qcow2Map(top), weight: 4 },
        { file: 'base.qcow2', map: qcow2Map(base), weight: 1 },
      ],
    });
  }
  for (const sub of ['monolithicSparse', 'streamOptimized']) {
    const files: Files = {};
    const b = await build('vmdk', `${sub}.vmdk`, MiB, { subformat: sub }, files, writePattern(7));
    seeds.push(single(`vmdk-${sub}`, files, vmdkSparseMap(b), { appendOnly: sub === 'streamOptimized' }));
  }
  {
    const files: Files = {};
    const parent = await build('vmdk', 'parent.vmdk', MiB, {}, files, writePattern(15));
    const delta = await build('vmdk', 'delta.vmdk', MiB, {}, files, writePattern(16, MiB / 2), {
      file: 'parent.vmdk',
      format: 'vmdk',
    });
    seeds.push({
      name: 'vmdk-delta',
      files,
      main: 'delta.vmdk',
      targets: [
        { file: 'delta.vmdk', map: vmdkSparseMap(delta), weight: 4 },
        { file: 'parent.vmdk', map: vmdkSparseMap(parent), weight: 1 },
      ],
    });
  }
  {
    const files: Files = {};
    const desc = await build('vmdk', 'pair.vmdk', 512 * KiB, { subformat: 'monolithicFlat' }, files, writePattern(8));
    seeds.push({
      name: 'vmdk-descriptor+flat',
      files,
      main: 'pair.vmdk',
      targets: [
        { file: 'pair.vmdk', map: textMap(desc), weight: 4, wholeText: true },
        { file: 'pair-flat.vmdk', map: rawMap(files['pair-flat.vmdk']!), weight: 1 },
      ],
    });
  }
  {
    const files: Files = {};
    const b = await build('vpc', 'fixed.vhd', 512 * KiB, { subformat: 'fixed' }, files, writePattern(10));
    seeds.push(single('vhd-fixed', files, vhdMap(b), { format: 'vpc' }));
  }
  {
    const files: Files = {};
    const b = await build('vpc', 'dynamic.vhd', 3 * MiB, {}, files, writePattern(11, MiB + 300 * KiB));
    seeds.push(single('vhd-dynamic', files, vhdMap(b)));
  }
  {
    const files: Files = {};
    const parent = await build('vpc', 'parent.vhd', 3 * MiB, {}, files, writePattern(12, 2 * MiB));
    const child = await build('vpc', 'child.vhd', 3 * MiB, {}, files, writePattern(13, MiB), {
      file: 'parent.vhd',
      format: 'vpc',
    });
    seeds.push({
      name: 'vhd-differencing',
      files,
      main: 'child.vhd',
      targets: [
        { file: 'child.vhd', map: vhdMap(child), weight: 4 },
        { file: 'parent.vhd', map: vhdMap(parent), weight: 1 },
      ],
    });
  }
  for (const sub of ['dynamic', 'fixed']) {
    const files: Files = {};
    const b = await build(
      'vhdx',
      `${sub}.vhdx`,
      3 * MiB,
      { subformat: sub, block_size: '1M' },
      files,
      writePattern(14, 2 * MiB),
    );
    seeds.push(single(`vhdx-${sub}`, files, vhdxMap(b)));
  }
  seeds.push(await ovaSeed());
  return seeds;
}

/** Images written by qemu-img itself: its layouts and choices differ from ours in the details. */
export function qemuSeeds(): Seed[] {
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-fuzz-'));
  try {
    const raw = join(dir, 'src.raw');
    writeFileSync(raw, pattern(MiB + 64 * KiB, 21));
    const q = (...args: string[]) => execFileSync('qemu-img', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const convert = (out: string, fmt: string, ...o: string[]) => {
      q('convert', '-f', 'raw', '-O', fmt, ...o, raw, join(dir, out));
      return new Uint8Array(readFileSync(join(dir, out)));
    };
    const seeds: Seed[] = [];
    {
      const p = join(dir, 'qc.qcow2');
      q('convert', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=4096', raw, p);
      q('snapshot', '-c', 'first', p);
      const b = new Uint8Array(readFileSync(p));
      seeds.push(single('qemu-qcow2-compressed-snapshot', { 'qc.qcow2': b }, qcow2Map(b)));
    }
    {
      const b = convert('v2.qcow2', 'qcow2', '-o', 'compat=0.10,cluster_size=8192');
      seeds.push(single('qemu-qcow2-v2', { 'v2.qcow2': b }, qcow2Map(b)));
    }
    {
      const b = convert('s.vmdk', 'vmdk', '-o', 'subformat=streamOptimized');
      seeds.push(single('qemu-vmdk-stream', { 's.vmdk': b }, vmdkSparseMap(b), { appendOnly: true }));
    }
    {
      const b = convert('d.vhd', 'vpc', '-o', 'subformat=dynamic');
      seeds.push(single('qemu-vhd-dynamic', { 'd.vhd': b }, vhdMap(b)));
    }
    {
      const b = convert('d.vhdx', 'vhdx', '-o', 'block_size=1M');
      seeds.push(single('qemu-vhdx', { 'd.vhdx': b }, vhdxMap(b)));
    }
    {
      // qemu logs each BAT update and leaves the entries when it dies: a pending log to replay.
      const p = join(dir, 'log.vhdx');
      q('create', '-q', '-f', 'vhdx', '-o', 'block_size=1M', p, '3M');
      try {
        execFileSync(
          'qemu-io',
          ['-f', 'vhdx', '-c', 'write -P 0x77 0 64k', '-c', 'write -P 0x78 2M 4k', '-c', 'abort', p],
          {
            stdio: 'ignore',
          },
        );
      } catch {
        // abort() kills qemu-io; that is the point.
      }
      const b = new Uint8Array(readFileSync(p));
      seeds.push(single('qemu-vhdx-pending-log', { 'log.vhdx': b }, vhdxMap(b)));
    }
    {
      const p = join(dir, 'split.vmdk');
      q('create', '-q', '-f', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse', p, '1M');
      execFileSync('qemu-io', ['-f', 'vmdk', '-c', 'write -P 0x33 64k 100k', p], { stdio: 'ignore' });
      const desc = new Uint8Array(readFileSync(p));
      const ext = new Uint8Array(readFileSync(join(dir, 'split-s001.vmdk')));
      seeds.push({
        name: 'qemu-vmdk-twoGbMaxExtentSparse',
        files: { 'split-s001.vmdk': ext, 'split.vmdk': desc },
        main: 'split.vmdk',
        targets: [
          { file: 'split.vmdk', map: textMap(desc), weight: 2, wholeText: true },
          { file: 'split-s001.vmdk', map: vmdkSparseMap(ext), weight: 2 },
        ],
      });
    }
    return seeds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
