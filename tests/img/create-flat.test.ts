import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { virtkit } from '../support/virtkit.ts';

test('img create writes a monolithicFlat VMDK with its extent file, which qemu-img reads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-flat-'));
  try {
    const r = await virtkit([
      'img',
      'create',
      '-f',
      'vmdk',
      '-o',
      'subformat=monolithicFlat',
      join(dir, 'd.vmdk'),
      '10M',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(dir, 'd-flat.vmdk')));
    const info = JSON.parse(
      execFileSync('qemu-img', ['info', '--output=json', join(dir, 'd.vmdk')], { encoding: 'utf8' }),
    );
    assert.equal(info.format, 'vmdk');
    assert.equal(info['virtual-size'], 10 * 1024 * 1024);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
