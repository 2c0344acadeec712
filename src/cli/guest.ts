import type { Command } from './main.ts';
import { CliError } from './errors.ts';

export const command: Command = {
  summary: '(under construction)',
  help: 'virtkit guest: under construction',
  async run() {
    throw new CliError('guest is not implemented yet');
  },
};
