#!/usr/bin/env node
// The whole test suite: type-check (full and platform-neutral core), lint, build what the package
// ships (scripts/build.ts: dist/cli and web/dist, so the tests' bin/virtkit runs the bundle), then
// every *.test.ts under src/, tests/ and bench/ with Node's built-in runner and the tsx loader.
// Usage: node scripts/test.mjs [--no-check] [--no-debian] [path-filter ...]
//
// Two lanes run at once: the slow lane (tests/debian/: builds the Debian system guest once and
// boots it under systemd, tens of minutes of one core) beside everything else, so the machine's
// second core is used and CI's wall time is the longer lane, not their sum. The slow lane's
// report is written to a file and printed when both lanes are done.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
const SLOW_LANE = 'tests/debian/';
// The Debian system's end-to-end test is part of every full run (CI's included); --no-debian or
// VIRTKIT_TEST_DEBIAN=0 leaves it out for a quick local run (--debian is accepted for old habits).
const withDebian = !args.includes('--no-debian') && process.env.VIRTKIT_TEST_DEBIAN !== '0';
const slow = withDebian ? files.filter((f) => f.startsWith(SLOW_LANE)) : [];
const fast = files.filter((f) => !f.startsWith(SLOW_LANE));

/** Runs one lane of `node --test`; resolves with its exit status. */
function lane(laneFiles, reportFile) {
  if (laneFiles.length === 0) return Promise.resolve(0);
  const reporter = reportFile
    ? ['--test-reporter=spec', `--test-reporter-destination=${reportFile}`]
    : ['--test-reporter=spec'];
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...reporter, ...laneFiles], {
    cwd: root,
    stdio: 'inherit',
  });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

const slowReport = slow.length ? join(mkdtempSync(join(tmpdir(), 'virtkit-slow-lane-')), 'report.txt') : undefined;
if (slow.length) console.log(`slow lane (in parallel, report at the end): ${slow.join(' ')}`);
const [fastStatus, slowStatus] = await Promise.all([lane(fast), lane(slow, slowReport)]);
if (slowReport) {
  console.log(`\n--- slow lane: ${slow.join(' ')} ---`);
  try {
    process.stdout.write(readFileSync(slowReport, 'utf8'));
  } catch {
    console.log('(no report written)');
  }
}
if (fastStatus !== 0 || slowStatus !== 0) {
  console.error(`\ntests failed (main lane exit ${fastStatus}, slow lane exit ${slowStatus})`);
  process.exit(1);
}
