import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCpio } from './cpio.ts';

test('writeCpio output is read back by GNU cpio with names, modes, data and symlinks intact', () => {
  const archive = writeCpio([
    { type: 'dir', path: 'bin' },
    { type: 'file', path: 'bin/hello', data: new TextEncoder().encode('hello world\n'), mode: 0o755 },
    { type: 'file', path: 'odd', data: new Uint8Array([1, 2, 3]) },
    { type: 'symlink', path: 'bin/sh', target: 'hello' },
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'cpio-'));
  try {
    writeFileSync(join(dir, 'a.cpio'), archive);
    const r = spawnSync('sh', ['-c', 'mkdir out && cd out && cpio -id --quiet < ../a.cpio'], { cwd: dir });
    assert.equal(r.status, 0, `cpio failed (is the cpio package installed?): ${r.stderr}`);
    assert.equal(readFileSync(join(dir, 'out/bin/hello'), 'utf8'), 'hello world\n');
    assert.equal(statSync(join(dir, 'out/bin/hello')).mode & 0o777, 0o755);
    assert.deepEqual([...readFileSync(join(dir, 'out/odd'))], [1, 2, 3]);
    assert.equal(readlinkSync(join(dir, 'out/bin/sh')), 'hello');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every cpio entry starts 4-byte aligned with the newc magic', () => {
  const archive = writeCpio([{ type: 'file', path: 'abc', data: new Uint8Array(5) }]);
  assert.equal(archive.length % 4, 0);
  assert.equal(new TextDecoder().decode(archive.subarray(0, 6)), '070701');
  const second = new TextDecoder().decode(archive).indexOf('070701', 6);
  assert.equal(second % 4, 0);
});
