import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asm, machine, runProgram, RAM_BASE } from './test-support.ts';
import { HartProfile } from './hart-profile.ts';
import * as C from './csr.ts';

test('a profiled hart counts traps by cause and origin, satp writes and TLB flushes', () => {
  const m = machine();
  const p = new HartProfile();
  m.hart.profile = p;
  runProgram(
    [
      asm.csrrw(0, C.SATP, 0), // satp write: one full flush
      asm.addi(1, 0, 64),
      asm.slli(1, 1, 12),
      asm.sfence_vma(1, 0), // with an address: one page flush
      asm.sfence_vma(0, 0), // without: another full flush
      asm.ecall(), // from M: cause 11, then the halt loop
    ],
    100,
    m,
  );
  assert.equal(p.satpWrites, 1);
  assert.equal(p.tlbFlushAll, 2);
  assert.equal(p.tlbFlushPage, 1);
  assert.equal(p.exceptions[11], 1);
  assert.equal(p.trapsFrom[3], 1);
  assert.equal(
    p.exceptions.reduce((a, b) => a + b, 0),
    1,
    'only the ecall trapped',
  );
  assert.equal(
    p.interrupts.reduce((a, b) => a + b, 0),
    0,
  );
  assert.ok(p.codePagesMade >= 1, 'the program page and the halt page were decoded');
});

test('a hart without a profile counts nothing and runs the same', () => {
  const m = runProgram([asm.addi(5, 0, 7), asm.ecall()], 100);
  assert.equal(m.hart.profile, null);
  assert.equal(m.hart.readReg(5), 7);
  assert.equal(m.hart.mcauseLo, 11);
  assert.equal(m.hart.mepcLo >>> 0, RAM_BASE + 4);
});
