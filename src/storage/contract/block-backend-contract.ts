/**
 * The contract every BlockBackend must meet, run by each format's tests:
 *
 *   runBlockBackendContract('qcow2 64k', async (size) => ({ backend, reopen }));
 *
 * It drives the backend with seeded random reads, writes (unaligned, cross-cluster, large),
 * write-zeroes and discards, and compares everything with an in-memory model of the disk; then it
 * checks persistence across flush + reopen, read-only refusal, range errors and blockStatus.
 *
 * This module sits in the platform-neutral tree but is test-only: it reaches `node:test` through
 * the host at call time (or takes a test API argument), so the core still compiles without Node.
 */
import { StorageError, type BlockBackend } from '../types.ts';

export interface ContractSubject {
  backend: BlockBackend;
  /** Closes nothing itself: called after the current backend was closed; opens the same image again. */
  reopen(readOnly: boolean): Promise<BlockBackend>;
  /** What the disk reads as when created (a backing file shows through); default all zeros. */
  initial?: Uint8Array;
  /** Removes temp files etc. (the backend is already closed). */
  dispose?(): Promise<void>;
}

export type MakeBackend = (size: number) => Promise<ContractSubject>;

/** The subset of node:test the suite uses (describe/it with async bodies). */
export interface TestApi {
  describe(name: string, fn: () => void): unknown;
  it(name: string, fn: () => Promise<void>): unknown;
}

export interface ContractOptions {
  /** Virtual disk size (default 4 MiB + 1536 bytes: not a multiple of large clusters). */
  size?: number;
  /** Number of random operations (default 300). */
  ops?: number;
  seed?: number;
  api?: TestApi;
}

function hostTestApi(): TestApi {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.('node:test') as TestApi | undefined;
  if (!mod) throw new Error('runBlockBackendContract: pass options.api (no node:test available)');
  return mod;
}

/** xorshift32: deterministic, so a failure reproduces with the same seed. */
export function makeRng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

function pattern(len: number, rng: (n: number) => number): Uint8Array {
  const out = new Uint8Array(len);
  const base = rng(256);
  const step = 1 + rng(250);
  for (let i = 0; i < len; i++) out[i] = (base + i * step + (i >> 9)) & 0xff;
  // Occasionally a block of zeros, which formats may treat specially.
  if (len > 1024 && rng(4) === 0) out.fill(0, rng(len >> 1), len >> 1);
  return out;
}

async function expectCode(p: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StorageError && e.code === code) return;
    throw new Error(`${what}: expected StorageError('${code}'), got ${String(e)}`);
  }
  throw new Error(`${what}: expected StorageError('${code}'), but it succeeded`);
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

async function assertReads(
  b: BlockBackend,
  model: Uint8Array,
  offset: number,
  length: number,
  what: string,
): Promise<void> {
  const buf = new Uint8Array(length);
  await b.read(offset, buf);
  const d = firstDiff(buf, model.subarray(offset, offset + length));
  if (d >= 0) {
    throw new Error(
      `${what}: byte ${offset + d} reads ${buf[d]}, expected ${model[offset + d]} (read ${offset}+${length})`,
    );
  }
}

async function assertWhole(b: BlockBackend, model: Uint8Array, what: string): Promise<void> {
  const chunk = 1 << 20;
  for (let off = 0; off < model.length; off += chunk) {
    await assertReads(b, model, off, Math.min(chunk, model.length - off), what);
  }
}

/**
 * One round of concurrent requests: the disk is cut into disjoint pieces (many sharing a cluster
 * or block with their neighbours, some spanning several), and every piece gets a write, a
 * write-zeroes, a read or nothing, all issued at once and awaited together. Reads expect the
 * content from before the round (nothing else touches their range).
 */
async function concurrentRound(
  b: BlockBackend,
  model: Uint8Array,
  rng: (n: number) => number,
  what: string,
): Promise<void> {
  const size = model.length;
  const before = model.slice();
  const ops: Promise<void>[] = [];
  for (let off = 0; off < size;) {
    const len = Math.min(size - off, 1 + (rng(6) === 0 ? rng(600_000) : rng(40_000)));
    const kind = rng(8);
    const at = off;
    if (kind < 4) {
      const data = pattern(len, rng);
      model.set(data, at);
      ops.push(b.write(at, data));
    } else if (kind === 4) {
      model.fill(0, at, at + len);
      ops.push(b.writeZeroes(at, len));
    } else if (kind < 7) {
      ops.push(assertReads(b, before, at, len, `${what}: concurrent read`));
    }
    off += len;
  }
  const results = await Promise.allSettled(ops);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  await assertWhole(b, model, `${what}: after concurrent requests`);
}

export function runBlockBackendContract(name: string, make: MakeBackend, options: ContractOptions = {}): void {
  const api = options.api ?? hostTestApi();
  const size = options.size ?? 4 * 1024 * 1024 + 1536;
  const nops = options.ops ?? 300;
  const seed = options.seed ?? 0x5eed;

  async function withSubject(fn: (s: ContractSubject, model: Uint8Array) => Promise<void>): Promise<void> {
    const s = await make(size);
    const model = s.initial ? s.initial.slice() : new Uint8Array(size);
    if (model.length !== size) throw new Error(`initial content is ${model.length} bytes, disk is ${size}`);
    try {
      await fn(s, model);
    } finally {
      await s.backend.close().catch(() => {});
      await s.dispose?.();
    }
  }

  api.describe(`BlockBackend contract: ${name}`, () => {
    api.it('reports its size and reads its initial content', async () => {
      await withSubject(async (s, model) => {
        if (s.backend.size !== size) throw new Error(`size is ${s.backend.size}, expected ${size}`);
        await assertWhole(s.backend, model, 'initial content');
      });
    });

    api.it('matches a reference model under random I/O, and persists it across flush + reopen', async () => {
      await withSubject(async (s, model) => {
        const rng = makeRng(seed);
        let b = s.backend;
        for (let i = 0; i < nops; i++) {
          const kind = rng(10);
          // Mostly small unaligned requests, sometimes large ones crossing many clusters.
          const maxLen = rng(8) === 0 ? 300_000 : 9000;
          const len = Math.min(size, 1 + rng(maxLen));
          const off = rng(4) === 0 ? size - len : rng(size - len + 1);
          const what = `op ${i}`;
          if (kind < 5) {
            const data = pattern(len, rng);
            await b.write(off, data);
            model.set(data, off);
          } else if (kind < 8) {
            await assertReads(b, model, off, len, `${what} read`);
          } else if (kind === 8) {
            await b.writeZeroes(off, len);
            model.fill(0, off, off + len);
          } else {
            // Discard may leave zeros or (where the format says so) the original content.
            const before = s.initial;
            await b.discard(off, len);
            const got = new Uint8Array(len);
            await b.read(off, got);
            for (let k = 0; k < len; k++) {
              const v = got[k]!;
              if (v !== 0 && v !== model[off + k] && !(before && v === before[off + k])) {
                throw new Error(`${what}: discarded byte ${off + k} reads ${v}`);
              }
            }
            model.set(got, off);
          }
          if (i === nops >> 1) {
            await b.flush();
            await assertWhole(b, model, 'after flush');
          }
        }
        await assertWhole(b, model, 'after random I/O');
        await b.flush();
        await b.close();
        b = s.backend = await s.reopen(false);
        await assertWhole(b, model, 'after reopen');
        // Edge clusters: first and last byte of the disk.
        await b.write(0, Uint8Array.of(0x5a));
        await b.write(size - 1, Uint8Array.of(0xa5));
        model[0] = 0x5a;
        model[size - 1] = 0xa5;
        await b.close();
        b = s.backend = await s.reopen(true);
        await assertReads(b, model, 0, 4096, 'first bytes after reopen');
        await assertReads(b, model, size - 4096, 4096, 'last bytes after reopen');
      });
    });

    api.it('refuses writes when read-only and leaves the content alone', async () => {
      await withSubject(async (s, model) => {
        await s.backend.write(1000, pattern(5000, makeRng(7)));
        model.set(pattern(5000, makeRng(7)), 1000);
        await s.backend.close();
        const b = (s.backend = await s.reopen(true));
        if (!b.readOnly) throw new Error('reopened read-only but readOnly is false');
        await expectCode(b.write(0, new Uint8Array(512)), 'read-only', 'write');
        await expectCode(b.writeZeroes(0, 4096), 'read-only', 'writeZeroes');
        await expectCode(b.discard(0, 4096), 'read-only', 'discard');
        await assertReads(b, model, 0, 8192, 'after refused writes');
      });
    });

    api.it('rejects out-of-range requests with StorageError out-of-range', async () => {
      await withSubject(async (s) => {
        const b = s.backend;
        await expectCode(b.read(size - 1, new Uint8Array(2)), 'out-of-range', 'read past end');
        await expectCode(b.read(-1, new Uint8Array(1)), 'out-of-range', 'negative read');
        await expectCode(b.write(size, new Uint8Array(1)), 'out-of-range', 'write past end');
        await expectCode(b.writeZeroes(size - 10, 11), 'out-of-range', 'writeZeroes past end');
        await expectCode(b.discard(size, 1), 'out-of-range', 'discard past end');
        await b.read(size, new Uint8Array(0));
        await b.write(0, new Uint8Array(0));
      });
    });

    api.it('keeps concurrent requests to disjoint ranges apart, before and after reopen', async () => {
      await withSubject(async (s, model) => {
        const rng = makeRng(seed + 2);
        // Several rounds; the later ones run on a freshly reopened image, whose metadata caches are cold.
        for (let round = 0; round < 4; round++) {
          if (round === 2) {
            await s.backend.close();
            s.backend = await s.reopen(false);
          }
          await concurrentRound(s.backend, model, rng, `round ${round}`);
        }
        await assertWhole(s.backend, model, 'after concurrent rounds');
        await s.backend.close();
        s.backend = await s.reopen(true);
        await assertWhole(s.backend, model, 'after concurrent rounds and reopen');
      });
    });

    api.it('blockStatus tiles the disk and zero extents read as zeros', async () => {
      await withSubject(async (s, model) => {
        const b = s.backend;
        const rng = makeRng(seed + 1);
        for (let i = 0; i < 20; i++) {
          const len = 1 + rng(70_000);
          const off = rng(size - len);
          const data = pattern(len, rng);
          data[0] = 1; // at least one non-zero byte in every written run
          await b.write(off, data);
          model.set(data, off);
        }
        await b.writeZeroes(size >> 1, 200_000);
        model.fill(0, size >> 1, (size >> 1) + 200_000);
        let off = 0;
        let extents = 0;
        while (off < size) {
          const st = await b.blockStatus(off, size - off);
          if (st.offset !== off || st.length <= 0 || off + st.length > size) {
            throw new Error(`blockStatus(${off}) returned ${st.offset}+${st.length}`);
          }
          if (st.zero) {
            const got = new Uint8Array(st.length);
            await b.read(off, got);
            if (got.some((v) => v !== 0)) throw new Error(`extent ${off}+${st.length} claims zero but has data`);
          }
          off += st.length;
          if (++extents > 1_000_000) throw new Error('blockStatus does not make progress');
        }
        await assertWhole(b, model, 'after blockStatus');
      });
    });
  });
}
