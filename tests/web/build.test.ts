/**
 * The page's bundles build, and its DOM-side sources type-check (the root tsconfig has no DOM
 * types, so web/tsconfig.json is checked here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWeb } from '../../web/build.ts';
import { ROOT } from './harness.ts';

test('esbuild bundles the page, the worker and the web console', async () => {
  const out = mkdtempSync(join(tmpdir(), 'virtkit-web-build-'));
  try {
    await buildWeb({ outdir: out });
    const worker = readFileSync(join(out, 'worker.js'), 'utf8');
    const main = readFileSync(join(out, 'main.js'), 'utf8');
    assert.match(readFileSync(join(out, 'main.css'), 'utf8'), /\.xterm/);
    // The CPU loop lives in the worker bundle only: the page must not carry the machine.
    assert.match(worker, /VKSNAP|Kernel panic - not syncing/);
    assert.doesNotMatch(main, /Kernel panic - not syncing/);
    // The web console (web/console/): a client of the daemon's API, with xterm's and uPlot's styles.
    const consoleJs = readFileSync(join(out, 'console.js'), 'utf8');
    const consoleCss = readFileSync(join(out, 'console.css'), 'utf8');
    assert.match(consoleJs, /virtkit\.bearer\./);
    assert.doesNotMatch(consoleJs, /Kernel panic - not syncing/);
    assert.match(consoleCss, /\.xterm/);
    assert.match(consoleCss, /\.uplot/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the page and worker sources type-check with DOM types', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'web/tsconfig.json'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
