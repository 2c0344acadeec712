/**
 * A minimal board for bare-metal ELF programs (ISA tests, benchmarks): one hart starting in
 * M-mode at the ELF entry with a0 = hartid and a1 = 0, RAM at 0x80000000, and the devices those
 * programs use on QEMU's `virt` board at the same addresses:
 *   0x00100000 SiFive test finisher   0x02000000 CLINT   0x10000000 NS16550A UART (no PLIC)
 *
 *   const m = new BareMetalMachine({ memory: 128 << 20, console: (b) => out(b) });
 *   m.load(elfBytes);
 *   const r = m.run({ maxInstructions: 1e9 });   // { kind: 'pass' | 'fail' | ... , instructions }
 *
 * A run ends when the program writes the HTIF `tohost` word (riscv-tests / Spike convention:
 * (code << 1) | 1 means exit with code; 0x0101 << 48 | byte prints a byte and is acknowledged by
 * clearing tohost; any other value is a syscall-proxy request we do not serve) or the test
 * finisher. tohost is polled between slices of `hart.run(slice)`.
 *
 * Time: by default a virtual clock driven by retired instructions (10 instructions per 100 ns
 * tick, i.e. a nominal 100 MIPS), so runs are deterministic; while the hart waits in WFI the
 * clock jumps to the CLINT's next deadline. Pass `clock` to use a host clock instead.
 */
import { cpuConfig, DEFAULT_CPU_MODEL, type CpuModel } from '../riscv/cpu-config.ts';
import { Bus } from '../memory/bus.ts';
import type { Clock } from '../memory/clock.ts';
import { loadElf, parseElf, type ElfImage } from './elf.ts';
import { Hart } from '../riscv/hart.ts';
import { Clint, CLINT_SIZE } from '../devices/clint.ts';
import { Uart16550 } from '../devices/uart16550.ts';
import { SifiveTest, SIFIVE_TEST_SIZE } from '../devices/sifive-test.ts';

export const BAREMETAL_RAM_BASE = 0x8000_0000;
export const FINISHER_BASE = 0x10_0000;
export const CLINT_BASE = 0x200_0000;
export const UART_BASE = 0x1000_0000;
const UART_SIZE = 0x100;
/** Instructions per slice: tohost and the finisher are checked this often. */
const SLICE = 20_000;
/** Virtual clock: retired instructions per mtime tick. */
const INSNS_PER_TICK = 10;

export interface BareMetalOptions {
  /** RAM size in bytes (multiple of 4 KiB, at most 4 GiB). */
  memory: number;
  /** Receives every byte the program writes to the UART or the HTIF console. */
  console?: (byte: number) => void;
  /** Time source; default: the deterministic instruction-driven virtual clock. */
  clock?: Clock;
  /** The CPU model (riscv/cpu-config.ts); default DEFAULT_CPU_MODEL. */
  cpu?: CpuModel;
}

export type RunResult =
  /** Program reported success (tohost code 0 or finisher pass). */
  | { kind: 'pass'; via: 'tohost' | 'finisher' }
  /** Program reported failure with a non-zero code (riscv-tests: the failing test number). */
  | { kind: 'fail'; code: number; via: 'tohost' | 'finisher' }
  /** The finisher asked for a reset. */
  | { kind: 'reset' }
  /** tohost held a value that is neither an exit code nor a console write (a syscall request). */
  | { kind: 'htif-error'; value: bigint }
  /** The instruction limit or the caller's deadline was reached. */
  | { kind: 'limit'; reason: 'instructions' | 'time' }
  /** The hart waits in WFI and nothing can ever wake it (no timer armed). */
  | { kind: 'idle' };

export interface RunLimits {
  /** Stop after this many instructions (retired + trapped). Default: no limit. */
  maxInstructions?: number;
  /** Called between slices; returning true stops the run with `limit: time`. */
  shouldStop?: () => boolean;
}

export class VirtualClock implements Clock {
  ticks = 0;
  now(): number {
    return this.ticks;
  }
}

export class BareMetalMachine {
  readonly bus: Bus;
  readonly hart: Hart;
  readonly clint: Clint;
  readonly uart: Uart16550;
  readonly finisher: SifiveTest;
  /** Set by load(): the program's image and where its tohost word lives (physical). */
  image?: ElfImage;
  tohostAddr?: number;
  /** Instructions executed so far (retired, as counted by hart.run). */
  instructions = 0;
  private readonly virtualClock?: VirtualClock;
  private readonly console: (byte: number) => void;

  constructor(opts: BareMetalOptions) {
    this.console = opts.console ?? (() => {});
    this.bus = new Bus(BAREMETAL_RAM_BASE, opts.memory);
    if (!opts.clock) this.virtualClock = new VirtualClock();
    const clock = opts.clock ?? this.virtualClock!;
    this.hart = new Hart(this.bus, 0, clock, cpuConfig(opts.cpu ?? DEFAULT_CPU_MODEL));
    this.finisher = new SifiveTest();
    this.clint = new Clint([this.hart], clock);
    this.uart = new Uart16550({ set: () => {} }, this.console);
    this.bus.addDevice('test', FINISHER_BASE, SIFIVE_TEST_SIZE, this.finisher);
    this.bus.addDevice('clint', CLINT_BASE, CLINT_SIZE, this.clint);
    this.bus.addDevice('uart', UART_BASE, UART_SIZE, this.uart);
  }

  /** Parses and loads an ELF (throws ElfError), points the hart at its entry. */
  load(elf: Uint8Array): ElfImage {
    const image = parseElf(elf);
    loadElf(image, elf, this.bus.ram, this.bus.ramBase);
    this.bus.notifyWrite(this.bus.ramBase, this.bus.ramSize);
    this.image = image;
    const tohost = image.symbols.get('tohost');
    this.tohostAddr = undefined;
    if (tohost !== undefined) {
      const pa = image.toPhysical(tohost);
      if (pa % 8 === 0 && this.bus.isRam(pa, 8)) this.tohostAddr = pa;
    }
    this.hart.setPc(image.entry);
    this.hart.writeReg(10, this.hart.hartId);
    this.hart.writeReg(11, 0);
    return image;
  }

  private readTohost(): bigint {
    const i = (this.tohostAddr! - this.bus.ramBase) >>> 2;
    const lo = this.bus.ramI32[i]! >>> 0;
    const hi = this.bus.ramI32[i + 1]! >>> 0;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  private clearTohost(): void {
    const i = (this.tohostAddr! - this.bus.ramBase) >>> 2;
    this.bus.ramI32[i] = 0;
    this.bus.ramI32[i + 1] = 0;
  }

  /** Inspects tohost and the finisher; returns a result when the program has finished. */
  private verdict(): RunResult | undefined {
    const f = this.finisher.result;
    if (f) {
      if (f.kind === 'pass') return { kind: 'pass', via: 'finisher' };
      if (f.kind === 'fail') return { kind: 'fail', code: f.code, via: 'finisher' };
      return { kind: 'reset' };
    }
    if (this.tohostAddr === undefined) return undefined;
    const v = this.readTohost();
    if (v === 0n) return undefined;
    // HTIF: device in bits 63:56, command in 55:48. Device 0 command 0 with bit 0 set is exit.
    if (v >> 48n === 0n && (v & 1n) === 1n) {
      const code = v >> 1n;
      if (code === 0n) return { kind: 'pass', via: 'tohost' };
      return { kind: 'fail', code: code > 0x7fffffffn ? 0x7fffffff : Number(code), via: 'tohost' };
    }
    if (v >> 48n === 0x0101n) {
      // HTIF console device 1, command 1: putchar. Acknowledge by clearing tohost.
      this.console(Number(v & 0xffn));
      this.clearTohost();
      return undefined;
    }
    return { kind: 'htif-error', value: v };
  }

  /** Runs until the program finishes or a limit is hit. Synchronous; call from a worker if needed. */
  run(limits: RunLimits = {}): RunResult {
    const max = limits.maxInstructions ?? Infinity;
    for (;;) {
      const done = this.verdict();
      if (done) return done;
      if (this.steps >= max) return { kind: 'limit', reason: 'instructions' };
      if (limits.shouldStop?.()) return { kind: 'limit', reason: 'time' };
      const budget = Math.min(SLICE, max - this.steps);
      const n = this.hart.run(budget);
      this.instructions += n;
      // run() uses its whole budget unless WFI idles the hart; trapping instructions consume
      // budget without retiring, so a trap loop still reaches the limit.
      this.steps += this.hart.waiting ? n : budget;
      if (this.virtualClock) this.virtualClock.ticks = Math.floor(this.instructions / INSNS_PER_TICK) + this.skipped;
      this.clint.update();
      if (this.hart.waiting && n === 0 && this.virtualClock) {
        // WFI with nothing pending: jump the virtual clock to the next timer deadline.
        const now = this.virtualClock.ticks;
        let deadline = this.clint.nextDeadline();
        const st = this.hart.stimecmp;
        if (Number.isFinite(st) && st > now && (deadline === undefined || st < deadline)) deadline = st;
        if (deadline === undefined) return { kind: 'idle' };
        if (deadline > now) {
          this.skipped += deadline - now;
          this.virtualClock.ticks = deadline;
        }
        this.clint.update();
      }
    }
  }

  /** Instructions executed or trapped (what maxInstructions limits). */
  steps = 0;
  private skipped = 0;
}
