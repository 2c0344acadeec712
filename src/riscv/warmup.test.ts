/**
 * The interpreter warm-up (hart.ts warmUpInterpreter) exists so that V8 does not deoptimize the
 * interpreter loop in the middle of a guest's run: each deoptimization costs a background
 * re-compile of `execute` and a stretch of slow code. This runs a child Node with --trace-deopt
 * and checks that events a Linux boot meets only later (the retired-instruction count passing
 * 2^30, a budget beyond V8's small integers, a first interrupt, fields first changed) do not
 * deoptimize `execute`, nor does anything from the first hart's construction on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The child: optimizes the loop on a plain guest loop, then meets each event. */
const CHILD = `
import { machine, load, asm, RAM_BASE } from './src/riscv/test-support.ts';
const m = machine();
const h = m.hart;
// t0 counts up; every 4096 iterations the loop executes WFI (interrupts are off: it just waits).
load(m.bus, RAM_BASE, [
  asm.addi(5, 5, 1),
  asm.slli(6, 5, 52),
  0x00031463, // bne t1, x0, +8
  asm.wfi(),
  0xff1ff06f, // j -16
]);
h.setPc(RAM_BASE);
const spin = (slices) => {
  for (let i = 0; i < slices; i++) {
    h.waiting = false;
    h.run(20_000);
  }
};
spin(3000); // long enough for V8 to optimize execute with the warm-up's feedback
console.log('--- events');
h.instret = 2 ** 31 - 5; // as after 2 G instructions of a boot
spin(10);
h.waiting = false;
h.run(2 ** 40); // a budget beyond V8's small integers (clamped by run)
h.setPending(1 << 7, true); // MTIP, first change of the pins
h.mie = 1 << 7;
spin(10);
h.setPending(1 << 7, false);
h.frm = 2;
h.fflags = 1;
spin(10);
console.log('--- done', h.instret > 2 ** 31);
`;

test('after the warm-up, late guest events do not deoptimize the interpreter loop', () => {
  const r = spawnSync(
    process.execPath,
    ['--trace-opt', '--trace-deopt', '--import', 'tsx', '--input-type=module', '-e', CHILD],
    {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout;
  assert.ok(out.includes('--- events') && out.includes('--- done true'), `child output:\n${out.slice(-2000)}`);
  // The trace works and the loop was optimized (else "no deoptimization" below would say nothing).
  assert.ok(
    out.split('\n').some((l) => l.includes('completed optimizing') && l.includes('<JSFunction execute ')),
    'execute was never optimized',
  );
  // From the first hart on (the warm-up included): no deoptimization of the loop, and no
  // optimization of it thrown away because a hart's hidden class changed meanwhile.
  const bad = out
    .split('\n')
    .filter((l) => l.includes('<JSFunction execute ') && (l.includes('bailout') || l.includes('aborted optimizing')));
  assert.deepEqual(bad, [], 'execute deoptimized');
});
