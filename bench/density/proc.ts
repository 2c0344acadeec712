/**
 * Per-process figures from Linux's /proc, for the density benchmark: proportional set size (PSS:
 * a page shared by k processes counts 1/k to each, so N VMs' PSS add up to what they cost the
 * host together), the resident part of the guest-RAM mapping, and CPU time in clock ticks.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ProcessMemory {
  /** The whole process's proportional set size. */
  pssKiB: number;
  /** Resident KiB of the anonymous mapping that holds the guest's RAM (0 if none found). */
  guestRamRssKiB: number;
}

/** One mapping of /proc/PID/smaps: its size, its resident and proportional sizes, its path. */
interface Mapping {
  sizeKiB: number;
  rssKiB: number;
  pssKiB: number;
  path: string;
}

function parseSmaps(text: string): Mapping[] {
  const maps: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      cur = { sizeKiB: 0, rssKiB: 0, pssKiB: 0, path: head[1] ?? '' };
      maps.push(cur);
      continue;
    }
    const field = /^(Size|Rss|Pss):\s+(\d+) kB/.exec(line);
    if (field && cur) {
      const v = Number(field[2]);
      if (field[1] === 'Size') cur.sizeKiB = v;
      else if (field[1] === 'Rss') cur.rssKiB = v;
      else cur.pssKiB = v;
    }
  }
  return maps;
}

/**
 * The memory of process `pid` whose guest has `ramKiB` of RAM. The guest RAM is the anonymous
 * mapping whose size is the RAM size or up to 8 MiB more (allocators add alignment and guard
 * pages); among several candidates the most resident one is taken.
 */
export function processMemory(pid: number, ramKiB: number): ProcessMemory {
  const all = processMemoryOfVms(pid, ramKiB, 1);
  return { pssKiB: all.pssKiB, guestRamRssKiB: all.guestRamRssKiB[0] ?? 0 };
}

/**
 * The same for a process running `vms` VMs (worker threads): the resident sizes of the `vms`
 * most resident guest-RAM-sized mappings.
 */
export function processMemoryOfVms(pid: number, ramKiB: number, vms: number): { pssKiB: number; guestRamRssKiB: number[] } {
  const maps = parseSmaps(readFileSync(`/proc/${pid}/smaps`, 'utf8'));
  const pssKiB = maps.reduce((s, m) => s + m.pssKiB, 0);
  const ram = maps
    .filter((m) => (m.path === '' || m.path.startsWith('[anon')) && m.sizeKiB >= ramKiB && m.sizeKiB <= ramKiB + 8192)
    .sort((a, b) => b.rssKiB - a.rssKiB)
    .slice(0, vms);
  return { pssKiB, guestRamRssKiB: ram.map((m) => m.rssKiB) };
}

/** User plus system CPU time of `pid` (and its threads), in clock ticks. */
export function processCpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
}

let tick: number | undefined;
/** Clock ticks per second (USER_HZ). */
export function ticksPerSecond(): number {
  tick ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return tick;
}

/** The page size in KiB. */
export function pageSizeKiB(): number {
  return Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) / 1024;
}
