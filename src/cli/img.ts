import type { Command } from './main.ts';
import { CliError } from './errors.ts';

export const command: Command = {
  summary: '(under construction)',
  help: 'virtkit img: under construction',
  async run() {
    throw new CliError('img is not implemented yet');
  },
};
