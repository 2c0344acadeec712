/**
 * One fuzz case: open a (mutated) image through the public entry points and use it the way a VM
 * or `virtkit img` would. The only acceptable failure is a StorageError with a message; anything
 * else (TypeError, RangeError, a DataView bounds error, a guard violation) is returned as a bug.
 */
import { openImage } from '../../src/storage/open.ts';
import { importOva } from '../../src/storage/ova/ova.ts';
import {
  canWriteCompressed,
  hasSnapshots,
  isCheckable,
  isResizable,
  StorageError,
  type BlockBackend,
  type ByteStore,
} from '../../src/storage/types.ts';
import { CaseMeter, GuardStore, GuardViolation, type GuardLimits } from './guard-store.ts';
import type { Rng } from './mutate.ts';
import type { Files } from './seeds.ts';

export interface CaseSpec {
  files: Files;
  main: string;
  format?: string;
  ova?: boolean;
  writable: boolean;
}

export interface CaseResult {
  /** 'ok': everything worked; 'rejected': a StorageError; 'bug': anything else. */
  outcome: 'ok' | 'rejected' | 'bug';
  detail: string;
  meter: CaseMeter;
}

/** Largest piece read at once, and how much of a (possibly huge) disk is read sequentially. */
const READ_CHUNK = 256 * 1024;
const SEQUENTIAL_LIMIT = 4 << 20;
const STATUS_STEPS = 256;

function baseName(p: string): string {
  return p.slice(Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) + 1);
}

/** Invariants every BlockBackend owes its callers, checked on whatever the image claims. */
function expect(cond: boolean, what: string): void {
  if (!cond) throw new GuardViolation(`contract: ${what}`);
}

/** What `virtkit img` does to an image besides I/O: repair, snapshots, resize, compressed writes. */
async function maintain(img: BlockBackend, rng: Rng): Promise<void> {
  if (isCheckable(img) && rng.chance(0.4)) await img.check(rng.chance(0.5) ? 'leaks' : 'all');
  if (hasSnapshots(img) && rng.chance(0.4)) {
    const list = await img.listSnapshots();
    const op = rng.int(3);
    if (op === 0) await img.createSnapshot(`fuzz${rng.int(100)}`, { dateSec: 1, dateNsec: 0, vmClockNsec: 0 });
    else if (list.length && op === 1) await img.applySnapshot(rng.pick(list).id);
    else if (list.length) await img.deleteSnapshot(rng.pick(list).name);
  }
  if (canWriteCompressed(img) && rng.chance(0.3) && img.size >= img.clusterSize) {
    const cs = img.clusterSize;
    const off = rng.int(Math.floor(img.size / cs)) * cs;
    await img.writeCompressedCluster(off, new Uint8Array(Math.min(cs, img.size - off)).fill(7));
  }
  if (isResizable(img) && rng.chance(0.2)) await img.resize(img.size + 512 * (1 + rng.int(2048)));
}

async function useDisk(img: BlockBackend, rng: Rng, writable: boolean): Promise<void> {
  const size = img.size;
  expect(Number.isSafeInteger(size) && size >= 0, `size ${size} is not a non-negative safe integer`);
  if (writable) {
    for (let k = 0; k < 3 && size > 0; k++) {
      const len = Math.min(size, 1 + rng.int(64 * 1024));
      const off = rng.int(size - len + 1);
      await img.write(off, new Uint8Array(len).fill(0x5a + k));
    }
    if (size > 0) {
      const off = rng.int(size);
      await img.writeZeroes(off, Math.min(size - off, rng.int(256 * 1024)));
      const d = rng.int(size);
      await img.discard(d, Math.min(size - d, rng.int(256 * 1024)));
    }
    await maintain(img, rng);
    await img.flush();
  }
  if (hasSnapshots(img)) await img.listSnapshots();
  // check() first in half the cases: reads stop at the first bad entry, check must not.
  const checkFirst = rng.chance(0.5);
  if (checkFirst && isCheckable(img)) await img.check();
  const buf = new Uint8Array(READ_CHUNK);
  for (let off = 0; off < Math.min(size, SEQUENTIAL_LIMIT); off += READ_CHUNK)
    await img.read(off, buf.subarray(0, Math.min(READ_CHUNK, size - off)));
  for (let k = 0; k < 6 && size > 0; k++) {
    const len = Math.min(size, rng.int(96 * 1024));
    const off = k === 0 ? size - len : rng.int(size - len + 1);
    await img.read(off, buf.subarray(0, len));
  }
  let off = 0;
  for (let step = 0; step < STATUS_STEPS && off < size; step++) {
    const want = size - off;
    const st = await img.blockStatus(off, want);
    expect(st.offset === off, `blockStatus(${off}) answered for offset ${st.offset}`);
    expect(
      Number.isSafeInteger(st.length) && st.length > 0 && st.length <= want,
      `blockStatus(${off}, ${want}) length ${st.length}`,
    );
    off += st.length;
  }
  if (!checkFirst && isCheckable(img)) await img.check();
}

export async function runCase(spec: CaseSpec, limits: GuardLimits, rng: Rng): Promise<CaseResult> {
  const meter = new CaseMeter(limits);
  const ro = !spec.writable;
  const sizes = new Map<string, number>();
  const storeOf = (name: string, readOnly: boolean): GuardStore => {
    const data = spec.files[baseName(name)];
    if (!data) throw new StorageError('not-found', `${name}: no such file`);
    sizes.set(name, data.length);
    // A read-only pass makes every store read-only, so any write at all is seen.
    return new GuardStore(baseName(name), data, ro || readOnly, meter);
  };
  const openFile = async (name: string, readOnly: boolean): Promise<ByteStore> => storeOf(name, readOnly);
  const stores: GuardStore[] = [];
  const track = async (name: string, readOnly: boolean) => {
    const s = storeOf(name, readOnly);
    stores.push(s);
    return s;
  };
  const opened: BlockBackend[] = [];
  try {
    const main = await track(spec.main, ro);
    if (spec.ova) {
      const imp = await importOva(main);
      for (const d of imp.disks) {
        const img = await openImage(d.store, { format: d.disk.format, readOnly: true, openFile });
        opened.push(img);
        await useDisk(img, rng, false);
      }
    } else {
      const img = await openImage(main, {
        format: spec.format,
        readOnly: ro,
        openFile: async (name, readOnly) => track(name, readOnly),
      });
      opened.push(img);
      await useDisk(img, rng, spec.writable);
    }
    while (opened.length) await opened.pop()!.close();
    for (const s of stores) {
      const grown = (await s.size()) - (sizes.get(s.name) ?? 0);
      expect(grown <= limits.maxGrowth, `${s.name} grew by ${grown} bytes`);
    }
    return { outcome: 'ok', detail: '', meter };
  } catch (e) {
    for (const img of opened) await img.close().catch(() => {});
    if (e instanceof StorageError && typeof e.message === 'string' && e.message.trim().length > 0 && e.code)
      return { outcome: 'rejected', detail: `${e.code}: ${e.message}`, meter };
    const err = e as Error;
    const where = (err?.stack ?? '')
      .split('\n')
      .filter((l) => l.trim().startsWith('at '))
      .slice(0, 6);
    return { outcome: 'bug', detail: `${err?.name}: ${err?.message}\n    ${where.join('\n    ')}`, meter };
  }
}
