/**
 * Builds the page's two bundles with esbuild: dist/main.js (+ main.css, xterm's styles) for the
 * UI thread and dist/worker.js for the Web Worker that runs the VM. Takes well under a second.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const WEB_ROOT = fileURLToPath(new URL('.', import.meta.url));
export const WEB_DIST = join(WEB_ROOT, 'dist');

/**
 * `root` is web/'s directory: given by callers that may themselves run bundled (the CLI in
 * dist/cli/), where this module's import.meta.url no longer points into web/.
 */
export async function buildWeb(opts: { root?: string; outdir?: string; minify?: boolean } = {}): Promise<void> {
  const root = opts.root ?? WEB_ROOT;
  await build({
    entryPoints: { main: join(root, 'src/main.ts'), worker: join(root, 'src/worker.ts') },
    outdir: opts.outdir ?? join(root, 'dist'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: opts.minify ?? true,
    sourcemap: 'linked',
    logLevel: 'silent',
    // The page must not pull in host code for Node by accident: fail the build instead.
    external: [],
  });
}
