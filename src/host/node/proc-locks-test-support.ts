/** For tests: which bytes of a file are under OFD locks, as the kernel lists them. */
import { readFileSync, statSync } from 'node:fs';

/** The bytes of `path` under OFD locks, from /proc/locks (it merges neighbouring ranges). */
export function lockedBytes(path: string): number[] {
  const ino = statSync(path).ino;
  const bytes: number[] = [];
  for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== 'OFDLCK' || Number(f[5]!.split(':')[2]) !== ino) continue;
    for (let b = Number(f[6]); b <= Number(f[7]); b++) bytes.push(b);
  }
  return bytes.sort((a, b) => a - b);
}
