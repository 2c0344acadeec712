/**
 * Errors of the manager client as the CLI reports them: one line, and an exit status
 * (`virtkit help exit-status`): bad input (400, 404, 422) is 2 as everywhere in virtkit, a
 * request the daemon refused for the VM's state or a failure on its side (409, 401, 500) is 1,
 * and no daemon reachable is EXIT_NO_DAEMON with how to start one.
 */
import { CliError, UsageError } from './errors.ts';
import { ApiError, ClientError, DaemonUnreachable } from '../manager/client/errors.ts';
import { EndpointError, defaultStateDir, resolveEndpoint, type Endpoint } from '../manager/client/endpoint.ts';
import { ApiClient } from '../manager/client/http.ts';
import type { ParsedArgs } from './args.ts';
import { basename, dirname, resolve } from 'node:path';

/** `virtkit vm`: no daemon answered at the socket or URL. */
export const EXIT_NO_DAEMON = 3;

/** The HTTP statuses that mean the request itself was wrong (exit 2). */
const BAD_INPUT = new Set([400, 404, 405, 413, 415, 422]);

export function toCliError(e: unknown, endpoint?: Endpoint): unknown {
  if (e instanceof EndpointError) return new UsageError(e.message);
  if (e instanceof DaemonUnreachable) {
    return new CliError(`${e.message}: start one with '${startHint(endpoint)}'`, EXIT_NO_DAEMON);
  }
  if (e instanceof ApiError) {
    if (e.status === 401)
      return new CliError(
        `${e.message} (give the daemon's token with --token or $VIRTKIT_TOKEN: it is in STATE_DIR/token on its host)`,
        1,
      );
    return new CliError(e.message, BAD_INPUT.has(e.status) ? 2 : 1);
  }
  if (e instanceof ClientError) return new CliError(e.message, 1);
  return e;
}

/**
 * Runs `fn` against the daemon the connection flags (--socket, --url, --token, --state-dir)
 * name; whatever goes wrong, the endpoint included, comes out as the CLI error for it.
 */
export async function withDaemon<T>(
  flags: ParsedArgs['flags'],
  fn: (client: ApiClient, endpoint: Endpoint) => Promise<T>,
): Promise<T> {
  let endpoint: Endpoint | undefined;
  try {
    endpoint = resolveEndpoint({
      ...(typeof flags.socket === 'string' ? { socket: flags.socket } : {}),
      ...(typeof flags.url === 'string' ? { url: flags.url } : {}),
      ...(typeof flags.token === 'string' ? { token: flags.token } : {}),
      ...(typeof flags['state-dir'] === 'string' ? { stateDir: flags['state-dir'] } : {}),
    });
    return await fn(new ApiClient(endpoint), endpoint);
  } catch (e) {
    throw toCliError(e, endpoint);
  }
}

/** The command that starts a daemon serving `endpoint`. */
function startHint(endpoint: Endpoint | undefined): string {
  if (endpoint?.kind === 'tcp') return `virtkit daemon --listen ${endpoint.url.host}`;
  if (!endpoint) return 'virtkit daemon';
  const dir =
    endpoint.stateDir ?? (basename(endpoint.socketPath) === 'virtkit.sock' ? dirname(endpoint.socketPath) : undefined);
  if (dir === undefined) return 'virtkit daemon';
  return resolve(dir) === resolve(defaultStateDir()) ? 'virtkit daemon' : `virtkit daemon --state-dir ${dir}`;
}
