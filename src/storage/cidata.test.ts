import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSeedImage, seedFiles } from './cidata.ts';

test('the seed files say what was asked', () => {
  const { metaData, userData } = seedFiles({
    instanceId: 'abc123',
    hostname: 'web1',
    sshKeys: ['ssh-ed25519 AAAAC3Nz user@host'],
    password: 'p"w',
  });
  assert.equal(metaData, 'instance-id: "abc123"\nlocal-hostname: "web1"\n');
  assert.match(userData, /^#cloud-config\n/);
  assert.match(userData, /hostname: "web1"/);
  assert.match(userData, /ssh_authorized_keys:\n {6}- "ssh-ed25519 AAAAC3Nz user@host"/);
  assert.match(userData, /password: "p\\"w"/);
});

test('the seed image is a clean FAT file system labelled CIDATA (dosfstools)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cidata-'));
  try {
    const p = join(dir, 'seed.img');
    writeFileSync(p, buildSeedImage({ instanceId: 'i-1', hostname: 'h' }));
    // fsck.vfat -n: checks only; exit 0 means no errors found.
    const out = execFileSync('fsck.vfat', ['-n', '-v', p], { encoding: 'utf8' });
    assert.doesNotMatch(out, /error|invalid|bad/i, out);
    const list = execFileSync('fsck.vfat', ['-n', '-l', p], { encoding: 'utf8' });
    assert.match(list, /\/meta-data/);
    assert.match(list, /\/user-data/);
    assert.equal(execFileSync('fatlabel', [p], { encoding: 'utf8' }).trim(), 'CIDATA');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
