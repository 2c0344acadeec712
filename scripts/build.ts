/**
 * Builds what the npm package runs, so an installed virtkit is plain JavaScript with no loader
 * and no bundler at run time:
 *   dist/cli/   the command line: src/cli/main.ts bundled by esbuild into one ES module, with one
 *               chunk per lazily imported subcommand (code splitting), so `virtkit --version`
 *               parses a few kilobytes and `virtkit img` never parses the CPU. A bundle starts
 *               faster than tsc's one-file-per-module emit: Node resolves and reads a handful of
 *               files instead of ~190.
 *   web/dist/   the browser app's bundles (web/build.ts), which `virtkit web` serves as they are
 *               when it runs from an installed package.
 *   dist/cli/build.json  the source files that went into the bundle and when they were read:
 *               bin/virtkit in a git checkout runs the sources through tsx instead when any of
 *               them changed since (so a developer never runs a stale bundle).
 * Runs before `npm pack` / `npm publish` (`prepack`; not `prepare`, which npm would show users as
 * an install script of the package), at the start of `npm test` (scripts/test.mjs, so the suite
 * runs what ships), and as `npm run build`. Usage: node --import tsx scripts/build.ts
 */
import { build, type Metafile } from 'esbuild';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWeb } from '../web/build.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Output directory of the CLI bundle. Two levels below the package root, like src/cli/. */
export const CLI_DIST = join(ROOT, 'dist', 'cli');

export interface BuildRecord {
  /** Date.now() just before esbuild read the sources. */
  builtAt: number;
  /** The bundle's inputs, relative to the package root. */
  inputs: string[];
}

/** Builds the CLI bundle into outdir; returns the build record and esbuild's metafile. */
export async function buildCli(outdir = CLI_DIST): Promise<{ record: BuildRecord; metafile: Metafile }> {
  const builtAt = Date.now();
  // Build next to the target and swap it in, so a `virtkit` started during a rebuild never reads
  // a half-written chunk.
  const tmp = `${outdir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const result = await build({
    entryPoints: { main: join(ROOT, 'src/cli/main.ts') },
    outdir: tmp,
    absWorkingDir: ROOT,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Runtime dependencies (fflate) stay in node_modules, installed by npm as dependencies.
    packages: 'external',
    chunkNames: 'chunks/[name]-[hash]',
    metafile: true,
    logLevel: 'warning',
    // Whitespace and syntax minification cut parse time (`img info` ~6% less CPU); identifiers
    // keep their names, so stack traces (VIRTKIT_DEBUG=1) stay readable.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
  });
  const inputs = Object.keys(result.metafile.inputs)
    .filter((p) => !p.includes('node_modules/'))
    .map((p) => relative(ROOT, join(ROOT, p)))
    .sort();
  const record: BuildRecord = { builtAt, inputs };
  writeFileSync(join(tmp, 'build.json'), JSON.stringify(record, null, 1) + '\n');
  mkdirSync(join(outdir, '..'), { recursive: true });
  const old = `${outdir}.old-${process.pid}`;
  let hadOld = true;
  try {
    renameSync(outdir, old);
  } catch {
    hadOld = false;
  }
  renameSync(tmp, outdir);
  if (hadOld) rmSync(old, { recursive: true, force: true });
  return { record, metafile: result.metafile };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  const { record } = await buildCli();
  await buildWeb();
  const ms = Math.round(performance.now() - t0);
  console.log(`virtkit build: dist/cli (${record.inputs.length} sources) and web/dist in ${ms} ms`);
}
