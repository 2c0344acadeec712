/**
 * Hostile-input fuzzing of every disk image format (docs/storage-fuzzing.md). From a fixed seed,
 * each valid image below is mutated many times, structure-aware and at random; every case is
 * opened read-only and used (reads, blockStatus, check), a subset also read-write. Each case must
 * succeed or fail with a StorageError naming the problem, within bounded store calls, I/O sizes
 * and memory, and never write a read-only store.
 *
 * Env: VIRTKIT_FUZZ_SEED (number), VIRTKIT_FUZZ_CASES (per image), VIRTKIT_FUZZ_ONLY (image
 * name substring), VIRTKIT_FUZZ_CASE (`image:index`, replays one case and prints it),
 * VIRTKIT_FUZZ_RW_EVERY (every Nth case also runs read-write), VIRTKIT_FUZZ_LOG (a file that gets
 * one line per case: mutation, outcome, error).
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { runCase, type CaseResult } from './exercise.ts';
import { DEFAULT_LIMITS } from './guard-store.ts';
import { hashSeed, makeRng, mutate, type Rng } from './mutate.ts';
import { qemuSeeds, targetBytes, virtkitSeeds, type Files, type Seed, type Target } from './seeds.ts';

const env = process.env;
const SEED = Number(env.VIRTKIT_FUZZ_SEED ?? 20250611);
const CASES = Number(env.VIRTKIT_FUZZ_CASES ?? 200);
const RW_EVERY = Number(env.VIRTKIT_FUZZ_RW_EVERY ?? 5);
const ONLY = env.VIRTKIT_FUZZ_ONLY;
const REPLAY = env.VIRTKIT_FUZZ_CASE;
const LOG = env.VIRTKIT_FUZZ_LOG;
/** A hang detector, far above any real case (which take milliseconds). */
const WALL_LIMIT_MS = 20_000;

function pickTarget(seed: Seed, rng: Rng): Target {
  const total = seed.targets.reduce((n, t) => n + t.weight, 0);
  let r = rng.int(total);
  for (const t of seed.targets) {
    if (r < t.weight) return t;
    r -= t.weight;
  }
  return seed.targets[0]!;
}

/** Every structure boundary of the main file, in order: case i < boundaries.length truncates there. */
function sweep(seed: Seed): number[] {
  const t = seed.targets[0]!;
  const size = targetBytes(seed, t).length;
  const all = [...new Set(t.map.boundaries)].filter((b) => b >= 0 && b < size).sort((a, b) => a - b);
  // At most a third of the cases: evenly spaced when an image has more boundaries than that.
  const room = Math.floor(CASES / 3);
  return all.length <= room ? all : Array.from({ length: room }, (_, k) => all[Math.floor((k * all.length) / room)]!);
}

async function mutatedFiles(seed: Seed, rng: Rng, i: number): Promise<{ files: Files; what: string }> {
  const cuts = sweep(seed);
  if (i < cuts.length) {
    const t = seed.targets[0]!;
    const cut = targetBytes(seed, t).slice(0, cuts[i]);
    const files = t.apply ? await t.apply(cut, seed.files) : { ...seed.files, [t.file]: cut };
    return { files, what: `${t.file}: truncate at boundary ${cuts[i]}` };
  }
  const t = pickTarget(seed, rng);
  const m = mutate(targetBytes(seed, t), t.map, rng, t.wholeText);
  const files = t.apply ? await t.apply(m.bytes, seed.files) : { ...seed.files, [t.file]: m.bytes };
  return { files, what: `${t.file}: ${m.what.join('; ')}` };
}

async function timed(run: () => Promise<CaseResult>): Promise<CaseResult> {
  const t0 = performance.now();
  const r = await run();
  const ms = performance.now() - t0;
  if (r.outcome !== 'bug' && ms > WALL_LIMIT_MS) return { ...r, outcome: 'bug', detail: `took ${Math.round(ms)} ms` };
  if (r.outcome !== 'bug' && r.meter.violations.length)
    return { ...r, outcome: 'bug', detail: `guard violation swallowed: ${r.meter.violations[0]}` };
  return r;
}

const seeds = [...(await virtkitSeeds()), ...qemuSeeds()].filter(
  (s) => (!ONLY || s.name.includes(ONLY)) && (!REPLAY || REPLAY.startsWith(`${s.name}:`)),
);

describe(`storage fuzz (seed ${SEED}, ${CASES} cases per image)`, () => {
  for (const seed of seeds) {
    it(seed.name, async (t) => {
      const spec = { main: seed.main, format: seed.format, ova: seed.ova };
      // The unmutated image must work both ways, or the cases below would test nothing.
      for (const writable of [false, true]) {
        const r = await runCase({ ...spec, files: seed.files, writable }, DEFAULT_LIMITS, makeRng(1));
        const fine = r.outcome === 'ok' || (writable && seed.appendOnly && r.detail.startsWith('unsupported:'));
        assert.ok(fine, `valid ${seed.name} (${writable ? 'rw' : 'ro'}): ${r.outcome} ${r.detail}`);
      }
      const bugs: string[] = [];
      const counts = { ok: 0, rejected: 0, rw: 0 };
      let maxCalls = 0;
      let maxIo = 0;
      let maxMem = 0;
      const first = REPLAY ? Number(REPLAY.split(':').at(-1)) : 0;
      const last = REPLAY ? first + 1 : CASES;
      for (let i = first; i < last; i++) {
        const rng = makeRng(hashSeed(SEED, seed.name, i));
        const { files, what } = await mutatedFiles(seed, rng, i);
        const passes = i % RW_EVERY === 0 ? [false, true] : [false];
        for (const writable of passes) {
          const r = await timed(() =>
            runCase({ ...spec, files, writable }, DEFAULT_LIMITS, makeRng(hashSeed(SEED, i, 'use'))),
          );
          maxCalls = Math.max(maxCalls, r.meter.calls);
          maxIo = Math.max(maxIo, r.meter.largestIo);
          maxMem = Math.max(maxMem, r.meter.peakArrayBuffers);
          if (LOG)
            appendFileSync(
              LOG,
              `${seed.name}:${i} ${writable ? 'rw' : 'ro'} ${r.outcome} [${what}] ${r.detail.split('\n')[0]}\n`,
            );
          if (REPLAY) t.diagnostic(`${seed.name}:${i} ${writable ? 'rw' : 'ro'} [${what}] -> ${r.outcome} ${r.detail}`);
          if (r.outcome === 'bug') bugs.push(`${seed.name}:${i} ${writable ? 'rw' : 'ro'} [${what}]\n  ${r.detail}`);
          else counts[r.outcome]++;
          if (writable) counts.rw++;
        }
      }
      t.diagnostic(
        `${seed.name}: ${last - first} cases (${counts.rw} also read-write): ${counts.ok} ok, ${counts.rejected} rejected, ` +
          `${bugs.length} bugs; max ${maxCalls} store calls, largest I/O ${maxIo} bytes, ` +
          `ArrayBuffers peak +${(maxMem / 2 ** 20).toFixed(1)} MiB`,
      );
      assert.deepEqual(bugs.slice(0, 5), [], `${bugs.length} bugs; replay one with VIRTKIT_FUZZ_CASE=<image:index>`);
    });
  }
});
