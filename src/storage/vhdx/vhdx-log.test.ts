/**
 * Log replay: images with a pending metadata log, crafted here entry by entry, and one whose
 * log qemu-io wrote before it aborted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileStore } from '../../host/node/file-store.ts';
import { MemoryStore } from '../memory-store.ts';
import type { BlockBackend } from '../types.ts';
import { payloadIndex, batGeometry, Bat, PAYLOAD_BLOCK_FULLY_PRESENT } from './bat.ts';
import { guidBytes } from './guid.ts';
import { vhdxFormat } from './index.ts';
import { HEADER_OFFSETS, MiB, parseHeader, serializeHeader } from './layout.ts';
import type { Header } from './layout.ts';
import { buildLogEntry } from './log.ts';
import type { LogOp } from './log.ts';

const LOG_GUID = guidBytes('11112222-3333-4444-8555-666677778888');
const LOG_OFFSET = MiB; // where createVhdx puts the log
const BAT_OFFSET = 2 * MiB; // and the BAT, with the default 1 MiB log

function fill(v: number, n = 4096): Uint8Array {
  return new Uint8Array(n).fill(v);
}

/** Sets LogGuid in the current header (as a writer does before its first log entry). */
function setLogGuid(bytes: Uint8Array, guid: Uint8Array): void {
  const hs = HEADER_OFFSETS.map((o) => parseHeader(bytes.subarray(o, o + 4096)));
  const cur = hs.reduce((a, b) =>
    typeof b !== 'string' && (typeof a === 'string' || b.sequence > a.sequence) ? b : a,
  ) as Header;
  const slot = hs.indexOf(cur) === 0 ? 1 : 0;
  bytes.set(serializeHeader({ ...cur, sequence: cur.sequence + 1n, logGuid: guid }), HEADER_OFFSETS[slot]!);
}

async function readAllOf(b: BlockBackend): Promise<Uint8Array> {
  const out = new Uint8Array(b.size);
  await b.read(0, out);
  return out;
}

/**
 * An 4 MiB image (1 MiB blocks) with block 0 allocated, and a pending log of two entries that
 * rewrites and zeroes parts of block 0 and allocates block 2 past the end of the file.
 */
async function crafted(): Promise<{ bytes: Uint8Array; expect: Uint8Array }> {
  const store = new MemoryStore('log.vhdx');
  await vhdxFormat.create!(store, 4 * MiB, { options: { block_size: '1M' } });
  const b = await vhdxFormat.open(store, {});
  await b.write(0, fill(0x10, MiB));
  const block0 = (await b.blockStatus(0, MiB)).hostOffset!;
  await b.close();
  const bytes = store.bytes();
  const fileEnd = bytes.length;
  const expect = new Uint8Array(4 * MiB);
  expect.fill(0x10, 0, MiB);

  // Entry 1: one data sector into block 0 and a zeroed range after it.
  const a = fill(0xaa);
  a.set([1, 2, 3, 4, 5, 6, 7, 8], 0); // leading and trailing bytes travel in the descriptor
  a.set([9, 9, 9, 9], 4092);
  expect.set(a, 0);
  expect.fill(0, 4096, 3 * 4096);
  const e1: LogOp[] = [
    { offset: block0, data: a },
    { offset: block0 + 4096, zeroLength: 8192 },
  ];
  // Entry 2: allocate block 2 at the end of the file: its data, then the BAT sector naming it.
  const g = batGeometry(4 * MiB, MiB, 512, false);
  const batSector = bytes.slice(BAT_OFFSET, BAT_OFFSET + 4096);
  new Bat(batSector).set(payloadIndex(g, 2), PAYLOAD_BLOCK_FULLY_PRESENT, fileEnd);
  expect.fill(0xcc, 2 * MiB, 2 * MiB + 4096);
  const e2: LogOp[] = [
    { offset: fileEnd, data: fill(0xcc) },
    { offset: BAT_OFFSET, data: batSector },
  ];

  const common = { logGuid: LOG_GUID, tail: 0, flushedFileOffset: fileEnd, lastFileOffset: fileEnd + MiB };
  const entry1 = buildLogEntry({ ...common, sequence: 41n, ops: e1 });
  const entry2 = buildLogEntry({ ...common, sequence: 42n, ops: e2 });
  bytes.set(entry1, LOG_OFFSET);
  bytes.set(entry2, LOG_OFFSET + entry1.length);
  // Distractors: an older complete sequence elsewhere (must lose to the newer one), and a
  // newer entry with a broken checksum (must be ignored).
  const oldAt = 512 * 1024;
  const old = buildLogEntry({ ...common, tail: oldAt, sequence: 7n, ops: [{ offset: block0, data: fill(0xdd) }] });
  bytes.set(old, LOG_OFFSET + oldAt);
  const broken = buildLogEntry({
    ...common,
    tail: 768 * 1024,
    sequence: 99n,
    ops: [{ offset: block0, data: fill(0xee) }],
  });
  broken[100] ^= 1;
  bytes.set(broken, LOG_OFFSET + 768 * 1024);
  setLogGuid(bytes, LOG_GUID);
  return { bytes, expect };
}

describe('vhdx log replay', () => {
  it('replays a pending log in memory for a read-only open, writing nothing', async () => {
    const { bytes, expect } = await crafted();
    const store = new MemoryStore('ro.vhdx', bytes, true);
    const b = await vhdxFormat.open(store, { readOnly: true });
    assert.deepEqual(await readAllOf(b), expect);
    assert.deepEqual(store.bytes(), bytes);
    await b.close();
  });

  it('replays into the file on a read-write open and clears the log', async () => {
    const { bytes, expect } = await crafted();
    const store = new MemoryStore('rw.vhdx', bytes);
    const b = await vhdxFormat.open(store, {});
    assert.deepEqual(await readAllOf(b), expect);
    await b.close();
    const now = store.bytes();
    for (const off of HEADER_OFFSETS) {
      const h = parseHeader(now.subarray(off, off + 4096));
      assert.ok(typeof h !== 'string');
      assert.ok(
        h.logGuid.every((x) => x === 0),
        'LogGuid cleared in both headers',
      );
    }
    assert.ok(now.length >= bytes.length + MiB, 'file grown to LastFileOffset');
    const again = await vhdxFormat.open(new MemoryStore('again', now, true), {});
    assert.deepEqual(await readAllOf(again), expect);
  });

  it('replays only the entries that verify, falling back to an older sequence', async () => {
    const { bytes, expect } = await crafted();
    // A flipped byte in entry 2 (after entry 1's two sectors): entry 1 alone is the sequence.
    bytes[LOG_OFFSET + 2 * 4096 + 200] ^= 0xff;
    let b = await vhdxFormat.open(new MemoryStore('x', bytes, true), {});
    let got = await readAllOf(b);
    assert.deepEqual(got.subarray(0, 3 * 4096), expect.subarray(0, 3 * 4096));
    assert.deepEqual(got.subarray(2 * MiB, 2 * MiB + 4096), new Uint8Array(4096), 'entry 2 not replayed');
    // Entry 1's data sector with a wrong sequence number: now the old sequence (7) is the newest valid one.
    new DataView(bytes.buffer).setUint32(LOG_OFFSET + 4096 + 4092, 12345, true);
    b = await vhdxFormat.open(new MemoryStore('x', bytes, true), {});
    got = await readAllOf(b);
    assert.deepEqual(got.subarray(0, 4096), fill(0xdd));
    assert.deepEqual(got.subarray(4096, MiB), fill(0x10, MiB - 4096));
  });

  it('refuses a log whose FlushedFileOffset is past the end of a truncated file', async () => {
    const { bytes } = await crafted();
    const short = bytes.slice(0, bytes.length - MiB);
    await assert.rejects(vhdxFormat.open(new MemoryStore('t', short, true), {}), {
      code: 'corrupt',
      message: /FlushedFileOffset/,
    });
  });
});

describe('vhdx log written by qemu', () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-vhdxlog-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('replays the log qemu-io left behind when it aborted', async () => {
    const path = join(dir, 'crash.vhdx');
    execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', '-o', 'block_size=1M', path, '8M']);
    // qemu logs each BAT update, applies it, and leaves the entries in the log region.
    try {
      execFileSync(
        'qemu-io',
        ['-f', 'vhdx', '-c', 'write -P 0x77 0 64k', '-c', 'write -P 0x78 3M 4k', '-c', 'abort', path],
        { stdio: 'ignore' },
      );
    } catch {
      // abort() kills qemu-io; that is the point.
    }
    const bytes = new Uint8Array(readFileSync(path));
    // The newest entry carries the log GUID of qemu's last write (each flush starts a new one).
    let newest = -1;
    let seqMax = -1n;
    for (let at = LOG_OFFSET; at < 2 * MiB; at += 4096) {
      const dv = new DataView(bytes.buffer, at);
      if (dv.getUint32(0, true) === 0x65676f6c && dv.getBigUint64(16, true) > seqMax) {
        seqMax = dv.getBigUint64(16, true);
        newest = at;
      }
    }
    assert.ok(newest >= 0, 'qemu wrote a log entry');
    const logGuid = bytes.slice(newest + 32, newest + 48);
    // Undo the BAT updates in place and re-arm the log: the state a crash right after the log
    // write would leave. Only the replay can bring the two blocks back.
    bytes.fill(0, BAT_OFFSET, BAT_OFFSET + 4096);
    setLogGuid(bytes, logGuid);
    writeFileSync(path, bytes);

    const ro = await vhdxFormat.open(await FileStore.open(path, { readOnly: true }), {});
    const got = await readAllOf(ro);
    await ro.close();
    assert.deepEqual(got.subarray(0, 65536), fill(0x77, 65536));
    assert.deepEqual(got.subarray(3 * MiB, 3 * MiB + 4096), fill(0x78));
    assert.deepEqual(new Uint8Array(readFileSync(path)), bytes, 'read-only open left the file alone');

    const rw = await vhdxFormat.open(await FileStore.open(path), {});
    await rw.close();
    execFileSync('qemu-img', ['check', '-f', 'vhdx', path]);
    const raw = join(dir, 'crash.raw');
    execFileSync('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', path, raw]);
    assert.deepEqual(new Uint8Array(readFileSync(raw)), got);
  });
});
