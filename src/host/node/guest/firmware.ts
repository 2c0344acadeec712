/**
 * The boot firmware a disk boots through, as on a real RISC-V board: Debian trixie's OpenSBI
 * (M-mode, `fw_jump.bin`) and U-Boot's S-mode build for QEMU's virt board (`u-boot.bin`, which
 * reads extlinux.conf from the disk). Both packages are Architecture: all; they are fetched with
 * `apt-get download` through the same private apt configuration as the default guest (apt.ts),
 * so the host's apt state is never read or changed.
 *
 * Cache layout (under cacheDir()):
 *   firmware/fw_jump.bin      OpenSBI generic platform, jumps to RAM base + 2 MiB
 *   firmware/fw_dynamic.bin   OpenSBI generic platform, told where to go by fw_dynamic_info
 *   firmware/u-boot.bin       U-Boot qemu-riscv64_smode, linked at 0x80200000
 *   firmware/firmware.json    package versions and file names (FirmwareInfo)
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from '../cache-dir.ts';
import { trixieApt } from './apt.ts';
import { GuestFetchError } from './errors.ts';

const run = promisify(execFile);

/** Bumped when the set or meaning of the cached files changes: another layout is fetched again. */
export const FIRMWARE_LAYOUT = 1;

export const OPENSBI_PACKAGE = 'opensbi';
export const UBOOT_PACKAGE = 'u-boot-qemu';

/** Where each file sits inside its package (dpkg-deb -c). */
const FILES = {
  fwJump: { pkg: OPENSBI_PACKAGE, path: 'usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin', name: 'fw_jump.bin' },
  fwDynamic: {
    pkg: OPENSBI_PACKAGE,
    path: 'usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin',
    name: 'fw_dynamic.bin',
  },
  uboot: { pkg: UBOOT_PACKAGE, path: 'usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin', name: 'u-boot.bin' },
} as const;

export interface FirmwareInfo {
  dir: string;
  /** OpenSBI fw_jump.bin: the M-mode firmware of a disk boot. */
  fwJump: string;
  fwDynamic: string;
  /** U-Boot qemu-riscv64_smode/u-boot.bin: the S-mode loader booted as the "kernel". */
  uboot: string;
  opensbiVersion: string;
  ubootVersion: string;
  fetchedAt: string;
  layout: number;
}

export function firmwareDir(): string {
  return join(cacheDir(), 'firmware');
}

/**
 * The cached firmware, or undefined when it is missing, incomplete, unreadable or of another
 * layout. Files are looked up beside firmware.json, so a moved cache still works.
 */
export async function loadFirmware(): Promise<FirmwareInfo | undefined> {
  const dir = firmwareDir();
  try {
    const info = JSON.parse(await readFile(join(dir, 'firmware.json'), 'utf8')) as FirmwareInfo;
    if (!info || typeof info !== 'object' || info.layout !== FIRMWARE_LAYOUT) return undefined;
    const texts = [info.fwJump, info.fwDynamic, info.uboot, info.opensbiVersion, info.ubootVersion];
    if (texts.some((t) => typeof t !== 'string')) return undefined;
    const located: FirmwareInfo = {
      ...info,
      dir,
      fwJump: join(dir, basename(info.fwJump)),
      fwDynamic: join(dir, basename(info.fwDynamic)),
      uboot: join(dir, basename(info.uboot)),
    };
    for (const f of [located.fwJump, located.fwDynamic, located.uboot]) {
      const s = await stat(f);
      if (!s.isFile() || s.size === 0) return undefined;
    }
    return located;
  } catch {
    return undefined;
  }
}

/** Fetches OpenSBI and U-Boot into the cache (unless cached and not `force`). Throws GuestFetchError. */
export async function fetchFirmware(
  opts: { force?: boolean; progress?: (msg: string) => void } = {},
): Promise<FirmwareInfo> {
  const say = opts.progress ?? (() => {});
  if (!opts.force) {
    const have = await loadFirmware();
    if (have) return have;
  }
  const root = cacheDir();
  const apt = await trixieApt(root, say);
  const opensbiVersion = await apt.version(OPENSBI_PACKAGE);
  const ubootVersion = await apt.version(UBOOT_PACKAGE);
  say(`downloading ${OPENSBI_PACKAGE} ${opensbiVersion} and ${UBOOT_PACKAGE} ${ubootVersion}`);
  const [opensbiDeb, ubootDeb] = await apt.download([OPENSBI_PACKAGE, UBOOT_PACKAGE], join(root, 'debs'));
  const debs: Record<string, string> = { [OPENSBI_PACKAGE]: opensbiDeb!, [UBOOT_PACKAGE]: ubootDeb! };

  await mkdir(root, { recursive: true });
  const work = await mkdtemp(join(root, 'unpack-'));
  try {
    say('unpacking the firmware');
    for (const [pkg, deb] of Object.entries(debs)) {
      try {
        await run('dpkg-deb', ['-x', deb, join(work, pkg)], { maxBuffer: 16 * 1024 * 1024 });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'ENOENT')
          throw new GuestFetchError("dpkg-deb not found: virtkit unpacks firmware with Debian's dpkg-deb");
        throw new GuestFetchError(`cannot unpack ${deb}: ${err.message.split('\n')[0]}`);
      }
    }
    const dir = firmwareDir();
    await mkdir(dir, { recursive: true });
    for (const f of Object.values(FILES)) {
      const from = join(work, f.pkg, f.path);
      try {
        if (!(await stat(from)).isFile()) throw new Error('not a file');
      } catch {
        throw new GuestFetchError(`${f.pkg} contains no /${f.path}`);
      }
      // Copy then rename: an interrupted fetch never leaves a half-written file under its name.
      await copyFile(from, join(dir, f.name + '.tmp'));
      await rename(join(dir, f.name + '.tmp'), join(dir, f.name));
    }
    const info: FirmwareInfo = {
      dir,
      fwJump: join(dir, FILES.fwJump.name),
      fwDynamic: join(dir, FILES.fwDynamic.name),
      uboot: join(dir, FILES.uboot.name),
      opensbiVersion,
      ubootVersion,
      fetchedAt: new Date().toISOString(),
      layout: FIRMWARE_LAYOUT,
    };
    await writeFile(join(dir, 'firmware.json.tmp'), JSON.stringify(info, null, 2) + '\n');
    await rename(join(dir, 'firmware.json.tmp'), join(dir, 'firmware.json'));
    return info;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
