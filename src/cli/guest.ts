/** `virtkit guest`: fetch and list guest operating systems in the cache. */
import type { Command } from './command.ts';
import { parseArgs } from './args.ts';
import { UsageError } from './errors.ts';

const help = `usage: virtkit guest <fetch|list> [options]

  fetch [--force]   download Debian trixie's riscv64 linux-image and busybox-static with
                    apt-get download (private apt configuration in the cache directory; the
                    host's apt sources are never touched) and build the default guest:
                    kernel Image + initramfs with the virtio drivers and a busybox shell.
                    --force rebuilds even when the guest is cached.
  list [--json]     show the cached guests.

The cache directory is $VIRTKIT_CACHE, else $XDG_CACHE_HOME/virtkit, else ~/.cache/virtkit.`;

/** Each verb's flags (also what shell completion offers). */
const VERBS = { fetch: { force: 'boolean' }, list: { json: 'boolean' } } as const;

export const command: Command = {
  summary: 'fetch and list guest operating systems (Debian riscv64)',
  help,
  verbs: VERBS,
  async run(argv) {
    const [verb, ...rest] = argv;
    const guest = await import('../host/node/guest/debian-guest.ts');
    if (verb === 'fetch') {
      const a = parseArgs(rest, VERBS.fetch);
      if (a.positional.length) throw new UsageError(`unexpected argument '${a.positional[0]}'`);
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
      if (a.flags.json) {
        console.log(JSON.stringify(guests, null, 2));
        return 0;
      }
      if (guests.length === 0) console.log("no guests cached (run 'virtkit guest fetch')");
      for (const g of guests) {
        console.log(
          `${g.name}  kernel ${g.kernelVersion}  busybox ${g.busyboxVersion}  modules ${g.modules.join(',')}`,
        );
        console.log(`  ${g.dir}`);
      }
      return 0;
    }
    throw new UsageError(
      verb ? `unknown guest command '${verb}' (fetch, list)` : 'missing guest command (fetch, list)',
    );
  },
};
