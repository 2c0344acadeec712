/**
 * The data ranges of a host file, so raw images skip their holes. Node.js exposes neither
 * lseek(SEEK_DATA/SEEK_HOLE) nor the FIEMAP ioctl, so this asks e2fsprogs' `filefrag`, which
 * prints the file's FIEMAP extents (ext4, xfs, btrfs, ...). `-s` syncs the file first: FIEMAP
 * can miss data still in the page cache on some file systems, and a missed extent would be
 * silently lost by convert. Any failure (no filefrag, a file system without FIEMAP, output we do
 * not understand) returns undefined, and the raw image is then read in full as before.
 */
import { execFile } from 'node:child_process';
import type { DataRange } from '../../storage/img/context.ts';

/** Below this size reading the whole file is cheaper than starting a process. */
const MIN_SIZE = 16 * 1024 * 1024;

export function parseFilefrag(text: string): DataRange[] | undefined {
  const ranges: DataRange[] = [];
  let found: number | undefined;
  let last = false;
  for (const line of text.split('\n')) {
    // "   0:   104857600..  109051903:  28659679232.. 28663873535:  4194304:  ...flags"
    const m = /^\s*\d+:\s*(\d+)\.\.\s*(\d+):/.exec(line);
    if (m) {
      const start = Number(m[1]);
      const end = Number(m[2]);
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
      ranges.push({ offset: start, length: end - start + 1 });
      // FIEMAP_EXTENT_LAST: the kernel says the list ends here.
      last = /\blast\b/.test(line.slice(m[0].length));
      continue;
    }
    const f = /: (\d+) extents? found$/.exec(line.trim());
    if (f) found = Number(f[1]);
  }
  // Trust the list only when it is complete: it ends with the kernel's last extent (the
  // "N extents found" summary counts physically merged extents, so it is not a line count).
  if (found === undefined) return undefined;
  if (ranges.length === 0) return found === 0 ? ranges : undefined;
  return last ? ranges : undefined;
}

export function fileDataRanges(path: string, size: number): Promise<DataRange[] | undefined> {
  if (size < MIN_SIZE) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    execFile('filefrag', ['-s', '-v', '-b1', path], { timeout: 10_000, maxBuffer: 64 << 20 }, (err, stdout) => {
      resolve(err ? undefined : parseFilefrag(stdout));
    });
  });
}
