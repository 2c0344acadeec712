/**
 * Where the client finds the daemon (docs/manager.md, "The CLI"):
 *   --url http://HOST:PORT (TCP; the bearer token from --token or $VIRTKIT_TOKEN), else
 *   --socket PATH, else $VIRTKIT_SOCKET, else STATE_DIR/virtkit.sock, where STATE_DIR is
 *   --state-dir, else $XDG_DATA_HOME/virtkit, else ~/.local/share/virtkit.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export type Endpoint =
  | {
      kind: 'unix';
      socketPath: string;
      /** The state directory the path came from (for "start one with virtkit daemon --state-dir"). */
      stateDir?: string;
    }
  | { kind: 'tcp'; url: URL; token?: string };

export interface EndpointOptions {
  socket?: string;
  url?: string;
  token?: string;
  stateDir?: string;
}

/** The daemon's state directory by default: $XDG_DATA_HOME/virtkit, else ~/.local/share/virtkit. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.local', 'share'), 'virtkit');
}

/** A unix socket path must fit sockaddr_un's sun_path (108 bytes with the terminating NUL). */
const SUN_PATH_MAX = 107;

/** Thrown for options that cannot name a daemon (the CLI reports it as bad input). */
export class EndpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointError';
  }
}

export function resolveEndpoint(o: EndpointOptions, env: NodeJS.ProcessEnv = process.env): Endpoint {
  if (o.url !== undefined) {
    if (o.socket !== undefined) throw new EndpointError('give --socket or --url, not both');
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      throw new EndpointError(`invalid --url '${o.url}' (expected http://HOST:PORT)`);
    }
    if (url.protocol !== 'http:' || !url.port || (url.pathname !== '/' && url.pathname !== ''))
      throw new EndpointError(`invalid --url '${o.url}' (expected http://HOST:PORT)`);
    const token = o.token ?? (env.VIRTKIT_TOKEN || undefined);
    return { kind: 'tcp', url, ...(token !== undefined ? { token } : {}) };
  }
  if (o.token !== undefined) throw new EndpointError('--token is for --url (a unix socket needs no token)');
  let socketPath: string;
  let stateDir: string | undefined;
  if (o.socket !== undefined) socketPath = resolve(o.socket);
  else if (env.VIRTKIT_SOCKET && o.stateDir === undefined) socketPath = resolve(env.VIRTKIT_SOCKET);
  else {
    stateDir = resolve(o.stateDir ?? defaultStateDir(env));
    socketPath = join(stateDir, 'virtkit.sock');
  }
  if (Buffer.byteLength(socketPath) > SUN_PATH_MAX)
    throw new EndpointError(
      `socket path '${socketPath}' is longer than a unix socket allows (${SUN_PATH_MAX} bytes): use a shorter --state-dir or --socket`,
    );
  return { kind: 'unix', socketPath, ...(stateDir !== undefined ? { stateDir } : {}) };
}

/** The endpoint in words, for messages: the socket path or the URL. */
export function describeEndpoint(e: Endpoint): string {
  return e.kind === 'unix' ? e.socketPath : e.url.origin;
}
