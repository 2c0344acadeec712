/**
 * `virtkit run`'s control flags, for a VM run as its own process under a manager
 * (docs/manager.md): --qmp unix:PATH (a QMP server), --console unix:PATH (headless: the serial
 * console on a socket instead of the terminal), --console-log FILE and --pidfile FILE. This file
 * parses their values; run-linux.ts wires them.
 */
import { resolve } from 'node:path';
import { UsageError } from './errors.ts';
import { MAX_SOCKET_PATH } from '../host/node/unix-server.ts';

export const CONTROL_FLAGS = {
  qmp: 'string',
  console: 'string',
  'console-log': 'string',
  pidfile: 'string',
} as const;

function socketPath(flag: string, path: string, text: string): string {
  if (!path) throw new UsageError(`${flag} '${text}': missing socket path after 'unix:'`);
  const abs = resolve(path);
  if (Buffer.byteLength(abs) > MAX_SOCKET_PATH)
    throw new UsageError(
      `${flag} '${text}': a unix socket path is at most ${MAX_SOCKET_PATH} bytes (${abs} is longer)`,
    );
  return abs;
}

function transport(flag: string, text: string, expected: string): string {
  if (/^tcp:/i.test(text) || /^(telnet|udp|websocket):/i.test(text))
    throw new UsageError(
      `${flag} '${text}': only unix:PATH sockets are served (a network port would let anyone who reaches it control the VM; forward the unix socket instead)`,
    );
  if (!text.startsWith('unix:')) throw new UsageError(`${flag} '${text}': expected ${expected}`);
  return text.slice(5);
}

/**
 * Parses QEMU's `-qmp` spelling: unix:PATH[,server=on|,server][,wait=off|,nowait]. virtkit always
 * listens and never waits for a client, which is what server=on,wait=off ask for; the opposite
 * settings are refused rather than silently ignored.
 */
export function parseQmpSpec(text: string): string {
  const expected = 'unix:PATH[,server=on][,wait=off]';
  const [path = '', ...opts] = transport('--qmp', text, expected).split(',');
  for (const o of opts) {
    if (o === 'server' || o === 'server=on' || o === 'nowait' || o === 'wait=off') continue;
    if (o === 'wait' || o === 'wait=on')
      throw new UsageError(
        `--qmp '${text}': wait=on is not supported: the VM starts at once and clients connect at any time (wait=off)`,
      );
    if (o === 'server=off')
      throw new UsageError(`--qmp '${text}': server=off is not supported: virtkit listens on PATH (server=on)`);
    throw new UsageError(`--qmp '${text}': unknown option '${o}' (expected ${expected})`);
  }
  return socketPath('--qmp', path, text);
}

/** Parses --console unix:PATH (QEMU's server=on,wait=off are accepted and change nothing). */
export function parseConsoleSpec(text: string): string {
  const expected = 'unix:PATH';
  const [path = '', ...opts] = transport('--console', text, expected).split(',');
  for (const o of opts)
    if (o !== 'server' && o !== 'server=on' && o !== 'nowait' && o !== 'wait=off')
      throw new UsageError(`--console '${text}': unknown option '${o}' (expected ${expected})`);
  return socketPath('--console', path, text);
}
