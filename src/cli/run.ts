import type { Command } from './main.ts';
import { CliError } from './errors.ts';

export const command: Command = {
  summary: '(under construction)',
  help: 'virtkit run: under construction',
  async run() {
    throw new CliError('run is not implemented yet');
  },
};
