/**
 * DMTF programmatic units (DSP0004 annex C) as OVF uses them for capacities and memory:
 * "byte", "byte * 2^30", "byte * 1024", "byte * 10^6", and the spelled-out forms VirtualBox writes
 * ("MegaBytes", "GigaBytes").
 */
import { StorageError } from '../types.ts';

const NAMED: Record<string, number> = {
  byte: 1,
  bytes: 1,
  kilobytes: 2 ** 10,
  kb: 2 ** 10,
  megabytes: 2 ** 20,
  mb: 2 ** 20,
  gigabytes: 2 ** 30,
  gb: 2 ** 30,
  terabytes: 2 ** 40,
  tb: 2 ** 40,
};

/** The number of bytes one unit stands for. */
export function unitBytes(units: string, what: string): number {
  const u = units.trim().toLowerCase().replace(/\s+/g, ' ');
  if (u in NAMED) return NAMED[u]!;
  const m = /^byte(?: \* (\d+)(?:\^(\d+))?)+$/.exec(u);
  if (m) {
    let mult = 1;
    for (const term of u.split('*').slice(1)) {
      const [base, exp] = term.trim().split('^').map(Number) as [number, number | undefined];
      mult *= exp === undefined ? base : base ** exp;
    }
    if (Number.isSafeInteger(mult) && mult > 0) return mult;
  }
  throw new StorageError('unsupported', `ovf: ${what} uses unknown allocation units '${units}'`);
}

/** value * units in bytes, checked to be a safe non-negative integer. */
export function toBytes(value: string, units: string | undefined, defaultUnits: string, what: string): number {
  const v = value.trim();
  if (!/^\d+$/.test(v)) throw new StorageError('corrupt', `ovf: ${what} '${value}' is not a whole number`);
  const n = Number(v) * unitBytes(units ?? defaultUnits, what);
  if (!Number.isSafeInteger(n))
    throw new StorageError('too-large', `ovf: ${what} ${value} ${units ?? defaultUnits} is too large`);
  return n;
}
