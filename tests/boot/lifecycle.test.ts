/**
 * Exit statuses, signals and the console through the real binary: --save-on-exit checked at
 * start and failing at exit, SIGHUP quitting with a snapshot, piped output free of terminal
 * queries and of line wrapping at 80 columns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GUEST_PROMPT, VirtkitSession, ensureGuest, virtkit } from '../support/virtkit.ts';

test('an unwritable --save-on-exit is refused at start with exit status 2', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-life-'));
  try {
    for (const target of [join(dir, 'missing', 'vm.snap'), '/proc/virtkit-vm.snap', dir]) {
      const r = await virtkit(['run', '--save-on-exit', target], '', 60_000);
      assert.equal(r.code, 2, `${target}: exit ${r.code}\n${r.stderr}`);
      assert.ok(r.stderr.includes(`--save-on-exit '${target}'`), r.stderr);
      assert.doesNotMatch(r.stdout, /Linux version/); // refused before booting
    }
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a save that fails at exit is exit status 1 with a one-line message', { timeout: 900_000 }, async () => {
  ensureGuest();
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-life-'));
  try {
    mkdirSync(join(dir, 'sub'));
    const snap = join(dir, 'sub', 'vm.snap');
    const s = new VirtkitSession(['run', '--memory', '256M', '--save-on-exit', snap]);
    await s.waitFor(GUEST_PROMPT);
    rmSync(join(dir, 'sub'), { recursive: true }); // the directory goes away while the VM runs
    const r = await s.end();
    assert.equal(r.code, 1, `exit ${r.code}\n${r.stderr}\n${r.stdout.slice(-1000)}`);
    const lines = r.stderr.split(/\r?\n/).filter((l) => l.includes('cannot save'));
    assert.equal(lines.length, 1, r.stderr);
    assert.ok(lines[0]!.includes(`cannot save the snapshot to ${snap}: ENOENT`), r.stderr);
    assert.ok(!existsSync(snap));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGHUP saves the snapshot and exits 0; piped output has no ESC[6n and no 80-column wrap', { timeout: 1_200_000 }, async () => {
  ensureGuest();
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-life-'));
  try {
    const snap = join(dir, 'vm.snap');
    const long = 'x'.repeat(200);
    const s = new VirtkitSession(['run', '--memory', '256M', '--save-on-exit', snap]);
    let at = await s.waitFor(GUEST_PROMPT);
    s.send(`echo hup-$((6*7)) > /tmp/mark; echo ${long}\n`);
    at = await s.waitFor(new RegExp(`\\n${long}\\r?\\n`), at);
    await s.waitFor(GUEST_PROMPT, at);
    s.kill('SIGHUP');
    const r = await s.result;
    assert.equal(r.code, 0, `exit ${r.code ?? r.signal}\n${r.stderr}\n${r.stdout.slice(-1000)}`);
    assert.match(r.stderr, /snapshot saved/);
    assert.ok(statSync(snap).size > 1_000_000);
    assert.ok(!r.stdout.includes('\x1b[6n'), 'piped output carries the cursor query');
    // The echo of the typed command line is one line: the shell did not wrap it at 80 columns.
    assert.ok(r.stdout.includes(`# echo hup-$((6*7)) > /tmp/mark; echo ${long}\r\n`), r.stdout.slice(-1500));

    const back = await virtkit(['run', '--restore', snap], 'echo "@@ $(cat /tmp/mark)"\npoweroff -f\n');
    assert.equal(back.code, 0, `restore exit ${back.code}\n${back.stderr}\n${back.stdout.slice(-1000)}`);
    assert.match(back.stdout, /@@ hup-42/);
    assert.ok(!back.stdout.includes('\x1b[6n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
