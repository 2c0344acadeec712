/**
 * The differential fuzzer's trap handlers and test timer (fuzz-machine.ts puts them in memory
 * and on the bus): the M-mode handler that logs, repairs page-table entries, skips or recovers;
 * the S-mode handler for delegated ecalls and SSIP; a CLINT-like timer. Test-only code.
 */
import { asm } from '../test-support.ts';
import type { MmioDevice } from '../../memory/mmio.ts';
import type { Clock } from '../../memory/clock.ts';
import type { Hart } from '../hart.ts';

/** The test timer (see Timer) sits where the CLINT does on the virt board. */
export const TIMER_BASE = 0x2000000;
/**
 * Offsets in the M handler's page: the trap log (32 entries of mcause, mepc, mtval, mstatus: every
 * trap's values are compared with memory, not only the last one's), saved x28/x29, the recovery
 * pc, the log's next entry, the fix list.
 */
export const H_LOG = 0x200;
export const H_SAVE = 0x600;
export const H_RECOVER = 0x610;
export const H_LOGI = 0x618;
export const H_TABLE = 0x700;
export const FIX_ENTRIES = 8;

/**
 * A CLINT-like test timer: msip (bit 0 → MSIP) at 0, mtimecmp (two 32-bit halves) at 0x4000;
 * MTIP = clock >= mtimecmp, re-evaluated on each mtimecmp write and by update() (the harness calls
 * it between slices after advancing the clock: a timer interrupt arriving asynchronously).
 */
export class Timer implements MmioDevice {
  cmpLo = 0xffffffff;
  cmpHi = 0xffffffff;
  msip = 0;
  constructor(
    private readonly hart: Hart,
    private readonly clock: Clock,
  ) {}
  update(): void {
    this.hart.setPending(1 << 7, this.clock.now() >= this.cmpHi * 4294967296 + this.cmpLo);
  }
  read(offset: number): number {
    if (offset === 0) return this.msip;
    if (offset === 0x4000) return this.cmpLo;
    if (offset === 0x4004) return this.cmpHi;
    return 0;
  }
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (size !== 4) return;
    if (offset === 0) {
      this.msip = value & 1;
      this.hart.setPending(1 << 3, this.msip !== 0);
    } else if (offset === 0x4000 || offset === 0x4004) {
      if (offset === 0x4000) this.cmpLo = value >>> 0;
      else this.cmpHi = value >>> 0;
      this.update();
    }
  }
}

/** Labels for the handlers' forward and backward branches. */
type Asm = (number | { to: string; enc: (off: number) => number } | { label: string })[];
function assemble(src: Asm): number[] {
  const at = new Map<string, number>();
  let pos = 0;
  for (const s of src) {
    if (typeof s === 'object' && 'label' in s) at.set(s.label, pos);
    else pos += 4;
  }
  const out: number[] = [];
  for (const s of src) {
    if (typeof s === 'number') out.push(s);
    else if ('enc' in s) out.push(s.enc(at.get(s.to)! - out.length * 4));
  }
  return out;
}
const L = (label: string) => ({ label });
const B = (to: string, enc: (off: number) => number) => ({ to, enc });

/**
 * The M-mode handler (physical, at HANDLER_PG). x28/x29 are saved in its page, x30/x31 are
 * clobbered. Every trap is logged (H_LOG). Interrupts: silence every source (mtimecmp high half = ~0, msip = 0, the soft
 * pending bits) and return. ecall: break fix-list entry x17 & 7 (its bad PTE, sfence.vma) and skip.
 * Page faults: repair the first fix-list entry of the faulting page and retry; without one (or
 * when the entry is good already), skip
 * (loads/stores) or resume at the loop's tail (fetches). Other exceptions: skip the instruction.
 */
export const M_HANDLER = assemble([
  asm.auipc(30, 0),
  asm.sd(29, 30, H_SAVE),
  asm.sd(28, 30, H_SAVE + 8),
  asm.addi(29, 30, 0),
  asm.csrrs(31, 0x342, 0),
  asm.ld(28, 29, H_LOGI),
  asm.add(30, 29, 28),
  asm.sd(31, 30, H_LOG),
  ...[0x341, 0x343, 0x300].flatMap((csr, k) => [asm.csrrs(28, csr, 0), asm.sd(28, 30, H_LOG + 8 + 8 * k)]),
  asm.ld(28, 29, H_LOGI),
  asm.addi(28, 28, 32),
  asm.andi(28, 28, 0x3ff),
  asm.sd(28, 29, H_LOGI),
  B('irq', (o) => asm.blt(31, 0, o)),
  ...[8, 9, 11].flatMap((c) => [asm.addi(30, 0, c), B('ecall', (o) => asm.beq(31, 30, o))]),
  ...[12, 13, 15].flatMap((c) => [asm.addi(30, 0, c), B('pf', (o) => asm.beq(31, 30, o))]),
  asm.addi(30, 0, 1),
  B('recover', (o) => asm.beq(31, 30, o)),
  B('recover', (o) => asm.beq(31, 0, o)),
  B('skip', (o) => asm.jal(0, o)),
  L('pf'),
  asm.csrrs(31, 0x343, 0),
  asm.srli(31, 31, 12),
  asm.addi(30, 29, H_TABLE),
  L('pfloop'),
  asm.ld(28, 30, 0),
  asm.addi(28, 28, 1),
  B('pfnone', (o) => asm.beq(28, 0, o)),
  asm.addi(28, 28, -1),
  B('pffix', (o) => asm.beq(28, 31, o)),
  asm.addi(30, 30, 32),
  B('pfloop', (o) => asm.jal(0, o)),
  L('pffix'),
  // an entry that is good already (the fault has another reason) cannot be repaired
  asm.ld(28, 30, 8),
  asm.ld(31, 30, 16),
  asm.ld(30, 28, 0),
  B('pfnone', (o) => asm.beq(30, 31, o)),
  asm.sd(31, 28, 0),
  asm.sfence_vma(0, 0),
  B('ret', (o) => asm.jal(0, o)),
  L('pfnone'),
  asm.csrrs(31, 0x342, 0),
  asm.addi(30, 0, 12),
  B('recover', (o) => asm.beq(31, 30, o)),
  B('skip', (o) => asm.jal(0, o)),
  L('recover'),
  asm.ld(31, 29, H_RECOVER),
  asm.csrrw(0, 0x341, 31),
  B('ret', (o) => asm.jal(0, o)),
  L('ecall'),
  asm.andi(31, 17, 7),
  asm.slli(31, 31, 5),
  asm.add(30, 29, 31),
  asm.addi(30, 30, H_TABLE),
  asm.ld(28, 30, 8),
  asm.ld(31, 30, 24),
  asm.sd(31, 28, 0),
  asm.sfence_vma(0, 0),
  L('skip'),
  // mepc += the length of the instruction there, read as the trapping mode reads it (MPRV, MXR)
  asm.csrrs(31, 0x341, 0),
  asm.lui(30, 0xa0),
  asm.csrrs(30, 0x300, 30),
  asm.lhu(28, 31, 0),
  asm.csrrw(0, 0x300, 30),
  asm.andi(28, 28, 3),
  asm.addi(28, 28, -3),
  asm.addi(31, 31, 2),
  B('short', (o) => asm.bne(28, 0, o)),
  asm.addi(31, 31, 2),
  L('short'),
  asm.csrrw(0, 0x341, 31),
  L('ret'),
  asm.ld(28, 29, H_SAVE + 8),
  asm.ld(29, 29, H_SAVE),
  asm.mret(),
  L('irq'),
  asm.lui(30, (TIMER_BASE + 0x4000) >>> 12),
  asm.addi(31, 0, -1),
  asm.sw(31, 30, 4),
  asm.lui(30, TIMER_BASE >>> 12),
  asm.sw(0, 30, 0),
  asm.addi(31, 0, 0x222),
  asm.csrrc(0, 0x344, 31),
  asm.addi(31, 0, -1),
  asm.csrrw(0, 0x14d, 31), // stimecmp: Sstc's STIP
  B('ret', (o) => asm.jal(0, o)),
]);

if (M_HANDLER.length * 4 > H_LOG) throw new Error('fuzz: the M-mode handler overlaps its log');

/** The S-mode handler (delegated ecalls from U skip, a delegated SSIP is cleared). */
export const S_HANDLER = assemble([
  asm.csrrs(31, 0x142, 0),
  B('irq', (o) => asm.blt(31, 0, o)),
  asm.csrrs(31, 0x141, 0),
  asm.addi(31, 31, 4),
  asm.csrrw(0, 0x141, 31),
  asm.sret(),
  L('irq'),
  asm.csrrci(0, 0x144, 2),
  asm.sret(),
]);
