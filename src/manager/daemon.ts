/**
 * `virtkit daemon`: opens the state directory (pid file, database), re-attaches to the VMs an
 * earlier daemon left running, and serves the API on STATE_DIR/virtkit.sock (mode 0600) and,
 * with `listen`, on TCP with a bearer token. SIGTERM, SIGINT and SIGHUP close the API and resolve
 * 0; the VMs keep running (the next daemon re-attaches to them).
 */
import { BackupScheduler } from './backup-schedule.ts';
import { chmodSync, unlinkSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { ManagerDb } from './db.ts';
import { EventBus } from './events.ts';
import { Manager } from './manager.ts';
import { buildApp } from './server.ts';
import { StateDir, StateDirError } from './state-dir.ts';
import { connectQmp as defaultConnect } from './qmp-connect.ts';
import type { QmpConnector } from './qmp-link.ts';
import type { WebConsoleOptions } from './web-console.ts';
import { describeError } from '../host/node/errno-words.ts';

export interface ListenAddress {
  host: string;
  port: number;
}

/** HOST:PORT, [V6]:PORT; port 0 picks a free one (printed at start). */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new StateDirError(
      `--listen '${text}': expected HOST:PORT, e.g. 127.0.0.1:8470 or [::1]:8470 (port 0..65535)`,
    );
  return { host: (m[1] ?? m[2])!, port };
}

export interface DaemonOptions {
  stateDir: string;
  listen?: ListenAddress;
  version: string;
  log: (line: string) => void;
  connectQmp?: QmpConnector;
  /** The web console served with --listen (its files; the CLI knows where the package lies). */
  webConsole?: WebConsoleOptions;
}

export async function runDaemon(opts: DaemonOptions): Promise<number> {
  const dir = new StateDir(opts.stateDir);
  dir.prepare();
  dir.acquirePid();
  let db: ManagerDb | undefined;
  const apps: FastifyInstance[] = [];
  let mgr: Manager | undefined;
  let scheduler: BackupScheduler | undefined;
  try {
    try {
      db = new ManagerDb(dir.db);
    } catch (e) {
      throw new StateDirError(`cannot open the database ${dir.db}: ${describeError(e)}`);
    }
    const bus = new EventBus();
    // The foreground log: one line per state change.
    bus.subscribe((e) => {
      if (e.state !== e.previous)
        opts.log(`vm ${e.vm}: ${e.previous ?? '-'} -> ${e.state}${e.reason ? ` (${e.reason})` : ''}`);
    });
    mgr = new Manager(dir, db, bus, opts.connectQmp ?? defaultConnect);
    await mgr.supervisor.reattach();
    // Backup schedules from the database: those that fell due while no daemon ran go now.
    scheduler = new BackupScheduler(mgr);
    scheduler.start();

    const unixApp = await buildApp(mgr, { version: opts.version });
    apps.push(unixApp);
    try {
      unlinkSync(dir.socket); // a socket left by a daemon that died: the pid file says it is ours now
    } catch {
      // none
    }
    // The socket must never be reachable by others, not even between listen() and chmod().
    const mask = process.umask(0o177);
    try {
      await unixApp.listen({ path: dir.socket });
    } finally {
      process.umask(mask);
    }
    chmodSync(dir.socket, 0o600);
    opts.log(`listening on ${dir.socket}`);
    if (opts.listen) {
      const token = dir.token();
      const tcpApp = await buildApp(mgr, {
        version: opts.version,
        token,
        ...(opts.webConsole ? { webConsole: opts.webConsole } : {}),
      });
      apps.push(tcpApp);
      try {
        await tcpApp.listen({ host: opts.listen.host, port: opts.listen.port });
      } catch (e) {
        throw new StateDirError(`--listen ${opts.listen.host}:${opts.listen.port}: ${describeError(e)}`);
      }
      const addr = tcpApp.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : opts.listen.port;
      opts.log(
        `listening on http://${opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host}:${port} (bearer token in ${dir.tokenFile}${opts.webConsole ? '; web console at /' : ''})`,
      );
    }
    const vms = db.listVms();
    opts.log(
      `state ${dir.root}: ${vms.length} VM(s), ${vms.filter((v) => v.state === 'running' || v.state === 'paused').length} running`,
    );

    // A failure in background work (a timer, an exit handler) must not take the API down with
    // it: it is logged, and the request that started that work already has its answer.
    const onBackgroundError = (e: unknown) => opts.log(`internal error: ${(e as Error)?.stack ?? String(e)}`);
    process.on('unhandledRejection', onBackgroundError);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(s, () => resolve(s));
    });
    opts.log(`${signal}: closing the API; VMs keep running`);
    process.off('unhandledRejection', onBackgroundError);
    return 0;
  } finally {
    scheduler?.stop();
    await mgr?.browser.closeAll();
    mgr?.supervisor.detachAll();
    for (const a of apps) await a.close().catch(() => {});
    try {
      unlinkSync(dir.socket);
    } catch {
      // not created
    }
    db?.close();
    dir.releasePid();
  }
}
