/** `virtkit guest`: fetch and list guest operating systems in the cache. */
import type { Command } from './command.ts';
import { readFile } from 'node:fs/promises';
import { parseArgs, parseSize } from './args.ts';
import { UsageError } from './errors.ts';

const help = `usage: virtkit guest <fetch|list> [options]

  fetch [--force]   download Debian trixie's riscv64 linux-image and busybox-static with
                    apt-get download (private apt configuration in the cache directory; the
                    host's apt sources are never touched) and build the default guest:
                    kernel Image + initramfs with the virtio drivers and a busybox shell.
                    --force rebuilds even when the guest is cached.
  fetch debian [options]
                    build a full Debian trixie riscv64 system disk (systemd, udev, apt,
                    openssh-server, sudo, the kernel and its initramfs, U-Boot's extlinux.conf,
                    qemu-guest-agent) from Debian's packages, without root: the packages are
                    unpacked on the host, the filesystem written with mke2fs -d, and dpkg
                    configures them inside virtkit. Cached as a read-only base qcow2; boot a VM
                    from an overlay on it (the command is printed). Takes a while (a progress
                    line per stage; an interrupted build resumes its downloads and restarts
                    the rest cleanly).
      --user NAME            the user account, in group sudo (default debian)
      --password TEXT        its password (default: generated, printed once, never stored)
      --root-password TEXT   root's password (default: generated, printed once)
      --ssh-key FILE         authorized_keys for the user and root (a .pub file; repeatable)
      --hostname NAME        default debian
      --size SIZE            virtual disk size (default 4G; 2G..2T)
      --package NAME         also install this Debian package (repeatable)
      --force                rebuild even when it is cached
  list [--json]     show the cached guests.

The cache directory is $VIRTKIT_CACHE, else $XDG_CACHE_HOME/virtkit, else ~/.cache/virtkit.`;

/** Each verb's flags (also what shell completion offers). */
const VERBS = {
  fetch: {
    force: 'boolean',
    user: 'string',
    password: 'string',
    'root-password': 'string',
    'ssh-key': 'list',
    hostname: 'string',
    size: 'string',
    package: 'list',
  },
  list: { json: 'boolean' },
} as const;

const SYSTEM_ONLY = ['user', 'password', 'root-password', 'ssh-key', 'hostname', 'size', 'package'] as const;

export const command: Command = {
  summary: 'fetch and list guest operating systems (Debian riscv64)',
  help,
  verbs: VERBS,
  async run(argv) {
    const [verb, ...rest] = argv;
    const guest = await import('../host/node/guest/debian-guest.ts');
    if (verb === 'fetch') {
      const a = parseArgs(rest, VERBS.fetch);
      if (a.positional.length > 1) throw new UsageError(`unexpected argument '${a.positional[1]}'`);
      const which = a.positional[0];
      if (which === 'debian') return fetchSystem(a.flags);
      if (which !== undefined && which !== 'default')
        throw new UsageError(`unknown guest '${which}' (default, debian)`);
      const given = SYSTEM_ONLY.find((f) => a.flags[f] !== undefined);
      if (given) throw new UsageError(`--${given} is for 'virtkit guest fetch debian'`);
      const t0 = Date.now();
      const info = await guest.fetchDefaultGuest({
        force: a.flags.force === true,
        progress: (m) => process.stderr.write(`virtkit guest: ${m}\n`),
      });
      console.log(
        `${info.name}: kernel ${info.kernelVersion}, busybox ${info.busyboxVersion} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
      );
      console.log(`  kernel ${info.kernel}\n  initrd ${info.initrd}`);
      return 0;
    }
    if (verb === 'list') {
      const a = parseArgs(rest, VERBS.list);
      if (a.positional.length) throw new UsageError(`unexpected argument '${a.positional[0]}'`);
      const guests = await guest.listGuests();
      const system = await (await import('../host/node/guest/debian-system.ts')).loadDebianSystem();
      if (a.flags.json) {
        console.log(JSON.stringify(system ? [...guests, system] : guests, null, 2));
        return 0;
      }
      if (guests.length === 0 && !system) console.log("no guests cached (run 'virtkit guest fetch')");
      for (const g of guests) {
        console.log(
          `${g.name}  kernel ${g.kernelVersion}  busybox ${g.busyboxVersion}  modules ${g.modules.join(',')}`,
        );
        console.log(`  ${g.dir}`);
      }
      if (system) {
        console.log(
          `${system.name}  ${system.kernelPackage}  ${system.packages} packages  user ${system.user}  built ${system.builtAt}`,
        );
        console.log(`  ${system.disk}`);
      }
      return 0;
    }
    throw new UsageError(
      verb ? `unknown guest command '${verb}' (fetch, list)` : 'missing guest command (fetch, list)',
    );
  },
};

async function fetchSystem(flags: Record<string, string | boolean | string[] | undefined>): Promise<number> {
  const sys = await import('../host/node/guest/debian-system.ts');
  const keys: string[] = [];
  for (const file of (flags['ssh-key'] as string[] | undefined) ?? []) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new UsageError(
        `--ssh-key ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      );
    }
    keys.push(...text.split('\n').filter((l) => l.trim() && !l.startsWith('#')));
  }
  const str = (k: string) => flags[k] as string | undefined;
  const opts = {
    force: flags.force === true,
    progress: (m: string) => process.stderr.write(`virtkit guest: ${m}\n`),
    sshKeys: keys,
    packages: (flags.package as string[] | undefined) ?? [],
    ...(str('user') !== undefined ? { user: str('user')! } : {}),
    ...(str('password') !== undefined ? { password: str('password')! } : {}),
    ...(str('root-password') !== undefined ? { rootPassword: str('root-password')! } : {}),
    ...(str('hostname') !== undefined ? { hostname: str('hostname')! } : {}),
    ...(str('size') !== undefined ? { diskSize: parseSize(str('size')!, '--size') } : {}),
  };
  try {
    sys.checkSystemOptions(opts);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const t0 = Date.now();
  const { info, generated, built } = await sys.fetchDebianSystem(opts);
  const took = ((Date.now() - t0) / 1000).toFixed(0);
  console.log(
    `${info.name}: ${info.packages} packages, ${info.kernelPackage}${built ? ` (built in ${took} s)` : ' (cached)'}`,
  );
  console.log(`  base image (read-only) ${info.disk}`);
  if (generated.rootPassword) console.log(`  root password: ${generated.rootPassword}   (shown once, not stored)`);
  if (generated.password) console.log(`  ${info.user}'s password: ${generated.password}   (shown once, not stored)`);
  console.log('boot a VM from an overlay on it:');
  console.log(`  virtkit img create -f qcow2 -b ${info.disk} -F qcow2 debian.qcow2`);
  console.log('  virtkit run --disk debian.qcow2 --memory 1G --net user,hostfwd=tcp::2222-:22');
  return 0;
}
