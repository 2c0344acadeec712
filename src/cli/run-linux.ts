/**
 * `virtkit run` for operating systems: boots a kernel (by default the cached Debian guest,
 * fetched on first use) on the virt board with the serial console on this terminal.
 *
 * Console input: on a TTY, raw mode with Ctrl-A escapes (see host/node/console.ts). Piped input
 * is typed a line at a time (PipedInput in host/node/console.ts): the first line once the guest
 * shows a shell prompt (a line ending in "# " or "$ "), each next one once the shell prompts
 * again, and after a guest reboot only from the new boot's first prompt on. So
 * `printf 'uname -m\nreboot -f\nuname -r\npoweroff -f\n' | virtkit run` works even though the
 * pipe is ready long before the guest is, and lines after the reboot reach the new shell.
 * The pipe is paused while more than PIPED_INPUT_HIGH bytes of it wait (InputGate), and guest
 * output holds the VM's console devices while stdout is behind (StreamOutput).
 */
import { parseCpuModel, type CpuModel } from '../riscv/cpu-config.ts';
import { TIERS, type Tier } from '../riscv/tier.ts';
import { wasmStats } from '../riscv/wasm/wasm-tier.ts';
import { readFile, writeFile, rename, unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs, parseMemorySize } from './args.ts';
import { CliError, UsageError } from './errors.ts';
import { QEMU_RUN_FLAGS } from './qemu-habits.ts';
import { describeError } from '../host/node/errno-words.ts';
import type { StopReason, VmHost } from '../vmm/vm.ts';
import { VmSession, type SessionEvents } from '../vmm/session.ts';
import { VM_SPEC_VERSION, VmSpecError, type VmSpec, type VmSpecDisk } from '../vmm/vm-spec.ts';
import { classifyStop, type StopClass } from '../vmm/stop-reason.ts';
import { BoardConfigError } from '../machine/virt.ts';
import { CursorQueries, HostConsole, InputGate, PipedInput, StreamOutput } from '../host/node/console.ts';
import { saveTargetProblem } from '../host/node/save-target.ts';
import { consoleEnvironment } from './console-env.ts';
import { SnapshotError } from '../vmm/snapshot-file.ts';
import { StorageError, hasSnapshots, type BlockBackend } from '../storage/types.ts';
import { QmpError } from '../vmm/qmp/monitor.ts';
import { NetConfigError, NetSetup, parseNetSpec, wakingBackend } from '../host/node/net/netdev.ts';
import { BOOT_FILE_ROLES, readBootRecord, type BootFileRole, type BootRecord } from '../vmm/boot-record.ts';
import { buildSavedConfig, readSavedConfig, type SavedConfig, type SavedDisk } from '../vmm/saved-config.ts';
import { fingerprintDisk, identityMismatch } from '../vmm/disk-identity.ts';
import { StateError, StateReader } from '../memory/state.ts';
import { describeBootFiles, reloadBootFiles, type LoadedBootFile } from '../host/node/guest/boot-files.ts';
import { CONTROL_FLAGS, parseConsoleSpec, parseQmpSpec } from './run-control.ts';
import { SessionQmpTarget } from '../vmm/qmp/session-target.ts';
import { qmpVersion } from '../vmm/qmp/target.ts';
import { QmpServer } from '../host/node/qmp-server.ts';
import { ConsoleServer } from '../host/node/console-server.ts';
import { ConsoleLog } from '../host/node/console-log.ts';
import { SocketPathError } from '../host/node/unix-server.ts';
import { packageVersion } from './package-root.ts';
import { BackupTracking } from './run-backup.ts';
import { nodeVmHost } from '../host/node/vm-host.ts';
import { GuestProfiler, SymbolTable, formatProfile } from '../vmm/guest-profile.ts';

/** Exit status when a restored VM's guest reboots but its boot files are gone or changed. */
export const EXIT_CANNOT_REBOOT = 3;

/** --cpu MODEL (cpu-config.ts); absent: the default model. */
function parseCpuFlag(v: string | undefined): CpuModel | undefined {
  if (v === undefined) return undefined;
  try {
    return parseCpuModel(v);
  } catch (e) {
    throw new UsageError(`--cpu: ${(e as Error).message}`);
  }
}

/** --tier TIER (riscv/tier.ts); absent: the default (wasm where available, else js). */
export function parseTierFlag(v: string | undefined): Tier | undefined {
  if (v === undefined) return undefined;
  if (!(TIERS as readonly string[]).includes(v))
    throw new UsageError(`--tier: expected ${TIERS.join(', ')}, not '${v}'`);
  return v as Tier;
}

export const LINUX_HELP = `usage: virtkit run [options]

Boots a RISC-V Linux guest on virtkit's virt board (QEMU virt memory map) with the serial console
on this terminal. With no --kernel, boots the default guest (Debian trixie riscv64 kernel and a
busybox initramfs), fetching it first if it is not cached ('virtkit guest fetch') - unless the
first --disk has a partition table (GPT or MBR): then the disk boots as on a real board, through
OpenSBI (M-mode) and U-Boot (S-mode), which loads the kernel and initrd that the disk's
/boot/extlinux/extlinux.conf names (Debian's opensbi and u-boot-qemu packages, fetched into the
cache on first use; docs/disk-boot.md).

options:
  --kernel FILE          Linux Image (incl. Debian's EFI-stub Image), ELF kernel, or any other file
                         as a raw binary at RAM base + 2 MiB, as QEMU's -kernel (e.g. U-Boot's
                         qemu-riscv64_smode/u-boot.bin behind --firmware fw_jump.bin)
  --initrd FILE          initramfs (cpio, optionally compressed as the kernel supports)
  --append TEXT          kernel command line (default: "console=ttyS0 COLUMNS=..."; see terminal)
  --memory SIZE          guest RAM, e.g. 512M, 1G; a bare number is MiB (default 512M; 16M..4G)
  --cpus N               number of harts, 1..8 (default 1)
  --cpu MODEL            CPU model, as QEMU's -cpu: rv64gc (RV64GC, Zba/Zbb/Zbs, Sstc, Sv48),
                         rva22 (the RVA22U64/S64 profile) or max (RVA22 plus Zfh, Zicond, Zbc,
                         Zbk*, Svnapot, Sv57; the default)
  --tier TIER            how the CPU runs guest code: interp (interpreter only), js (hot code
                         translated to JavaScript) or wasm (to WebAssembly; the default)
  --disk [file=]FILE[,format=F][,readonly]
                         attach a virtio-blk disk (repeatable; formats: raw, qcow2, vmdk, vpc, vhdx;
                         detected from the contents when format= is absent)
  --net SPEC             add a virtio-net NIC (repeatable; MACs 52:54:00:12:34:56, :57, ...):
                           user[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...[,restrict=on]
                             NAT: guest 10.0.2.15 (DHCP), gateway/host 10.0.2.2, DNS 10.0.2.3;
                             e.g. hostfwd=tcp::8080-:80. An empty HOSTADDR binds 127.0.0.1 (this
                             host only; QEMU binds 0.0.0.0): give 0.0.0.0 to open it to the LAN
                           switch=NAME   a LAN shared with the other NICs on switch NAME
                           socket,path=PATH  a LAN shared by every process using PATH
                             (socket,listen=PATH / socket,connect=PATH: host or join explicitly)
                           any form takes mac=52:54:00:XX:XX:XX
  --firmware FILE|none   run an M-mode firmware (e.g. OpenSBI fw_jump.bin/fw_dynamic.bin) instead of
                         the built-in SBI; 'none' runs a bare-metal ELF (see below). A disk boot
                         uses FILE instead of the cached OpenSBI fw_jump.bin
  --boot disk|guest      without --kernel: 'disk' boots the first --disk through the firmware even
                         without a partition table; 'guest' boots the default guest with the disks
                         attached even when the first has one (default: decided by the first disk)
  --save-on-exit FILE    write a snapshot when the VM is quit (Ctrl-A x, SIGINT/SIGTERM/SIGHUP, or
                         end of piped input once the guest is back at its prompt). FILE's directory
                         is checked at start (exit status 2); a save that fails is exit status 1
  --restore FILE         resume a snapshot (CPUs, memory and kernel command line come from it). A
                         snapshot names no host file that a restore opens: give its disks again with
                         --disk, in the order it was saved with (same format, virtual size and
                         contents: each is checked against the format, size and content fingerprint
                         the snapshot recorded, sampled from the first MiB and 64 blocks, and a
                         mismatch is refused, exit status 2), and as many --net as it had NICs
                         (the MACs are the snapshot's). Snapshots of virtkit before disk records
                         cannot be checked: they restore with a warning. If the guest reboots, the
                         kernel, initrd and firmware are read again from the paths they were booted
                         from and must be unchanged (size and SHA-256)
  --stats                print instructions executed, wall time and MIPS on exit
  --profile FILE         write a profile of the run to FILE on exit (FILE.json gets JSON): guest pc
                         samples by privilege and the top kernel functions, traps by cause, TLB
                         misses and flushes, satp writes, code translated and thrown away, host
                         time in CPU slices and elsewhere (docs/profiling.md)
  --profile-symbols MAP  name the kernel's functions in the profile with its System.map (Debian's
                         linux-image package has it in /boot)
  --qmp unix:PATH[,server=on][,wait=off]
                         serve QMP (QEMU's control protocol) on the unix socket PATH, for any number
                         of clients; the VM never waits for one. QEMU's spellings server, nowait and
                         wait=off are accepted; wait=on and tcp: are refused. Commands: query-status,
                         stop, cont, system_powerdown, system_reset, quit, ... (docs/manager.md)
  --console unix:PATH    headless: the serial console is served on the unix socket PATH instead of
                         this terminal (stdin and stdout are not used). Each client first gets the
                         last 64 KiB of output, then live output; bytes from any client go to the
                         guest; a client that does not read is dropped. The VM runs with no client
  --console-log FILE     append all guest output to FILE; at 1 MiB FILE is renamed to FILE.1 and a
                         new FILE started
  --pidfile FILE         write this process's pid to FILE once the VM's sockets listen; removed at exit
  -h, --help             show this help

console (on a terminal): Ctrl-A x quit, Ctrl-A s save a snapshot (to --save-on-exit's file or
virtkit-<time>.snap), Ctrl-A p press the power button (the default guest powers off cleanly, as
systemd-logind does on a full Debian; virtkit then exits 0), Ctrl-A h help.

signals: SIGINT, SIGTERM and SIGHUP (a closed terminal or SSH session) quit the VM as Ctrl-A x
does: disks flushed, --save-on-exit written, exit status 0.

terminal: when stdout is not a terminal, the guest's cursor-position queries (ESC[6n) are answered
and removed from the output, and the default command line adds COLUMNS=29999 so the guest shell
does not wrap long lines at 80 columns; on a terminal it adds the terminal's COLUMNS and LINES at
boot (a serial console cannot tell the guest of a later resize).

QEMU spellings: -m, -smp, -kernel, -initrd, -append and -bios (as --firmware) are accepted;
-nographic is ignored (the console is always this terminal); -drive, -hda, -netdev, -nic, -cpu and
-M are refused with the virtkit flag that does the same.

exit status: 0 the guest powered off (or was quit), 1 guest panic or failure report, a disk boot's
firmware found nothing to boot (U-Boot gave up at its '=>' prompt: virtkit stops the VM and names
what U-Boot reported), a failed save, or a host resource is busy (a hostfwd port in use, a disk
image locked by another program, a --qmp or --console socket another process listens on), 2 bad
input (flags, files, images), ${EXIT_CANNOT_REBOOT} a restored guest rebooted but its boot files are gone or
changed (the VM powers off), 70 internal error. ('virtkit help exit-status' lists all commands'.)

Bare metal: virtkit run --firmware none --kernel test.elf (see that mode's --help).`;

/** The flags of this mode (exported so a test can hold LINUX_HELP to them). */
export const LINUX_FLAGS = {
  kernel: 'string',
  initrd: 'string',
  append: 'string',
  memory: 'string',
  cpus: 'string',
  cpu: 'string',
  tier: 'string',
  disk: 'list',
  net: 'list',
  firmware: 'string',
  boot: 'string',
  'save-on-exit': 'string',
  restore: 'string',
  stats: 'boolean',
  profile: 'string',
  'profile-symbols': 'string',
  ...CONTROL_FLAGS,
} as const;

interface DiskSpec {
  path: string;
  format?: string;
  readOnly: boolean;
}

/**
 * Parses [file=]FILE[,format=F][,readonly] (QEMU's -drive spelling, so `file=d.qcow2` names
 * d.qcow2; readonly=on also accepted).
 */
export function parseDiskSpec(text: string): DiskSpec {
  const parts = text.split(',');
  // The first part is the file unless it is a key (write ./format=x for a file named so).
  let path = /^(file=|format=|readonly(=|$))/.test(parts[0]!) ? undefined : parts.shift();
  let format: string | undefined;
  let readOnly = false;
  for (const p of parts) {
    const [k, v] = p.split('=', 2) as [string, string | undefined];
    if (k === 'file' && v && path === undefined) path = p.slice(5);
    else if (k === 'file') throw new UsageError(`--disk '${text}': give the file once (FILE or file=FILE)`);
    else if (k === 'format' && v) format = v;
    else if (k === 'readonly' && (v === undefined || v === 'on' || v === 'true')) readOnly = true;
    else if (k === 'readonly' && (v === 'off' || v === 'false')) readOnly = false;
    else throw new UsageError(`--disk '${text}': unknown option '${p}' (expected FILE[,format=FMT][,readonly])`);
  }
  if (!path) throw new UsageError(`--disk '${text}': missing file name`);
  return { path: resolve(path), readOnly, ...(format ? { format } : {}) };
}

async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    const b = await readFile(path);
    if (b.length === 0) throw new UsageError(`${what} '${path}' is empty`);
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${what} '${path}': ${describeError(e)}`);
  }
}

async function openDisks(specs: DiskSpec[]): Promise<VmSpecDisk[]> {
  const { openImageFile } = await import('../host/node/open-image.ts');
  const disks: VmSpecDisk[] = [];
  for (const s of specs) {
    try {
      const backend = await openImageFile(s.path, { format: s.format, readOnly: s.readOnly });
      disks.push({ backend, readOnly: s.readOnly, source: s.path, ...(s.format ? { format: s.format } : {}) });
    } catch (e) {
      for (const d of disks) await d.backend.close().catch(() => {});
      // A lock held by another program is a runtime condition (exit 1, as in 'virtkit img'),
      // not bad input; the storage layer's messages already name the file.
      const text = describeError(e);
      const msg = `--disk: ${text.includes(s.path) ? text : `${s.path}: ${text}`}`;
      if (e instanceof StorageError && e.code === 'locked') throw new CliError(msg, 1);
      if (e instanceof StorageError || (e as NodeJS.ErrnoException).code) throw new UsageError(msg);
      throw e;
    }
  }
  return disks;
}

/** Reads a snapshot's meta.config; a malformed one is a SnapshotError naming the field. */
function readConfig(saved: unknown): SavedConfig {
  try {
    return readSavedConfig(new StateReader('snapshot', saved, undefined, 'meta.config'));
  } catch (e) {
    if (e instanceof StateError) throw new SnapshotError(e.message);
    throw e;
  }
}

/**
 * Opens the disks given with --restore's --disk and checks each against the snapshot's record of
 * the disk in its place: the snapshot never chooses a host file, and a different disk (format,
 * virtual size, sampled contents) would give the restored guest data its caches do not expect.
 */
async function openRestoredDisks(saved: SavedDisk[], specs: DiskSpec[]): Promise<VmSpecDisk[]> {
  const names = saved.map((d) => JSON.stringify(d.path)).join(', ');
  if (specs.length !== saved.length)
    throw new UsageError(
      saved.length
        ? `the snapshot was saved with ${saved.length} disk(s) (${names}): give them with --disk, in that order (${specs.length} given)`
        : `the snapshot was saved without disks: drop --disk (${specs.length} given)`,
    );
  for (const [i, d] of saved.entries()) {
    const spec = specs[i]!;
    if (d.readOnly !== spec.readOnly)
      throw new UsageError(
        `--disk ${spec.path}: the snapshot's disk ${i + 1} was ${d.readOnly ? 'read-only: add ,readonly' : 'writable: drop readonly'}`,
      );
  }
  if (saved.some((d) => !d.identity))
    process.stderr.write(
      'virtkit: warning: this snapshot (from an older virtkit) records no disk identities: the disks given with --disk cannot be verified\n',
    );
  const disks = await openDisks(specs);
  try {
    for (const [i, d] of saved.entries()) {
      if (!d.identity) continue;
      const why = identityMismatch(d.identity, await fingerprintDisk(disks[i]!.backend));
      // A savevm's disks go back to its internal snapshot first (docs/manager.md).
      const hint = d.diskSnapshot
        ? `; it was saved with its internal snapshot '${d.diskSnapshot}': revert it first (virtkit img snapshot -a ${d.diskSnapshot} ${specs[i]!.path})`
        : '';
      if (why)
        throw new UsageError(
          `--disk ${specs[i]!.path}: not the snapshot's disk ${i + 1} (${JSON.stringify(d.path)}): ${why}${hint}`,
        );
    }
  } catch (e) {
    for (const x of disks) await x.backend.close().catch(() => {});
    if (e instanceof StorageError) throw new UsageError(`--disk: reading the disk failed: ${e.message}`);
    throw e;
  }
  return disks;
}

/** An error as one line of text. */
const oneLine = (e: unknown) => String((e as Error).message ?? e).replace(/\s*\n\s*/g, ' ');

const nodeHost: VmHost = nodeVmHost;

/** The exit status of each way a VM can stop. */
const EXIT_STATUS: Record<StopClass, number> = {
  clean: 0,
  'guest-failed': 1,
  'cannot-reboot': EXIT_CANNOT_REBOOT,
  'internal-error': 70,
};

/**
 * Reads the boot files and builds the VM from them. A function of its own so that no frame of the
 * long-running runLinux holds the file bytes: the VM drops them once they are in guest RAM (tens of
 * MiB per VM), and a guest reboot reads them again, checked unchanged against the record made here
 * (~0.1 s of hashing for the default guest), as after a restore.
 */
async function bootFromFiles(
  paths: { kernel: string; initrd: string | undefined; firmware: string | undefined },
  vmSpec: Pick<VmSpec, 'memoryBytes' | 'cpus' | 'cpu' | 'append' | 'disks' | 'nics' | 'tier'>,
  events: SessionEvents,
): Promise<{ vm: VmSession; record: BootRecord }> {
  const files: Partial<Record<BootFileRole, LoadedBootFile>> = {};
  for (const role of BOOT_FILE_ROLES) {
    const path = paths[role];
    if (path) files[role] = { path, bytes: await readInput(path, role) };
  }
  const record = describeBootFiles(files);
  const boot = Object.fromEntries(Object.entries(files).map(([role, f]) => [role, f.bytes]));
  const reloadBoot = () => reloadBootFiles(record, vmSpec.memoryBytes);
  const vm = VmSession.boot({ version: VM_SPEC_VERSION, ...vmSpec, boot, reloadBoot }, nodeHost, events);
  return { vm, record };
}

/**
 * Whether `virtkit run` without --kernel boots the first disk through the firmware: as --boot
 * says, else when the disk has a partition table (a whole-disk filesystem or a blank disk is a
 * data disk for the default guest, as before disk boot existed).
 */
async function bootsFromDisk(choice: string | undefined, first: VmSpecDisk | undefined): Promise<boolean> {
  if (choice) return choice === 'disk';
  if (!first) return false;
  const { readPartitionTable } = await import('../storage/gpt.ts');
  const b = first.backend;
  try {
    const table = await readPartitionTable(async (offset, length) => {
      const buf = new Uint8Array(Math.max(0, Math.min(length, b.size - offset)));
      if (buf.length) await b.read(offset, buf);
      return buf;
    }, b.size);
    return table.scheme !== 'none';
  } catch (e) {
    if (e instanceof StorageError)
      throw new UsageError(`--disk ${first.source}: reading its partition table failed: ${e.message}`);
    throw e;
  }
}

export async function runLinux(argv: string[]): Promise<number> {
  const a = parseArgs(argv, LINUX_FLAGS, {}, { foreign: QEMU_RUN_FLAGS });
  if (a.positional.length) throw new UsageError(`unexpected argument '${a.positional[0]}'`);
  const f = a.flags;
  const memoryBytes = parseMemorySize((f.memory as string | undefined) ?? '512M');
  const cpusText = (f.cpus as string | undefined) ?? '1';
  const cpus = Number(cpusText);
  if (!/^\d+$/.test(cpusText) || cpus < 1 || cpus > 8)
    throw new UsageError(`--cpus must be an integer 1..8, not '${cpusText}'`);
  const cpu = parseCpuFlag(f.cpu as string | undefined);
  const tier = parseTierFlag(f.tier as string | undefined);
  if (memoryBytes % (1024 * 1024) !== 0 || memoryBytes < 16 * 1024 * 1024 || memoryBytes > 4096 * 1024 * 1024)
    throw new UsageError(`--memory must be a whole number of MiB between 16M and 4G, not '${f.memory}'`);
  const diskSpecs = ((f.disk as string[] | undefined) ?? []).map(parseDiskSpec);
  const netTexts = (f.net as string[] | undefined) ?? [];
  for (const t of netTexts) {
    try {
      parseNetSpec(t);
    } catch (e) {
      if (e instanceof NetConfigError) throw new UsageError(e.message);
      throw e;
    }
  }
  const qmpPath = f.qmp === undefined ? undefined : parseQmpSpec(f.qmp as string);
  const consolePath = f.console === undefined ? undefined : parseConsoleSpec(f.console as string);
  if (qmpPath && qmpPath === consolePath) throw new UsageError('--qmp and --console need two different socket paths');
  /** --console: no terminal; the serial console is a socket (docs/manager.md). */
  const headless = consolePath !== undefined;
  const pidPath = f.pidfile === undefined ? undefined : resolve(f.pidfile as string);
  const savePath = f['save-on-exit'] as string | undefined;
  const restorePath = f.restore as string | undefined;
  if (restorePath && (f.kernel || f.initrd || f.firmware || f.append || f.cpus || f.cpu || f.memory || f.boot))
    throw new UsageError(
      '--restore takes the machine from the snapshot: drop --kernel/--initrd/--append/--cpus/--cpu/--memory/--firmware/--boot (give its disks with --disk)',
    );
  const bootChoice = f.boot as string | undefined;
  if (bootChoice !== undefined && bootChoice !== 'disk' && bootChoice !== 'guest')
    throw new UsageError(`--boot must be 'disk' or 'guest', not '${bootChoice}'`);
  if (bootChoice && f.kernel)
    throw new UsageError(`--boot chooses what boots without --kernel: drop one of --boot ${bootChoice} and --kernel`);
  if (bootChoice === 'disk' && !diskSpecs.length) throw new UsageError('--boot disk needs a --disk to boot from');

  let exitCode = 0;
  let netSetup: NetSetup | undefined;
  const openNets = async (texts: string[]) => {
    try {
      netSetup = await NetSetup.build(texts.map(parseNetSpec));
    } catch (e) {
      // A busy hostfwd port is a runtime condition (exit 1, as in 'virtkit web'); bad text is 2.
      if (e instanceof NetConfigError) throw e.runtime ? new CliError(e.message, 1) : new UsageError(e.message);
      throw e;
    }
    return netSetup.nics.map((n) => ({ mac: n.mac, backend: wakingBackend(n.backend, () => vm?.wake()) }));
  };
  let done!: (code: number) => void;
  const finished = new Promise<number>((r) => (done = r));
  let vm: VmSession;
  /** What a snapshot's configuration records besides the disks (buildSavedConfig). */
  let guestAppend = '';
  /** The boot record: a restored snapshot's as it was read, or made when a booted VM first saves. */
  let bootRecord: unknown;
  let lineTypedAt = performance.now();
  let inputGate: InputGate | undefined; // set once the console exists
  // A pipe or file answers no terminal queries: answer the guest's ESC[6n here and drop it.
  // (Headless, the console's clients are terminals of their own: they answer.)
  const queries = process.stdout.isTTY || headless ? undefined : new CursorQueries((reply) => vm.input(reply));
  const typeLine = (b: Uint8Array) => {
    lineTypedAt = performance.now();
    queries?.inputSent();
    vm.input(b);
    inputGate?.update();
  };
  // A restored guest sits at its prompt already: the first piped line is typed at once.
  const piped = process.stdin.isTTY || headless ? undefined : new PipedInput(typeLine, Boolean(restorePath));
  let idleTimer: ReturnType<typeof setInterval> | undefined = undefined; // set once the console starts
  const onRebooted = () => {
    piped?.rebooted();
    qmpTarget?.vmRebooted();
  };
  let saving = false;
  /** A --save-on-exit snapshot could not be written: the exit status is 1 however the VM stopped. */
  let saveFailed = false;
  let opened: VmSpecDisk[] = [];
  /** The first disk boots because it has a partition table (not because --boot disk said so). */
  let autoDiskBoot = false;

  // While stdout is behind, the guest's console devices stop consuming (the guest waits); a
  // closed stdout drops the output and the guest runs on.
  const stdout = headless
    ? undefined
    : new StreamOutput(process.stdout, { hold: () => vm.holdOutput(), release: () => vm.releaseOutput() });
  let consoleLog: ConsoleLog | undefined;
  let console_: HostConsole | undefined;
  let consoleServer: ConsoleServer | undefined;
  let qmpTarget: SessionQmpTarget | undefined;
  let qmpServer: QmpServer | undefined;
  // Output comes in chunks bounded per VM turn: the log and the console's clients never make the
  // VM buffer (a client that does not read is dropped; the log is written at once).
  const onOutput = (raw: Uint8Array) => {
    consoleLog?.write(raw);
    if (!stdout) {
      consoleServer?.output(raw);
      return;
    }
    const bytes = queries ? queries.filter(raw) : raw;
    if (!bytes.length) return;
    stdout.write(bytes);
    piped?.output(bytes);
  };
  /**
   * Piped lines read by a program that shows no prompt (`cat > f`, a here-document): once the
   * guest has been idle and silent this long after a line, the next one is typed anyway.
   */
  const LINE_IDLE_MS = 1500;
  const pipedIdleCheck = () => {
    if (!piped?.waiting || !vm.idle) return;
    if (vm.msSinceOutput >= LINE_IDLE_MS && performance.now() - lineTypedAt >= LINE_IDLE_MS) piped.idle();
  };
  /**
   * --save-on-exit with piped input: once stdin has ended, save when the guest has taken every
   * typed byte, sits at a prompt, has printed nothing for a while and all harts wait for interrupts.
   */
  const IDLE_MS = 750;
  const saveWhenIdle = () => {
    if (saving || vm.stopped) return;
    const quiet = vm.msSinceOutput >= IDLE_MS;
    const typed = !piped || piped.done;
    if (typed && vm.atPrompt && quiet && vm.idle) void saveAndQuit();
    else setTimeout(saveWhenIdle, 250);
  };
  const onStopped = (r: StopReason, text: string) => {
    console_?.stop();
    if (queries) stdout?.write(queries.flush());
    stdout?.close();
    clearInterval(idleTimer);
    qmpTarget?.vmStopped(r);
    const how = classifyStop(r);
    // A quit or poweroff is silent; a restored VM that cannot reboot powers off instead.
    // A disk chosen for booting by its partition table may be a data disk (partitioned in a guest).
    const hint =
      r.kind === 'no-boot' && autoDiskBoot ? ' (--boot guest boots the default guest with the disk attached)' : '';
    if (how !== 'clean')
      process.stderr.write(`\nvirtkit: ${text}${how === 'cannot-reboot' ? ': powering off' : ''}${hint}\n`);
    exitCode = EXIT_STATUS[how];
    if (saveFailed && exitCode === 0) exitCode = 1;
    done(exitCode);
  };

  /**
   * The snapshot, with each disk's identity taken while the VM is paused and its I/O drained.
   * With `diskSnapshot` (QMP x-virtkit-savevm), an internal snapshot of that name is also taken
   * in every writable disk in the same pause, so the disks can be reverted to exactly the state
   * the RAM image expects (`virtkit img snapshot -a TAG`); the identities recorded are then the
   * reverted disks' too, so a restore accepts them and still refuses any other disk.
   */
  const snapshotWithDisks = (
    diskSnapshot?: string,
    created: BlockBackend[] = [],
    atPoint?: () => void,
  ): Promise<Uint8Array> =>
    vm.save(async () => {
      const disks: SavedDisk[] = [];
      for (const [i, d] of opened.entries()) {
        const spec = diskSpecs[i]!;
        const identity = await fingerprintDisk(d.backend);
        const rec: SavedDisk = { path: spec.path, format: identity.format, readOnly: spec.readOnly, identity };
        if (diskSnapshot !== undefined && !spec.readOnly && hasSnapshots(d.backend)) {
          await d.backend.createSnapshot(diskSnapshot);
          created.push(d.backend);
          await d.backend.flush();
          rec.diskSnapshot = diskSnapshot;
        }
        disks.push(rec);
      }
      atPoint?.();
      return buildSavedConfig({ append: guestAppend, nets: netTexts, disks, boot: bootRecord });
    });
  const writeSnapshot = async (path: string, diskSnapshot?: string, created?: BlockBackend[], atPoint?: () => void) => {
    const bytes = await snapshotWithDisks(diskSnapshot, created, atPoint);
    try {
      await writeFile(path + '.tmp', bytes);
      await rename(path + '.tmp', path);
    } catch (e) {
      await unlink(path + '.tmp').catch(() => {});
      throw e;
    }
    if (!headless)
      process.stderr.write(`\r\nvirtkit: snapshot saved to ${path} (${(bytes.length / 1048576).toFixed(1)} MiB)\r\n`);
  };
  /** QMP x-virtkit-savevm {tag, state-file} (docs/manager.md). */
  const saveVm = async (tag: string, stateFile: string, atPoint?: () => void) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(tag))
      throw new QmpError('GenericError', `tag ${JSON.stringify(tag)}: use 1-64 letters, digits, '.', '_' or '-'`);
    const target = resolve(stateFile);
    const why = await saveTargetProblem(target);
    if (why) throw new QmpError('GenericError', `state-file ${why}`);
    const writable = opened.map((d, i) => ({ d, spec: diskSpecs[i]! })).filter((x) => !x.spec.readOnly);
    for (const { d, spec } of writable) {
      if (!hasSnapshots(d.backend))
        throw new QmpError(
          'GenericError',
          `disk ${spec.path} is ${d.backend.format}, not qcow2: savevm needs an internal snapshot in every writable disk (attach it readonly, or convert it to qcow2)`,
        );
      if ((await d.backend.listSnapshots()).some((x) => x.name === tag))
        throw new QmpError('GenericError', `disk ${spec.path} already has a snapshot named '${tag}'`);
    }
    const created: BlockBackend[] = [];
    try {
      await writeSnapshot(target, tag, created, atPoint);
    } catch (e) {
      // Without its state file a disk snapshot is half a savevm: take back out the ones this call made.
      for (const b of created) if (hasSnapshots(b)) await b.deleteSnapshot(tag).catch(() => {});
      throw new QmpError('GenericError', `savevm failed: ${oneLine(e)}`);
    }
    return {};
  };
  /**
   * QMP x-virtkit-save-and-quit {state-file} (docs/manager.md): the VM is moving elsewhere (a
   * browser tab). Paused first and kept paused, so nothing the guest does after the state file
   * reaches the disks; then quit as `quit` does (disks flushed and closed, exit status 0). If the
   * file cannot be written the VM runs on as it was.
   */
  const saveAndLeave = async (stateFile: string) => {
    const target = resolve(stateFile);
    const why = await saveTargetProblem(target);
    if (why) throw new QmpError('GenericError', `state-file ${why}`);
    if (saving || vm.stopped) throw new QmpError('GenericError', 'the VM is already quitting');
    const wasRunning = vm.pause();
    try {
      await writeSnapshot(target);
    } catch (e) {
      if (wasRunning) vm.resume();
      throw new QmpError('GenericError', `save failed: ${oneLine(e)}`);
    }
    saving = true;
    // After the answer is on its way: the process then ends as after quit.
    setImmediate(() => vm.stop({ kind: 'quit' }));
    return {};
  };
  const saveAndQuit = async () => {
    if (saving || vm.stopped) return;
    saving = true;
    try {
      if (savePath) await writeSnapshot(savePath);
    } catch (e) {
      process.stderr.write(`\r\nvirtkit: cannot save the snapshot to ${savePath}: ${oneLine(e)}\r\n`);
      saveFailed = true;
    }
    vm.stop({ kind: 'quit' });
  };

  if (savePath) {
    const why = await saveTargetProblem(savePath);
    if (why) throw new UsageError(`--save-on-exit ${why}`);
  }
  const profilePath = f.profile === undefined ? undefined : resolve(f.profile as string);
  if (f['profile-symbols'] !== undefined && !profilePath) throw new UsageError('--profile-symbols needs --profile FILE');
  if (profilePath) {
    const why = await saveTargetProblem(profilePath);
    if (why) throw new UsageError(`--profile ${why}`);
  }
  let profileSymbols: SymbolTable | undefined;
  if (f['profile-symbols'] !== undefined) {
    const map = await readInput(resolve(f['profile-symbols'] as string), 'System.map');
    try {
      profileSymbols = SymbolTable.parse(new TextDecoder().decode(map));
    } catch (e) {
      throw new UsageError(`--profile-symbols ${f['profile-symbols'] as string}: ${oneLine(e)}`);
    }
  }
  let profiler: GuestProfiler | undefined;
  if (f['console-log'] !== undefined) {
    try {
      consoleLog = new ConsoleLog(resolve(f['console-log'] as string), (m) =>
        process.stderr.write(`\r\nvirtkit: ${m}\r\n`),
      );
    } catch (e) {
      throw new UsageError(`--console-log: ${oneLine(e)}`);
    }
  }
  try {
    if (restorePath) {
      const bytes = await readInput(restorePath, 'snapshot');
      vm = await VmSession.restore(
        bytes,
        async (saved) => {
          const web = (saved as { web?: { disks?: unknown[] } } | undefined)?.web;
          if (Array.isArray(web?.disks) && web.disks.length && !Array.isArray((saved as { disks?: unknown }).disks))
            throw new SnapshotError(
              'this snapshot was saved in a browser tab with disks attached (with the changes made in the tab): restore it in the page (virtkit web)',
            );
          const cfg = readConfig(saved);
          opened = await openRestoredDisks(cfg.disks, diskSpecs);
          if (netTexts.length !== cfg.nets.length)
            throw new UsageError(
              `the snapshot was saved with ${cfg.nets.length} NIC(s): give as many --net (${netTexts.length} given)`,
            );
          guestAppend = cfg.append;
          bootRecord = cfg.boot;
          // A guest reboot reads the boot files again; a snapshot without a record cannot reboot.
          const reloadBoot = async () =>
            reloadBootFiles(
              readBootRecord(new StateReader('snapshot', bootRecord, undefined, 'meta.config.boot')),
              vm.memoryBytes,
            );
          return {
            disks: opened,
            append: cfg.append,
            nics: await openNets(netTexts),
            reloadBoot,
            ...(tier !== undefined ? { tier } : {}),
          };
        },
        nodeHost,
        { output: onOutput, stopped: onStopped, rebooted: onRebooted },
      );
      if (netSetup) netSetup.describeNics = () => vm.describeNics();
    } else {
      // Disks first: a bad --disk is reported before the default guest is downloaded.
      const disks = await openDisks(diskSpecs);
      opened = disks;
      let kernelPath = f.kernel as string | undefined;
      let initrdPath = f.initrd as string | undefined;
      let firmwarePath = f.firmware as string | undefined;
      const diskBoot = !kernelPath && (await bootsFromDisk(bootChoice, disks[0]));
      if (diskBoot) {
        autoDiskBoot = !bootChoice;
        if (initrdPath)
          throw new UsageError(
            '--initrd needs --kernel: a disk boot loads the initrd its extlinux.conf names (or add --boot guest to boot the default guest with the disk attached)',
          );
        const fw = await import('../host/node/guest/firmware.ts');
        let got = await fw.loadFirmware();
        if (!got) {
          process.stderr.write('virtkit: booting from the disk: fetching the firmware (OpenSBI and U-Boot) first\n');
          got = await fw.fetchFirmware({ progress: (m) => process.stderr.write(`virtkit firmware: ${m}\n`) });
        }
        kernelPath = got.uboot;
        firmwarePath ??= got.fwJump;
      } else if (!kernelPath) {
        if (f.firmware) throw new UsageError('--firmware needs --kernel (or use --firmware none for a bare-metal ELF)');
        const guest = await import('../host/node/guest/debian-guest.ts');
        let g = await guest.loadGuest();
        if (!g) {
          process.stderr.write("virtkit: the default guest is not cached yet: fetching it ('virtkit guest fetch')\n");
          g = await guest.fetchDefaultGuest({ progress: (m) => process.stderr.write(`virtkit guest: ${m}\n`) });
        }
        kernelPath = g.kernel;
        initrdPath ??= g.initrd;
      }
      // Headless there is no terminal to measure: the guest's default (80 columns) stands. A disk
      // boot's kernel command line is extlinux.conf's (U-Boot replaces the device tree's).
      const append =
        (f.append as string | undefined) ??
        (diskBoot ? '' : `console=ttyS0${headless ? '' : consoleEnvironment(process.stdout)}`);
      guestAppend = append;
      const nics = await openNets(netTexts);
      const booted = await bootFromFiles(
        { kernel: kernelPath, initrd: initrdPath, firmware: firmwarePath },
        { memoryBytes, cpus, cpu, append, disks, nics, ...(tier !== undefined ? { tier } : {}) },
        { output: onOutput, stopped: onStopped, rebooted: onRebooted },
      );
      vm = booted.vm;
      bootRecord = booted.record;
      if (netSetup) netSetup.describeNics = () => vm.describeNics();
    }
    if (profilePath) {
      profiler = new GuestProfiler(nodeHost.nowMs());
      vm.profileWith(profiler);
    }
    // The control sockets listen before the VM starts (and before the pidfile is written), so a
    // manager that sees the pidfile can connect at once.
    if (qmpPath) {
      qmpTarget = new SessionQmpTarget(() => vm, {
        version: qmpVersion(packageVersion(), `virtkit ${packageVersion()}`),
        quit: () => void saveAndQuit(),
        hostStats: () => {
          const u = process.cpuUsage();
          return { cpuMs: (u.user + u.system) / 1000, rss: process.memoryUsage.rss() };
        },
      });
      qmpTarget.monitor.register('x-virtkit-savevm', {
        args: { tag: { type: 'string' }, 'state-file': { type: 'string' } },
        run: (args) => saveVm(args.tag as string, args['state-file'] as string),
      });
      qmpTarget.monitor.register('x-virtkit-save-and-quit', {
        args: { 'state-file': { type: 'string' } },
        run: (args) => saveAndLeave(args['state-file'] as string),
      });
      // Dirty bitmaps from here on: what the guest writes once it starts (docs/manager.md "Backups").
      const tracking = new BackupTracking();
      for (const d of opened) tracking.track(d.backend);
      tracking.register(qmpTarget.monitor, {
        disks: () => opened.map((d, i) => ({ backend: d.backend, readOnly: d.readOnly, path: diskSpecs[i]!.path })),
        quiesce: (fn) => vm.quiesce(fn),
        saveWithState: async (tag, stateFile, atPoint) => {
          await saveVm(tag, stateFile, atPoint);
        },
      });
      qmpServer = await QmpServer.listen(qmpPath, qmpTarget.monitor);
    }
    if (consolePath) {
      consoleServer = await ConsoleServer.listen(consolePath, {
        input: (b) => {
          vm.input(b);
          inputGate?.update();
        },
      });
      // Clients pause while the guest has a backlog of typed bytes (rechecked every idle tick).
      inputGate = new InputGate(() => vm.pendingInputBytes, consoleServer);
    }
    if (pidPath) {
      try {
        // Whole or not at all: a manager polling for the file never reads it half-written.
        await writeFile(`${pidPath}.tmp`, `${process.pid}\n`);
        await rename(`${pidPath}.tmp`, pidPath);
      } catch (e) {
        throw new UsageError(`--pidfile ${pidPath}: ${describeError(e)}`);
      }
    }
  } catch (e) {
    netSetup?.close(); // listening sockets would keep the process alive
    await qmpServer?.close();
    await consoleServer?.close();
    consoleLog?.close();
    for (const d of opened) await d.backend.close().catch(() => {}); // releases their image locks
    if (e instanceof BoardConfigError || e instanceof SnapshotError || e instanceof VmSpecError)
      throw new UsageError(e.message);
    if (e instanceof SocketPathError) throw e.busy ? new CliError(e.message, 1) : new UsageError(e.message);
    throw e;
  }

  if (!headless)
    console_ = new HostConsole({
      input: (b) => {
        if (piped) {
          piped.push(b);
          inputGate?.update();
        } else {
          queries?.inputSent();
          vm.input(b);
        }
      },
      quit: () => void saveAndQuit(),
      snapshot: () => {
        const path = savePath ?? `virtkit-${new Date().toISOString().replace(/[:.]/g, '-')}.snap`;
        // A failed save is reported and the VM runs on (a quit with --save-on-exit tries again).
        writeSnapshot(path).catch((e) =>
          process.stderr.write(`\r\nvirtkit: cannot save the snapshot to ${path}: ${oneLine(e)}\r\n`),
        );
      },
      powerButton: () => {
        if (!vm.pressPowerButton())
          process.stderr.write('\r\nvirtkit: the guest has no driver for the power button (yet): nothing pressed\r\n');
      },
      end: () => {
        piped?.end();
        // With --save-on-exit, the snapshot is taken once the guest has answered every piped line (see onOutput).
        if (savePath) saveWhenIdle();
      },
    });
  // Piped input waits in PipedInput (and the VM) for the guest's prompts: pause the pipe while
  // too much of it waits. (Typing at a terminal cannot outrun MAX_PENDING_INPUT.)
  if (piped && console_) inputGate = new InputGate(() => piped.pendingBytes + vm.pendingInputBytes, console_);
  console_?.start();
  idleTimer = piped
    ? setInterval(pipedIdleCheck, 250)
    : headless
      ? setInterval(() => inputGate?.update(), 250)
      : undefined;
  const onSignal = () => {
    qmpTarget?.announceShutdown('host-signal');
    void saveAndQuit();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // SIGHUP (the terminal or SSH session closed) quits as SIGTERM does, as QEMU treats it. It stays
  // handled: a hangup is often signalled twice (the terminal, then the shell), and a second one
  // must not kill the process in the middle of flushing or saving. Writes to a hung-up terminal
  // fail (EIO): they are dropped rather than crashing the exit.
  const onHangup = () => {
    process.stderr.on('error', () => {});
    process.stdout.on('error', () => {});
    qmpTarget?.announceShutdown('host-signal');
    void saveAndQuit();
  };
  process.on('SIGHUP', onHangup);
  vm.start();
  const code = await finished;
  netSetup?.close();
  // Clients get what is queued for them (quit's answer, SHUTDOWN) before their sockets close.
  await qmpServer?.close();
  await consoleServer?.close();
  consoleLog?.close();
  if (pidPath) await unlink(pidPath).catch(() => {});
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  // Disks are flushed and closed on every exit path, so what the guest wrote is on the host.
  const closeFailed = await vm.closeDisks(true);
  process.off('SIGHUP', onHangup); // only now: the disks are flushed
  if (closeFailed) {
    process.stderr.write(`virtkit: flushing a disk failed: ${closeFailed.message}\n`);
    if (code === 0) return 1;
  }
  if (profiler && profilePath) {
    const report = profiler.report(nodeHost.nowMs(), profileSymbols);
    const text = profilePath.endsWith('.json') ? JSON.stringify(report, null, 2) + '\n' : formatProfile(report);
    try {
      await writeFile(profilePath, text);
      process.stderr.write(`virtkit: profile written to ${profilePath}\n`);
    } catch (e) {
      process.stderr.write(`virtkit: cannot write the profile to ${profilePath}: ${oneLine(e)}\n`);
      if (code === 0) return 1;
    }
  }
  if (f.stats) {
    // The first stats() of the session: its MIPS are over the whole run.
    const { instret: n, seconds: secs, mips } = vm.stats();
    const rss = process.resourceUsage().maxRSS / 1024;
    process.stderr.write(
      `virtkit: ${n} instructions in ${secs.toFixed(2)} s (${mips.toFixed(1)} MIPS), peak RSS ${rss.toFixed(0)} MiB\n`,
    );
    if (wasmStats.windows > 0)
      process.stderr.write(
        `virtkit: wasm tier: ${wasmStats.windows} pages translated, ${(wasmStats.bytes / 1024).toFixed(0)} KiB of wasm, ${wasmStats.compileMs.toFixed(0)} ms compiling (main thread)\n`,
      );
  }
  return code;
}
