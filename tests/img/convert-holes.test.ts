/**
 * convert from VHD/VHDX files whose allocated blocks hold holes (the unwritten parts of a block):
 * those holes are skipped through the file's hole map, and the result must still equal the source.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { qemu, qemuDataBytes, qemuImg, scratch, virtkit } from './helpers.ts';

test('VHD and VHDX sources with holes inside allocated blocks convert to the same bytes', async () => {
  const dir = scratch();
  try {
    // 64 MiB (big enough for the host to look up the hole map) with data scattered at odd places.
    const src = dir.path('src.raw');
    const fd = openSync(src, 'w');
    ftruncateSync(fd, 64 << 20);
    let seed = 5;
    for (let i = 0; i < 40; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const at = (seed % ((64 << 20) - 200_000)) & ~511;
      const piece = Buffer.alloc(4096 + (seed % 100_000), (i % 250) + 1);
      writeSync(fd, piece, 0, piece.length, at);
    }
    closeSync(fd);
    for (const fmt of ['vpc', 'vhdx']) {
      for (const writer of ['qemu', 'virtkit']) {
        const img = dir.path(`${writer}.${fmt}`);
        if (writer === 'qemu') qemu('convert', '-f', 'raw', '-O', fmt, src, img);
        else assert.equal((await virtkit('convert', '-f', 'raw', '-O', fmt, src, img)).status, 0);
        const back = dir.path(`${writer}-${fmt}.raw`);
        const r = await virtkit('convert', '-O', 'raw', img, back);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(qemuImg('compare', '-f', 'raw', '-F', 'raw', src, back).status, 0, `${writer} ${fmt}`);
        // The holes stayed holes: about the source's data, not whole 2-32 MiB blocks.
        assert.ok(qemuDataBytes(back) <= qemuDataBytes(src) + (1 << 20), `${writer} ${fmt} stays sparse`);
      }
    }
  } finally {
    dir.done();
  }
});
