/**
 * The `virt` board, laid out like QEMU's `-M virt` so guests and firmware built for it just work:
 *
 *   0x00100000 SiFive test finisher (poweroff/reboot)   0x00101000 Goldfish RTC (IRQ 11)
 *   0x02000000 CLINT (msip, mtimecmp, mtime)             0x0c000000 PLIC (95 sources)
 *   0x10000000 NS16550A UART (IRQ 10)                    0x10001000 + 0x1000*i virtio-mmio slot i (IRQ 1+i), 8 slots
 *   0x10009000 virtio-input power button (IRQ 9; virtkit's own, after QEMU's slots)
 *   0x80000000 RAM
 *
 * Boot: without firmware the kernel starts in S-mode on hart 0 (a0 = hartid, a1 = FDT) and the
 * built-in SBI (sbi.ts) answers its ecalls; other harts wait for an HSM hart_start. With
 * `firmware` (OpenSBI fw_jump/fw_dynamic, or any M-mode program) every hart starts in M-mode at the
 * firmware entry with a0 = hartid, a1 = FDT, a2 = fw_dynamic_info, and the kernel sits at
 * 0x80200000 as QEMU places it.
 *
 * Platform-neutral: time comes from a host millisecond source, output and power events through
 * callbacks. The board does not schedule itself: src/vmm/ drives `runSlice`.
 */
import { Bus } from '../memory/bus.ts';
import { HostClock } from '../memory/clock.ts';
import { buildVirtFdt, VIRT } from './fdt.ts';
import {
  cpuConfig,
  CPU_MODELS,
  DEFAULT_CPU_MODEL,
  LEGACY_CPU_MODEL,
  X_SVPBMT,
  X_ZICBOM,
  X_ZICBOZ,
} from '../riscv/cpu-config.ts';
import type { CpuConfig, CpuModel } from '../riscv/cpu-config.ts';
import type { Tier } from '../riscv/tier.ts';
import { loadKernel, planBootLayout, KernelImageError, type LoadedKernel } from './kernel-image.ts';
import { parseElf, loadElf, ElfError } from './elf.ts';
import { HartState, handleSbiCall, type SbiPlatform } from './sbi.ts';
import { ConsoleOutput } from './console-output.ts';
import { Hart, HART_STATE_VERSION, CACHE_BLOCK } from '../riscv/hart.ts';
import { StateReader } from '../memory/state.ts';
import { Clint } from '../devices/clint.ts';
import { Plic } from '../devices/plic.ts';
import { Uart16550 } from '../devices/uart16550.ts';
import { GoldfishRtc } from '../devices/goldfish-rtc.ts';
import { SifiveTest, type FinisherResult } from '../devices/sifive-test.ts';
import { VirtioMmio, type VirtioDeviceModel } from '../virtio/mmio.ts';
import { EmptyVirtioSlot } from '../virtio/empty-slot.ts';
import { VirtioBlk } from '../virtio/blk.ts';
import { VirtioConsole } from '../virtio/console.ts';
import { VirtioRng } from '../virtio/rng.ts';
import { VirtioNet } from '../virtio/net.ts';
import { VirtioInput } from '../virtio/input.ts';
import type { NetBackend } from '../net/types.ts';
import type { BlockBackend } from '../storage/types.ts';

const MiB = 1024 * 1024;
const MIP_SSIP = 1 << 1;
const MIP_STIP = 1 << 5;
/** Exceptions OpenSBI delegates to S-mode, plus illegal-instruction and access faults (we emulate nothing in M-mode). */
const BUILTIN_MEDELEG = 0xb1ff;
const BUILTIN_MIDELEG = 0x222;

export class BoardConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BoardConfigError';
  }
}

export interface VirtDisk {
  backend: BlockBackend;
  readOnly?: boolean;
  serial?: string;
}

export interface VirtNic {
  backend: NetBackend;
  /** Default: 52:54:00:12:34:56 + the NIC's index, as QEMU numbers them. */
  mac?: Uint8Array;
}

export interface VirtOptions {
  memoryBytes: number;
  cpus: number;
  kernel?: Uint8Array;
  initrd?: Uint8Array;
  append?: string;
  /** M-mode firmware: a raw binary loaded at RAM base, or an ELF. */
  firmware?: Uint8Array;
  /** Use the translation tier for hot code (default true; the interpreter runs everything when false). */
  translate?: boolean;
  /** Execution tier of every hart (`--tier`; riscv/tier.ts): default wasm where available; wins over `translate`. */
  tier?: Tier;
  /** Build the board without booting anything: loadState() follows (snapshot restore). */
  restoring?: boolean;
  /** Whether the built-in SBI answers S-mode ecalls (default: when there is no firmware). */
  builtinSbi?: boolean;
  disks?: VirtDisk[];
  /**
   * Start no disk I/O before this settles. A rebooted board passes the previous board's
   * shutdown(), so the old guest's last writes reach the disks before the new guest's requests.
   */
  diskIoAfter?: Promise<unknown>;
  /** virtio-net devices, placed in the virtio slots after the disks. */
  nics?: VirtNic[];
  /** The CPU model (`--cpu`; cpu-config.ts): default DEFAULT_CPU_MODEL. */
  cpu?: CpuModel;
  /** Host time in milliseconds (performance.now). */
  nowMs: () => number;
  /**
   * The guest's time in milliseconds, which mtime counts from (default: nowMs). vm.ts gives
   * src/vmm/guest-time.ts's, which leaves out the time the host did not run the VM.
   */
  timeMs?: () => number;
  /** Wall-clock time for the RTC, ns since the epoch. */
  wallClockNs?: () => bigint;
  entropy?: (buf: Uint8Array) => void;
  /**
   * Serial console output (UART, virtio-console and SBI console), handed over by flushOutput():
   * at most the output budget (OUTPUT_TURN_BUDGET) per turn (see beginTurn); the array is the
   * callee's.
   */
  onOutput: (bytes: Uint8Array) => void;
  /**
   * A virtio device raised its interrupt line. Completions of host I/O (a disk read) arrive while
   * every hart may sleep in WFI: the VM driver wakes on this instead of waiting for a timer.
   */
  onDeviceInterrupt?: () => void;
}

export const MACHINE_STATE_VERSION = 1;

export interface MachineState {
  version: number;
  memoryBytes: number;
  cpus: number;
  builtinSbi: boolean;
  clock: { version: 1; mtime: number };
  harts: unknown[];
  hartStates: HartState[];
  sbiTimer: number[];
  clint: object;
  plic: object;
  uart: object;
  rtc: object;
  virtio: object[];
  /** The power button's transport; absent in snapshots made before the board had one (it then starts fresh). */
  powerButton?: object;
  /** The CPU model; absent in snapshots made before it was recorded (LEGACY_CPU_MODEL). */
  cpu?: CpuModel;
}

/** The largest board a snapshot may describe: the limits `--memory` and `--cpus` accept. */
export const MAX_MEMORY_BYTES = 4096 * MiB;
export const MIN_MEMORY_BYTES = 16 * MiB;
export const MAX_CPUS = 8;
/** Virtio slots for disks and NICs: the entropy source and the console take two of the eight. */
export const VIRT_DEVICE_SLOTS = VIRT.virtio.count - 2;

/**
 * Reads and checks a saved machine's size fields, before a board (and its RAM) is built for it:
 * a snapshot cannot make a restore allocate more than `--memory` could.
 */
export function readMachineHeader(r: StateReader): {
  memoryBytes: number;
  cpus: number;
  builtinSbi: boolean;
  cpu: CpuModel;
} {
  r.version(MACHINE_STATE_VERSION);
  const memoryBytes = r.int('memoryBytes', MIN_MEMORY_BYTES, MAX_MEMORY_BYTES);
  if (memoryBytes % MiB !== 0) r.fail(`expected a whole number of MiB, got ${memoryBytes}`, 'memoryBytes');
  let cpu = LEGACY_CPU_MODEL;
  if (r.has('cpu')) {
    const m = r.str('cpu', 16);
    if (!(CPU_MODELS as readonly string[]).includes(m)) r.fail(`unknown CPU model ${JSON.stringify(m)}`, 'cpu');
    cpu = m as CpuModel;
  }
  return { memoryBytes, cpus: r.int('cpus', 1, MAX_CPUS), builtinSbi: r.bool('builtinSbi'), cpu };
}

export type PowerEvent = { kind: 'poweroff' } | { kind: 'reboot' } | { kind: 'fail'; code: number };

export class VirtMachine {
  readonly bus: Bus;
  readonly clock: HostClock;
  readonly harts: Hart[];
  readonly hartStates: HartState[];
  readonly clint: Clint;
  readonly plic: Plic;
  readonly uart: Uart16550;
  readonly rtc: GoldfishRtc;
  readonly virtio: VirtioMmio[] = [];
  readonly blks: VirtioBlk[] = [];
  readonly nics: VirtioNet[] = [];
  readonly console: VirtioConsole;
  /** The power button (virtio-input, VIRT.powerButton): outside `virtio`, which holds the eight QEMU slots. */
  readonly powerButton: VirtioInput;
  readonly powerButtonMmio: VirtioMmio;
  /** Set when the guest powered off, rebooted or reported failure; the VM loop stops. */
  power: PowerEvent | undefined;
  /** Guest-caused device errors (virtio NEEDS_RESET reasons), for diagnostics. */
  readonly deviceErrors: string[] = [];
  readonly builtinSbi: boolean;
  /** The CPU model of every hart (cpu-config.ts). */
  readonly cpu: CpuConfig;
  private readonly sbiTimer: number[];
  private readonly sbiPlatform: SbiPlatform;
  /** Console output of the current turn, bounded; the devices stop consuming when it is full. */
  private readonly output = new ConsoleOutput();
  private readonly stdin: number[] = [];

  /** The options built from, minus the boot files: those live in guest RAM once loaded. */
  readonly opts: VirtOptions;

  constructor(options: VirtOptions) {
    // Kernel, initrd and firmware are tens of MiB a VM would otherwise hold for its whole life:
    // only boot() sees them. Closures below capture `opts`, which must not hold them.
    const { kernel: _k, initrd: _i, firmware: _f, ...opts } = options;
    this.opts = opts;
    const { memoryBytes, cpus } = opts;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS)
      throw new BoardConfigError(`--cpus must be 1..8, not ${cpus}`);
    if (
      !Number.isSafeInteger(memoryBytes) ||
      memoryBytes < MIN_MEMORY_BYTES ||
      memoryBytes > MAX_MEMORY_BYTES ||
      memoryBytes % MiB !== 0
    )
      throw new BoardConfigError(
        `memory must be a whole number of MiB between 16 MiB and 4 GiB, not ${memoryBytes} bytes`,
      );
    this.cpu = cpuConfig(opts.cpu ?? DEFAULT_CPU_MODEL);
    this.bus = new Bus(VIRT.dram.base, memoryBytes);
    this.clock = new HostClock(opts.timeMs ?? opts.nowMs);
    this.harts = [];
    for (let i = 0; i < cpus; i++) {
      const h = new Hart(this.bus, i, this.clock, this.cpu);
      if (opts.translate === false) h.jitThreshold = Infinity;
      if (opts.tier !== undefined) {
        try {
          h.tier = opts.tier;
        } catch (e) {
          throw new BoardConfigError(`--tier ${opts.tier}: ${(e as Error).message}`);
        }
      }
      this.harts.push(h);
    }
    this.hartStates = this.harts.map(() => HartState.Stopped);
    this.sbiTimer = this.harts.map(() => Infinity);
    this.sbiPlatform = this.makeSbiPlatform();

    this.clint = new Clint(this.harts, this.clock);
    this.plic = new Plic(this.harts, 95);
    this.uart = new Uart16550(this.plic.irqLine(VIRT.uart.irq), (b) => this.output.put(b));
    this.rtc = new GoldfishRtc(this.plic.irqLine(VIRT.rtc.irq), opts.wallClockNs);
    const test = new SifiveTest((r: FinisherResult) => {
      this.power =
        r.kind === 'pass'
          ? { kind: 'poweroff' }
          : r.kind === 'reset'
            ? { kind: 'reboot' }
            : { kind: 'fail', code: r.code };
    });
    this.bus.addDevice('test', VIRT.test.base, VIRT.test.size, test);
    this.bus.addDevice('rtc', VIRT.rtc.base, VIRT.rtc.size, this.rtc);
    this.bus.addDevice('clint', VIRT.clint.base, VIRT.clint.size, this.clint);
    this.bus.addDevice('plic', VIRT.plic.base, VIRT.plic.size, this.plic);
    this.bus.addDevice('uart', VIRT.uart.base, VIRT.uart.size, this.uart);

    // virtio slots: disks first, then the entropy source and the console; the rest stay empty.
    const models: VirtioDeviceModel[] = [];
    for (const d of opts.disks ?? []) {
      const blk = new VirtioBlk(d.backend, {
        readOnly: d.readOnly,
        serial: d.serial,
        startAfter: opts.diskIoAfter,
        nowMs: opts.nowMs,
      });
      this.blks.push(blk);
      models.push(blk);
    }
    (opts.nics ?? []).forEach((n, i) => {
      const mac = n.mac ?? new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56 + i]);
      const nic = new VirtioNet(n.backend, { mac });
      this.nics.push(nic);
      models.push(nic);
    });
    models.push(new VirtioRng(opts.entropy));
    this.console = new VirtioConsole(this.output);
    models.push(this.console);
    if (models.length > VIRT.virtio.count)
      throw new BoardConfigError(`at most ${VIRT_DEVICE_SLOTS} disks and NICs fit in the board's virtio slots`);
    const transport = (irqNumber: number, model: VirtioDeviceModel, name: string): VirtioMmio => {
      const line = this.plic.irqLine(irqNumber);
      const onIrq = opts.onDeviceInterrupt;
      const irq = onIrq
        ? {
            set: (level: boolean) => {
              line.set(level);
              if (level) onIrq();
            },
          }
        : line;
      return new VirtioMmio(this.bus, irq, model, (msg) => this.deviceErrors.push(`${name}: ${msg}`));
    };
    for (let i = 0; i < VIRT.virtio.count; i++) {
      const base = VIRT.virtio.base + i * VIRT.virtio.stride;
      const model = models[i];
      if (!model) {
        this.bus.addDevice(`virtio${i}`, base, VIRT.virtio.size, new EmptyVirtioSlot());
        continue;
      }
      const t = transport(VIRT.virtio.irq + i, model, `virtio slot ${i}`);
      this.virtio.push(t);
      this.bus.addDevice(`virtio${i}`, base, VIRT.virtio.size, t);
    }
    this.powerButton = new VirtioInput();
    this.powerButtonMmio = transport(VIRT.powerButton.irq, this.powerButton, 'power button');
    this.bus.addDevice('power-button', VIRT.powerButton.base, VIRT.powerButton.size, this.powerButtonMmio);
    this.builtinSbi = opts.builtinSbi ?? !options.firmware;
    if (this.builtinSbi) for (const h of this.harts) h.sbiHandler = (hart) => this.sbiCall(hart);
    if (!opts.restoring) this.boot(options);
  }

  /**
   * Hands buffered console output to onOutput. The buffer is emptied first, so a flush from
   * inside onOutput (the host stopping the VM) finds nothing to repeat.
   */
  flushOutput(): void {
    const bytes = this.output.take();
    if (bytes) this.opts.onOutput(bytes);
  }

  /**
   * Starts a turn's console output budget; console devices that stopped for lack of room go on
   * now (a part-printed virtio chain, bytes held in the UART, a guest retrying an SBI write).
   */
  beginTurn(): void {
    this.output.newTurn();
    if (this.output.stalled && this.output.room() > 0) {
      this.output.stalled = false;
      this.uart.txResume();
      this.console.resumeOutput();
    }
  }

  /**
   * A console device was refused for this turn's budget (not because the host is behind): the
   * VM should hand the output over and start a new turn rather than run on with output stuck.
   */
  get outputBudgetSpent(): boolean {
    return this.output.stalled && !this.output.isHeld && this.output.room() === 0;
  }

  /** The host's console is behind (true): console devices take no output until it is false again. */
  holdOutput(held: boolean): void {
    this.output.setHeld(held);
  }

  private boot(o: VirtOptions): void {
    const ram = this.bus.ram;
    const base = VIRT.dram.base;
    let kernel: LoadedKernel | undefined;
    let firmwareEntry: number = base;
    try {
      if (o.firmware) firmwareEntry = this.loadFirmware(o.firmware);
      if (o.kernel) kernel = loadKernel(o.kernel, ram, base);
    } catch (e) {
      if (e instanceof KernelImageError) throw new BoardConfigError(e.message);
      throw e;
    }
    if (!kernel && !o.firmware) throw new BoardConfigError('nothing to boot: give a kernel or a firmware');
    if (o.initrd && !kernel) throw new BoardConfigError('an initrd needs a kernel');
    const rngSeed = new Uint8Array(64);
    (o.entropy ?? ((b: Uint8Array) => globalThis.crypto.getRandomValues(b)))(rngSeed);
    const fdtFor = (initrd?: { start: number; end: number }) =>
      buildVirtFdt({
        harts: this.harts.length,
        memorySize: o.memoryBytes,
        isa: this.cpu.isa,
        mmuType: this.cpu.mmuType,
        cbomBlockSize: (this.cpu.ext & X_ZICBOM) !== 0 ? CACHE_BLOCK : undefined,
        cbozBlockSize: (this.cpu.ext & X_ZICBOZ) !== 0 ? CACHE_BLOCK : undefined,
        // Zicbop comes with every model that has Zicbom (rva22, max): its hints are no-ops.
        cbopBlockSize: (this.cpu.ext & X_ZICBOM) !== 0 ? CACHE_BLOCK : undefined,
        bootargs: o.append ?? '',
        initrd,
        rngSeed,
      });
    const probe = fdtFor(o.initrd ? { start: 0, end: 0 } : undefined);
    const k = kernel ?? { entry: base + 2 * MiB, end: base + 2 * MiB, kind: 'image' as const };
    let layout;
    try {
      layout = planBootLayout(base, o.memoryBytes, k, o.initrd?.length, probe.length + 4096);
    } catch (e) {
      if (e instanceof KernelImageError) throw new BoardConfigError(e.message);
      throw e;
    }
    if (o.initrd && layout.initrdStart !== undefined) ram.set(o.initrd, layout.initrdStart - base);
    const fdt = fdtFor(
      layout.initrdStart !== undefined ? { start: layout.initrdStart, end: layout.initrdEnd! } : undefined,
    );
    ram.set(fdt, layout.fdtAddr - base);

    if (this.builtinSbi) {
      const h0 = this.harts[0]!;
      this.enterSupervisor(h0, k.entry, layout.fdtAddr);
      this.hartStates[0] = HartState.Started;
    } else {
      // fw_dynamic_info just below the FDT: magic, version 2, next_addr, next_mode (1 = S), options, boot_hart.
      const info = layout.fdtAddr - 64;
      const dv = new DataView(ram.buffer, ram.byteOffset + (info - base), 48);
      const put = (off: number, v: number) => {
        dv.setUint32(off, v >>> 0, true);
        dv.setUint32(off + 4, Math.floor(v / 2 ** 32) >>> 0, true);
      };
      put(0, 0x4942534f);
      put(8, 2);
      put(16, k.entry);
      put(24, 1);
      put(32, 0);
      put(40, 0);
      for (const h of this.harts) {
        h.priv = 3;
        h.setPc(firmwareEntry);
        h.writeReg(10, h.hartId);
        h.writeReg(11, layout.fdtAddr);
        h.writeReg(12, info);
        this.hartStates[h.hartId] = HartState.Started;
      }
    }
  }

  private loadFirmware(fw: Uint8Array): number {
    const base = VIRT.dram.base;
    if (fw.length >= 4 && fw[0] === 0x7f && fw[1] === 0x45 && fw[2] === 0x4c && fw[3] === 0x46) {
      try {
        const elf = parseElf(fw);
        loadElf(elf, fw, this.bus.ram, base);
        return elf.toPhysical(elf.entry);
      } catch (e) {
        if (e instanceof ElfError) throw new BoardConfigError(`firmware ELF: ${e.message}`);
        throw e;
      }
    }
    if (fw.length > 2 * MiB) throw new BoardConfigError('a raw firmware binary must fit below the kernel (2 MiB)');
    this.bus.ram.set(fw, 0);
    return base;
  }

  /** Puts a hart in S-mode at addr as M-mode firmware would leave it. */
  private enterSupervisor(h: Hart, addr: number, a1: number): void {
    h.medeleg = BUILTIN_MEDELEG;
    h.mideleg = BUILTIN_MIDELEG;
    h.mcounteren = 0xffffffff | 0;
    // As OpenSBI leaves it: U-mode may read cycle/time/instret (the vDSO's clock_gettime reads time).
    h.scounteren = 7;
    h.menvcfgHi |= -0x80000000; // STCE: S-mode programs its timer through stimecmp (Sstc)
    // As OpenSBI does for the extensions present: cache-block operations enabled for S-mode
    // (CBIE = invalidate, CBCFE, CBZE) and Svpbmt's PBMT bits (PBMTE).
    if ((h.ext & X_ZICBOM) !== 0) h.menvcfgLo |= 0x70;
    if ((h.ext & X_ZICBOZ) !== 0) h.menvcfgLo |= 0x80;
    if ((h.ext & X_SVPBMT) !== 0) h.menvcfgHi |= 0x40000000;
    h.priv = 1;
    h.setPc(addr);
    h.writeReg(10, h.hartId);
    h.writeReg(11, a1);
    h.waiting = false;
  }

  private sbiCall(hart: Hart): boolean {
    handleSbiCall(hart, this.sbiPlatform);
    return true;
  }

  private makeSbiPlatform(): SbiPlatform {
    return {
      hartCount: this.harts.length,
      setTimer: (id, time) => {
        this.sbiTimer[id] = time;
        this.harts[id]!.setSoftwarePending(MIP_STIP, false);
      },
      sendIpi: (id) => this.harts[id]!.setSoftwarePending(MIP_SSIP, true),
      remoteFence: (id, kind) => {
        // fence.i: nothing to do, a hart's decoded code is kept coherent with RAM by the bus
        // (stores to code pages and notifyWrite drop stale pages), as for a local FENCE.I.
        if (kind !== 'fence.i') this.harts[id]!.flushTlb();
      },
      hartState: (id) => this.hartStates[id]!,
      hartStart: (id, addr, opaque) => {
        this.enterSupervisor(this.harts[id]!, addr, opaque);
        this.hartStates[id] = HartState.Started;
      },
      hartStop: (id) => {
        this.hartStates[id] = HartState.Stopped;
      },
      hartSuspend: (id) => {
        this.harts[id]!.waiting = true;
      },
      systemReset: (type, reason) => {
        this.power =
          type === 0 ? (reason === 0 ? { kind: 'poweroff' } : { kind: 'fail', code: 1 }) : { kind: 'reboot' };
      },
      consoleWrite: (bytes) => {
        const n = Math.min(bytes.length, this.output.room());
        if (n < bytes.length) this.output.stall();
        if (n > 0) this.output.write(n === bytes.length ? bytes : bytes.subarray(0, n));
        return n;
      },
      consoleRead: (max) => new Uint8Array(this.stdin.splice(0, max)),
      ramView: (addr, len) =>
        this.bus.isRam(addr, len)
          ? this.bus.ram.subarray(addr - this.bus.ramBase, addr - this.bus.ramBase + len)
          : undefined,
    };
  }

  /**
   * Presses the power button (virtio-input KEY_POWER). Returns whether the guest's driver took the
   * press: false while no virtio-input driver runs the button (early boot, a guest without one).
   */
  pressPowerButton(): boolean {
    return this.powerButton.press();
  }

  /** Console input from the host: to the UART first (the shell's console), else buffered. Returns bytes accepted. */
  input(bytes: Uint8Array): number {
    return this.uart.receive(bytes);
  }

  /** Raises timer interrupts that are due (CLINT mtimecmp, SBI timers). */
  updateTimers(): void {
    this.clint.update();
    this.rtc.update();
    if (this.builtinSbi) {
      const now = this.clock.now();
      for (let i = 0; i < this.harts.length; i++) {
        if (now >= this.sbiTimer[i]!) {
          this.sbiTimer[i] = Infinity;
          this.harts[i]!.setSoftwarePending(MIP_STIP, true);
        }
      }
    }
  }

  /**
   * Starts a new device turn between CPU slices: NICs refill their transmit budget and resume
   * transmit work a previous turn left over (so one guest notification cannot stall the host).
   */
  pollDevices(): void {
    for (const n of this.nics) n.poll();
  }

  /** Whether a device has work left over for the next pollDevices() (the VM must not sleep). */
  get devicesBusy(): boolean {
    for (const n of this.nics) if (n.txPending) return true;
    return false;
  }

  /** Runs every started hart for up to `budget` instructions each. Returns instructions retired. */
  runSlice(budget: number): number {
    let retired = 0;
    for (let i = 0; i < this.harts.length; i++) {
      if (this.hartStates[i] !== HartState.Started) continue;
      retired += this.harts[i]!.run(budget);
      if (this.power) break;
    }
    return retired;
  }

  /** True when every started hart waits for an interrupt. */
  allWaiting(): boolean {
    for (let i = 0; i < this.harts.length; i++) {
      if (this.hartStates[i] === HartState.Started && !this.harts[i]!.waiting) return false;
    }
    return true;
  }

  /** The earliest mtime at which a timer may wake a hart (Infinity if none). */
  nextTimerDeadline(): number {
    let t = this.clint.nextDeadline() ?? Infinity;
    for (let i = 0; i < this.harts.length; i++) {
      t = Math.min(t, this.sbiTimer[i]!, this.harts[i]!.stimecmp);
    }
    return t;
  }

  /** Board, hart and device state as plain data (RAM is saved separately). Drain block I/O first. */
  saveState(): MachineState {
    return {
      version: MACHINE_STATE_VERSION,
      memoryBytes: this.opts.memoryBytes,
      cpus: this.harts.length,
      builtinSbi: this.builtinSbi,
      clock: this.clock.saveState(),
      harts: this.harts.map((h) => h.saveState()),
      hartStates: [...this.hartStates],
      sbiTimer: this.sbiTimer.map((t) => (t === Infinity ? -1 : t)),
      clint: this.clint.saveState(),
      plic: this.plic.saveState(),
      uart: this.uart.saveState(),
      rtc: this.rtc.saveState(),
      virtio: this.virtio.map((v) => v.saveState()),
      powerButton: this.powerButtonMmio.saveState(),
      cpu: this.cpu.model,
    };
  }

  /**
   * Restores saveState()'s output into a board built with the same configuration (RAM already
   * loaded). `s` is untrusted: raw data or a StateReader positioned at it. The board-level fields
   * and every list's length are checked before any part is loaded; each part then checks its own
   * fields. Throws StateError naming the field (a part may be half loaded then: discard the board).
   */
  loadState(s: unknown): void {
    const r = StateReader.of(s, 'machine', MACHINE_STATE_VERSION);
    const head = readMachineHeader(r);
    if (head.cpus !== this.harts.length) r.fail(`${head.cpus} saved, the board has ${this.harts.length}`, 'cpus');
    if (head.cpu !== this.cpu.model) r.fail(`CPU model ${head.cpu} saved, the board has ${this.cpu.model}`, 'cpu');
    if (head.memoryBytes !== this.opts.memoryBytes)
      r.fail(`${head.memoryBytes} saved, the board has ${this.opts.memoryBytes}`, 'memoryBytes');
    const n = this.harts.length;
    const harts = r.items('harts', n, n);
    const hartStates = r.ints('hartStates', HartState.Started, HartState.Suspended, n, n);
    // -1 = no timer; mtime is below 2^53 but the guest may program any 64-bit value.
    const sbiTimer = r.ints('sbiTimer', -1, 2 ** 64, n, n);
    const virtio = r.items('virtio', this.virtio.length);
    if (virtio.length !== this.virtio.length)
      r.fail(
        `${virtio.length} virtio devices saved, the board has ${this.virtio.length} (disks and NICs differ)`,
        'virtio',
      );
    const powerButton = r.has('powerButton') ? r.field('powerButton') : undefined;
    const clock = r.field('clock', 1);
    const parts = (['clint', 'plic', 'uart', 'rtc'] as const).map((k) => r.field(k, 1));
    for (const h of harts) h.version(HART_STATE_VERSION);
    this.clock.loadState(clock);
    harts.forEach((h, i) => this.harts[i]!.loadState(h));
    hartStates.forEach((st, i) => (this.hartStates[i] = st));
    sbiTimer.forEach((t, i) => (this.sbiTimer[i] = t < 0 ? Infinity : t));
    this.clint.loadState(parts[0]);
    this.plic.loadState(parts[1]);
    this.uart.loadState(parts[2]);
    this.rtc.loadState(parts[3]);
    virtio.forEach((v, i) => this.virtio[i]!.loadState(v));
    // A snapshot from before the power button existed: its guest never saw one; it stays reset.
    if (powerButton) this.powerButtonMmio.loadState(powerButton);
    // Console devices may have been waiting for room (a part-printed chain, bytes in the UART's
    // transmit FIFO): the first turn resumes them.
    this.output.stalled = true;
  }

  /** Resolves once no block request is in flight. */
  async drainIo(): Promise<void> {
    await Promise.all(this.blks.map((b) => b.drain()));
  }

  /**
   * The board is being replaced (reboot): every virtio device is reset, so requests still in
   * flight never write this board's RAM or rings. Resolves once they have finished.
   */
  shutdown(): Promise<void> {
    for (const t of this.virtio) t.boardReset();
    this.powerButtonMmio.boardReset();
    return this.drainIo();
  }

  get instret(): number {
    let n = 0;
    for (const h of this.harts) n += h.instret;
    return n;
  }
}
