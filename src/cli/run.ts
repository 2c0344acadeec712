/**
 * `virtkit run`: runs a machine from the command line.
 *
 * Modes, chosen by --firmware:
 *   none   bare-metal: an ELF runs in M-mode from its entry on the minimal board of
 *          src/machine/baremetal.ts; the exit status is the program's verdict (riscv-tests HTIF
 *          `tohost` or the SiFive test finisher).
 *   other  boots an operating system (run-linux.ts): the built-in SBI or a firmware image.
 */
import { parseCpuModel, type CpuModel } from '../riscv/cpu-config.ts';
import { readFileSync, statSync, writeSync } from 'node:fs';
import type { Command } from './command.ts';
import { parseArgs, parseMemorySize, type ParsedArgs } from './args.ts';
import { QEMU_RUN_FLAGS } from './qemu-habits.ts';
import { describeError } from '../host/node/errno-words.ts';
import { UsageError } from './errors.ts';
import { LINUX_FLAGS, LINUX_HELP, parseTierFlag, runLinux } from './run-linux.ts';

/** Exit statuses of a bare-metal run (besides 0 = pass and 2 = bad input). */
export const EXIT_LIMIT = 124;
export const EXIT_HTIF = 126;
const MAX_GUEST_CODE = 123;

export const BARE_METAL_HELP = `usage: virtkit run --firmware none --kernel FILE.elf [options]

Runs a bare-metal RISC-V (RV64GC) ELF program in M-mode from its entry point, with a0 = hart id
and a1 = 0, on a minimal board: RAM at 0x80000000, SiFive test finisher at 0x100000, CLINT at
0x2000000, NS16550A UART at 0x10000000 (its output goes to stdout).

The run ends when the program writes the HTIF 'tohost' word (riscv-tests convention: a value of
(code << 1) | 1 exits with code) or the test finisher (0x5555 pass, 0x3333 | code << 16 fail).

options:
  --firmware none          selects bare-metal mode (without it, 'virtkit run' boots Linux)
  --kernel FILE            the ELF64 RISC-V executable to run
  --memory SIZE            guest RAM size, e.g. 64M, 1G; a bare number is MiB (default 128M)
  --cpu MODEL              CPU model: rv64gc, rva22 or max (default max; see 'virtkit run --help')
  --tier TIER              interp, js or wasm (default): see 'virtkit run --help'
  --max-instructions N     stop after N instructions (default: no limit)
  --timeout SECONDS        stop after this much wall time (default: no limit)
  --stats                  print instructions executed, time and MIPS to stderr
  -h, --help               show this help

exit status:
  0      the program reported success
  1-${MAX_GUEST_CODE}  the program reported failure with this code (larger codes are clamped to ${MAX_GUEST_CODE};
         for riscv-tests it is the number of the failing test)
  2      bad input: unknown or missing options, unreadable or invalid ELF file
  ${EXIT_LIMIT}    the instruction or time limit was reached, or the hart went idle for good
  ${EXIT_HTIF}    the program made a request this runner does not serve (HTIF syscall, reset)
`;

/** The flags of bare-metal mode (exported so a test can hold BARE_METAL_HELP to them). */
export const BARE_METAL_FLAGS = {
  firmware: 'string',
  kernel: 'string',
  memory: 'string',
  cpu: 'string',
  tier: 'string',
  'max-instructions': 'string',
  timeout: 'string',
  stats: 'boolean',
} as const;

function positiveNumber(text: string, what: string, integer: boolean): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !Number.isFinite(n) || n <= 0 || (integer && !Number.isSafeInteger(n))) {
    throw new UsageError(`invalid ${what} '${text}' (expected a positive ${integer ? 'integer' : 'number'})`);
  }
  return n;
}

/** Writes console bytes to stdout in chunks (synchronously, so output and exit stay ordered). */
class ConsoleOut {
  private buf = new Uint8Array(4096);
  private len = 0;
  put = (byte: number): void => {
    this.buf[this.len++] = byte;
    if (this.len === this.buf.length) this.flush();
  };
  flush(): void {
    if (this.len === 0) return;
    try {
      writeSync(1, this.buf, 0, this.len);
    } catch {
      // stdout closed (e.g. piped into `head`): drop console output, keep running.
    }
    this.len = 0;
  }
}

async function runBareMetal(a: ParsedArgs): Promise<number> {
  const kernel = a.flags.kernel as string | undefined;
  if (!kernel) throw new UsageError('--kernel FILE is required with --firmware none');
  const memory = parseMemorySize((a.flags.memory as string | undefined) ?? '128M');
  if (memory < 4096 || memory % 4096 !== 0 || memory > 0x1_0000_0000) {
    throw new UsageError(`memory size must be a multiple of 4 KiB between 4K and 4G`);
  }
  const maxText = a.flags['max-instructions'] as string | undefined;
  const maxInstructions = maxText === undefined ? undefined : positiveNumber(maxText, '--max-instructions', true);
  const timeoutText = a.flags.timeout as string | undefined;
  const timeout = timeoutText === undefined ? undefined : positiveNumber(timeoutText, '--timeout', false);
  const cpuText = a.flags.cpu as string | undefined;
  let cpu: CpuModel | undefined;
  try {
    cpu = cpuText === undefined ? undefined : parseCpuModel(cpuText);
  } catch (e) {
    throw new UsageError(`--cpu: ${(e as Error).message}`);
  }

  const tier = parseTierFlag(a.flags.tier as string | undefined);

  let bytes: Uint8Array;
  try {
    // Nothing larger than guest RAM can be loaded: refuse before reading a huge file.
    const size = statSync(kernel).size;
    if (size > memory + (1 << 20)) throw new UsageError(`kernel '${kernel}' (${size} bytes) is larger than guest RAM`);
    bytes = new Uint8Array(readFileSync(kernel));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read kernel '${kernel}': ${describeError(e)}`);
  }

  // Loaded lazily so `virtkit run --help` and flag errors do not load the CPU.
  const { BareMetalMachine } = await import('../machine/baremetal.ts');
  const { ElfError } = await import('../machine/elf.ts');
  const out = new ConsoleOut();
  const machine = new BareMetalMachine({ memory, console: out.put, cpu });
  if (tier !== undefined) machine.hart.tier = tier;
  try {
    machine.load(bytes);
  } catch (e) {
    if (e instanceof ElfError) throw new UsageError(`kernel '${kernel}': ${e.message}`);
    throw e;
  }

  const start = performance.now();
  const deadline = timeout === undefined ? Infinity : start + timeout * 1000;
  const result = machine.run({
    maxInstructions,
    shouldStop: () => {
      out.flush();
      return performance.now() >= deadline;
    },
  });
  out.flush();
  const seconds = (performance.now() - start) / 1000;
  if (a.flags.stats) {
    const mips = machine.instructions / seconds / 1e6;
    console.error(
      `virtkit run: ${machine.instructions} instructions in ${seconds.toFixed(3)} s (${mips.toFixed(1)} MIPS)`,
    );
  }

  switch (result.kind) {
    case 'pass':
      return 0;
    case 'fail': {
      console.error(`virtkit run: program reported failure, code ${result.code} (via ${result.via})`);
      return Math.min(Math.max(result.code, 1), MAX_GUEST_CODE);
    }
    case 'limit':
      console.error(
        result.reason === 'instructions'
          ? `virtkit run: instruction limit reached (${maxInstructions}) without a verdict`
          : `virtkit run: timeout after ${timeout} s without a verdict`,
      );
      return EXIT_LIMIT;
    case 'idle':
      console.error('virtkit run: the hart waits for an interrupt that can never come (WFI, no timer armed)');
      return EXIT_LIMIT;
    case 'htif-error':
      console.error(`virtkit run: unsupported HTIF request in tohost (0x${result.value.toString(16)})`);
      return EXIT_HTIF;
    case 'reset':
      console.error('virtkit run: the program requested a reset (not supported in bare-metal mode)');
      return EXIT_HTIF;
  }
}

export const command: Command = {
  summary: 'run a VM: boot Linux (default guest) or a bare-metal ELF',
  flags: { ...LINUX_FLAGS, ...BARE_METAL_FLAGS },
  get help() {
    return `${LINUX_HELP}\n\n--- bare-metal mode ---\n\n${BARE_METAL_HELP}`;
  },
  async run(argv) {
    // Bare metal is chosen by '--firmware none'; everything else boots an operating system.
    const fw = argv.findIndex((x) => x === '--firmware' || x.startsWith('--firmware='));
    const firmware = fw < 0 ? undefined : argv[fw]!.includes('=') ? argv[fw]!.split('=')[1] : argv[fw + 1];
    if (firmware !== 'none') return runLinux(argv);
    const a = parseArgs(argv, { ...BARE_METAL_FLAGS }, {}, { foreign: QEMU_RUN_FLAGS });
    if (a.positional.length > 0) throw new UsageError(`unexpected argument '${a.positional[0]}'`);
    return runBareMetal(a);
  },
};
