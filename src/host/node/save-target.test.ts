import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveTargetProblem } from './save-target.ts';

test('a save target is checked without creating or truncating it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-save-'));
  try {
    assert.equal(await saveTargetProblem(join(dir, 'new.snap')), undefined);
    assert.deepEqual(readdirSync(dir), []); // nothing created, the probe removed
    writeFileSync(join(dir, 'old.snap'), 'keep');
    assert.equal(await saveTargetProblem(join(dir, 'old.snap')), undefined);
    assert.equal(readFileSync(join(dir, 'old.snap'), 'utf8'), 'keep');

    assert.match((await saveTargetProblem(join(dir, 'missing', 'x.snap')))!, /x\.snap'.*missing does not exist/);
    assert.match((await saveTargetProblem(join(dir, 'old.snap', 'x.snap')))!, /x\.snap': ENOTDIR/);
    mkdirSync(join(dir, 'sub'));
    assert.match((await saveTargetProblem(join(dir, 'sub')))!, /sub' exists and is not a regular file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a directory that takes no new files is refused, even for root', async () => {
  // procfs: mode 0555, and not even root can create a file in it.
  const why = await saveTargetProblem('/proc/virtkit-test.snap');
  assert.match(why!, /'\/proc\/virtkit-test\.snap': cannot create files in \/proc/);
});
