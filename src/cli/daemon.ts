/** `virtkit daemon`: the VM manager in the foreground (docs/manager.md). */
import type { Command } from './command.ts';
import { parseArgs } from './args.ts';
import { CliError, UsageError } from './errors.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot, packageVersion } from './package-root.ts';

const help = `usage: virtkit daemon [--state-dir DIR] [--listen HOST:PORT]

Runs the VM manager in the foreground: it keeps VM definitions in a database, starts each VM as
its own 'virtkit run' process controlled over QMP, and serves the REST API that 'virtkit vm',
the web console and scripts use (docs/manager.md; the OpenAPI document is GET /openapi.json).

options:
  --state-dir DIR      where the manager keeps its state (default $XDG_DATA_HOME/virtkit, else
                       ~/.local/share/virtkit): virtkit.db (SQLite), virtkit.sock (the API, mode
                       0600), token, daemon.pid, vms/<id>/ (owned disks, sockets, console.log)
  --listen HOST:PORT   also serve the API on TCP (e.g. 127.0.0.1:8470; port 0 picks a free one).
                       Every TCP request needs 'Authorization: Bearer TOKEN', the token being
                       DIR/token (created on first start, mode 0600); without it, 401.
                       The web console is served there too: open http://HOST:PORT/ and log
                       in with the token (docs/web-console.md)
  -h, --help           show this help

One daemon per state directory: a second one on the same directory refuses to start.
Stopping the daemon (SIGTERM, SIGINT, SIGHUP, even kill -9) leaves the VMs running; the next
daemon re-attaches to them and shows their true state.

exit status: 0 stopped by a signal, 1 the state directory is in use or unusable, or the TCP
address is busy, 2 bad flags, 70 internal error.`;

const FLAGS = { 'state-dir': 'string', listen: 'string' } as const;

export const command: Command = {
  summary: 'run the VM manager (REST API, VMs as processes) in the foreground',
  help,
  flags: FLAGS,
  async run(argv) {
    const a = parseArgs(argv, FLAGS);
    if (a.positional.length) throw new UsageError(`unexpected argument '${a.positional[0]}'`);
    const { runDaemon, parseListen } = await import('../manager/daemon.ts');
    const { defaultStateDir, StateDirError } = await import('../manager/state-dir.ts');
    const stateDir = (a.flags['state-dir'] as string | undefined) ?? defaultStateDir();
    try {
      const listenText = a.flags.listen as string | undefined;
      let listen;
      try {
        listen = listenText === undefined ? undefined : parseListen(listenText);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      // In a git checkout the console's bundle is built from web/console/src (esbuild, a dev
      // dependency) on its first request; an installed package serves the prebuilt web/dist.
      const webRoot = join(packageRoot(), 'web');
      const fromCheckout = existsSync(join(webRoot, 'console', 'src', 'main.ts'));
      const webConsole = {
        root: webRoot,
        ...(fromCheckout
          ? { build: async () => (await import('../../web/build.ts')).buildConsoleInMemory(webRoot) }
          : {}),
      };
      return await runDaemon({
        stateDir,
        ...(listen ? { listen, webConsole } : {}),
        version: packageVersion(),
        log: (line) => process.stderr.write(`virtkit daemon: ${line}\n`),
      });
    } catch (e) {
      if (e instanceof StateDirError) throw new CliError(e.message, 1);
      throw e;
    }
  },
};
