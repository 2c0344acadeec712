import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeBootFiles, reloadBootFiles, sha256Hex } from './boot-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'virtkit-bootfiles-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array) {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

test('sha256 matches the published test vector', () => {
  assert.equal(
    sha256Hex(new TextEncoder().encode('abc')),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  );
});

test('recorded files reload byte for byte', async () => {
  const kernel = file('k1', new Uint8Array(5000).fill(7));
  const initrd = file('i1', new Uint8Array([1, 2, 3]));
  const record = describeBootFiles({ kernel, initrd });
  assert.equal(record.kernel?.size, 5000);
  assert.equal(record.firmware, undefined);
  const back = await reloadBootFiles(record, 1 << 20);
  assert.deepEqual(back.kernel, kernel.bytes);
  assert.deepEqual(back.initrd, initrd.bytes);
  assert.equal(back.firmware, undefined);
});

test('a file that is gone, resized or rewritten is refused, saying which and how', async () => {
  const kernel = file('k2', new Uint8Array(64).fill(1));
  const initrd = file('i2', new Uint8Array(64).fill(2));
  const record = describeBootFiles({ kernel, initrd });

  writeFileSync(initrd.path, new Uint8Array(64).fill(3));
  await assert.rejects(
    reloadBootFiles(record, 1 << 20),
    /the initrd .*i2 has changed since the snapshot was saved \(different contents\)/,
  );
  writeFileSync(initrd.path, new Uint8Array(65).fill(2));
  await assert.rejects(reloadBootFiles(record, 1 << 20), /the initrd .*i2 has changed .*\(65 bytes, was 64\)/);
  unlinkSync(kernel.path);
  await assert.rejects(reloadBootFiles(record, 1 << 20), /the kernel .*k2 is gone/);
});

test('a record larger than guest RAM is refused before reading', async () => {
  const kernel = file('k3', new Uint8Array(4096));
  const record = describeBootFiles({ kernel });
  await assert.rejects(reloadBootFiles(record, 1024), /larger than guest RAM/);
});

test('a directory where the file was is refused', async () => {
  const kernel = file('k4', new Uint8Array(16));
  const record = describeBootFiles({ kernel });
  record.kernel!.path = dir;
  await assert.rejects(reloadBootFiles(record, 1 << 20), /no longer a file/);
});

test('a host error reading a boot file is said in words, not as a bare code', async () => {
  const kernel = file('k5', new Uint8Array(16));
  const record = describeBootFiles({ kernel });
  record.kernel!.path = `${kernel.path}/below-a-file`; // ENOTDIR
  await assert.rejects(
    reloadBootFiles(record, 1 << 20),
    /cannot read the kernel .*: a component of the path is not a directory/,
  );
});
