/**
 * `virtkit help TOPIC` and `virtkit completion bash|zsh`, through bin/virtkit. The completion is
 * exercised in a real bash (the script is sourced and _virtkit asked as bash would ask it) and a
 * real zsh (loaded after compinit, a TAB typed on a pseudo-terminal).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LINUX_FLAGS } from './run-linux.ts';
import { BARE_METAL_FLAGS } from './run.ts';
import { command as img } from './img.ts';
import { HELP_TOPICS } from './help-topics.ts';
import { CONNECTION_FLAGS, VM_VERBS } from './vm-args.ts';
import { POOL_VERBS } from './pool.ts';
import { TEMPLATE_VERBS } from './template.ts';

const BIN = fileURLToPath(new URL('../../bin/virtkit', import.meta.url));
const vk = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

/** What a shell offers after `virtkit `: the global flags and every command. */
const TOP_LEVEL = [
  '--help',
  '--version',
  'completion',
  'daemon',
  'guest',
  'help',
  'img',
  'pool',
  'run',
  'template',
  'vm',
  'web',
];

test("virtkit help COMMAND prints that command's help; help TOPIC a topic; an unknown one is exit 2 with a suggestion", () => {
  const run = vk('help', 'run');
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^usage: virtkit run/);
  const daemon = vk('help', 'daemon');
  assert.equal(daemon.status, 0, daemon.stderr);
  assert.match(daemon.stdout, /^usage: virtkit daemon \[--state-dir DIR\] \[--listen HOST:PORT\]/);
  for (const flag of ['--state-dir', '--listen', '--help']) assert.match(daemon.stdout, new RegExp(flag));
  const img = vk('help', 'img');
  assert.match(img.stdout, /^usage: virtkit img VERB/);
  for (const topic of ['exit-status', 'network', 'snapshots']) {
    const r = vk('help', topic);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), HELP_TOPICS[topic]!.trim());
  }
  const bad = vk('help', 'netwrok');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /no help on 'netwrok': did you mean 'network'\?/);
  assert.match(vk('help').stdout, /help on a command or a topic/);
  assert.match(vk('rnu').stderr, /unknown command 'rnu': did you mean 'run'\?/);
});

test('help exit-status lists every status and says busy ports and image locks are 1 everywhere', () => {
  const text = HELP_TOPICS['exit-status']!;
  for (const code of [0, 1, 2, 3, 70, 124, 126, 141]) assert.match(text, new RegExp(`^ {2}${code}\\b`, 'm'));
  assert.match(
    text.replace(/\s+/g, ' '),
    /port in use for 'web --port' or a 'run --net' hostfwd, a disk image locked by another program, in 'run' and 'img' alike/,
  );
});

test('the network help and run --help say an empty hostfwd address binds 127.0.0.1, not 0.0.0.0', () => {
  assert.match(HELP_TOPICS.network!.replace(/\s+/g, ' '), /empty HOSTADDR binds 127\.0\.0\.1 .*QEMU binds 0\.0\.0\.0/);
  assert.match(
    vk('run', '--help').stdout.replace(/\s+/g, ' '),
    /empty HOSTADDR binds 127\.0\.0\.1 .*QEMU binds 0\.0\.0\.0/,
  );
});

/** What _virtkit offers for the command line `words` (the last word is the one being completed). */
const dir = mkdtempSync(join(tmpdir(), 'virtkit-completion-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function complete(script: string, words: string[]): string[] {
  const file = join(dir, 'virtkit.bash');
  writeFileSync(file, script);
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const r = spawnSync(
    'bash',
    [
      '--norc',
      '-c',
      `source '${file}'; complete -p virtkit >&2; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _virtkit; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /complete .*-F _virtkit virtkit/);
  return r.stdout.split('\n').filter(Boolean).sort();
}

test('virtkit completion bash completes commands, verbs, topics and every flag of the specs', () => {
  const r = vk('completion', 'bash');
  assert.equal(r.status, 0, r.stderr);
  const s = r.stdout;
  assert.deepEqual(complete(s, ['virtkit', 'r']), ['run']);
  assert.deepEqual(complete(s, ['virtkit', '']), TOP_LEVEL);
  assert.deepEqual(complete(s, ['virtkit', 'img', 'co']), ['commit', 'compare', 'convert']);
  assert.deepEqual(complete(s, ['virtkit', 'guest', '']), ['fetch', 'list']);
  assert.deepEqual(complete(s, ['virtkit', 'help', 'ex']), ['exit-status']);
  assert.deepEqual(complete(s, ['virtkit', 'completion', '']), ['bash', 'zsh']);
  // Generated from the specs: every flag of run's two modes and of every img verb.
  const runFlags = [...new Set([...Object.keys(LINUX_FLAGS), ...Object.keys(BARE_METAL_FLAGS), 'help'])].map(
    (n) => `--${n}`,
  );
  assert.deepEqual(complete(s, ['virtkit', 'run', '--']), runFlags.sort());
  for (const [verb, spec] of Object.entries(img.verbs!))
    assert.deepEqual(
      complete(s, ['virtkit', 'img', verb, '--']),
      [...Object.keys(spec), 'help'].map((n) => `--${n}`).sort(),
      verb,
    );
  assert.deepEqual(complete(s, ['virtkit', 'run', '--mem']), ['--memory']);
  assert.deepEqual(complete(s, ['virtkit', 'daemon', '--']), ['--help', '--listen', '--state-dir']);
  // After a flag that takes a value, file names (none match this prefix).
  assert.deepEqual(complete(s, ['virtkit', 'run', '--kernel', '/nonexistent-virtkit-x']), []);
  // vm: its verbs, snapshot's own verbs, each (sub-)verb's flags with the connection flags.
  assert.deepEqual(complete(s, ['virtkit', 'vm', 's']), ['shutdown', 'snapshot', 'start', 'stats', 'stop']);
  assert.deepEqual(complete(s, ['virtkit', 'vm', 'snapshot', '']), ['create', 'delete', 'list', 'revert']);
  const conn = Object.keys(CONNECTION_FLAGS);
  for (const [verb, spec] of Object.entries(VM_VERBS))
    if (verb !== 'snapshot')
      assert.deepEqual(
        complete(s, ['virtkit', 'vm', verb, '--']),
        [...Object.keys(spec), ...conn, 'help'].map((n) => `--${n}`).sort(),
        verb,
      );
  assert.deepEqual(
    complete(s, ['virtkit', 'vm', 'snapshot', 'list', '--']),
    ['output', ...conn, 'help'].map((n) => `--${n}`).sort(),
  );
  // A VM name argument: the names 'virtkit vm list --quiet' prints (the daemon's VMs). A stand-in
  // for virtkit answers here; vm.test.ts checks the real 'vm list --quiet' against a server.
  const fake = join(dir, 'fake-virtkit');
  writeFileSync(fake, `#!/bin/sh\n[ "$*" = "vm list --quiet" ] && printf 'alpha\\nbeta\\nweb1\\n'\n`, { mode: 0o755 });
  assert.deepEqual(complete(s, [fake, 'vm', 'start', '']), ['alpha', 'beta', 'web1']);
  assert.deepEqual(complete(s, [fake, 'vm', 'snapshot', 'revert', 'b']), ['beta']);
  assert.deepEqual(complete(s, [fake, 'vm', 'info', '--output', '/nonexistent-virtkit-x']), []);
  // pool: its verbs, their flags, pool names from 'virtkit pool list --quiet'.
  assert.deepEqual(complete(s, ['virtkit', 'pool', '']), ['create', 'delete', 'list', 'set', 'show']);
  for (const [verb, spec] of Object.entries(POOL_VERBS))
    assert.deepEqual(
      complete(s, ['virtkit', 'pool', verb, '--']),
      [...Object.keys(spec), ...conn, 'help'].map((n) => `--${n}`).sort(),
      verb,
    );
  const fakePools = join(dir, 'fake-virtkit-pools');
  writeFileSync(fakePools, `#!/bin/sh\n[ "$*" = "pool list --quiet" ] && printf 'default\\ndev\\n'\n`, { mode: 0o755 });
  assert.deepEqual(complete(s, [fakePools, 'pool', 'set', 'd']), ['default', 'dev']);
  for (const [verb, spec] of Object.entries(TEMPLATE_VERBS))
    assert.deepEqual(
      complete(s, ['virtkit', 'template', verb, '--']),
      [...Object.keys(spec), ...conn, 'help'].map((n) => `--${n}`).sort(),
      verb,
    );
});

test('virtkit completion zsh prints a script generated from the same specs; no shell is exit 2', () => {
  const r = vk('completion', 'zsh');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^#compdef virtkit/);
  assert.match(r.stdout, /"img convert"\) flags=\(.*--output-format/);
  const zsh = spawnSync('zsh', ['-n'], { input: r.stdout, encoding: 'utf8' });
  assert.equal(zsh.error, undefined, 'zsh is needed for this test (Debian: apt-get install zsh)');
  assert.equal(zsh.status, 0, zsh.stderr);
  const none = vk('completion');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /give the shell: bash or zsh/);
});

const ZSH_DRIVER = fileURLToPath(new URL('./zsh-complete.test-driver.zsh', import.meta.url));

/** What zsh offers when `line` is typed and TAB pressed, the script loaded after compinit (see the driver). */
function completeZsh(script: string, line: string): string[] {
  const file = join(dir, '_virtkit.zsh');
  const out = join(dir, `zsh-${Math.random().toString(36).slice(2)}.out`);
  writeFileSync(file, script);
  const r = spawnSync('zsh', ['-f', ZSH_DRIVER, out, file, line], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `zsh completion of '${line}' did not finish: ${r.stderr}`);
  const words = readFileSync(out, 'utf8')
    .split('\n')
    .filter((w) => w && w !== 'READY' && w !== 'END');
  return [...new Set(words)].sort();
}

test('the zsh script loads with compinit and completes commands, verbs, topics, flags and files', () => {
  const r = vk('completion', 'zsh');
  assert.equal(r.status, 0, r.stderr);
  const s = r.stdout;
  assert.deepEqual(completeZsh(s, 'virtkit im'), ['img']);
  assert.deepEqual(completeZsh(s, 'virtkit '), TOP_LEVEL);
  assert.deepEqual(completeZsh(s, 'virtkit vm st'), ['start', 'stats', 'stop']);
  assert.deepEqual(completeZsh(s, 'virtkit img co'), ['commit', 'compare', 'convert']);
  assert.deepEqual(completeZsh(s, 'virtkit help ex'), ['exit-status']);
  assert.deepEqual(completeZsh(s, 'virtkit completion '), ['bash', 'zsh']);
  assert.deepEqual(completeZsh(s, 'virtkit run --mem'), ['--memory']);
  assert.deepEqual(completeZsh(s, 'virtkit img convert --output-f'), ['--output-format']);
  // After a flag that takes a value, file names.
  writeFileSync(join(dir, 'kernel-a.img'), '');
  assert.ok(completeZsh(s, `virtkit run --kernel ${dir}/kernel-`).includes('kernel-a.img'));
});
