/**
 * Restoring malformed snapshots: every mutation of a small real snapshot ends in a restored VM
 * or a clean, named error (SnapshotError), never an internal error (TypeError, RangeError...)
 * and never a large allocation. The seed is fixed so failures reproduce.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from './vm.ts';
import { SnapshotError } from './snapshot-file.ts';
import { makeTinySnapshot, testHost } from './tiny-snapshot.ts';
import { readSavedConfig } from './saved-config.ts';
import { StateError, StateReader } from '../memory/state.ts';
import { MemoryBackend } from '../virtio/testing.ts';
import { BoardConfigError } from '../machine/virt.ts';
import { prng } from '../net/testing.ts';
import { boardOf } from './testing.ts';

const MiB = 1024 * 1024;

/** Restores as `virtkit run` does (disks from "the command line": as many as the config lists). */
async function restore(bytes: Uint8Array): Promise<Vm> {
  return Vm.restore(
    bytes,
    async (saved) => {
      let n: number;
      try {
        n = readSavedConfig(new StateReader('snapshot', saved, undefined, 'meta.config')).disks.length;
      } catch (e) {
        if (e instanceof StateError) throw new SnapshotError(e.message);
        throw e;
      }
      return { disks: Array.from({ length: n }, () => ({ backend: new MemoryBackend(MiB) })), translate: false };
    },
    testHost,
    { output: () => {}, stopped: () => {} },
  );
}

/** Restores, runs a few slices, and classifies the result; anything but a clean error fails the test. */
async function outcome(bytes: Uint8Array): Promise<'ok' | 'refused'> {
  let vm: Vm;
  try {
    vm = await restore(bytes);
  } catch (e) {
    if (e instanceof SnapshotError || e instanceof BoardConfigError) {
      assert.doesNotMatch(e.message, /undefined|NaN|\[object/, e.message);
      if (process.env.FUZZ_LOG) console.log(e.message);
      return 'refused';
    }
    throw e;
  }
  for (let i = 0; i < 5 && !boardOf(vm).power; i++) {
    boardOf(vm).updateTimers();
    boardOf(vm).runSlice(2000);
  }
  return 'ok';
}


/** The file with its JSON replaced (RAM part kept). */
function withJson(file: Uint8Array, json: unknown): Uint8Array {
  const dv = new DataView(file.buffer, file.byteOffset);
  const oldLen = dv.getUint32(12, true);
  const text = new TextEncoder().encode(JSON.stringify(json));
  const out = new Uint8Array(16 + text.length + file.length - 16 - oldLen);
  out.set(file.subarray(0, 16));
  new DataView(out.buffer).setUint32(12, text.length, true);
  out.set(text, 16);
  out.set(file.subarray(16 + oldLen), 16 + text.length);
  return out;
}

function jsonOf(file: Uint8Array): Record<string, unknown> {
  const len = new DataView(file.buffer, file.byteOffset).getUint32(12, true);
  return JSON.parse(new TextDecoder().decode(file.subarray(16, 16 + len))) as Record<string, unknown>;
}

/** Every path to a value in a JSON tree. */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

const REPLACEMENTS: unknown[] = [
  null,
  'x',
  '',
  true,
  -1,
  0.5,
  1e308,
  -1e308,
  2 ** 53,
  4294967296,
  [],
  [1, 2, 3],
  {},
  { version: 1 },
  Array.from({ length: 1000 }, () => 0),
];

test('a few hundred mutated snapshots restore or fail with a named error, within bounded memory', async () => {
  const good = makeTinySnapshot({
    config: { version: 2, disks: [{ path: '/x.img', readOnly: false }], nets: [], append: 'console=ttyS0' },
    disk: true,
    inflightWrite: new Uint8Array(512).fill(7),
  });
  assert.ok(good.length < 16 * 1024, `the seed snapshot is ${good.length} bytes`);
  assert.equal(await outcome(good), 'ok');
  const state = jsonOf(good);
  const allPaths = paths(state).filter((p) => p.length > 0);
  const random = prng(0x5eed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(random() * a.length)]!;
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const counts = { ok: 0, refused: 0 };
  for (let i = 0; i < 320; i++) {
    let m: Uint8Array;
    const kind = i % 4;
    if (kind === 0) {
      m = good.subarray(0, Math.floor(random() * good.length));
    } else if (kind === 1) {
      m = good.slice();
      const flips = 1 + Math.floor(random() * 4);
      for (let k = 0; k < flips; k++) m[Math.floor(random() * m.length)]! ^= 1 << Math.floor(random() * 8);
    } else if (kind === 2) {
      const s = structuredClone(state);
      const p = pick(allPaths);
      let parent: Record<string | number, unknown> = s;
      for (const k of p.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
      const last = p[p.length - 1]!;
      const was = parent[last];
      const r = random();
      // In-range tweaks (most restore; the guest then runs on odd state) and type/range breakers.
      if (typeof was === 'number' && r < 0.3) parent[last] = pick([0, 1, was + 1, was - 1, was * 2]);
      else if (r < 0.45) delete parent[last];
      else parent[last] = structuredClone(pick(REPLACEMENTS));
      m = withJson(good, s);
    } else {
      // Huge or inconsistent declared sizes: JSON length, page count, compressed length, memoryBytes.
      m = good.slice();
      const dv = new DataView(m.buffer);
      const jsonLen = dv.getUint32(12, true);
      const q = 16 + jsonLen;
      const bitmapLen = Math.ceil(dv.getUint32(q, true) / 8);
      const huge = pick([0xffffffff, 0x80000000, 1 << 20, (1 << 20) + 1, 4096 * 2, 0]);
      const where = pick(['json', 'pages', 'comp', 'memory']);
      if (where === 'json') dv.setUint32(12, huge, true);
      else if (where === 'pages') dv.setUint32(q, huge, true);
      else if (where === 'comp') dv.setUint32(q + 4 + bitmapLen, huge, true);
      else {
        const s = structuredClone(state);
        (s.machine as Record<string, unknown>).memoryBytes = pick([4096 * MiB, 4097 * MiB, 2 ** 40, 32 * MiB]);
        m = withJson(good, s);
      }
    }
    let r: 'ok' | 'refused';
    try {
      r = await outcome(m);
    } catch (e) {
      assert.fail(`mutation ${i} (kind ${kind}) ended in an internal error: ${(e as Error).stack}`);
    }
    counts[r]++;
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  // Guest RAM here is 16 MiB; a mutation that made a restore allocate its declared 4 GiB (or a
  // second RAM-sized buffer) would show as hundreds of MiB.
  assert.ok(peak - rss0 < 400 * MiB, `RSS grew by ${((peak - rss0) / MiB).toFixed(0)} MiB`);
  assert.ok(counts.refused > 100 && counts.ok > 10, JSON.stringify(counts));
});

/** Raw DEFLATE, one fixed-Huffman block: a zero byte, then `matches` copies of 258 bytes at distance 1. */
function zeroBomb(matches: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((3 + 8 + 13 * matches + 7) / 8) + 1);
  let bit = 0;
  const put = (v: number, n: number) => {
    for (let i = 0; i < n; i++, bit++) if ((v >> i) & 1) out[bit >> 3]! |= 1 << (bit & 7);
  };
  const code = (c: number, n: number) => {
    for (let i = n - 1; i >= 0; i--, bit++) if ((c >> i) & 1) out[bit >> 3]! |= 1 << (bit & 7);
  };
  put(1, 1); // BFINAL
  put(1, 2); // BTYPE = fixed Huffman
  code(0x30, 8); // literal 0
  // 8 matches are 104 bits: from a byte boundary they repeat every 13 bytes.
  let m = 0;
  while (m < matches && (bit & 7) !== 0) {
    code(0xc5, 8); // length 258 (code 285)
    code(0, 5); // distance 1
    m++;
  }
  const start = bit >> 3;
  const groups = Math.floor((matches - m) / 8);
  if (groups > 0) {
    for (let k = 0; k < 8; k++) {
      code(0xc5, 8);
      code(0, 5);
    }
    for (let g = 1; g < groups; g++) out.copyWithin(start + 13 * g, start, start + 13);
    bit = (start + 13 * groups) * 8;
    m += 8 * groups;
  }
  for (; m < matches; m++) {
    code(0xc5, 8);
    code(0, 5);
  }
  code(0, 7); // end of block
  return out.subarray(0, (bit + 7) >> 3);
}

test('a deflate bomb declaring 4 GiB of RAM is refused without RAM-sized allocations', async () => {
  const tiny = makeTinySnapshot({ config: { version: 2, disks: [], nets: [], append: '' } });
  const state = jsonOf(tiny);
  (state.machine as Record<string, unknown>).memoryBytes = 4096 * MiB;
  const json = new TextEncoder().encode(JSON.stringify(state));
  const pages = (4096 * MiB) / 4096;
  const bitmap = new Uint8Array(pages / 8).fill(0xff); // every page "stored"
  const bomb = zeroBomb(Math.ceil((4096 * MiB) / 258)); // ~27 MB that inflate to 4 GiB of zeros
  const file = new Uint8Array(16 + json.length + 4 + bitmap.length + 4 + bomb.length);
  file.set(tiny.subarray(0, 16));
  const dv = new DataView(file.buffer);
  dv.setUint32(12, json.length, true);
  file.set(json, 16);
  let q = 16 + json.length;
  dv.setUint32(q, pages, true);
  file.set(bitmap, q + 4);
  q += 4 + bitmap.length;
  dv.setUint32(q, bomb.length, true);
  file.set(bomb, q + 4);
  const rss0 = process.memoryUsage().rss;
  await assert.rejects(restore(file), (e: Error) => {
    assert.ok(e instanceof SnapshotError, String(e));
    assert.match(e.message, /RAM contents are corrupt: stored page 0 is all zeros/);
    return true;
  });
  const grew = process.memoryUsage().rss - rss0;
  assert.ok(grew < 256 * MiB, `RSS grew by ${(grew / MiB).toFixed(0)} MiB`);

  // A stream too short for the pages it declares (beyond DEFLATE's 1032:1) is refused before a board is built.
  dv.setUint32(q, 1000, true);
  await assert.rejects(restore(file.subarray(0, q + 4 + 1000)), /1000 compressed bytes cannot hold the 1048576 pages/);
});
