/**
 * Mutations of a valid image, guided by its StructMap: header fields set to edge values, table
 * entries pointed past the end / into headers / at each other, truncation at structure
 * boundaries, bit flips in tables, token edits of text, and plain random bytes. Each mutation is
 * described in words so a failing case can be read (and replayed by its case number).
 */
import { readField, readUint, writeField, writeUint, type StructMap } from './structure.ts';

export interface Rng {
  int(n: number): number;
  chance(p: number): boolean;
  pick<T>(a: readonly T[]): T;
}

/** mulberry32: small, fast, and good enough to spread mutations. */
export function makeRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)]!,
  };
}

/** A stable 32-bit hash of strings and numbers, to derive per-case seeds. */
export function hashSeed(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    const s = String(p);
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0xff, 0x01000193);
  }
  return h >>> 0;
}

export interface Mutated {
  bytes: Uint8Array;
  what: string[];
}

function edgeValues(orig: bigint, size: number, fileSize: number, rng: Rng): bigint[] {
  const max = (1n << BigInt(size * 8)) - 1n;
  const fs = BigInt(fileSize);
  const list = [
    0n,
    max,
    max - 1n,
    orig + 1n,
    orig - 1n,
    orig * 2n,
    orig / 2n,
    orig ^ (1n << BigInt(rng.int(size * 8))),
  ];
  list.push(1n, fs, fs - 1n, fs + 512n, 1n << 31n, (1n << 32n) - 1n, 1n << 32n, BigInt(rng.int(1 << 30)));
  if (size === 8) list.push(1n << 53n, (1n << 53n) + 1n, 1n << 62n, 1n << 63n, 1n << 40n, 1n << 48n);
  if (size === 2) list.push(0x8000n);
  return list.map((v) => BigInt.asUintN(size * 8, v));
}

function setField(b: Uint8Array, m: StructMap, rng: Rng, fileSize: number): string {
  const f = rng.pick(m.fields);
  const orig = readField(b, f);
  const v = rng.pick(edgeValues(orig, f.size, fileSize, rng));
  writeField(b, f, v);
  return `${f.name}@${f.off}: ${orig} -> ${v}`;
}

function setEntry(b: Uint8Array, m: StructMap, rng: Rng, fileSize: number): string {
  const t = rng.pick(m.tables);
  const i = rng.int(t.count);
  const at = t.off + i * t.entry;
  const orig = readUint(b, at, t.entry, t.le);
  let v: bigint;
  let how: string;
  const choice = rng.int(t.encode ? 10 : 5);
  const enc = t.encode ?? ((o: number) => BigInt(o));
  switch (choice) {
    case 0:
      [v, how] = [0n, 'zero'];
      break;
    case 1:
      [v, how] = [(1n << BigInt(t.entry * 8)) - 1n, 'all ones'];
      break;
    case 2:
      [v, how] = [orig ^ (1n << BigInt(rng.int(t.entry * 8))), 'bit flip'];
      break;
    case 3: {
      const j = rng.int(t.count);
      [v, how] = [readUint(b, t.off + j * t.entry, t.entry, t.le), `copy of entry ${j}`];
      break;
    }
    case 4:
      [v, how] = [orig + 1n, 'plus one'];
      break;
    case 5:
      [v, how] = [enc(fileSize, orig), 'at EOF'];
      break;
    case 6:
      [v, how] = [enc(fileSize + rng.pick([512, 4096, 1 << 20, 2 ** 31, 2 ** 33, 2 ** 36, 2 ** 40]), orig), 'past EOF'];
      break;
    case 7:
      [v, how] = [enc(rng.pick([0, 512, 4096, 65536]), orig), 'into the header'];
      break;
    case 8:
      [v, how] = [enc(t.off, orig), 'at its own table'];
      break;
    default: {
      const other = rng.pick(m.tables);
      [v, how] = [enc(other.off, orig), `at table ${other.name}`];
    }
  }
  writeUint(b, at, t.entry, t.le, v);
  return `${t.name}[${i}]@${at}: ${how} (${orig} -> ${BigInt.asUintN(t.entry * 8, v)})`;
}

function flipInTable(b: Uint8Array, m: StructMap, rng: Rng): string {
  const t = rng.pick(m.tables);
  const at = t.off + rng.int(t.count * t.entry);
  const bit = rng.int(8);
  if (at < b.length) b[at]! ^= 1 << bit;
  return `bit ${bit} of byte ${at} in ${t.name}`;
}

const WEIRD_NUMBERS = [
  '0',
  '-1',
  '1',
  '4294967295',
  '4294967296',
  '9007199254740993',
  '18446744073709551615',
  '99999999999999999999',
  '0x10',
  '1e9',
  '512',
  '2147483648',
];

/** Token-level edits of a text region, kept the same length when it is embedded in a binary file. */
function editText(b: Uint8Array, m: StructMap, rng: Rng, fixedLength: boolean): { bytes: Uint8Array; what: string } {
  const r = rng.pick(m.text);
  const end = Math.min(b.length, r.off + r.len);
  let text = '';
  for (let i = r.off; i < end; i++) text += String.fromCharCode(b[i]!);
  const lines = text.split('\n');
  let what: string;
  const op = rng.int(7);
  if (op <= 2) {
    // Replace one number with an edge value.
    const nums = [...text.matchAll(/\d+/g)];
    if (nums.length) {
      const n = rng.pick(nums);
      const w = rng.pick(WEIRD_NUMBERS);
      text = text.slice(0, n.index) + w + text.slice(n.index + n[0].length);
      what = `number '${n[0]}' -> '${w}'`;
    } else what = 'no number to edit';
  } else if (op === 3) {
    const i = rng.int(lines.length);
    what = `delete line ${i}: ${lines[i]!.slice(0, 40)}`;
    lines.splice(i, 1);
    text = lines.join('\n');
  } else if (op === 4) {
    const i = rng.int(lines.length);
    const copies = rng.pick([1, 2, 100]);
    what = `repeat line ${i} ${copies}x`;
    lines.splice(i, 0, ...Array<string>(copies).fill(lines[i]!));
    text = lines.join('\n');
  } else if (op === 5) {
    const quoted = [...text.matchAll(/"([^"\n]*)"/g)];
    const w = rng.pick([
      '',
      '.',
      '/',
      '..',
      'a"b',
      '\u0000',
      'missing.vmdk',
      'x'.repeat(300),
      '../../etc/passwd',
      '%s%s%n',
    ]);
    if (quoted.length) {
      const q = rng.pick(quoted);
      text = text.slice(0, q.index + 1) + w + text.slice(q.index + 1 + q[1]!.length);
      what = `quoted '${q[1]!.slice(0, 30)}' -> '${w.slice(0, 30)}'`;
    } else what = 'no quoted string';
  } else {
    const i = rng.int(text.length + 1);
    const junk = rng.pick([
      '=',
      '"',
      '\n',
      '\r\n',
      '#',
      ' RW 0 FLAT "x" 0\n',
      '<',
      '&',
      '<!DOCTYPE x [<!ENTITY a "b">]>',
      '\uFFFF',
      '<a>'.repeat(50),
    ]);
    text = text.slice(0, i) + junk + text.slice(i);
    what = `insert ${JSON.stringify(junk.slice(0, 20))} at ${i}`;
  }
  const enc = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) enc[i] = text.charCodeAt(i) & 0xff;
  if (fixedLength) {
    const out = b.slice();
    out.fill(0, r.off, end);
    out.set(enc.subarray(0, end - r.off), r.off);
    return { bytes: out, what: `text: ${what}` };
  }
  const out = new Uint8Array(b.length - (end - r.off) + enc.length);
  out.set(b.subarray(0, r.off));
  out.set(enc, r.off);
  out.set(b.subarray(end), r.off + enc.length);
  return { bytes: out, what: `text: ${what}` };
}

function truncate(b: Uint8Array, m: StructMap, rng: Rng): Mutated {
  let at = m.boundaries.length && rng.chance(0.8) ? rng.pick(m.boundaries) : rng.int(b.length);
  at += rng.pick([0, 0, 0, -1, 1, -512, 512]);
  at = Math.max(0, Math.min(b.length, at));
  return { bytes: b.slice(0, at), what: [`truncate to ${at} of ${b.length}`] };
}

function randomBytes(b: Uint8Array, rng: Rng): string {
  const n = 1 + rng.int(rng.chance(0.5) ? 4 : 32);
  // Metadata sits mostly near the front: bias toward it, but reach everywhere.
  const span = rng.chance(0.7) ? Math.min(b.length, 1 + rng.int(512 * 1024)) : b.length;
  const at: number[] = [];
  for (let i = 0; i < n && span > 0; i++) {
    const o = rng.int(span);
    b[o] = rng.chance(0.3) ? rng.pick([0, 0xff, 0x7f, 0x80]) : rng.int(256);
    at.push(o);
  }
  return `random bytes at ${at.slice(0, 8).join(',')}${at.length > 8 ? ',...' : ''}`;
}

/**
 * One to three mutations of `seed`. `textIsWholeFile`: the file is a text file (a descriptor)
 * and edits may change its length.
 */
export function mutate(seed: Uint8Array, m: StructMap, rng: Rng, textIsWholeFile = false): Mutated {
  let b: Uint8Array = seed.slice();
  const what: string[] = [];
  const steps = 1 + (rng.chance(0.3) ? rng.int(3) : 0);
  for (let s = 0; s < steps; s++) {
    const kinds: string[] = ['random'];
    if (m.fields.length) kinds.push('field', 'field', 'field');
    if (m.tables.length) kinds.push('entry', 'entry', 'flip');
    if (m.text.length) kinds.push('text', ...(textIsWholeFile ? ['text', 'text', 'text'] : []));
    if (s === steps - 1) kinds.push('truncate');
    const kind = rng.pick(kinds);
    if (kind === 'truncate') {
      const t = truncate(b, m, rng);
      b = t.bytes;
      what.push(...t.what);
    } else if (kind === 'field') what.push(setField(b, m, rng, seed.length));
    else if (kind === 'entry') what.push(setEntry(b, m, rng, seed.length));
    else if (kind === 'flip') what.push(flipInTable(b, m, rng));
    else if (kind === 'text') {
      const t = editText(b, m, rng, !textIsWholeFile);
      b = t.bytes;
      what.push(t.what);
    } else what.push(randomBytes(b, rng));
  }
  // Most mutations keep checksums valid so the deeper checks are reached; some do not.
  if (m.fix && rng.chance(0.85)) {
    m.fix(b);
    what.push('checksums recomputed');
  }
  return { bytes: b, what };
}
