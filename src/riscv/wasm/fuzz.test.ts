import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, randomCase, runCase, stateOf } from './fuzz.ts';
import { wasmStats } from './wasm-tier.ts';

/**
 * Differential fuzzing of the translation tiers against the interpreter (fuzz.ts). CI runs a
 * fixed seed; VIRTKIT_FUZZ_SEED / VIRTKIT_FUZZ_PROGRAMS pick others and run longer (docs/cpu.md).
 */
const SEED = Number(process.env.VIRTKIT_FUZZ_SEED ?? 20261207);
const PROGRAMS = Number(process.env.VIRTKIT_FUZZ_PROGRAMS ?? 150);

test(`random programs run identically in the interpreter, the JS tier and the wasm tier (seed ${SEED}, ${PROGRAMS} programs)`, () => {
  const r = new Rng(SEED);
  let traps = 0;
  let translated = 0;
  for (let k = 0; k < PROGRAMS; k++) {
    const caseSeed = r.next();
    const fc = randomCase(new Rng(caseSeed));
    const ref = runCase(fc, 'interp', caseSeed);
    const want = stateOf(ref);
    for (const tier of ['js', 'wasm'] as const) {
      const m = runCase(fc, tier, caseSeed);
      translated += m.hart.jitTranslations;
      assert.deepEqual(stateOf(m), want, `program ${k} (case seed ${caseSeed}) differs in the ${tier} tier`);
    }
    if (ref.hart.mcauseLo !== 0) traps++;
  }
  // The generator must exercise what it claims: traps (faulting and misaligned accesses) and
  // translated code in most programs.
  assert.ok(traps > PROGRAMS / 4, `only ${traps} of ${PROGRAMS} programs trapped`);
  assert.ok(translated >= PROGRAMS * 2, `only ${translated} windows translated`);
  assert.equal(wasmStats.rejected, 0, 'modules the engine rejected (translator bugs)');
});
