/**
 * A small, strict command-line parser shared by every subcommand: unknown flags and missing
 * values are UsageErrors (exit 2), never silently ignored.
 *
 *   const a = parseArgs(argv, { kernel: 'string', cpus: 'string', quiet: 'boolean', disk: 'list' }, { c: 'cpus' });
 */
import { UsageError } from './errors.ts';

export type FlagKind = 'string' | 'boolean' | 'list';
export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | undefined>;
  positional: string[];
}

export function parseArgs(
  argv: string[],
  spec: Record<string, FlagKind>,
  aliases: Record<string, string> = {},
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
      name = arg.slice(1, 2);
      inline = arg.length > 2 ? arg.slice(2) : undefined;
      name = aliases[name] ?? name;
    }
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option '${arg}'`);
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
