/** `check` on VMDK images, against qemu-img check on the same files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { qemu, qemuImg, qemuIo, scratch, virtkit } from './helpers.ts';

/** Points grain 1 of the first grain table past the end of the file (a monolithicSparse VMDK). */
function breakSecondGrain(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    const header = Buffer.alloc(512);
    readSync(fd, header, 0, 512, 0);
    const gd = Number(header.readBigUInt64LE(56));
    const entry = Buffer.alloc(4);
    readSync(fd, entry, 0, 4, gd * 512);
    const gt = entry.readUInt32LE(0);
    entry.writeUInt32LE(0x00ffffff, 0);
    writeSync(fd, entry, 0, 4, gt * 512 + 4);
  } finally {
    closeSync(fd);
  }
}

test('check on VMDK: clean images pass, a grain past the end fails the check, repair is refused, as qemu-img', async () => {
  const dir = scratch();
  try {
    for (const sub of ['monolithicSparse', 'streamOptimized']) {
      const file = dir.path(`${sub}.vmdk`);
      qemu('create', '-q', '-f', 'vmdk', '-o', `subformat=${sub}`, file, '8M');
      if (sub === 'monolithicSparse') qemuIo(file, 'vmdk', 'write -P 1 0 128k', 'write -P 2 4M 64k');
      const q = qemuImg('check', '--output=json', file);
      const v = await virtkit('check', '--output', 'json', file);
      assert.equal(v.status, q.status, `${sub}: ${v.stderr}`);
      assert.deepEqual(JSON.parse(v.stdout), JSON.parse(q.stdout));
      const human = await virtkit('check', file);
      assert.equal(human.stdout, 'No errors were found on the image.\n');
    }
    const file = dir.path('broken.vmdk');
    qemu('create', '-q', '-f', 'vmdk', file, '8M');
    qemuIo(file, 'vmdk', 'write -P 1 0 128k');
    breakSecondGrain(file);
    const q = qemuImg('check', file);
    const v = await virtkit('check', file);
    assert.equal(q.status, 1);
    assert.equal(v.status, q.status);
    assert.match(v.stderr, /cluster offset for sector 128 points after EOF/);
    assert.match(q.stderr, /cluster offset for sector 128 points after EOF/);
    assert.equal((await virtkit('check', '-r', 'all', file)).status, qemuImg('check', '-r', 'all', file).status);
  } finally {
    dir.done();
  }
});
