/**
 * The QMP connector the daemon uses: the shared QMP client (src/host/node/qmp-client.ts)
 * adapted to QmpLink. Every command has a deadline, so a VM process that stops answering cannot
 * hang an API request: the request fails with the client's one-line reason.
 */
import { QmpClient, QmpCommandError } from '../host/node/qmp-client.ts';
import type { QmpConnector, QmpLink } from './qmp-link.ts';
import { ApiError } from './api-error.ts';

/** Most commands answer at once; savevm writes the guest's RAM, which takes longer. */
const COMMAND_TIMEOUT_MS = 30_000;
const SLOW_COMMANDS: Record<string, number> = {
  'x-virtkit-savevm': 300_000,
  'x-virtkit-backup-point': 300_000,
  'x-virtkit-snapshot-delete': 300_000,
};

export const connectQmp: QmpConnector = async (path, timeoutMs) => {
  const client = await QmpClient.connect(path, { timeoutMs });
  const link: QmpLink = {
    async execute(command, args) {
      try {
        return await client.execute(command, args, { timeoutMs: SLOW_COMMANDS[command] ?? COMMAND_TIMEOUT_MS });
      } catch (e) {
        // A refusal by the VM process ("GenericError: ...") or no answer at all: the request
        // fails with the VM's own words, as a 500 the client can tell from a daemon fault.
        if (e instanceof QmpCommandError) throw new ApiError(500, 'vm-error', `the VM refused ${command}: ${e.desc}`);
        throw new ApiError(500, 'vm-unreachable', (e as Error).message);
      }
    },
    onEvent(listener) {
      client.onEvent((e) => listener({ event: e.event, ...(e.data ? { data: e.data } : {}) }));
    },
    onClose(listener) {
      client.onClose(() => listener());
    },
    close() {
      client.close();
    },
  };
  return link;
};
