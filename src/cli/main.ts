/**
 * `virtkit` command dispatcher. Each subcommand lives in its own module exporting
 * `command: Command`; modules are imported lazily so `virtkit img` never loads the CPU.
 */
import type { Command } from './command.ts';
import { CliError } from './errors.ts';
import { GuestFetchError } from '../host/node/guest/errors.ts';
import { packageVersion } from './package-root.ts';

const commands: Record<string, () => Promise<{ command: Command }>> = {
  run: () => import('./run.ts'),
  img: () => import('./img.ts'),
  guest: () => import('./guest.ts'),
  web: () => import('./web.ts'),
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
  lines.push('', "Run 'virtkit <command> --help' for a command's options.");
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (!name || name === '--help' || name === '-h' || name === 'help') {
      console.log(await topHelp());
      return name ? 0 : 2;
    }
    if (name === '--version' || name === '-V') {
      console.log(`virtkit ${packageVersion()}`);
      return 0;
    }
    const load = commands[name];
    if (!load) {
      console.error(`virtkit: unknown command '${name}' (try 'virtkit --help')`);
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
