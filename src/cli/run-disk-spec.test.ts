/** `--disk` text: virtkit's FILE,... and QEMU's -drive spelling file=FILE,... */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { parseDiskSpec } from './run-linux.ts';

test("--disk accepts QEMU's file= key, in any position", () => {
  assert.deepEqual(parseDiskSpec('file=d.qcow2'), { path: resolve('d.qcow2'), readOnly: false });
  assert.deepEqual(parseDiskSpec('file=d.qcow2,format=qcow2,readonly=on'), {
    path: resolve('d.qcow2'),
    format: 'qcow2',
    readOnly: true,
  });
  assert.deepEqual(parseDiskSpec('format=raw,file=a=b.img'), {
    path: resolve('a=b.img'),
    format: 'raw',
    readOnly: false,
  });
  assert.deepEqual(parseDiskSpec('d.img,readonly'), { path: resolve('d.img'), readOnly: true });
});

test('--disk refuses two files, no file and unknown keys, saying what is expected', () => {
  assert.throws(() => parseDiskSpec('a.img,file=b.img'), /give the file once/);
  assert.throws(() => parseDiskSpec('format=raw'), /missing file name/);
  assert.throws(
    () => parseDiskSpec('a.img,cache=none'),
    /unknown option 'cache=none' \(expected FILE\[,format=FMT\]\[,readonly\]\)/,
  );
});
