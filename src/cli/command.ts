/**
 * What every `virtkit` subcommand module exports as `command`. Kept apart from main.ts (the
 * dispatcher, which imports the subcommands lazily) so no subcommand imports its dispatcher.
 */
import type { FlagSpec } from './args.ts';

export interface Command {
  /** One line for the top-level help. */
  summary: string;
  /** Full help text for `virtkit CMD --help`. */
  help: string;
  /** The command prints its own help for --help (e.g. per verb) instead of `help`. */
  handlesHelp?: boolean;
  /**
   * The flags it parses, for shell completion (`virtkit completion`): `flags` for a command
   * without verbs, `verbs` (verb -> its flags) for one with (img, guest).
   */
  flags?: FlagSpec;
  verbs?: Record<string, FlagSpec>;
  /** Verbs that have verbs of their own (`vm snapshot create`): verb -> sub-verb -> its flags. */
  subverbs?: Record<string, Record<string, FlagSpec>>;
  /** Verbs (or 'verb subverb') whose positional arguments are names `virtkit ...list` prints one a line. */
  names?: { verbs: string[]; list: string[] };
  /** Runs the command; resolves to the process exit status. Throw UsageError for bad input. */
  run(argv: string[]): Promise<number>;
}
