#!/usr/bin/env node
// npm's `prepare` hook: builds dist/cli and web/dist (scripts/build.ts) on `npm ci` / `npm install`
// in a checkout and before `npm pack` / `npm publish`. The build needs the dev dependencies (tsx,
// esbuild): under `npm ci --omit=dev` in a checkout it is skipped with a note, since bin/virtkit
// then says what to do; for pack and publish a missing build is an error (the package would
// not run).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const packing = ['pack', 'publish'].includes(process.env.npm_command ?? '');
const require = createRequire(import.meta.url);
for (const dep of ['tsx', 'esbuild']) {
  try {
    require.resolve(`${dep}/package.json`);
  } catch {
    const msg = `virtkit prepare: ${dep} (a dev dependency) is not installed, so dist/ cannot be built`;
    if (packing) {
      console.error(`${msg}: run 'npm ci' first`);
      process.exit(1);
    }
    console.error(`${msg}; skipped (bin/virtkit needs 'npm ci' with dev dependencies, then 'npm run build')`);
    process.exit(0);
  }
}
const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
