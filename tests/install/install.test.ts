/**
 * virtkit installs the way users install packages, and the installed copy runs: `npm pack` of a
 * fresh copy of the sources (no dist/, so the pack hook must build it), then the tarball installed
 * into an empty directory without dev dependencies and globally under a private prefix, and from
 * each: `--version`, `img info` on an image made by qemu-img, a bare-metal boot, and `virtkit web`
 * serving its prebuilt app. Nothing from the checkout's node_modules is reachable from the
 * installed copies (they live under the system's temporary directory); they get their runtime
 * dependencies from the npm registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { ROOT } from '../support/virtkit.ts';
import { tinyElf } from './tiny-elf.ts';

/** A version no checkout has: proves `--version` reads the installed package.json. */
const VERSION = '0.0.0-install-test.1';

const work = mkdtempSync(join(tmpdir(), 'virtkit-install-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

/** The environment of every command here: this Node first on PATH, no module path from outside. */
const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}` };
delete env.NODE_PATH;
delete env.NODE_OPTIONS; // the test runner's --import tsx must not leak into the installed copy
for (const k of Object.keys(env)) if (k.startsWith('npm_')) delete env[k];

function sh(cmd: string, args: string[], cwd: string, timeout = 300_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (${r.status ?? r.signal ?? r.error?.message}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const stage = join(work, 'stage');

/** Copies what a fresh clone has (sources, no build output) and packs it; returns the tarball. */
function pack(): { tarball: string; files: string[] } {
  mkdirSync(stage);
  for (const p of [
    'package.json',
    'package-lock.json',
    'README.md',
    'LICENSE',
    'tsconfig.json',
    'bin',
    'src',
    'scripts',
  ]) {
    cpSync(join(ROOT, p), join(stage, p), { recursive: true });
  }
  cpSync(join(ROOT, 'web'), join(stage, 'web'), {
    recursive: true,
    filter: (src) => !src.startsWith(join(ROOT, 'web', 'dist')),
  });
  symlinkSync(join(ROOT, 'node_modules'), join(stage, 'node_modules'));
  const pkg = JSON.parse(readFileSync(join(stage, 'package.json'), 'utf8')) as { version: string };
  pkg.version = VERSION;
  writeFileSync(join(stage, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  assert.ok(!existsSync(join(stage, 'dist')), 'the staged copy starts without dist/');
  const out = ok(sh('npm', ['pack', '--json', '--pack-destination', work], stage), 'npm pack');
  const info = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return { tarball: join(work, info[0]!.filename), files: info[0]!.files.map((f) => f.path) };
}

/** Runs an installed `virtkit` (through its bin link, shebang and all) in a scratch directory. */
function virtkitAt(bin: string, args: string[]): SpawnSyncReturns<string> {
  return sh(bin, args, work, 120_000);
}

/** Starts `virtkit web` on a free port, fetches the page and the worker bundle, stops it. */
async function webServes(bin: string, kernel: string): Promise<void> {
  const child = spawn(bin, ['web', '--port', '0', '--kernel', kernel], { cwd: work, env });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        const m = /serving on (http:\S+)/.exec(stdout);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) =>
        reject(new Error(`virtkit web exited (${code}) before serving:\n${stdout}\n${stderr}`)),
      );
    });
    const base = url.endsWith('/') ? url : url + '/';
    for (const path of ['', 'dist/worker.js', 'dist/main.js']) {
      const res = await fetch(base + path);
      assert.equal(res.status, 200, `GET /${path}`);
      assert.ok((await res.arrayBuffer()).byteLength > 0, `GET /${path} is empty`);
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
    clearTimeout(killer);
  }
}

test('the packed tarball installs without dev dependencies and runs', { timeout: 900_000 }, async (t) => {
  const { tarball, files } = pack();
  await t.test('the tarball carries the bundles, not the sources', () => {
    for (const f of [
      'bin/virtkit',
      'dist/cli/main.js',
      'web/index.html',
      'web/style.css',
      'web/dist/worker.js',
      'web/dist/main.js',
      'web/dist/console.js',
      'web/dist/console.css',
      'web/console/index.html',
      'web/console/style.css',
    ]) {
      assert.ok(
        files.includes(f),
        `${f} missing from the package (${files.length} files: ${files.slice(0, 8).join(' ')} ...)`,
      );
    }
    assert.deepEqual(
      files.filter((f) => f.endsWith('.ts')),
      [],
      'TypeScript sources in the package',
    );
  });

  await t.test('checkout: bin/virtkit runs an edited source without a rebuild', () => {
    // The pack hook built stage/dist: the bundle runs. An edit makes it stale: the sources run.
    const bin = join(stage, 'bin', 'virtkit');
    assert.equal(ok(virtkitAt(bin, ['--version']), 'virtkit --version'), `virtkit ${VERSION}\n`);
    const main = join(stage, 'src', 'cli', 'main.ts');
    const text = readFileSync(main, 'utf8');
    assert.ok(text.includes('`virtkit ${packageVersion()}`'));
    writeFileSync(main, text.replace('`virtkit ${packageVersion()}`', '`virtkit (edited) ${packageVersion()}`'));
    assert.equal(ok(virtkitAt(bin, ['--version']), 'virtkit --version'), `virtkit (edited) ${VERSION}\n`);
  });

  await t.test('the package has no install-time scripts (npm would run or flag them on users)', () => {
    const pkg = JSON.parse(readFileSync(join(stage, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare'])
      assert.equal(pkg.scripts?.[hook], undefined, hook);
  });

  const image = join(work, 'disk.qcow2');
  ok(sh('qemu-img', ['create', '-q', '-f', 'qcow2', image, '64M'], work), 'qemu-img create');
  const elf = join(work, 'hello.elf');
  writeFileSync(elf, tinyElf());

  const local = join(work, 'local');
  mkdirSync(local);
  ok(sh('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', tarball], local), 'npm install');
  const globalPrefix = join(work, 'global');
  ok(
    sh('npm', ['install', '-g', '--prefix', globalPrefix, '--no-audit', '--no-fund', tarball], work),
    'npm install -g',
  );

  const installs: Array<[string, string, string]> = [
    ['local', join(local, 'node_modules', '.bin', 'virtkit'), join(local, 'node_modules')],
    [
      'global',
      join(globalPrefix, 'bin', 'virtkit'),
      join(globalPrefix, 'lib', 'node_modules', 'virtkit', 'node_modules'),
    ],
  ];
  for (const [kind, bin, modules] of installs) {
    await t.test(`${kind} install: no dev dependencies (nor the page's xterm.js, bundled) came along`, () => {
      for (const dev of ['tsx', 'esbuild', 'typescript', '@xterm/xterm'])
        assert.ok(!existsSync(join(modules, dev)), `${dev} installed`);
    });
    await t.test(`${kind} install: --version prints package.json's version`, () => {
      assert.equal(ok(virtkitAt(bin, ['--version']), 'virtkit --version'), `virtkit ${VERSION}\n`);
    });
    await t.test(`${kind} install: img info reads a qemu-img image`, () => {
      const info = JSON.parse(ok(virtkitAt(bin, ['img', 'info', '--output', 'json', image]), 'virtkit img info')) as {
        format: string;
        'virtual-size': number;
      };
      assert.equal(info.format, 'qcow2');
      assert.equal(info['virtual-size'], 64 << 20);
    });
    await t.test(`${kind} install: a bare-metal program boots and passes`, () => {
      const r = virtkitAt(bin, ['run', '--firmware', 'none', '--kernel', elf, '--max-instructions', '1000']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'ok\n');
    });
    await t.test(`${kind} install: virtkit web serves the prebuilt app`, () => webServes(bin, elf));
  }
});
