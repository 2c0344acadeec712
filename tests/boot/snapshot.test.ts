/**
 * Snapshot and restore through the CLI: a guest shell is used, saved on exit, and resumed in a
 * fresh process, where the shell still has its state (a file in tmpfs, the working directory).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGuest, virtkit } from '../support/virtkit.ts';

test('save on exit, restore in a new process, keep using the shell', { timeout: 1_200_000 }, async () => {
  ensureGuest();
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-snap-'));
  try {
    const snap = join(dir, 'vm.snap');
    const first = await virtkit(
      ['run', '--memory', '256M', '--save-on-exit', snap],
      'echo remembered-$((6*7)) > /tmp/mark\ncd /proc/self\n',
    );
    assert.equal(first.code, 0, `first run exit ${first.code}\n${first.stderr}\n${first.stdout.slice(-2000)}`);
    assert.match(first.stderr, /snapshot saved/);
    assert.ok(statSync(snap).size > 1_000_000);

    const second = await virtkit(
      ['run', '--restore', snap],
      'echo "@@F $(cat /tmp/mark)"\necho "@@P $(pwd)"\npoweroff -f\n',
    );
    assert.equal(second.code, 0, `restore exit ${second.code}\n${second.stderr}\n${second.stdout.slice(-2000)}`);
    assert.match(second.stdout, /@@F remembered-42/);
    assert.match(second.stdout, /@@P \/proc\/self/);
    // The restored guest never booted again.
    assert.doesNotMatch(second.stdout, /Linux version/);

    const bad = await virtkit(['run', '--restore', join(dir, 'missing.snap')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /cannot read snapshot/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
