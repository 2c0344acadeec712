/**
 * A small, strict command-line parser shared by every subcommand: unknown flags and missing
 * values are UsageErrors (exit 2), never silently ignored. An unknown flag names the nearest
 * known one (`--memroy` -> `--memory`), and a command may describe the QEMU spellings people type
 * out of habit (`-m 1G`, `-drive file=...`): accepted where the meaning is identical, else explained.
 *
 *   const a = parseArgs(argv, { kernel: 'string', cpus: 'string', quiet: 'boolean', disk: 'list' }, { c: 'cpus' });
 *
 * Why our own parser rather than node:util parseArgs or a library (commander, yargs, ...): the
 * flag specs here are plain data that help tests, shell completion and suggestions are generated
 * from; node:util parseArgs gives none of suggestions, QEMU spellings (`-smp 2`: one dash, a long
 * name), `-1G` as a value in `img resize`, or exit status 2 with our one-line messages, so we
 * would wrap it as much as we write here; a library adds a dependency to the installed package
 * and its own help/error wording we would have to override to keep qemu-img-compatible messages.
 * This file is ~150 lines with tests; the choice is revisited if it grows subcommand trees.
 */
import { UsageError } from './errors.ts';

export type FlagKind = 'string' | 'boolean' | 'list';
export type FlagSpec = Record<string, FlagKind>;
export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | undefined>;
  positional: string[];
}

/**
 * A flag of QEMU's spelling (one dash, e.g. `-smp`), looked up before short flags:
 *   as       accepted as this virtkit flag (same meaning, same value syntax)
 *   ignore   accepted and ignored (what virtkit always does anyway)
 *   hint     refused with a message built from its value (`takesValue`: the next argument)
 */
export type ForeignFlag =
  { as: string } | { ignore: true } | { hint: (value: string | undefined) => string; takesValue: boolean };

export interface ParseOptions {
  foreign?: Record<string, ForeignFlag>;
}

/** Edit distance with transpositions (optimal string alignment), for typo suggestions. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

/** The known name nearest to `name` (at most 2 edits, and fewer than half its letters), if any. */
export function nearest(name: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dist = k.startsWith(name) && name.length >= 3 ? 0.5 : editDistance(name, k);
    if (dist < bestD) [best, bestD] = [k, dist];
  }
  return bestD <= Math.min(2, Math.floor(name.length / 2)) ? best : undefined;
}

function unknownFlag(arg: string, name: string, spec: FlagSpec): UsageError {
  const names = Object.keys(spec);
  if (spec[name] && !arg.startsWith('--')) return new UsageError(`unknown option '${arg}': did you mean '--${name}'?`);
  const near = nearest(name, [...names, 'help']);
  return new UsageError(`unknown option '${arg}'${near ? `: did you mean '--${near}'?` : ''}`);
}

export function parseArgs(
  argv: string[],
  spec: FlagSpec,
  aliases: Record<string, string> = {},
  options: ParseOptions = {},
): ParsedArgs {
  const flags: ParsedArgs['flags'] = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else {
      const long = arg.slice(1);
      const foreign = Object.hasOwn(options.foreign ?? {}, long) ? options.foreign![long] : undefined;
      if (foreign && 'ignore' in foreign) continue;
      if (foreign && 'hint' in foreign) {
        const value = foreign.takesValue ? argv[i + 1] : undefined;
        throw new UsageError(`unknown option '${arg}' (QEMU's spelling): ${foreign.hint(value)}`);
      }
      if (foreign) {
        name = foreign.as;
        inline = undefined;
      } else if (arg.length > 2 && !aliases[arg.slice(1, 2)] && !Object.hasOwn(spec, arg.slice(1, 2))) {
        // `-memory`: one dash before a long name (or a QEMU flag this command has no entry for).
        throw unknownFlag(arg, long.split('=')[0]!, spec);
      } else {
        name = aliases[arg.slice(1, 2)] ?? arg.slice(1, 2);
        inline = arg.length > 2 ? arg.slice(2) : undefined;
      }
    }
    const kind = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!kind) throw unknownFlag(arg, name, spec);
    if (kind === 'boolean') {
      if (inline !== undefined) throw new UsageError(`option '--${name}' takes no value`);
      flags[name] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`option '--${name}' needs a value`);
      value = argv[++i]!;
    }
    if (kind === 'list') {
      const list = (flags[name] as string[] | undefined) ?? [];
      list.push(value);
      flags[name] = list;
    } else {
      flags[name] = value;
    }
  }
  return { flags, positional };
}

/** Parses sizes like 512M, 2G, 4096, 1.5G (binary units) into bytes; UsageError if malformed. */
export function parseSize(text: string, what = 'size'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?b)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`invalid ${what} '${text}' (expected a number with an optional K, M, G or T suffix)`);
  const units = ['', 'k', 'm', 'g', 't', 'p', 'e'];
  const bytes = Number(m[1]) * 1024 ** units.indexOf(m[2]!.toLowerCase());
  if (!Number.isSafeInteger(Math.round(bytes))) throw new UsageError(`${what} '${text}' is too large`);
  return Math.round(bytes);
}

/** Guest RAM sizes: as parseSize, but a bare number is MiB, as QEMU's `-m 512`. */
export function parseMemorySize(text: string): number {
  return parseSize(/^\s*\d+(\.\d+)?\s*$/.test(text) ? `${text.trim()}M` : text, 'memory size');
}
