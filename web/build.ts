/**
 * Builds the browser bundles with esbuild: dist/main.js (+ main.css, xterm's styles) for the
 * `virtkit web` page's UI thread, dist/worker.js for the Web Worker that runs its VM, and
 * dist/console.js (+ console.css) for the web console `virtkit daemon --listen` serves
 * (web/console/). Takes well under a second.
 */
import { build, type BuildOptions } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { basename, join } from 'node:path';

export const WEB_ROOT = fileURLToPath(new URL('.', import.meta.url));
export const WEB_DIST = join(WEB_ROOT, 'dist');

/**
 * `root` is web/'s directory: given by callers that may themselves run bundled (the CLI in
 * dist/cli/), where this module's import.meta.url no longer points into web/.
 */
export async function buildWeb(opts: { root?: string; outdir?: string; minify?: boolean } = {}): Promise<void> {
  const root = opts.root ?? WEB_ROOT;
  await build({
    ...COMMON,
    entryPoints: {
      main: join(root, 'src/main.ts'),
      worker: join(root, 'src/worker.ts'),
      console: join(root, 'console/src/main.ts'),
    },
    outdir: opts.outdir ?? join(root, 'dist'),
    minify: opts.minify ?? true,
    sourcemap: 'linked',
  });
}

const COMMON: BuildOptions = {
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2022',
  logLevel: 'silent',
  // The page must not pull in host code for Node by accident: fail the build instead.
  external: [],
};

/**
 * The web console's bundles (console.js, console.css, worker.js) in memory, for a daemon running from a
 * checkout: it serves what the sources say without writing web/dist under a concurrent build.
 */
export async function buildConsoleInMemory(root = WEB_ROOT): Promise<Map<string, Uint8Array>> {
  const r = await build({
    ...COMMON,
    // worker.js: the VM worker of `virtkit web`, which the console starts for a VM moved into its tab.
    entryPoints: { console: join(root, 'console/src/main.ts'), worker: join(root, 'src/worker.ts') },
    outdir: join(root, 'dist'),
    minify: true,
    write: false,
  });
  return new Map(r.outputFiles.map((f) => [basename(f.path), f.contents]));
}
