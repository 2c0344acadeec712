import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from './fuzz.ts';
import { randomCase, runCase, stateOf, ramDiff } from './fuzz-machine.ts';
import { wasmStats } from './wasm-tier.ts';
import { HartProfile } from '../hart-profile.ts';

/**
 * Differential fuzzing of the translation tiers against the interpreter (fuzz.ts, fuzz-fp.ts,
 * fuzz-machine.ts). CI runs a fixed seed in a few groups; VIRTKIT_FUZZ_SEED / VIRTKIT_FUZZ_PROGRAMS
 * pick others and run longer, VIRTKIT_FUZZ_FP sets the chance of an FP item (e.g. 0.6),
 * VIRTKIT_FUZZ_CASE replays one case seed from a failure message (docs/cpu.md "Differential fuzzer").
 */
const env = (k: string): number | undefined => {
  const v = process.env[k];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${k}=${v}: not a number`);
  return n;
};
const SEED = env('VIRTKIT_FUZZ_SEED') ?? 20261207;
const PROGRAMS = env('VIRTKIT_FUZZ_PROGRAMS') ?? 200;
const FP = env('VIRTKIT_FUZZ_FP');
const CASE = env('VIRTKIT_FUZZ_CASE');
const GROUPS = 4;

/** Runs one case on the three tiers; fails naming the case seed when a tier differs. */
function runOne(caseSeed: number, prof: HartProfile | null): { translated: number; fpDirty: boolean } {
  const fc = randomCase(new Rng(caseSeed), { fp: FP });
  const ref = runCase(fc, 'interp', prof);
  const want = stateOf(ref);
  let translated = 0;
  for (const tier of ['js', 'wasm'] as const) {
    const m = runCase(fc, tier);
    translated += m.hart.jitTranslations;
    const got = stateOf(m);
    if (got.ram !== want.ram)
      assert.fail(`case seed ${caseSeed} (${fc.what}): RAM differs in the ${tier} tier: ${ramDiff(m, ref)}`);
    assert.deepEqual(got, want, `case seed ${caseSeed} (${fc.what}) differs in the ${tier} tier`);
  }
  return { translated, fpDirty: (ref.hart.mstatus & 0x6000) === 0x6000 };
}

/** Runs a group of programs (the interpreter's events are counted in prof). */
function runGroup(seed: number, programs: number, prof: HartProfile): { translated: number; fpDirty: number } {
  const r = new Rng(seed);
  const seen = { translated: 0, fpDirty: 0 };
  for (let k = 0; k < programs; k++) {
    const one = runOne(r.next(), prof);
    seen.translated += one.translated;
    if (one.fpDirty) seen.fpDirty++;
  }
  return seen;
}

if (CASE !== undefined) {
  test(`case seed ${CASE} runs identically in the interpreter, the JS tier and the wasm tier`, () => {
    runOne(CASE, null);
  });
}

const prof = new HartProfile();
let translated = 0;
let fpDirty = 0;

for (let g = 0; g < (CASE === undefined ? GROUPS : 0); g++) {
  const n = Math.ceil(PROGRAMS / GROUPS);
  test(`random programs run identically in the interpreter, the JS tier and the wasm tier (seed ${SEED}, group ${g + 1}/${GROUPS}, ${n} programs)`, () => {
    const s = runGroup(SEED * GROUPS + g, n, prof);
    translated += s.translated;
    fpDirty += s.fpDirty;
    assert.ok(s.translated >= n * 2, `only ${s.translated} windows translated`);
    assert.equal(wasmStats.rejected, 0, 'modules the engine rejected (translator bugs)');
  });
}

// (registered with the groups only: a replayed case proves nothing about coverage)
if (CASE === undefined)
  test('the random programs exercise what the fuzzer claims to cover', () => {
    // Over all groups (the interpreter's runs): page walks, page faults of all three kinds,
    // misaligned and illegal-instruction traps, breakpoints, ecalls from every privilege,
    // interrupts (timer, msip, ssip), traps from U, S and M, FP state written, translated code.
    const ex = prof.exceptions;
    const walks = prof.walks[0]! + prof.walks[1]! + prof.walks[2]!;
    assert.ok(translated >= PROGRAMS * 2, `only ${translated} windows translated`);
    assert.ok(walks > PROGRAMS, `only ${walks} page-table walks`);
    for (const [cause, name] of [
      [2, 'illegal instruction'],
      [3, 'breakpoint'],
      [4, 'misaligned load'],
      [6, 'misaligned store/AMO'],
      [8, 'ecall from U'],
      [9, 'ecall from S'],
      [11, 'ecall from M'],
      [12, 'fetch page fault'],
      [13, 'load page fault'],
      [15, 'store/AMO page fault'],
    ] as const)
      assert.ok(ex[cause]! > 0, `no ${name} (cause ${cause}) in ${PROGRAMS} programs`);
    for (const [cause, name] of [
      [1, 'supervisor software'],
      [3, 'machine software'],
      [7, 'machine timer'],
    ] as const)
      assert.ok(prof.interrupts[cause]! > 0, `no ${name} interrupt in ${PROGRAMS} programs`);
    assert.ok(prof.trapsFrom[0]! > 0 && prof.trapsFrom[1]! > 0 && prof.trapsFrom[3]! > 0, 'traps from U, S and M');
    assert.ok(fpDirty > PROGRAMS / 10, `FP state written in only ${fpDirty} programs`);
    // Pages split into several region functions (control then passes between them in pageFn).
    assert.ok(
      wasmStats.regions > wasmStats.windows + PROGRAMS / 4,
      `${wasmStats.regions} region functions in ${wasmStats.windows} translated pages`,
    );
  });
