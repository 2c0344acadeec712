/**
 * What an image lock costs: FileStore open+close of one file with QEMU-compatible locks against
 * without, alternated (5 rounds of 10 each), and the first locked open of the process (which
 * starts the lock holder, src/host/node/lock-helper.ts). ROOT lets the same script time another
 * checkout of virtkit (a worktree of an older commit), for before/after figures.
 *
 *   node --import tsx bench/storage/lock-cost.ts [ROOT]
 *
 * Prints milliseconds; nothing is asserted (the machine is shared).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(process.argv[2] ?? fileURLToPath(new URL('../..', import.meta.url)));
const load = (rel: string) => import(pathToFileURL(join(root, rel)).href);
const { FileStore } = await load('src/host/node/file-store.ts');
const { lockModeFor } = await load('src/host/node/image-lock.ts');

const dir = mkdtempSync(join(tmpdir(), 'virtkit-lock-cost-'));
const f = join(dir, 'disk.img');
writeFileSync(f, new Uint8Array(4096));
try {
  let t = performance.now();
  await (await FileStore.open(f, { lock: lockModeFor(false) })).close();
  const first = performance.now() - t;
  const total = { unlocked: 0, locked: 0 };
  for (let round = 0; round < 5; round++)
    for (const [name, lock] of [
      ['unlocked', undefined],
      ['locked', lockModeFor(false)],
    ] as const) {
      t = performance.now();
      for (let i = 0; i < 10; i++) await (await FileStore.open(f, { lock })).close();
      total[name] += performance.now() - t;
    }
  console.log(`${root}`);
  console.log(`first locked open+close of the process: ${first.toFixed(1)} ms`);
  console.log(`per open+close: unlocked ${(total.unlocked / 50).toFixed(2)} ms, locked ${(total.locked / 50).toFixed(2)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
