/**
 * What a VM is, as a front end hands it to a VmSession: memory, CPUs, boot files, kernel command
 * line, disks and NICs. The host opens every file, disk and socket and hands in bytes and
 * backends; nothing here opens anything. Versioned (`version`), so the manager daemon and other
 * callers that build a spec from stored data say which shape they mean.
 *
 * validateVmSpec() checks the whole spec before a board is built and names the bad field
 * ("VM spec: disks[1].readOnly: must be true or false"); the board's own checks (a kernel image
 * it cannot load) still follow as BoardConfigError.
 */
import { CPU_MODELS, type CpuModel } from '../riscv/cpu-config.ts';
import { TIERS, type Tier } from '../riscv/tier.ts';
import { MAX_CPUS, MAX_MEMORY_BYTES, MIN_MEMORY_BYTES, VIRT_DEVICE_SLOTS } from '../machine/virt.ts';
import type { BlockBackend } from '../storage/types.ts';
import type { NetBackend } from '../net/types.ts';

export const VM_SPEC_VERSION = 1;
/** The longest kernel command line a spec may carry (Linux's own limit on RISC-V is 1 KiB; the FDT holds more). */
export const MAX_APPEND = 64 * 1024;
const MiB = 1024 * 1024;

export interface VmSpecDisk {
  backend: BlockBackend;
  readOnly: boolean;
  /** Where the disk came from (a host path, a URL, a file name): for messages and snapshot records, never opened by virtkit. */
  source: string;
  /** The image format the host asked for (absent: detected from the contents). */
  format?: string;
}

export interface VmSpecNic {
  backend: NetBackend;
  /** Default: 52:54:00:12:34:56 + the NIC's index. */
  mac?: Uint8Array;
}

/** The boot files as bytes the host read. A kernel, or a firmware (which may run a bare-metal ELF), is required. */
export interface VmBootFiles {
  kernel?: Uint8Array;
  initrd?: Uint8Array;
  firmware?: Uint8Array;
}

export interface VmSpec {
  version: typeof VM_SPEC_VERSION;
  memoryBytes: number;
  cpus: number;
  /** The CPU model (`--cpu`; default: DEFAULT_CPU_MODEL of riscv/cpu-config.ts). */
  cpu?: CpuModel;
  boot: VmBootFiles;
  append: string;
  disks: VmSpecDisk[];
  nics: VmSpecNic[];
  /** Use the translation tier (default true). */
  translate?: boolean;
  /** Execution tier (`--tier`: interp, js or wasm; default wasm where available, else js); wins over `translate`. */
  tier?: Tier;
  /**
   * Reads the boot files again, checked unchanged, for a reboot. When given, the VM does not keep
   * `boot` in memory once the board has loaded it (tens of MiB per VM): a reboot asks for the files.
   */
  reloadBoot?: () => Promise<VmBootFiles>;
}

/**
 * The devices a restored VM is given (memory, CPUs and RAM come from the snapshot), and the
 * kernel command line a reboot boots with.
 */
export type VmAttachments = Pick<VmSpec, 'disks' | 'nics' | 'translate' | 'tier'> & { append?: string };

export class VmSpecError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`VM spec: ${field}: ${problem}`);
    this.name = 'VmSpecError';
  }
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const hasMethods = (v: unknown, names: string[]) => isObject(v) && names.every((n) => typeof v[n] === 'function');

function checkBootFile(boot: Record<string, unknown>, name: keyof VmBootFiles): void {
  const v = boot[name];
  if (v === undefined) return;
  if (!isBytes(v)) throw new VmSpecError(`boot.${name}`, 'must be bytes (a Uint8Array)');
  if (v.length === 0) throw new VmSpecError(`boot.${name}`, 'is empty');
}

/** Checks the devices (shared by a boot's spec and a restore's attachments). */
function checkDevices(spec: Record<string, unknown>): void {
  const { disks, nics } = spec;
  if (!Array.isArray(disks)) throw new VmSpecError('disks', 'must be a list');
  if (!Array.isArray(nics)) throw new VmSpecError('nics', 'must be a list');
  if (disks.length + nics.length > VIRT_DEVICE_SLOTS)
    throw new VmSpecError('disks', `at most ${VIRT_DEVICE_SLOTS} disks and NICs fit in the board's virtio slots`);
  disks.forEach((d: unknown, i) => {
    const at = `disks[${i}]`;
    if (!isObject(d)) throw new VmSpecError(at, 'must be an object');
    if (!hasMethods(d.backend, ['read', 'write', 'flush', 'close']))
      throw new VmSpecError(`${at}.backend`, 'must be a block backend (read, write, flush, close)');
    if (typeof d.readOnly !== 'boolean') throw new VmSpecError(`${at}.readOnly`, 'must be true or false');
    if (typeof d.source !== 'string' || d.source.length > 4096)
      throw new VmSpecError(`${at}.source`, 'must be a string of at most 4096 characters');
    if (d.format !== undefined && typeof d.format !== 'string')
      throw new VmSpecError(`${at}.format`, 'must be a string');
  });
  nics.forEach((n: unknown, i) => {
    const at = `nics[${i}]`;
    if (!isObject(n)) throw new VmSpecError(at, 'must be an object');
    if (!hasMethods(n.backend, ['transmit', 'connect']))
      throw new VmSpecError(`${at}.backend`, 'must be a network backend (transmit, connect)');
    if (n.mac !== undefined && !(isBytes(n.mac) && n.mac.length === 6))
      throw new VmSpecError(`${at}.mac`, 'must be 6 bytes');
  });
  if (spec.translate !== undefined && typeof spec.translate !== 'boolean')
    throw new VmSpecError('translate', 'must be true or false');
  if (spec.tier !== undefined && !(TIERS as readonly unknown[]).includes(spec.tier))
    throw new VmSpecError('tier', `must be one of ${TIERS.join(', ')}, not ${String(spec.tier).slice(0, 20)}`);
}

/** Checks a whole spec; throws a VmSpecError naming the first bad field. */
export function validateVmSpec(spec: unknown): VmSpec {
  if (!isObject(spec)) throw new VmSpecError('spec', 'must be an object');
  if (spec.version !== VM_SPEC_VERSION)
    throw new VmSpecError(
      'version',
      `${JSON.stringify(spec.version)?.slice(0, 20)} is not supported (this virtkit reads ${VM_SPEC_VERSION})`,
    );
  const m = spec.memoryBytes;
  if (
    typeof m !== 'number' ||
    !Number.isSafeInteger(m) ||
    m % MiB !== 0 ||
    m < MIN_MEMORY_BYTES ||
    m > MAX_MEMORY_BYTES
  )
    throw new VmSpecError(
      'memoryBytes',
      `must be a whole number of MiB between 16 MiB and 4 GiB, not ${String(m).slice(0, 20)}`,
    );
  const c = spec.cpus;
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > MAX_CPUS)
    throw new VmSpecError('cpus', `must be an integer 1..${MAX_CPUS}, not ${String(c).slice(0, 20)}`);
  if (spec.cpu !== undefined && !(CPU_MODELS as readonly unknown[]).includes(spec.cpu))
    throw new VmSpecError('cpu', `must be one of ${CPU_MODELS.join(', ')}, not ${String(spec.cpu).slice(0, 20)}`);
  const boot = spec.boot;
  if (!isObject(boot)) throw new VmSpecError('boot', 'must be an object');
  checkBootFile(boot, 'kernel');
  checkBootFile(boot, 'initrd');
  checkBootFile(boot, 'firmware');
  if (!boot.kernel && !boot.firmware) throw new VmSpecError('boot', 'nothing to boot: give a kernel or a firmware');
  if (boot.initrd && !boot.kernel) throw new VmSpecError('boot.initrd', 'an initrd needs a kernel');
  if (typeof spec.append !== 'string' || spec.append.length > MAX_APPEND)
    throw new VmSpecError('append', `must be a string of at most ${MAX_APPEND} characters`);
  checkDevices(spec);
  if (spec.reloadBoot !== undefined && typeof spec.reloadBoot !== 'function')
    throw new VmSpecError('reloadBoot', 'must be a function');
  return spec as unknown as VmSpec;
}

/** Checks what a restore attaches; throws a VmSpecError naming the first bad field. */
export function validateAttachments(a: unknown): VmAttachments {
  if (!isObject(a)) throw new VmSpecError('spec', 'must be an object');
  if (a.append !== undefined && (typeof a.append !== 'string' || a.append.length > MAX_APPEND))
    throw new VmSpecError('append', `must be a string of at most ${MAX_APPEND} characters`);
  checkDevices(a);
  return a as unknown as VmAttachments;
}
