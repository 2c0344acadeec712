/**
 * GPT and MBR tables against util-linux's sfdisk (package fdisk): what buildGpt writes sfdisk reads
 * and verifies, and what sfdisk writes readPartitionTable reads the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPT_TYPES, PartitionTableError, buildGpt, crc32, readPartitionTable, type GptSpec } from './gpt.ts';

const dir = mkdtempSync(join(tmpdir(), 'virtkit-gpt-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 * 1024;
const sfdisk = (args: string[], input?: string) =>
  execFileSync('sfdisk', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });

interface SfdiskJson {
  partitiontable: {
    label: string;
    id: string;
    firstlba?: number;
    lastlba?: number;
    partitions: {
      start: number;
      size: number;
      type: string;
      uuid?: string;
      name?: string;
      attrs?: string;
      bootable?: boolean;
    }[];
  };
}

function fileOf(size: number, parts: { offset: number; bytes: Uint8Array }[] = []): string {
  const path = join(dir, `disk-${Math.random().toString(36).slice(2)}.raw`);
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  for (const p of parts) writeSync(fd, p.bytes, 0, p.bytes.length, p.offset);
  closeSync(fd);
  return path;
}

function readerOf(path: string) {
  const bytes = readFileSync(path);
  return (offset: number, length: number) => Promise.resolve(new Uint8Array(bytes.subarray(offset, offset + length)));
}

const SPEC: GptSpec = {
  diskSize: 64 * MiB,
  diskGuid: '6B2E1A3C-94F0-4D1B-A0E2-1F6C3B5D7E90',
  partitions: [
    { start: MiB, size: 8 * MiB, type: 'efi', uuid: '11111111-2222-4333-8444-555555555555', name: 'ESP' },
    {
      start: 9 * MiB,
      size: 54 * MiB,
      type: 'linux',
      uuid: 'A1B2C3D4-E5F6-4789-8ABC-DEF012345678',
      name: 'root fs',
      bootable: true,
    },
  ],
};

function writeGpt(spec: GptSpec): string {
  const g = buildGpt(spec);
  return fileOf(spec.diskSize, [
    { offset: 0, bytes: g.primary },
    { offset: g.backupOffset, bytes: g.backup },
  ]);
}

test('sfdisk reads and verifies the table buildGpt writes', () => {
  const path = writeGpt(SPEC);
  const t = (JSON.parse(sfdisk(['--json', path])) as SfdiskJson).partitiontable;
  assert.equal(t.label, 'gpt');
  assert.equal(t.id, SPEC.diskGuid);
  assert.equal(t.firstlba, 34);
  assert.equal(t.lastlba, 64 * 2048 - 34);
  assert.deepEqual(
    t.partitions.map((p) => [p.start, p.size, p.type, p.uuid, p.name, p.attrs]),
    [
      [2048, 16384, GPT_TYPES.efi, '11111111-2222-4333-8444-555555555555', 'ESP', undefined],
      [18432, 110592, GPT_TYPES.linux, 'A1B2C3D4-E5F6-4789-8ABC-DEF012345678', 'root fs', 'LegacyBIOSBootable'],
    ],
  );
  const verify = sfdisk(['--verify', path]);
  assert.match(verify, /No errors detected/);
  assert.doesNotMatch(verify, /corrupt|mismatch/i);
});

test('readPartitionTable reads back what buildGpt wrote', async () => {
  const path = writeGpt(SPEC);
  const t = await readPartitionTable(readerOf(path), SPEC.diskSize);
  assert.equal(t.scheme, 'gpt');
  assert.deepEqual(t.partitions, [
    {
      index: 1,
      start: MiB,
      size: 8 * MiB,
      type: GPT_TYPES.efi,
      uuid: '11111111-2222-4333-8444-555555555555',
      name: 'ESP',
      bootable: false,
    },
    {
      index: 2,
      start: 9 * MiB,
      size: 54 * MiB,
      type: GPT_TYPES.linux,
      uuid: 'A1B2C3D4-E5F6-4789-8ABC-DEF012345678',
      name: 'root fs',
      bootable: true,
    },
  ]);
});

test('a GPT that sfdisk wrote reads as sfdisk describes it', async () => {
  const path = fileOf(32 * MiB);
  sfdisk(
    ['-q', path],
    'label: gpt\nstart=2048, size=8192, type=U, name="boot"\nstart=10240, type=L, attrs=LegacyBIOSBootable\n',
  );
  const want = (JSON.parse(sfdisk(['--json', path])) as SfdiskJson).partitiontable;
  const got = await readPartitionTable(readerOf(path), 32 * MiB);
  assert.equal(got.scheme, 'gpt');
  assert.equal(got.partitions.length, 2);
  got.partitions.forEach((p, i) => {
    const w = want.partitions[i]!;
    assert.equal(p.start, w.start * 512);
    assert.equal(p.size, w.size * 512);
    assert.equal(p.type, w.type);
    assert.equal(p.uuid, w.uuid);
    assert.equal(p.name, w.name ?? '');
    assert.equal(p.bootable, w.attrs === 'LegacyBIOSBootable');
  });
});

test('an MBR that sfdisk wrote: its primary partitions and the active flag', async () => {
  const path = fileOf(32 * MiB);
  sfdisk(['-q', path], 'label: dos\nstart=2048, size=4096, type=c\nstart=8192, type=83, bootable\n');
  const got = await readPartitionTable(readerOf(path), 32 * MiB);
  assert.deepEqual(got, {
    scheme: 'mbr',
    partitions: [
      { index: 1, start: MiB, size: 2 * MiB, type: '0x0c', bootable: false },
      { index: 2, start: 4 * MiB, size: 28 * MiB, type: '0x83', bootable: true },
    ],
  });
});

test('a damaged primary GPT header falls back to the backup, as sfdisk does', async () => {
  const g = buildGpt(SPEC);
  g.primary[512 + 30]! ^= 0xff; // inside the header: its CRC fails
  const path = fileOf(SPEC.diskSize, [
    { offset: 0, bytes: g.primary },
    { offset: g.backupOffset, bytes: g.backup },
  ]);
  const got = await readPartitionTable(readerOf(path), SPEC.diskSize);
  assert.equal(got.scheme, 'gpt');
  assert.deepEqual(
    got.partitions.map((p) => p.name),
    ['ESP', 'root fs'],
  );
  // sfdisk, too, uses the backup and says so.
  const out = execFileSync('sfdisk', ['--json', path], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  assert.equal((JSON.parse(out) as SfdiskJson).partitiontable.partitions.length, 2);
});

test('garbage, blank disks and filesystems without a table are scheme none', async () => {
  const blank = fileOf(MiB);
  assert.deepEqual(await readPartitionTable(readerOf(blank), MiB), { scheme: 'none', partitions: [] });
  // Random bytes ending in 55 AA, as a FAT boot sector does.
  const junk = new Uint8Array(4096);
  let x = 12345;
  for (let i = 0; i < junk.length; i++) junk[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  junk[510] = 0x55;
  junk[511] = 0xaa;
  assert.equal((await readPartitionTable(readerOf(fileOf(MiB, [{ offset: 0, bytes: junk }])), MiB)).scheme, 'none');
  // A header that claims the signature but lies about everything else.
  const lie = new Uint8Array(1024);
  lie.set(new TextEncoder().encode('EFI PART'), 512);
  new DataView(lie.buffer).setUint32(512 + 12, 0xffffffff, true);
  assert.equal((await readPartitionTable(readerOf(fileOf(MiB, [{ offset: 0, bytes: lie }])), MiB)).scheme, 'none');
  // A tiny disk.
  assert.equal((await readPartitionTable(() => Promise.resolve(new Uint8Array(0)), 100)).scheme, 'none');
  // An MBR entry past the disk's end.
  const big = new Uint8Array(512);
  big.set([0x00, 0, 0, 0, 0x83], 446);
  new DataView(big.buffer).setUint32(446 + 8, 2048, true);
  new DataView(big.buffer).setUint32(446 + 12, 1 << 30, true);
  big[510] = 0x55;
  big[511] = 0xaa;
  assert.equal((await readPartitionTable(readerOf(fileOf(MiB, [{ offset: 0, bytes: big }])), MiB)).scheme, 'none');
  // mkfs.ext4 on the whole disk (as 'virtkit run --disk' users do).
  const fs = fileOf(4 * MiB);
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', fs]);
  assert.equal((await readPartitionTable(readerOf(fs), 4 * MiB)).scheme, 'none');
  const vfat = fileOf(4 * MiB);
  try {
    execFileSync('mkfs.vfat', [vfat], { stdio: 'ignore' });
    assert.equal((await readPartitionTable(readerOf(vfat), 4 * MiB)).scheme, 'none');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
});

test('a table that cannot be built says why', () => {
  const at =
    (p: Partial<GptSpec['partitions'][number]>, diskSize = 64 * MiB) =>
    () =>
      buildGpt({ ...SPEC, diskSize, partitions: [{ ...SPEC.partitions[1]!, ...p }] });
  assert.throws(
    at({ start: MiB + 100 }),
    (e: Error) => e instanceof PartitionTableError && /start 1048676 is not a multiple of 512/.test(e.message),
  );
  assert.throws(at({ size: 1000 }), /size 1000 is not a multiple of 512/);
  assert.throws(at({ start: 0 }), /outside the usable area 17408\.\./);
  assert.throws(at({ size: 64 * MiB }), /outside the usable area/);
  assert.throws(at({ type: 'swap' }), /type 'swap' is not a GUID/);
  assert.throws(at({ name: 'x'.repeat(37) }), /longer than 36/);
  assert.throws(at({}, 64 * MiB + 3), /disk size 67108867 is not a positive multiple of 512/);
  assert.throws(at({}, 16 * 1024), /too small for a GPT/);
  assert.throws(
    () => buildGpt({ ...SPEC, partitions: [SPEC.partitions[1]!, { ...SPEC.partitions[0]!, start: 10 * MiB }] }),
    /partition 2 overlaps partition 1/,
  );
  assert.throws(() => buildGpt({ ...SPEC, diskGuid: 'nope' }), /disk GUID 'nope' is not a GUID/);
});

test('crc32 is the IEEE CRC zlib computes', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});
