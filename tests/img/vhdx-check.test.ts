/**
 * `check` on VHDX images, against qemu-img check on the same files: images qemu-img made, with
 * BAT entries broken afterwards, and with a pending log left by an aborted qemu-io.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { guidEqual } from '../../src/storage/vhdx/guid.ts';
import {
  BAT_GUID,
  HEADER_OFFSETS,
  MiB,
  REGION_TABLE_OFFSETS,
  REGION_TABLE_SIZE,
  parseHeader,
  parseRegionTable,
  serializeHeader,
} from '../../src/storage/vhdx/layout.ts';
import type { Header } from '../../src/storage/vhdx/layout.ts';
import { qemu, qemuImg, qemuIo, scratch, sha256, virtkit } from './helpers.ts';

/** Where the BAT of a VHDX file starts, from its first region table. */
function batOffset(file: string): number {
  const fd = openSync(file, 'r');
  try {
    const table = new Uint8Array(REGION_TABLE_SIZE);
    readSync(fd, table, 0, table.length, REGION_TABLE_OFFSETS[0]);
    const regions = parseRegionTable(table);
    assert.ok(typeof regions !== 'string', 'region table readable');
    return regions.find((r) => guidEqual(r.guid, BAT_GUID))!.fileOffset;
  } finally {
    closeSync(fd);
  }
}

/** Overwrites BAT entry `idx` with `state` and a file offset in MiB (a bigint, so any 44-bit value fits). */
function setEntry(file: string, idx: number, state: number, offsetMiB: bigint): void {
  const entry = new Uint8Array(8);
  new DataView(entry.buffer).setBigUint64(0, (offsetMiB << 20n) | BigInt(state), true);
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, entry, 0, 8, batOffset(file) + idx * 8);
  } finally {
    closeSync(fd);
  }
}

/** The MiB a BAT entry points at. */
function entryMiB(file: string, idx: number): bigint {
  const entry = new Uint8Array(8);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, entry, 0, 8, batOffset(file) + idx * 8);
  } finally {
    closeSync(fd);
  }
  return new DataView(entry.buffer).getBigUint64(0, true) >> 20n;
}

/**
 * A 64 MiB image (8 MiB blocks: BAT entry i is block i) with blocks 0 and 1 written. qemu-img
 * puts the log at 1 MiB, the BAT at 2 MiB and the metadata at 3 MiB.
 */
function twoBlocks(file: string): void {
  qemu('create', '-q', '-f', 'vhdx', file, '64M');
  qemuIo(file, 'vhdx', 'write -P 1 0 1M', 'write -P 2 8M 64k');
}

/** Both tools' verdicts on one file: exit status, and the JSON report when there is one. */
async function both(file: string, ...opts: string[]) {
  const q = qemuImg('check', ...opts, '--output=json', file);
  const v = await virtkit('check', ...opts, '--output', 'json', file);
  return {
    q,
    v,
    qJson: q.stdout ? JSON.parse(q.stdout) : undefined,
    vJson: v.stdout ? JSON.parse(v.stdout) : undefined,
  };
}

test('check on VHDX: clean images pass with the same report as qemu-img', async () => {
  const dir = scratch();
  try {
    const files: string[] = [];
    for (const [name, opts] of [
      ['empty.vhdx', []],
      ['small-blocks.vhdx', ['-o', 'block_size=1M']],
      ['fixed.vhdx', ['-o', 'subformat=fixed']],
    ] as const) {
      const file = dir.path(name);
      qemu('create', '-q', '-f', 'vhdx', ...opts, file, '16M');
      files.push(file);
    }
    qemuIo(files[1]!, 'vhdx', 'write -P 7 0 3M', 'write -P 8 15M 4k');
    twoBlocks(dir.path('two.vhdx'));
    files.push(dir.path('two.vhdx'));
    for (const file of files) {
      const r = await both(file);
      assert.equal(r.q.status, 0, r.q.stderr);
      assert.equal(r.v.status, 0, `${file}: ${r.v.stderr}`);
      assert.deepEqual(r.vJson, r.qJson);
      const human = await virtkit('check', file);
      assert.equal(human.stdout, qemuImg('check', file).stdout);
    }
  } finally {
    dir.done();
  }
});

test('check on VHDX: broken BAT entries are errors naming the block, counted as qemu-img counts them', async () => {
  const dir = scratch();
  try {
    const good = dir.path('good.vhdx');
    twoBlocks(good);
    const fileSize = readFileSync(good).length;
    // [name, entry 1's new offset in MiB, what virtkit must say, what qemu-img says]
    const cases: [string, bigint, RegExp, RegExp][] = [
      [
        'past the end',
        100n,
        /BAT entry 1 \(block 1\): start offset 104857600 points after end of file/,
        /entry 1 start/,
      ],
      [
        'ending past the end',
        BigInt(fileSize / MiB - 4),
        /BAT entry 1 \(block 1\): end offset \d+ points after end of file/,
        /entry 1 end/,
      ],
      ['on the headers', 0n, /BAT entry 1 \(block 1\): .* overlaps the header section/, /overlaps/],
      ['on the log', 1n, /BAT entry 1 \(block 1\): .* overlaps the log \[1048576, 2097152\)/, /overlaps/],
      ['on the BAT', 2n, /BAT entry 1 \(block 1\): .* overlaps the BAT region/, /overlaps/],
      ['on the metadata', 3n, /BAT entry 1 \(block 1\): .* overlaps the metadata region/, /overlaps/],
      ['overflowing', (1n << 44n) - 1n, /BAT entry 1 \(block 1\): offset 18446744073708503040 overflows/, /overflow/],
    ];
    for (const [name, mib, ours, theirs] of cases) {
      const file = dir.path('bad.vhdx');
      copyFileSync(good, file);
      setEntry(file, 1, 6, mib);
      const before = sha256(file);
      const r = await both(file);
      assert.equal(r.q.status, 2, `${name}: qemu-img ${r.q.stderr}`);
      assert.equal(r.v.status, r.q.status, `${name}: ${r.v.stderr}`);
      assert.deepEqual(r.vJson, r.qJson, name);
      assert.match(r.v.stderr, ours, name);
      assert.match(r.q.stderr, theirs, name);
      const human = await virtkit('check', file);
      assert.equal(human.stdout, qemuImg('check', file).stdout, name);
      // Repair changes nothing in the BAT, for either tool (qemu-img rewrites the headers).
      assert.equal((await virtkit('check', '-r', 'all', file)).status, 2, name);
      assert.equal(sha256(file), before, `${name}: the check modified the file`);
      assert.equal(qemuImg('check', '-r', 'all', file).status, 2, name);
    }
    // Two bad entries: two errors, each named.
    const file = dir.path('two-bad.vhdx');
    copyFileSync(good, file);
    setEntry(file, 0, 6, 100n);
    setEntry(file, 1, 6, 0n);
    const r = await both(file);
    assert.equal(r.v.status, r.q.status);
    assert.deepEqual(r.vJson, r.qJson);
    assert.equal(r.vJson.corruptions, 2);
    assert.match(r.v.stderr, /BAT entry 0 \(block 0\): start offset/);
    assert.match(r.v.stderr, /BAT entry 1 \(block 1\): .* overlaps the header section/);
    // A zero block may keep an offset past the end: nothing reads it, for both tools.
    copyFileSync(good, file);
    setEntry(file, 2, 2, 100n);
    assert.equal((await both(file)).v.status, 0);
    assert.equal(qemuImg('check', file).status, 0);
  } finally {
    dir.done();
  }
});

test('check on VHDX: blocks sharing file space and undefined states, which qemu-img does not check, are errors', async () => {
  const dir = scratch();
  try {
    const good = dir.path('good.vhdx');
    twoBlocks(good);
    const block0 = entryMiB(good, 0);
    const file = dir.path('shared.vhdx');
    copyFileSync(good, file);
    // Block 1 starts half-way into block 0 (blocks are 8 MiB).
    setEntry(file, 1, 6, block0 + 4n);
    assert.equal(qemuImg('check', file).status, 0, 'qemu-img does not compare blocks with each other');
    let v = await virtkit('check', file);
    assert.equal(v.status, 2);
    assert.match(v.stderr, /BAT entry 1 \(block 1\): .* overlaps BAT entry 0 \(block 0\) in the file/);
    // Normal opens refuse it too: a write into one block would change the other.
    const info = await virtkit('info', file);
    assert.notEqual(info.status, 0);
    assert.match(info.stderr, /overlaps BAT entry 0/);

    copyFileSync(good, file);
    setEntry(file, 1, 4, block0 + 8n);
    assert.equal(qemuImg('check', file).status, 0, 'qemu-img does not check states');
    v = await virtkit('check', '--output', 'json', file);
    assert.equal(v.status, 2);
    assert.equal(JSON.parse(v.stdout).corruptions, 1);
    assert.match(v.stderr, /BAT entry 1 \(block 1\): undefined state 4/);
  } finally {
    dir.done();
  }
});

/** Sets the LogGuid of the current header (a writer does this before its first log entry). */
function armLog(file: string, logGuid: Uint8Array): void {
  const bytes = new Uint8Array(readFileSync(file));
  const hs = HEADER_OFFSETS.map((o) => parseHeader(bytes.subarray(o, o + 4096)));
  const cur = hs.reduce((a, b) =>
    typeof b !== 'string' && (typeof a === 'string' || b.sequence > a.sequence) ? b : a,
  ) as Header;
  const slot = hs.indexOf(cur) === 0 ? 1 : 0;
  bytes.set(serializeHeader({ ...cur, sequence: cur.sequence + 1n, logGuid }), HEADER_OFFSETS[slot]!);
  writeFileSync(file, bytes);
}

/**
 * An image whose log must be replayed: qemu-io logs a BAT update, applies it and aborts; the BAT
 * update is then undone and the log re-armed, the state a crash right after the log write leaves.
 */
function pendingLog(file: string): void {
  qemu('create', '-q', '-f', 'vhdx', '-o', 'block_size=1M', file, '8M');
  spawnSync('qemu-io', ['-f', 'vhdx', '-c', 'write -P 0x77 0 64k', '-c', 'abort', file], { stdio: 'ignore' });
  const bytes = new Uint8Array(readFileSync(file));
  let newest = -1;
  let seqMax = -1n;
  for (let at = MiB; at < 2 * MiB; at += 4096) {
    const dv = new DataView(bytes.buffer, at);
    if (dv.getUint32(0, true) === 0x65676f6c && dv.getBigUint64(16, true) > seqMax) {
      seqMax = dv.getBigUint64(16, true);
      newest = at;
    }
  }
  assert.ok(newest >= 0, 'qemu-io wrote a log entry');
  bytes.fill(0, 2 * MiB, 2 * MiB + 4096);
  writeFileSync(file, bytes);
  armLog(file, bytes.slice(newest + 32, newest + 48));
}

test('check on VHDX: a pending log fails the check read-only and is replayed by -r, as qemu-img does', async () => {
  const dir = scratch();
  try {
    const orig = dir.path('orig.vhdx');
    pendingLog(orig);
    const before = sha256(orig);
    const r = await both(orig);
    assert.equal(r.q.status, 1, 'qemu-img cannot open it read-only');
    assert.equal(r.v.status, 1);
    assert.equal(r.v.stdout, '');
    assert.match(r.v.stderr, /contains a log that needs to be replayed/);
    assert.match(r.v.stderr, /check -r all/);
    assert.equal(sha256(orig), before, 'a check without -r leaves the file alone');

    for (const mode of ['leaks', 'all']) {
      const ours = dir.path(`ours-${mode}.vhdx`);
      const theirs = dir.path(`theirs-${mode}.vhdx`);
      copyFileSync(orig, ours);
      copyFileSync(orig, theirs);
      const v = await virtkit('check', '-r', mode, ours);
      const q = qemuImg('check', '-r', mode, theirs);
      assert.equal(q.status, 0);
      assert.equal(v.status, q.status, v.stderr);
      assert.equal(v.stdout, q.stdout.replaceAll(theirs, ours));
      assert.match(v.stdout, /1 corruptions/);
      // Replayed: both tools now see a clean image holding the logged write.
      assert.equal((await virtkit('check', ours)).status, 0);
      assert.equal(qemuImg('compare', '-f', 'vhdx', '-F', 'vhdx', ours, theirs).status, 0);
      qemuIo(theirs, 'vhdx', 'read -P 0x77 0 64k');
    }
    const json = dir.path('json.vhdx');
    copyFileSync(orig, json);
    const qj = dir.path('qjson.vhdx');
    copyFileSync(orig, qj);
    const v = await virtkit('check', '-r', 'all', '--output', 'json', json);
    const q = qemuImg('check', '-r', 'all', '--output=json', qj);
    assert.equal(v.status, q.status);
    assert.equal(v.stdout, q.stdout.replaceAll(qj, json));
    assert.equal(JSON.parse(v.stdout)['corruptions-fixed'], 1);
  } finally {
    dir.done();
  }
});
