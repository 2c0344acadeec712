/**
 * Physical memory attributes of the virt board: only RAM is executable and supports LR/SC and
 * AMOs. Fetching from a device would execute its registers (reads with side effects); an AMO on a
 * device would read and write it. Both raise access faults, before touching the device, in the
 * interpreter and with every page translated (jitThreshold 0).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MmioDevice } from '../memory/mmio.ts';
import { asm, li64, machine, load, RAM_BASE, type Machine } from './test-support.ts';

const DEV = 0x10000000;
const UNMAPPED = 0x30000000;

/** A device that counts its accesses and reads as a valid instruction (addi x0, x0, 0). */
class Probe implements MmioDevice {
  reads = 0;
  writes = 0;
  read(): number {
    this.reads++;
    return 0x13;
  }
  write(): void {
    this.writes++;
  }
}

interface Run {
  m: Machine;
  probe: Probe;
}

function runAt(threshold: number, words: number[]): Run {
  const m = machine();
  m.hart.jitThreshold = threshold;
  const probe = new Probe();
  m.bus.addDevice('probe', DEV, 0x1000, probe);
  // With jitThreshold 0 the page is translated from its first block on.
  load(m.bus, RAM_BASE, words);
  m.hart.run(200);
  return { m, probe };
}

function expectFault(r: Run, cause: number, tval: number, epc: number, what: string): void {
  const h = r.m.hart;
  assert.equal(h.mcauseLo, cause, `${what}: mcause`);
  assert.equal(h.mcauseHi, 0, `${what}: mcause is an exception`);
  assert.equal(h.mtvalLo >>> 0, tval >>> 0, `${what}: mtval`);
  assert.equal(h.mepcLo >>> 0, epc >>> 0, `${what}: mepc`);
  assert.equal(r.probe.reads, 0, `${what}: the device was read`);
  assert.equal(r.probe.writes, 0, `${what}: the device was written`);
}

for (const threshold of [Infinity, 0]) {
  const tier = threshold === 0 ? 'translated' : 'interpreted';

  test(`${tier}: fetching from a device is an instruction access fault, without reading it`, () => {
    for (const target of [DEV, DEV + 0x40, UNMAPPED]) {
      const prog = [...li64(5, target, 0), asm.jalr(0, 5, 0)];
      expectFault(runAt(threshold, prog), 1, target, target, `jump to 0x${target.toString(16)}`);
    }
  });

  test(`${tier}: a 32-bit instruction whose second half lies on a device faults there`, () => {
    // A device right after RAM; the instruction's first half is RAM's last halfword.
    const ramSize = 1 << 20;
    const m = machine(ramSize);
    m.hart.jitThreshold = threshold;
    const probe = new Probe();
    const end = RAM_BASE + ramSize;
    m.bus.addDevice('probe', end, 0x1000, probe);
    const handler = RAM_BASE + 0x7000;
    load(m.bus, handler, [asm.jal(0, 0)]);
    m.hart.mtvecLo = handler | 0;
    load(m.bus, end - 4, [asm.nop()]);
    m.bus.ram[ramSize - 2] = 0x13; // low half of a 32-bit instruction (opcode bits 11)
    m.bus.ram[ramSize - 1] = 0;
    load(m.bus, RAM_BASE, [...li64(5, end - 2, 0), asm.jalr(0, 5, 0)]);
    m.hart.run(200);
    expectFault({ m, probe }, 1, end, end - 2, 'page-crossing fetch');
  });

  const amoCases: Array<[string, number, number]> = [
    ['amoadd.w', asm.amo(0, false, 6, 5, 7), 7],
    ['amoswap.d', asm.amo(1, true, 6, 5, 7), 7],
    ['amoor.w', asm.amo(8, false, 6, 5, 7), 7],
    ['lr.w', asm.lr_w(6, 5), 5],
    ['lr.d', asm.lr_d(6, 5), 5],
    ['sc.w', asm.sc_w(6, 5, 7), 7],
    ['sc.d', asm.sc_d(6, 5, 7), 7],
  ];
  for (const [name, insn, cause] of amoCases) {
    test(`${tier}: ${name} on a device is an access fault (cause ${cause}) and never touches it`, () => {
      for (const target of [DEV + 8, UNMAPPED]) {
        const prog = [...li64(5, target, 0), asm.addi(6, 0, 55), asm.addi(7, 0, 1)];
        const at = RAM_BASE + prog.length * 4;
        prog.push(insn, asm.ebreak());
        const r = runAt(threshold, prog);
        expectFault(r, cause, target, at, `${name} at 0x${target.toString(16)}`);
        assert.equal(r.m.hart.readReg(6), 55, `${name}: rd unchanged`);
      }
    });
  }

  test(`${tier}: LR/SC and AMOs on RAM still work`, () => {
    const data = RAM_BASE + 0x8000;
    const prog = [
      ...li64(5, data, 0),
      asm.addi(7, 0, 5),
      asm.sw(7, 5, 0),
      asm.amo(0, false, 6, 5, 7), // amoadd.w x6, x7, (x5): x6 = 5, mem = 10
      asm.lr_w(8, 5), // x8 = 10
      asm.sc_w(9, 5, 7), // mem = 5, x9 = 0
      asm.lw(10, 5, 0),
      asm.ebreak(),
    ];
    const r = runAt(threshold, prog);
    const h = r.m.hart;
    assert.equal(h.mcauseLo, 3, 'ebreak reached');
    assert.deepEqual([h.readReg(6), h.readReg(8), h.readReg(9), h.readReg(10)], [5, 10, 0, 5]);
  });
}
