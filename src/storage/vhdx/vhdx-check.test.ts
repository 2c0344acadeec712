/** The BAT rules of `img check` (check.ts) and how open and check() apply them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from '../memory-store.ts';
import { StorageError, isCheckable } from '../types.ts';
import {
  Bat,
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PAYLOAD_BLOCK_ZERO,
  SB_BLOCK_PRESENT,
  batGeometry,
  bitmapIndex,
} from './bat.ts';
import { MAX_MESSAGES, findBatProblems } from './check.ts';
import type { BatCheckInput } from './check.ts';
import { VhdxImage } from './image.ts';
import { vhdxFormat } from './index.ts';
import { MiB } from './layout.ts';

const RESERVED = [
  { name: 'the header section', start: 0, length: MiB },
  { name: 'the log', start: MiB, length: MiB },
  { name: 'the BAT region', start: 2 * MiB, length: MiB },
  { name: 'the metadata region', start: 3 * MiB, length: MiB },
];

/** The messages, when every problem has one. */
function problems(c: BatCheckInput): string[] {
  const r = findBatProblems(c);
  assert.equal(r.count, r.messages.length);
  return r.messages;
}

/** 8 blocks of 1 MiB in a 32 MiB file; `entries` sets [index, state, offset in MiB]. */
function input(entries: [number, number, number][], hasParent = false, virtualSize = 8 * MiB): BatCheckInput {
  const geometry = batGeometry(virtualSize, MiB, 512, hasParent);
  const bat = new Bat(new Uint8Array(geometry.entries * 8));
  for (const [i, state, mib] of entries) bat.set(i, state, mib * MiB);
  return { bat, geometry, virtualSize, fileSize: 32 * MiB, hasParent, reserved: RESERVED };
}

describe('vhdx BAT check rules', () => {
  it('finds nothing wrong with blocks that lie apart, inside the file', () => {
    assert.deepEqual(
      problems(
        input([
          [0, PAYLOAD_BLOCK_FULLY_PRESENT, 4],
          [1, PAYLOAD_BLOCK_FULLY_PRESENT, 31],
          [2, PAYLOAD_BLOCK_ZERO, 500], // space a zero block keeps is never read
        ]),
      ),
      [],
    );
  });

  it('names each block outside the file or over a structure, once per problem', () => {
    const p = problems(
      input([
        [0, PAYLOAD_BLOCK_FULLY_PRESENT, 32],
        [1, PAYLOAD_BLOCK_FULLY_PRESENT, 1],
        [2, PAYLOAD_BLOCK_FULLY_PRESENT, 3],
        [3, PAYLOAD_BLOCK_FULLY_PRESENT, 0],
      ]),
    );
    assert.equal(p.length, 4, p.join('\n'));
    assert.match(p[0]!, /BAT entry 0 \(block 0\): start offset 33554432 points after end of file \(33554432\)/);
    assert.match(p[1]!, /BAT entry 1 \(block 1\): \[1048576, 2097152\) overlaps the log/);
    assert.match(p[2]!, /BAT entry 2 \(block 2\): .* overlaps the metadata region/);
    assert.match(p[3]!, /BAT entry 3 \(block 3\): .* overlaps the header section/);
  });

  it('lets the last block stop at the end of the disk, not before', () => {
    // A 7.5 MiB disk: block 7 needs only 512 KiB of file.
    const half = 7 * MiB + MiB / 2;
    const ok = input([[7, PAYLOAD_BLOCK_FULLY_PRESENT, 31]], false, half);
    assert.deepEqual(problems({ ...ok, fileSize: 31 * MiB + MiB / 2 }), []);
    const p = problems({ ...ok, fileSize: 31 * MiB + MiB / 4 });
    assert.equal(p.length, 1);
    assert.match(p[0]!, /block 7\): end offset 33030143 points after end of file/);
  });

  it('reports blocks that share file space, naming both', () => {
    const geometry = batGeometry(8 * MiB, 4 * MiB, 512, false);
    const bat = new Bat(new Uint8Array(geometry.entries * 8));
    bat.set(0, PAYLOAD_BLOCK_FULLY_PRESENT, 4 * MiB); // [4, 8) MiB
    bat.set(1, PAYLOAD_BLOCK_FULLY_PRESENT, 6 * MiB); // [6, 10) MiB: into block 0
    const p = problems({
      bat,
      geometry,
      virtualSize: 8 * MiB,
      fileSize: 32 * MiB,
      hasParent: false,
      reserved: [],
    });
    assert.deepEqual(p, ['VHDX BAT entry 1 (block 1): [6291456, 10485760) overlaps BAT entry 0 (block 0) in the file']);
    // Touching is not overlapping.
    bat.set(1, PAYLOAD_BLOCK_FULLY_PRESENT, 8 * MiB);
    assert.deepEqual(
      problems({ bat, geometry, virtualSize: 8 * MiB, fileSize: 32 * MiB, hasParent: false, reserved: [] }),
      [],
    );
  });

  it('finds a block inside a long earlier one even when a shorter one lies between', () => {
    // A differencing image with 4 MiB blocks and 1 MiB sector bitmaps: block 0 at [4, 8) MiB,
    // bitmap 0 at [5, 6), block 1 at [6, 10): both of the later ones overlap block 0.
    const geometry = batGeometry(8 * MiB, 4 * MiB, 512, true);
    const bat = new Bat(new Uint8Array(geometry.entries * 8));
    bat.set(0, PAYLOAD_BLOCK_FULLY_PRESENT, 4 * MiB);
    bat.set(bitmapIndex(geometry, 0), SB_BLOCK_PRESENT, 5 * MiB);
    bat.set(1, PAYLOAD_BLOCK_FULLY_PRESENT, 6 * MiB);
    const p = problems({
      bat,
      geometry,
      virtualSize: 8 * MiB,
      fileSize: 32 * MiB,
      hasParent: true,
      reserved: [],
    });
    assert.deepEqual(p, [
      'VHDX BAT entry 1024 (sector bitmap 0): [5242880, 6291456) overlaps BAT entry 0 (block 0) in the file',
      'VHDX BAT entry 1 (block 1): [6291456, 10485760) overlaps BAT entry 0 (block 0) in the file',
    ]);
  });

  it('reports undefined states and PARTIALLY_PRESENT without a parent', () => {
    const p = problems(
      input([
        [0, 5, 4],
        [1, 7, 5],
      ]),
    );
    assert.deepEqual(p, [
      'VHDX BAT entry 0 (block 0): undefined state 5',
      'VHDX BAT entry 1 (block 1): PARTIALLY_PRESENT in an image that has no parent',
    ]);
    // In a differencing image a partially present block is checked like a present one.
    const diff = problems(input([[1, 7, 40]], true));
    assert.equal(diff.length, 1);
    assert.match(diff[0]!, /block 1\): start offset .* points after end of file/);
  });

  it('counts every problem of a BAT damaged wholesale but lists only the first ones', () => {
    const virtualSize = 3000 * MiB;
    const geometry = batGeometry(virtualSize, MiB, 512, false);
    const bat = new Bat(new Uint8Array(geometry.entries * 8).fill(0xff));
    const r = findBatProblems({ bat, geometry, virtualSize, fileSize: 32 * MiB, hasParent: false, reserved: [] });
    assert.equal(r.count, 3000);
    assert.equal(r.messages.length, MAX_MESSAGES + 1);
    assert.equal(r.messages[0], 'VHDX BAT entry 0 (block 0): PARTIALLY_PRESENT in an image that has no parent');
    assert.equal(r.messages.at(-1), `VHDX BAT: ${3000 - MAX_MESSAGES} more problems not listed`);
  });

  it('checks sector bitmaps of differencing images only', () => {
    const g = batGeometry(8 * MiB, MiB, 512, true);
    const sb = bitmapIndex(g, 0);
    const p = problems(input([[sb, SB_BLOCK_PRESENT, 2]], true));
    assert.equal(p.length, 1);
    assert.match(p[0]!, new RegExp(`BAT entry ${sb} \\(sector bitmap 0\\): .* overlaps the BAT region`));
    assert.deepEqual(problems(input([[sb, 3, 5]], true)), [
      `VHDX BAT entry ${sb} (sector bitmap 0): undefined state 3`,
    ]);
  });
});

/** A 4 MiB image (1 MiB blocks) with blocks 0 and 1 written; returns its bytes and the BAT offset. */
async function image(): Promise<{ bytes: Uint8Array; bat: number }> {
  const store = new MemoryStore('c.vhdx');
  await vhdxFormat.create!(store, 4 * MiB, { options: { block_size: '1M' } });
  const b = await vhdxFormat.open(store, {});
  await b.write(0, new Uint8Array(MiB).fill(1));
  await b.write(MiB, new Uint8Array(MiB).fill(2));
  await b.close();
  return { bytes: store.bytes(), bat: 2 * MiB };
}

describe('vhdx check through the image', () => {
  it('normal opens refuse a block over the metadata; openForCheck reports it and touches nothing', async () => {
    const { bytes, bat } = await image();
    const bad = bytes.slice();
    new DataView(bad.buffer).setUint32(bat + 8, (3 << 20) | PAYLOAD_BLOCK_FULLY_PRESENT, true);
    await assert.rejects(vhdxFormat.open(new MemoryStore('c.vhdx', bad.slice(), true), {}), (e: unknown) => {
      assert.ok(e instanceof StorageError);
      assert.equal(e.code, 'corrupt');
      assert.match(e.message, /BAT entry 1 \(block 1\).*overlaps the metadata region.*img check/);
      return true;
    });
    const store = new MemoryStore('c.vhdx', bad.slice());
    const img = await VhdxImage.openForCheck(store, true);
    assert.ok(isCheckable(img));
    const r = await img.check();
    await img.close();
    assert.equal(r.corruptions, 1);
    assert.equal(r.corruptionsFixed, 0);
    assert.equal(r.leaks, 0);
    assert.match(r.messages[0]!, /overlaps the metadata region/);
    assert.deepEqual(store.bytes(), bad);
  });

  it('a clean image checks clean, read-only and for repair', async () => {
    const { bytes } = await image();
    for (const readOnly of [true, false]) {
      const store = new MemoryStore('c.vhdx', bytes.slice());
      const img = await VhdxImage.openForCheck(store, readOnly);
      const r = await img.check(readOnly ? undefined : 'all');
      await img.close();
      assert.equal(r.corruptions + r.corruptionsFixed + r.leaks, 0, r.messages.join('\n'));
      assert.deepEqual(store.bytes(), bytes);
    }
  });
});
