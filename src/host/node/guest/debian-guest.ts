/**
 * The default guest: Debian trixie's riscv64 kernel and busybox-static, fetched with apt-get
 * download through a private apt configuration, turned into a kernel Image plus an initramfs
 * that loads the virtio modules and starts a shell on the serial console.
 *
 * Cache layout (under cacheDir()):
 *   apt/                         private apt root (config, lists, no host state)
 *   debs/                        downloaded .deb files
 *   guests/<name>/Image          the kernel (Debian ships the EFI-stub Image as /boot/vmlinux-*)
 *   guests/<name>/initramfs.cpio newc archive built by src/machine/cpio.ts
 *   guests/<name>/guest.json     what was fetched (versions, modules)
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile, rename, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { writeCpio, type CpioEntry } from '../../../machine/cpio.ts';
import { GuestFetchError } from './errors.ts';
import { cacheDir } from '../cache-dir.ts';
import { trixieApt } from './apt.ts';
import { indexModules, resolveModules } from './modules.ts';
import { MODPROBE_PATH, modprobeEntries, modprobeScript } from './modprobe.ts';
import { UDHCPC_DEBIAN_PATH, UDHCPC_SCRIPT, UDHCPC_SCRIPT_PATH } from '../net/udhcpc-script.ts';

const run = promisify(execFile);

export const DEFAULT_GUEST = 'debian-trixie-riscv64';
/**
 * virtio transport plus the device drivers the virt board offers; dependencies are added
 * automatically. virtio_input and evdev make the power button /dev/input/event0 (the kernel has
 * input-core built in, both of these as modules).
 */
export const GUEST_MODULES = [
  'virtio_mmio',
  'virtio_blk',
  'virtio_net',
  'virtio_console',
  'virtio_rng',
  'virtio_input',
  'evdev',
];
/**
 * Filesystems for disks, loaded on demand by the guest's modprobe (modprobe.ts): ext4 (which also mounts ext2/ext3; busybox mke2fs makes ext2) and vfat
 * with the code pages its defaults ask for (codepage 437, iocharset ascii; utf8 for iocharset=utf8).
 * crc32c_generic is only a soft dependency of ext4 and jbd2 (modinfo softdep, not depends=), so it
 * is named here: ext4 with metadata_csum, mkfs.ext4's default, cannot mount without it.
 */
export const FS_MODULES = ['crc32c_generic', 'ext4', 'vfat', 'nls_cp437', 'nls_ascii', 'nls_utf8'];

export interface GuestInfo {
  name: string;
  dir: string;
  kernel: string;
  initrd: string;
  kernelPackage: string;
  kernelVersion: string;
  busyboxVersion: string;
  modules: string[];
  fetchedAt: string;
  /** GUEST_LAYOUT of the virtkit that built it: an older cached guest is rebuilt automatically. */
  layout?: number;
}

/**
 * Bumped whenever the initramfs contents change (2: udhcpc default script; 3: ext4/vfat modules,
 * mkfs.ext2/mkfs.vfat, DHCP at boot; 4: the power button: virtio_input, evdev, acpid, a clean
 * power-off when the shell ends).
 */
export const GUEST_LAYOUT = 4;

export function guestDir(name = DEFAULT_GUEST): string {
  return join(cacheDir(), 'guests', name);
}

/**
 * The cached guest `name`, or undefined if it is missing, incomplete, unreadable or of an older
 * layout. The files are looked up beside guest.json, whatever absolute paths it recorded, so a
 * cache directory that was moved or copied (VIRTKIT_CACHE elsewhere) still works.
 */
export async function loadGuest(name = DEFAULT_GUEST): Promise<GuestInfo | undefined> {
  const dir = guestDir(name);
  try {
    const info = JSON.parse(await readFile(join(dir, 'guest.json'), 'utf8')) as GuestInfo;
    if (!info || typeof info !== 'object' || info.layout !== GUEST_LAYOUT) return undefined;
    const texts = [info.name, info.kernel, info.initrd, info.kernelVersion, info.busyboxVersion];
    if (texts.some((t) => typeof t !== 'string')) return undefined;
    if (!Array.isArray(info.modules) || info.modules.some((m) => typeof m !== 'string')) return undefined;
    const located: GuestInfo = {
      ...info,
      dir,
      kernel: join(dir, basename(info.kernel)),
      initrd: join(dir, basename(info.initrd)),
    };
    if (!(await stat(located.kernel)).isFile() || !(await stat(located.initrd)).isFile()) return undefined;
    return located;
  } catch {
    return undefined;
  }
}

export async function listGuests(): Promise<GuestInfo[]> {
  let names: string[] = [];
  try {
    names = await readdir(join(cacheDir(), 'guests'));
  } catch {
    return [];
  }
  const out: GuestInfo[] = [];
  for (const n of names.sort()) {
    const g = await loadGuest(n);
    if (g) out.push(g);
  }
  return out;
}

/** Set by the power-button handler, so a press while /init is still booting skips the shell. */
const POWER_FLAG = '/run/power-button-pressed';

/**
 * The /init script: mount the pseudo filesystems, load drivers, start acpid for the power button,
 * bring each NIC up by DHCP, run a shell; leaving the shell powers off cleanly. DHCP gives up
 * after about 3 s of guest time (3 discovers, 1 s apart) so a NIC on a network without a DHCP
 * server (a LAN of guests) does not hold the boot; `udhcpc -i eth0` tries again by hand. udhcpc
 * reports on stderr (dropped); the event script prints the lease on stdout.
 *
 * The power button (virtio-input KEY_POWER, /dev/input/event0): busybox acpid runs
 * POWER_BUTTON_HANDLER, which hangs up every session, so the shell ends and the script goes on
 * to the power-off. That is clean: every process is asked to stop (SIGTERM, up to a second of
 * grace, then SIGKILL), the filesystems are synced and unmounted, then `poweroff -f` (the
 * kernel's "reboot: Power down"). /init is PID 1 waiting for the shell in the foreground, so it
 * cannot take busybox's poweroff signal (SIGUSR2) itself: a shell runs traps only after the
 * foreground command ends.
 */
export function initScript(modules: string[]): string {
  return `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin /mnt /run
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mdev -s
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
for m in ${modules.join(' ')}; do insmod /lib/modules/$m.ko 2>/dev/null; done
sleep 0 2>/dev/null
[ -e /dev/input/event0 ] && acpid -c /etc/acpi -a /etc/acpid.conf -l /run/acpid.log -p /run/acpid.pid
hostname virtkit
ifconfig lo 127.0.0.1 up
echo "virtkit guest: Debian $(uname -r) $(uname -m), $(grep -c ^processor /proc/cpuinfo) cpu(s)"
for nic in /sys/class/net/*; do
  nic=\${nic##*/}
  case "$nic" in lo|'*') continue ;; esac
  udhcpc -i "$nic" -n -q -t 3 -T 1 2>/dev/null || echo "$nic: no DHCP answer (udhcpc -i $nic tries again)"
done
[ -e ${POWER_FLAG} ] || setsid cttyhack sh -l
echo "shell exited: powering off"
kill -TERM -1 2>/dev/null
i=0
while kill -0 -1 2>/dev/null && [ $i -lt 10 ]; do sleep 0.1; i=$((i + 1)); done
kill -KILL -1 2>/dev/null
sync
umount -a -r 2>/dev/null
poweroff -f
`;
}

/**
 * busybox acpid's action file: each line is a word looked for in the event's description and the
 * handler (under -c DIR, /etc/acpi) to run. busybox describes KEY_POWER pressed (value 1) as
 * "button/power PWRF 00000080" (its built-in event map; the release is not mapped).
 */
export const ACPID_CONF = `# busybox acpid: <word in the event description> <handler in /etc/acpi>
PWRF power-button
`;

/** /etc/acpi/power-button: hang up every session; /init then powers off (see initScript). */
export const POWER_BUTTON_HANDLER = `#!/bin/sh
echo "virtkit guest: power button pressed: shutting down" > /dev/console
: > ${POWER_FLAG}
kill -HUP -1
`;

/**
 * What busybox mount tries, in order, when no -t is given, besides /proc/filesystems: these are
 * modules, so they are not in /proc/filesystems until something loaded them (modprobe.ts).
 */
const ETC_FILESYSTEMS = 'ext4\nvfat\n';

/** busybox names its mkfs applets mke2fs and mkdosfs; the usual names run them. */
const MKFS_WRAPPERS: Record<string, string> = {
  'sbin/mkfs.ext2': '#!/bin/sh\n# busybox mke2fs makes ext2, which the ext4 driver mounts.\nexec mke2fs "$@"\n',
  'sbin/mkfs.vfat': '#!/bin/sh\nexec mkdosfs "$@"\n',
};

const PROFILE = `export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PS1='virtkit:\\w# '
export HOME=/root
`;

type Progress = (msg: string) => void;

export async function fetchDefaultGuest(opts: { force?: boolean; progress?: Progress } = {}): Promise<GuestInfo> {
  const say = opts.progress ?? (() => {});
  if (!opts.force) {
    const have = await loadGuest();
    if (have) return have;
  }
  const root = cacheDir();
  const apt = await trixieApt(root, say);
  const kernelPkg = await apt.resolveDependency('linux-image-riscv64', /^linux-image-\d/);
  const busyboxVersion = await apt.version('busybox-static');
  say(`downloading ${kernelPkg} and busybox-static ${busyboxVersion}`);
  const [kernelDeb, busyboxDeb] = await apt.download([kernelPkg, 'busybox-static'], join(root, 'debs'));

  const work = await mkdtemp(join(root, 'unpack-'));
  try {
    say('unpacking the packages');
    await dpkgExtract(kernelDeb!, join(work, 'kernel'));
    await dpkgExtract(busyboxDeb!, join(work, 'busybox'));
    const bootDir = join(work, 'kernel', 'boot');
    const kernelFile = (await readdir(bootDir)).find((f) => /^(vmlinux|vmlinuz)-/.test(f));
    if (!kernelFile) throw new GuestFetchError(`${kernelPkg} contains no /boot/vmlinux-* kernel image`);
    const kernelVersion = kernelFile.replace(/^vmlinu[xz]-/, '');
    const modRoot = join(work, 'kernel', 'usr', 'lib', 'modules', kernelVersion);
    const builtin = new Set(
      (await readFile(join(modRoot, 'modules.builtin'), 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((p) => p.replace(/^.*\//, '').replace(/\.ko$/, '').replace(/-/g, '_')),
    );
    say('resolving module dependencies and decompressing modules');
    const index = await indexModules(join(modRoot, 'kernel'));
    const bootMods = await resolveModules(GUEST_MODULES, index, builtin);
    const mods = await resolveModules([...GUEST_MODULES, ...FS_MODULES], index, builtin);
    const modprobe = modprobeScript(modprobeEntries(FS_MODULES, new Map(mods.map((m) => [m.name, m.data]))));
    const busybox = await firstExisting([
      join(work, 'busybox', 'usr', 'bin', 'busybox'),
      join(work, 'busybox', 'bin', 'busybox'),
    ]);

    const entries: CpioEntry[] = [
      ...[
        'bin',
        'sbin',
        'etc',
        'proc',
        'sys',
        'dev',
        'tmp',
        'root',
        'lib',
        'lib/modules',
        'usr',
        'usr/bin',
        'usr/sbin',
        'usr/share',
        'usr/share/udhcpc',
        'mnt',
        'run',
      ].map((p): CpioEntry => ({ type: 'dir', path: p })),
      { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
      { type: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
      { type: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
      {
        type: 'file',
        path: 'init',
        data: new TextEncoder().encode(initScript(bootMods.map((m) => m.name))),
        mode: 0o755,
      },
      { type: 'file', path: MODPROBE_PATH, data: new TextEncoder().encode(modprobe), mode: 0o755 },
      { type: 'file', path: 'etc/filesystems', data: new TextEncoder().encode(ETC_FILESYSTEMS) },
      { type: 'file', path: 'etc/profile', data: new TextEncoder().encode(PROFILE) },
      { type: 'file', path: 'etc/hostname', data: new TextEncoder().encode('virtkit\n') },
      { type: 'file', path: 'etc/acpid.conf', data: new TextEncoder().encode(ACPID_CONF) },
      { type: 'dir', path: 'etc/acpi' },
      {
        type: 'file',
        path: 'etc/acpi/power-button',
        data: new TextEncoder().encode(POWER_BUTTON_HANDLER),
        mode: 0o755,
      },
      { type: 'file', path: UDHCPC_SCRIPT_PATH, data: new TextEncoder().encode(UDHCPC_SCRIPT), mode: 0o755 },
      { type: 'dir', path: 'etc/udhcpc' },
      { type: 'symlink', path: UDHCPC_DEBIAN_PATH, target: `/${UDHCPC_SCRIPT_PATH}` },
      ...Object.entries(MKFS_WRAPPERS).map(([path, text]): CpioEntry => ({
        type: 'file',
        path,
        data: new TextEncoder().encode(text),
        mode: 0o755,
      })),
      ...mods.map((m): CpioEntry => ({ type: 'file', path: `lib/modules/${m.name}.ko`, data: m.data })),
    ];
    const loaded = new Set(bootMods.map((m) => m.name));
    const onDemand = mods.filter((m) => !loaded.has(m.name)).map((m) => m.name);
    say(
      `building the initramfs (modules loaded at boot: ${[...loaded].join(', ')}; on demand: ${onDemand.join(', ')})`,
    );
    const dir = guestDir();
    await mkdir(dir, { recursive: true });
    const info: GuestInfo = {
      name: DEFAULT_GUEST,
      dir,
      kernel: join(dir, 'Image'),
      initrd: join(dir, 'initramfs.cpio'),
      kernelPackage: kernelPkg,
      kernelVersion,
      busyboxVersion,
      modules: mods.map((m) => m.name),
      fetchedAt: new Date().toISOString(),
      layout: GUEST_LAYOUT,
    };
    // Write then rename, so an interrupted fetch never leaves a half-written guest behind.
    await writeFile(info.kernel + '.tmp', await readFile(join(bootDir, kernelFile)));
    await rename(info.kernel + '.tmp', info.kernel);
    await writeFile(info.initrd + '.tmp', writeCpio(entries));
    await rename(info.initrd + '.tmp', info.initrd);
    await writeFile(join(dir, 'guest.json'), JSON.stringify(info, null, 2) + '\n');
    return info;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function firstExisting(paths: string[]): Promise<Uint8Array> {
  for (const p of paths) {
    try {
      return new Uint8Array(await readFile(p));
    } catch {
      // try the next location (trixie moved busybox to /usr/bin)
    }
  }
  throw new GuestFetchError(`busybox-static contains none of ${paths.join(', ')}`);
}

async function dpkgExtract(deb: string, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  try {
    await run('dpkg-deb', ['-x', deb, dest], { maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    throw new GuestFetchError(`cannot unpack ${deb}: ${(e as Error).message.split('\n')[0]}`);
  }
}
