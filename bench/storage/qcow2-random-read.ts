/**
 * Random 4 KiB reads from a qcow2 image with a warm metadata cache, against `qemu-img bench`
 * (queue depth 1, the same request size, a large stride so requests scatter over the image).
 * Usage: node --import tsx bench/storage/qcow2-random-read.ts [reads]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRng } from '../../src/storage/contract/block-backend-contract.ts';
import { openImageFile } from '../../src/host/node/open-image.ts';

const N = Number(process.argv[2] ?? 100_000);
const SIZE = 1 << 30;
const dir = mkdtempSync(join(tmpdir(), 'virtkit-bench-'));
try {
  const f = join(dir, 'bench.qcow2');
  // Every cluster mapped, data in the page cache: what is measured is the lookup path.
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'preallocation=metadata', f, String(SIZE)]);
  const b = await openImageFile(f, { readOnly: true });
  const rng = makeRng(1);
  const buf = new Uint8Array(4096);
  for (let i = 0; i < 20_000; i++) await b.read(rng(SIZE / 4096) * 4096, buf); // warm up
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await b.read(rng(SIZE / 4096) * 4096, buf);
  const ours = N / (Number(process.hrtime.bigint() - t0) / 1e9);
  await b.close();

  t0 = process.hrtime.bigint();
  execFileSync('qemu-img', [
    'bench',
    '-c',
    String(N),
    '-d',
    '1',
    '-s',
    '4096',
    '-S',
    String(4096 * 25117),
    '-f',
    'qcow2',
    f,
  ]);
  const qemu = N / (Number(process.hrtime.bigint() - t0) / 1e9);
  console.log(
    `qcow2 random 4 KiB reads: virtkit ${ours.toFixed(0)} ops/s, qemu-img bench ${qemu.toFixed(0)} ops/s, ratio ${(ours / qemu).toFixed(2)}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
