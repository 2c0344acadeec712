/**
 * `virtkit` command dispatcher. Each subcommand lives in its own module exporting
 * `command: Command`; modules are imported lazily so `virtkit img` never loads the CPU.
 */
import type { Command } from './command.ts';
import { CliError } from './errors.ts';
import { GuestFetchError } from '../host/node/guest/errors.ts';
import { packageVersion } from './package-root.ts';
import { nearest } from './args.ts';
import { SHELLS, bashScript, zshScript, type CompletionCommand } from './completion.ts';

const commands: Record<string, () => Promise<{ command: Command }>> = {
  run: () => import('./run.ts'),
  img: () => import('./img.ts'),
  guest: () => import('./guest.ts'),
  web: () => import('./web.ts'),
  daemon: () => import('./daemon.ts'),
  vm: () => import('./vm.ts'),
  pool: () => import('./pool.ts'),
  template: () => import('./template.ts'),
};

async function topHelp(): Promise<string> {
  const lines = ['usage: virtkit <command> [options]', '', 'commands:'];
  for (const [name, load] of Object.entries(commands)) {
    try {
      const { command } = await load();
      lines.push(`  ${name.padEnd(8)} ${command.summary}`);
    } catch {
      lines.push(`  ${name.padEnd(8)} (not available in this build)`);
    }
  }
  lines.push(`  ${'help'.padEnd(8)} help on a command or a topic: virtkit help [COMMAND|${TOPICS.join('|')}]`);
  lines.push(`  ${'completion'.padEnd(8)} print a shell completion script: source <(virtkit completion bash|zsh)`);
  lines.push('', "Run 'virtkit <command> --help' (or 'virtkit help <command>') for a command's options.");
  return lines.join('\n');
}

const TOPICS = ['exit-status', 'network', 'snapshots'];

/** `virtkit help [COMMAND|TOPIC]`. */
async function help(topic: string | undefined): Promise<number> {
  if (!topic) {
    console.log(await topHelp());
    return 0;
  }
  const load = Object.hasOwn(commands, topic) ? commands[topic] : undefined;
  if (load) {
    console.log((await load()).command.help);
    return 0;
  }
  const { HELP_TOPICS } = await import('./help-topics.ts');
  const text = Object.hasOwn(HELP_TOPICS, topic) ? HELP_TOPICS[topic] : undefined;
  if (text) {
    console.log(text);
    return 0;
  }
  const near = nearest(topic, [...Object.keys(commands), ...TOPICS]);
  console.error(
    `virtkit help: no help on '${topic}'${near ? `: did you mean '${near}'?` : ''} (commands: ${Object.keys(commands).join(', ')}; topics: ${TOPICS.join(', ')})`,
  );
  return 2;
}

/** `virtkit completion bash|zsh`: the script, generated from every command's flag specs. */
async function completion(shell: string | undefined): Promise<number> {
  if (shell !== 'bash' && shell !== 'zsh') {
    console.error(
      `virtkit completion: give the shell: ${SHELLS.join(' or ')} (e.g. source <(virtkit completion bash))`,
    );
    return 2;
  }
  const cmds: CompletionCommand[] = [];
  for (const [name, load] of Object.entries(commands)) {
    const { command } = await load();
    cmds.push({
      name,
      ...(command.flags ? { flags: command.flags } : {}),
      ...(command.verbs ? { verbs: command.verbs } : {}),
      ...(command.subverbs ? { subverbs: command.subverbs } : {}),
      ...(command.names ? { names: command.names } : {}),
    });
  }
  process.stdout.write((shell === 'bash' ? bashScript : zshScript)(cmds, TOPICS));
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (!name || name === '--help' || name === '-h') {
      console.log(await topHelp());
      return name ? 0 : 2;
    }
    if (name === 'help') return await help(rest[0]);
    if (name === 'completion') return await completion(rest[0]);
    if (name === '--version' || name === '-V') {
      console.log(`virtkit ${packageVersion()}`);
      return 0;
    }
    const load = commands[name];
    if (!load) {
      const near = nearest(name, [...Object.keys(commands), 'help', 'completion']);
      console.error(
        `virtkit: unknown command '${name}'${near ? `: did you mean '${near}'?` : ''} (try 'virtkit --help')`,
      );
      return 2;
    }
    const { command } = await load();
    if (!command.handlesHelp && (rest.includes('--help') || rest.includes('-h'))) {
      console.log(command.help);
      return 0;
    }
    return await command.run(rest);
  } catch (e) {
    if (e instanceof CliError) {
      console.error(`virtkit ${name}: ${e.message}`);
      return e.exitCode;
    }
    if (e instanceof GuestFetchError) {
      console.error(`virtkit ${name}: ${e.message}`);
      return 1;
    }
    const msg = e instanceof Error ? e.message : String(e);
    console.error(`virtkit ${name}: internal error: ${msg}`);
    if (process.env.VIRTKIT_DEBUG) console.error(e);
    return 70;
  }
}
