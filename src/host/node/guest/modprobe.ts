/**
 * The default guest's /sbin/modprobe: a shell script that loads a module and its dependencies
 * from /lib/modules/NAME.ko with insmod. The filesystem modules (ext4 is about 7 MB with its
 * symbol table) cost seconds of guest time to load, so they are not loaded at boot: the kernel
 * runs this script (request_module, e.g. `modprobe -q -- fs-ext4`) the first time a mount asks for
 * the filesystem, and busybox mount without -t tries the types /etc/filesystems lists.
 *
 * Busybox's own modprobe needs a modules.dep the initramfs does not carry; `busybox --install -s`
 * leaves an existing /sbin/modprobe in place, so this one stays.
 */
import { dependencyOrder, moduleAliases } from './modules.ts';

export const MODPROBE_PATH = 'sbin/modprobe';

/** One line per loadable module: the names that request it and the insmod order. */
export interface ModprobeEntry {
  names: string[];
  load: string[];
}

/** Entries for `roots` (module names) from the modules read at build time. */
export function modprobeEntries(roots: string[], byName: Map<string, Uint8Array>): ModprobeEntry[] {
  const out: ModprobeEntry[] = [];
  const done = new Set<string>();
  for (const root of roots) {
    // Every module of the closure gets its own entry, so `modprobe jbd2` works too.
    for (const name of dependencyOrder(root, byName)) {
      if (done.has(name)) continue;
      done.add(name);
      const names = new Set([name, name.replace(/_/g, '-'), ...moduleAliases(byName.get(name)!)]);
      out.push({ names: [...names], load: dependencyOrder(name, byName) });
    }
  }
  return out;
}

/** Module names and aliases become case patterns: only characters that need no quoting. */
const SAFE = /^[A-Za-z0-9_.,:+=-]+$/;

export function modprobeScript(entries: ModprobeEntry[]): string {
  const cases = entries
    .map((e) => {
      const names = e.names.filter((n) => SAFE.test(n));
      const load = e.load.filter((n) => SAFE.test(n));
      return names.length && load.length === e.load.length ? `${names.join('|')}) set -- ${load.join(' ')} ;;` : '';
    })
    .filter(Boolean);
  return `#!/bin/sh
# virtkit guest modprobe: loads a module and its dependencies with insmod (see modprobe.ts).
quiet=
name=
for a; do
  case "$a" in
  -q) quiet=1 ;;
  -*) ;;
  *) name=$a ;;
  esac
done
case "$name" in
${cases.join('\n')}
*)
  [ -n "$quiet" ] || echo "modprobe: module $name not found in /lib/modules" >&2
  exit 1
  ;;
esac
for m; do
  grep -q "^$m " /proc/modules && continue
  insmod /lib/modules/$m.ko || exit 1
done
`;
}
