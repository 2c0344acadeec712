/**
 * `virtkit web`: builds the browser app (web/; from a git checkout only, an installed package
 * carries it prebuilt) and serves it on 127.0.0.1 with a guest to boot,
 * so `virtkit web` then opening the printed URL boots the default Debian guest in the tab.
 *
 * Served paths: / and the app's files (index.html, style.css, dist/**), /virtkit.json (the
 * page's default configuration), /guest/Image and /guest/initramfs.cpio (the kernel and initrd),
 * and /files/** (the directory given by --files, e.g. disk images to attach by URL). Every file
 * answers single HTTP Range requests, because the page reads disk images lazily through them, and
 * carries an ETag and Last-Modified, which the page keeps in snapshots to notice a replaced disk.
 */
import { existsSync } from 'node:fs';
import { stat, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from './command.ts';
import { startWebServer, type WebServer } from '../host/node/http/web-server.ts';
import { parseArgs } from './args.ts';
import { CliError, UsageError } from './errors.ts';
import { packageRoot } from './package-root.ts';
import { describeError } from '../host/node/errno-words.ts';

const HELP = `usage: virtkit web [options]

Builds virtkit's browser app and serves it on http://127.0.0.1:PORT/ with a guest to boot (by
default the cached Debian guest, fetched first if needed). Open the printed URL: the page boots
the guest in a Web Worker, with the serial console in the tab.

options:
  --port N         TCP port (default 8080; 0 picks a free one)
  --host ADDR      address to listen on (default 127.0.0.1)
  --no-build       serve web/dist as it is (do not rebuild the bundles)
  --kernel FILE    kernel to offer instead of the default guest's
  --initrd FILE    initrd to offer instead of the default guest's
  --append TEXT    kernel command line in the default configuration (default "console=ttyS0")
  --files DIR      also serve DIR under /files/ (e.g. disk images: ?disk=files/disk.qcow2)
  -h, --help       show this help

page parameters (query string): kernel=URL initrd=URL append=TEXT memory=512M cpus=N
  disk=URL[,format=F][,rw] (repeatable; read lazily with HTTP range requests) config=URL (JSON)
  autostart=1. Without kernel= or config=, the page loads virtkit.json from the server.`;

const SPEC = {
  port: 'string',
  host: 'string',
  'no-build': 'boolean',
  kernel: 'string',
  initrd: 'string',
  append: 'string',
  files: 'string',
} as const;

export const command: Command = {
  summary: 'serve virtkit in a browser tab (boots the guest in a Web Worker)',
  help: HELP,
  flags: SPEC,
  async run(argv) {
    const a = parseArgs(argv, SPEC);
    if (a.positional.length) throw new UsageError(`unexpected argument '${a.positional[0]}'`);
    const f = a.flags;
    const portText = (f.port as string | undefined) ?? '8080';
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`--port must be 0..65535, not '${portText}'`);
    // From a git checkout the app is rebuilt from web/src (esbuild, a dev dependency); an
    // installed package carries the prebuilt web/dist (scripts/build.ts) and no bundler.
    const webRoot = join(packageRoot(), 'web');
    const webDist = join(webRoot, 'dist');
    const fromCheckout = existsSync(join(webRoot, 'src', 'main.ts'));
    if (fromCheckout && !f['no-build']) {
      try {
        const { buildWeb } = await import('../../web/build.ts');
        await buildWeb({ root: webRoot });
      } catch (e) {
        throw new CliError(`cannot build the web app: ${(e as Error).message}`);
      }
    } else {
      try {
        await readFile(join(webDist, 'worker.js'));
      } catch {
        throw new UsageError(
          fromCheckout
            ? `--no-build: ${webDist} has no built app (run without --no-build once)`
            : `${webDist} has no built app: this virtkit package is incomplete (reinstall it)`,
        );
      }
    }
    let kernel = f.kernel as string | undefined;
    let initrd = f.initrd as string | undefined;
    if (!kernel) {
      const guest = await import('../host/node/guest/debian-guest.ts');
      let g = await guest.loadGuest();
      if (!g) {
        process.stderr.write("virtkit: the default guest is not cached yet: fetching it ('virtkit guest fetch')\n");
        g = await guest.fetchDefaultGuest({ progress: (m) => process.stderr.write(`virtkit guest: ${m}\n`) });
      }
      kernel = g.kernel;
      initrd ??= g.initrd;
    }
    for (const [what, p] of [
      ['kernel', kernel],
      ['initrd', initrd],
      ['files', f.files as string | undefined],
    ] as const) {
      if (!p) continue;
      try {
        const st = await stat(p);
        if (what === 'files' ? !st.isDirectory() : !st.isFile()) throw new Error('wrong type');
      } catch {
        throw new UsageError(`--${what} '${p}' is not ${what === 'files' ? 'a directory' : 'a readable file'}`);
      }
    }
    let web: WebServer;
    try {
      web = await startWebServer({
        port,
        host: (f.host as string | undefined) ?? '127.0.0.1',
        webRoot,
        kernel: resolve(kernel),
        ...(initrd ? { initrd: resolve(initrd) } : {}),
        ...(f.append !== undefined ? { append: f.append as string } : {}),
        ...(f.files ? { filesDir: resolve(f.files as string) } : {}),
      });
    } catch (e) {
      throw new CliError(`cannot listen on port ${port}: ${describeError(e)}`);
    }
    process.stdout.write(`virtkit web: serving on ${web.url}\n`);
    await new Promise<void>((ok) => {
      const stop = () => ok();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await web.close();
    return 0;
  },
};
