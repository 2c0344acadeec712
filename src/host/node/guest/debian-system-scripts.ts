/**
 * The files the host writes into the half-made Debian system, and the scripts that finish it
 * inside virtkit (what debootstrap's second stage does, plus the system's own configuration).
 *
 * Stage 2 runs in the default guest (busybox initramfs and Debian's kernel) with the new disk
 * attached: STAGE2_SCRIPT mounts the pseudo filesystems under the new root and chroots into it to
 * run CONFIGURE_SCRIPT with the system's own dash, dpkg and maintainer scripts. The host follows
 * the console: dpkg's "Unpacking X" and "Setting up X" lines are the progress, and the last line
 * the stage prints carries its exit status (STAGE2_RESULT).
 */

/** Where the host puts the packages and scripts inside the new root (removed at the end). */
export const STAGE_DIR = 'virtkit-stage2';
export const STAGE2_RESULT = 'VIRTKIT_STAGE2_RESULT';
/** Printed by the configure script before each phase (host progress). */
export const STAGE2_PHASE = 'VIRTKIT_STAGE2_PHASE';

export interface SystemConfig {
  hostname: string;
  /** The root filesystem's UUID (fstab and the kernel command line name it). */
  rootUuid: string;
  user: string;
  /** Public keys (authorized_keys lines) for the user and root. */
  sshKeys: string[];
}

/** The order debootstrap installs the core in, before the rest of the required set is unpacked. */
export const CORE_PACKAGES = ['base-passwd', 'base-files', 'dpkg', 'libc6', 'perl-base', 'mawk', 'debconf'];

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Files written on the host before the filesystem is made (path relative to the root, contents). */
export function systemFiles(c: SystemConfig): Record<string, string> {
  return {
    'etc/hostname': `${c.hostname}\n`,
    'etc/hosts': `127.0.0.1\tlocalhost\n127.0.1.1\t${c.hostname}\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n`,
    'etc/fstab': `# <file system>\t<mount point>\t<type>\t<options>\t<dump>\t<pass>\nUUID=${c.rootUuid}\t/\text4\terrors=remount-ro\t0\t1\n`,
    // u-boot-update writes /boot/extlinux/extlinux.conf from this. The device tree is the
    // board's own (the firmware hands it on): a dtb from /usr/lib/linux-image-* describes other
    // boards, so no fdtdir line (an FDT directory that does not exist).
    'etc/default/u-boot': [
      '## virtkit: the device tree comes from the board, the console is the first UART',
      'U_BOOT_PROMPT="1"',
      'U_BOOT_TIMEOUT="10"',
      `U_BOOT_ROOT="root=UUID=${c.rootUuid}"`,
      'U_BOOT_PARAMETERS="ro console=ttyS0"',
      'U_BOOT_FDT_DIR="/no-fdt-directory/"',
      '',
    ].join('\n'),
    // The kernel command line for tools that read it (u-boot-update falls back to it).
    'etc/kernel/cmdline': `root=UUID=${c.rootUuid} ro console=ttyS0\n`,
    // A small initramfs: the drivers a VM's root disk needs (virtio over MMIO or PCI, SCSI and
    // NVMe controllers QEMU offers too) and ext4, instead of MODULES=most's every storage driver.
    'etc/initramfs-tools/conf.d/virtkit.conf': 'MODULES=list\n',
    'usr/share/initramfs-tools/modules.d/virtkit-vm.conf': [
      'virtio_mmio',
      'virtio_pci',
      'virtio_blk',
      'virtio_scsi',
      'nvme',
      'ext4',
      'crc32c_generic',
      '',
    ].join('\n'),
    'etc/systemd/network/80-dhcp.network': '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n',
    'etc/apt/sources.list.d/debian.sources': [
      'Types: deb',
      'URIs: http://deb.debian.org/debian',
      'Suites: trixie trixie-updates',
      'Components: main',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      '',
      'Types: deb',
      'URIs: http://deb.debian.org/debian-security',
      'Suites: trixie-security',
      'Components: main',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      '',
    ].join('\n'),
    // An emulated machine on a host shared with other work can take longer than the hardware
    // systemd's defaults assume to bring up its devices: udev's coldplug loads (decompresses and
    // signature-checks) dozens of modules, and dev-ttyS0.device took 50-60 s of guest time on a
    // quiet host, past 90 s on a loaded one, which then cost the VM its serial getty.
    'etc/systemd/system.conf.d/virtkit-timeouts.conf': [
      '# virtkit: a slow (emulated) machine is not a failed one: wait longer for devices and services.',
      '[Manager]',
      'DefaultDeviceTimeoutSec=5min',
      'DefaultTimeoutStartSec=5min',
      '',
    ].join('\n'),
    // Each VM gets its own SSH host keys at its first boot: the image ships none. openssh's own
    // sshd-keygen.service only runs on systemd's "first boot" (a missing or "uninitialized"
    // /etc/machine-id), which an image with an empty machine-id file is not.
    'etc/systemd/system/virtkit-ssh-host-keys.service': [
      '[Unit]',
      'Description=Generate missing SSH host keys',
      'Before=ssh.service',
      'ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key',
      '',
      '[Service]',
      'Type=oneshot',
      'ExecStart=/usr/bin/ssh-keygen -A',
      '',
      '[Install]',
      'WantedBy=multi-user.target ssh.service',
      '',
    ].join('\n'),
  };
}

/**
 * The kernel's module index (modules.dep and its binary forms) is made on the host by
 * `depmod -b` on the unpacked kernel package (the same kmod code, a native host): the kernel's
 * postinst would otherwise spend minutes of emulated time decompressing thousands of modules to
 * make the same files. While the packages are configured, /usr/sbin/depmod is diverted to a
 * wrapper that skips a full run for a version whose index the host made (HOST_DEPMOD_MARK), and
 * runs the real depmod for everything else (mkinitramfs's own tree is given with -b).
 */
export const HOST_DEPMOD_MARK = '.virtkit-host-depmod';
const DEPMOD_DIVERT = `dpkg-divert --quiet --local --rename --divert /usr/sbin/depmod.virtkit-real --add /usr/sbin/depmod
cat > /usr/sbin/depmod <<'VIRTKIT_DEPMOD'
#!/bin/sh
for a in "$@"; do case "$a" in -b*|--basedir*) exec /usr/sbin/depmod.virtkit-real "$@";; esac; done
v=
for a in "$@"; do case "$a" in [0-9]*) v="$a";; esac; done
if [ -n "$v" ] && [ -e "/usr/lib/modules/$v/${HOST_DEPMOD_MARK}" ] && [ -s "/usr/lib/modules/$v/modules.dep.bin" ]; then
  exit 0
fi
exec /usr/sbin/depmod.virtkit-real "$@"
VIRTKIT_DEPMOD
chmod 755 /usr/sbin/depmod`;
const DEPMOD_RESTORE = `rm -f /usr/sbin/depmod /usr/lib/modules/*/${HOST_DEPMOD_MARK}
dpkg-divert --quiet --local --rename --remove /usr/sbin/depmod`;

/**
 * The configuration step in the chroot, run by the system's own /bin/sh. `base` and `rest` are
 * .deb file names under /STAGE_DIR/debs; `credentials` a chpasswd file there (shredded after use).
 */
export function configureScript(c: SystemConfig, base: string[], rest: string[]): string {
  const debs = (names: string[]) => names.map((n) => `"$D/${n}"`).join(' \\\n  ');
  const core = CORE_PACKAGES.map((p) => {
    const f = base.find((n) => n.startsWith(`${p}_`));
    return f ? `install_core "$D/${f}"` : `# ${p}: not in this release`;
  }).join('\n');
  const keys = c.sshKeys.map((k) => k.trim()).filter(Boolean);
  return `#!/bin/sh
# virtkit: the second stage of a Debian installation, inside the new system.
set -e
export PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true
export LC_ALL=C LANG=C HOME=/root
D=/${STAGE_DIR}/debs
DPKG="dpkg --force-depends --force-confold --force-confdef --force-unsafe-io"
phase() { echo "${STAGE2_PHASE} $1"; }
install_core() { $DPKG --install "$1" </dev/null; }

# No service starts while packages are configured (systemd is not running; sysvinit scripts ask this).
printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
[ -e /etc/localtime ] || ln -sf /usr/share/zoneinfo/Etc/UTC /etc/localtime

phase core
# mawk's own postinst makes the awk alternative; until then scripts find awk here.
ln -sf mawk /usr/bin/awk
${core}
rm -f /usr/bin/awk
[ -e /usr/bin/awk ] || ln -sf /etc/alternatives/awk /usr/bin/awk

phase unpack-required
# --skip-same-version: the core installed above stays configured.
$DPKG --skip-same-version --unpack \\
  ${debs(base)} </dev/null
phase configure-required
$DPKG --configure --pending --force-configure-any </dev/null

phase unpack-rest
$DPKG --skip-same-version --unpack \\
  ${debs(rest)} </dev/null
phase configure-rest
${DEPMOD_DIVERT}
# INITRD=No: the kernel's postinst hook leaves the initramfs to initramfs-tools' trigger (one
# mkinitramfs run instead of two); the boot phase makes it if the trigger did not.
INITRD=No $DPKG --configure -a </dev/null
dpkg --audit
${DEPMOD_RESTORE}

phase system
rm -f /usr/sbin/policy-rc.d
systemctl enable systemd-networkd.service systemd-resolved.service virtkit-ssh-host-keys.service
# Each VM makes its own machine id and SSH host keys at its first boot.
rm -f /etc/ssh/ssh_host_*
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id

phase users
useradd --create-home --shell /bin/bash --groups sudo ${q(c.user)}
chpasswd < /${STAGE_DIR}/credentials
shred -u /${STAGE_DIR}/credentials
${
  keys.length
    ? `for home in /root /home/${c.user}; do
  mkdir -p "$home/.ssh"
  cat > "$home/.ssh/authorized_keys" <<'VIRTKIT_KEYS'
${keys.join('\n')}
VIRTKIT_KEYS
  chmod 700 "$home/.ssh"; chmod 600 "$home/.ssh/authorized_keys"
done
chown -R ${q(c.user)}: /home/${q(c.user)}/.ssh`
    : '# no SSH keys given'
}

phase boot
# The kernel's initramfs was made by initramfs-tools' trigger above; extlinux.conf is written
# again now that it exists (the kernel's own hook ran before the deferred initramfs).
ls /boot/initrd.img-* >/dev/null 2>&1 || update-initramfs -c -k all
u-boot-update
ls /boot/initrd.img-* /boot/extlinux/extlinux.conf

phase cleanup
apt-get clean
rm -rf /var/lib/apt/lists/* /var/log/*.log /tmp/* /var/tmp/*
`;
}

/**
 * Run by the initramfs shell of the default guest: mount the new root and its pseudo
 * filesystems, configure in the chroot, give freed blocks back (fstrim: the packages and the
 * credentials file leave no data in the image), unmount and report.
 */
export function stage2Script(): string {
  return `#!/bin/sh
R=/mnt
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -o bind /dev $R/dev
mount -t devpts devpts $R/dev/pts
mount -t tmpfs tmpfs $R/run
mount -t tmpfs tmpfs $R/tmp
chroot $R /bin/sh /${STAGE_DIR}/configure.sh
rc=$?
if [ $rc = 0 ]; then rm -rf $R/${STAGE_DIR}; fi
sync
umount $R/tmp $R/run $R/dev/pts $R/dev $R/sys $R/proc
chroot $R /sbin/fstrim -v / 2>/dev/null || fstrim -v $R || true
umount $R || rc=99
sync
echo "${STAGE2_RESULT} rc=$rc"
`;
}
