/**
 * What the Debian system guest is made of: the packages asked for, and the plan apt makes from
 * them on an empty system (the whole dependency closure, Recommends left out, as debootstrap's
 * minbase plus what a usable server needs).
 *
 * The plan splits the closure the way debootstrap's second stage needs it: the `required` and
 * Essential packages and their dependencies are unpacked on the host first (enough for a shell, dpkg and its scripts to
 * run inside the guest), and everything is then installed by dpkg in the guest, which sets the
 * owners, modes and database as a real installation does.
 */
import type { PrivateApt } from './apt.ts';

/**
 * The system: systemd as init with udev, logind (the power button: a graceful shutdown) and
 * networkd (DHCP on every wired NIC, resolved for DNS), apt, an SSH server, the kernel with its
 * initramfs, u-boot-menu (writes /boot/extlinux/extlinux.conf for U-Boot), the QEMU guest agent,
 * and the everyday tools the issue names (sudo, less, nano, ping, iproute2, ca-certificates).
 * e2fsprogs gives the boot its fsck.ext4; zstd compresses the initramfs as Debian's default asks.
 */
export const DEBIAN_SYSTEM_PACKAGES = [
  '?priority(required)',
  'apt',
  'systemd',
  'systemd-sysv',
  'systemd-resolved',
  'systemd-timesyncd',
  'libpam-systemd',
  'udev',
  'dbus',
  'kmod',
  'procps',
  'openssh-server',
  'iproute2',
  'iputils-ping',
  'netbase',
  'ca-certificates',
  'sudo',
  'less',
  'nano',
  'e2fsprogs',
  'zstd',
  'initramfs-tools',
  'linux-image-riscv64',
  'u-boot-menu',
  'qemu-guest-agent',
];

export interface PlannedPackage {
  name: string;
  version: string;
  /** Unpacked on the host before the guest runs dpkg (Priority: required, or Essential). */
  base: boolean;
}

/** Names that must pass to apt as they are: package names and apt patterns, nothing a shell or apt option could read otherwise. */
const PACKAGE_ARG = /^(\?[a-z-]+\([a-z0-9.+-]*\)|[a-z0-9][a-z0-9.+-]+)$/;

export function checkPackageNames(names: string[]): void {
  for (const n of names) if (!PACKAGE_ARG.test(n)) throw new Error(`'${n}' is not a Debian package name`);
}

/** Resolves the closure of `wanted` (plus extras) into an ordered plan. */
export async function planPackages(apt: PrivateApt, extra: string[] = []): Promise<PlannedPackage[]> {
  checkPackageNames(extra);
  const closure = await apt.resolveInstall([...DEBIAN_SYSTEM_PACKAGES, ...extra]);
  // The required set with its own dependencies (libc6 and most libraries are Priority: optional).
  const required = new Set((await apt.resolveInstall(['?priority(required)', '?essential'])).map((p) => p.name));
  return closure.map((p) => ({ ...p, base: required.has(p.name) }));
}
