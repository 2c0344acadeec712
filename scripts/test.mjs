#!/usr/bin/env node
// The whole test suite: type-check (full and platform-neutral core), lint, build what the package
// ships (scripts/build.ts: dist/cli and web/dist, so the tests' bin/virtkit runs the bundle), then
// every *.test.ts under src/, tests/ and bench/ with Node's built-in runner and the tsx loader.
// Usage: node scripts/test.mjs [--no-check] [path-filter ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const noCheck = args.includes('--no-check');
const filters = args.filter((a) => !a.startsWith('--'));

function run(cmd, cmdArgs) {
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`\n${cmd} ${cmdArgs.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

function findTests(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

if (!noCheck) {
  const bin = join(root, 'node_modules', '.bin');
  run(join(bin, 'tsc'), ['-p', 'tsconfig.json']);
  run(join(bin, 'tsc'), ['-p', 'tsconfig.core.json']);
  run(join(bin, 'eslint'), ['.']);
}

run(process.execPath, ['--import', 'tsx', 'scripts/build.ts']);

let files = ['src', 'tests', 'bench'].flatMap((d) => findTests(join(root, d), []));
if (filters.length) files = files.filter((f) => filters.some((flt) => f.includes(flt)));
files.sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files]);
