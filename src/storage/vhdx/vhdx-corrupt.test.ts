/** Mutated images: every damaged field gives a typed StorageError naming it, never a crash. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRng } from '../contract/block-backend-contract.ts';
import { MemoryStore } from '../memory-store.ts';
import { StorageError } from '../types.ts';
import { crc32c } from './crc32c.ts';
import { vhdxFormat } from './index.ts';
import { HEADER_OFFSETS, MiB, REGION_TABLE_OFFSETS } from './layout.ts';

const BAT = 2 * MiB;
const META_ITEMS = 3 * MiB + 64 * 1024; // file parameters, size, page 83, logical, physical

/** A 4 MiB image (1 MiB blocks) with blocks 0 and 2 written. */
async function image(): Promise<Uint8Array> {
  const store = new MemoryStore('c.vhdx');
  await vhdxFormat.create!(store, 4 * MiB, { options: { block_size: '1M' } });
  const b = await vhdxFormat.open(store, {});
  await b.write(0, new Uint8Array(MiB).fill(0x31));
  await b.write(2 * MiB, new Uint8Array(MiB).fill(0x32));
  await b.close();
  return store.bytes();
}

function patch(bytes: Uint8Array, fn: (dv: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  fn(new DataView(copy.buffer));
  return copy;
}

/** Recomputes the CRC-32C of the structure at `at` of `len` bytes (checksum at +4). */
function reseal(bytes: Uint8Array, at: number, len: number): void {
  new DataView(bytes.buffer).setUint32(at + 4, crc32c(bytes.subarray(at, at + len), 4), true);
}

async function openBytes(bytes: Uint8Array) {
  return vhdxFormat.open(new MemoryStore('c.vhdx', bytes, true), {});
}

async function rejects(bytes: Uint8Array, code: string, message: RegExp): Promise<void> {
  await assert.rejects(openBytes(bytes), (e: unknown) => {
    assert.ok(e instanceof StorageError, `not a StorageError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

describe('vhdx mutated images', () => {
  it('falls back to the other header when one has a bad checksum', async () => {
    const good = await image();
    for (const off of HEADER_OFFSETS) {
      const b = await openBytes(patch(good, (dv) => dv.setUint8(off + 100, 1)));
      const got = new Uint8Array(4);
      await b.read(2 * MiB, got);
      assert.deepEqual(got, Uint8Array.of(0x32, 0x32, 0x32, 0x32));
    }
  });

  it('refuses an image with both headers damaged', async () => {
    const good = await image();
    const bad = patch(good, (dv) => {
      dv.setUint8(HEADER_OFFSETS[0] + 100, 1);
      dv.setUint8(HEADER_OFFSETS[1] + 100, 1);
    });
    await rejects(bad, 'checksum', /neither header/);
  });

  it('uses the header with the higher sequence number', async () => {
    const good = await image();
    // Header 1 gets the higher sequence number and a log offset past the end of the file.
    const bad = patch(good, (dv) => {
      dv.setBigUint64(HEADER_OFFSETS[0] + 8, 1000n, true);
      dv.setBigUint64(HEADER_OFFSETS[0] + 72, 1024n * BigInt(MiB), true);
    });
    reseal(bad, HEADER_OFFSETS[0], 4096);
    await rejects(bad, 'corrupt', /log region/);
    // The same damage with a lower sequence number is ignored.
    const ok = patch(bad, (dv) => dv.setBigUint64(HEADER_OFFSETS[0] + 8, 0n, true));
    reseal(ok, HEADER_OFFSETS[0], 4096);
    await (await openBytes(ok)).close();
  });

  it('checks region tables: one bad copy is survivable, two are not', async () => {
    const good = await image();
    const one = patch(good, (dv) => dv.setUint8(REGION_TABLE_OFFSETS[0] + 40, 0x7f));
    await (await openBytes(one)).close();
    const two = patch(one, (dv) => dv.setUint8(REGION_TABLE_OFFSETS[1] + 40, 0x7f));
    await rejects(two, 'checksum', /region table/);
    // A region table that validates but places the BAT past the end of the file.
    const far = patch(good, (dv) => {
      for (const t of REGION_TABLE_OFFSETS) dv.setBigUint64(t + 16 + 16, 4096n * BigInt(MiB), true);
    });
    for (const t of REGION_TABLE_OFFSETS) reseal(far, t, 64 * 1024);
    await rejects(far, 'corrupt', /BAT region/);
  });

  it('validates metadata items', async () => {
    const good = await image();
    await rejects(
      patch(good, (dv) => dv.setUint32(META_ITEMS, 3 * MiB, true)),
      'corrupt',
      /BlockSize/,
    );
    await rejects(
      patch(good, (dv) => dv.setBigUint64(META_ITEMS + 8, 1n << 60n, true)),
      'too-large',
      /Virtual Disk Size/,
    );
    await rejects(
      patch(good, (dv) => dv.setBigUint64(META_ITEMS + 8, 1000n, true)),
      'corrupt',
      /Virtual Disk Size/,
    );
    await rejects(
      patch(good, (dv) => dv.setUint32(META_ITEMS + 32, 1024, true)),
      'corrupt',
      /Logical Sector Size/,
    );
    await rejects(
      patch(good, (dv) => dv.setUint32(META_ITEMS + 36, 0, true)),
      'corrupt',
      /Physical Sector Size/,
    );
    // A larger virtual size whose BAT no longer fits the BAT region.
    await rejects(
      patch(good, (dv) => dv.setBigUint64(META_ITEMS + 8, 1n << 40n, true)),
      'corrupt',
      /BAT region Length/,
    );
    // An item pointing outside the metadata region.
    await rejects(
      patch(good, (dv) => dv.setUint32(3 * MiB + 32 + 16, 2 * MiB, true)),
      'corrupt',
      /outside the metadata region/,
    );
    await rejects(
      patch(good, (dv) => dv.setUint8(3 * MiB, 0)),
      'corrupt',
      /metadata table signature/,
    );
  });

  it('validates BAT entries against the file', async () => {
    const good = await image();
    await rejects(
      patch(good, (dv) => dv.setUint32(BAT, (4000 << 20) | 6, true)),
      'corrupt',
      /BAT entry 0 .*outside/,
    );
    await rejects(
      patch(good, (dv) => dv.setUint32(BAT + 8, 5, true)),
      'corrupt',
      /BAT entry 1 .*state 5/,
    );
    await rejects(
      patch(good, (dv) => dv.setUint32(BAT + 8, 7 | (5 << 20), true)),
      'corrupt',
      /PARTIALLY_PRESENT/,
    );
  });

  it('refuses truncated files', async () => {
    const good = await image();
    await rejects(good.slice(0, 100_000), 'corrupt', /too small/);
    await rejects(good.slice(0, 3 * MiB), 'corrupt', /past the end/);
  });

  it('survives random damage with StorageErrors only', async () => {
    const good = await image();
    const rng = makeRng(0xbad);
    const hot = [0, ...HEADER_OFFSETS, ...REGION_TABLE_OFFSETS, BAT, 3 * MiB, META_ITEMS];
    for (let i = 0; i < 300; i++) {
      const bad = good.slice();
      for (let k = 0; k < 1 + rng(4); k++) {
        const base = hot[rng(hot.length)]!;
        bad[base + rng(256)] = rng(256);
      }
      // Damaged headers and tables are resealed half of the time so deeper checks get exercised.
      if (rng(2) === 0) for (const h of HEADER_OFFSETS) reseal(bad, h, 4096);
      if (rng(2) === 0) for (const t of REGION_TABLE_OFFSETS) reseal(bad, t, 64 * 1024);
      try {
        const b = await openBytes(bad);
        const buf = new Uint8Array(Math.min(b.size, 2 * MiB));
        await b.read(0, buf);
        await b.blockStatus(0, b.size);
        await b.close();
      } catch (e) {
        if (!(e instanceof StorageError)) throw new Error(`iteration ${i}: ${String(e)}`);
      }
    }
  });
});
