/**
 * Builds the page's two bundles with esbuild: dist/main.js (+ main.css, xterm's styles) for the
 * UI thread and dist/worker.js for the Web Worker that runs the VM. Takes well under a second.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const WEB_ROOT = fileURLToPath(new URL('.', import.meta.url));
export const WEB_DIST = join(WEB_ROOT, 'dist');

export async function buildWeb(opts: { outdir?: string; minify?: boolean } = {}): Promise<void> {
  await build({
    entryPoints: { main: join(WEB_ROOT, 'src/main.ts'), worker: join(WEB_ROOT, 'src/worker.ts') },
    outdir: opts.outdir ?? WEB_DIST,
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
