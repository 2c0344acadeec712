/**
 * A minimal tar (ustar) reader and writer, enough for OVA packages (DSP0243 section 5.3: the .ovf
 * first, then the .mf, then the disks). The reader only indexes entries (name, data offset, size)
 * so multi-gigabyte disks are never loaded; it accepts POSIX ustar, GNU "ustar  " and pax or
 * GNU long names, and checks header checksums and that every entry's data is really there.
 */
import { StorageError } from '../types.ts';
import type { ByteStore } from '../types.ts';
import { utf8Decode, utf8Encode } from '../text.ts';

const BLOCK = 512;
const MAX_ENTRIES = 10_000;
const MAX_META = 1 << 20; // pax and long-name records

export interface TarEntry {
  name: string;
  /** Offset of the entry's data in the tar. */
  offset: number;
  size: number;
}

function corrupt(msg: string): never {
  throw new StorageError('corrupt', `tar: ${msg}`);
}

function cstr(b: Uint8Array): string {
  const end = b.indexOf(0);
  return utf8Decode(end < 0 ? b : b.subarray(0, end));
}

function parseNumber(b: Uint8Array, field: string): number {
  if (b[0]! & 0x80) {
    // GNU base-256: big-endian binary after the marker bit.
    let v = b[0]! & 0x7f;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i]!;
    if (!Number.isSafeInteger(v)) corrupt(`${field} is too large`);
    return v;
  }
  const s = cstr(b).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) corrupt(`${field} '${s}' is not an octal number`);
  return parseInt(s, 8);
}

function checksumOk(h: Uint8Array): boolean {
  const want = parseNumber(h.subarray(148, 156), 'header checksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === want;
}

/** Indexes the regular files of a tar. */
export async function readTar(store: ByteStore): Promise<TarEntry[]> {
  const total = await store.size();
  const out: TarEntry[] = [];
  let pos = 0;
  let longName: string | undefined;
  const h = new Uint8Array(BLOCK);
  while (pos + BLOCK <= total) {
    await store.read(pos, h);
    if (h.every((x) => x === 0)) return out; // end-of-archive marker
    if (!checksumOk(h)) corrupt(`bad header checksum at offset ${pos}`);
    const magic = cstr(h.subarray(257, 263));
    const type = String.fromCharCode(h[156]!);
    let name = cstr(h.subarray(0, 100));
    const prefix = magic === 'ustar' ? cstr(h.subarray(345, 500)) : '';
    if (prefix && h[263] === 0x30) name = `${prefix}/${name}`;
    const size = parseNumber(h.subarray(124, 136), `size of '${name}'`);
    const dataAt = pos + BLOCK;
    if (dataAt + size > total) {
      corrupt(
        `entry '${longName ?? name}' is truncated: its ${size} bytes need the tar to be ${dataAt + size} bytes, it has ${total}`,
      );
    }
    const next = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x' || type === 'L') {
      if (size > MAX_META) corrupt(`${type === 'x' ? 'pax' : 'long name'} record of ${size} bytes`);
      const data = new Uint8Array(size);
      await store.read(dataAt, data);
      longName = type === 'L' ? cstr(data) : (paxPath(data) ?? longName);
    } else if (type === '0' || type === '\0' || type === '7') {
      if (out.length >= MAX_ENTRIES) corrupt(`more than ${MAX_ENTRIES} entries`);
      out.push({ name: longName ?? name, offset: dataAt, size });
      longName = undefined;
    } else {
      longName = undefined; // directories, links, global pax headers: not part of an OVA
    }
    pos = next;
  }
  if (pos !== total) corrupt(`truncated header at offset ${pos} (file is ${total} bytes)`);
  return out; // no end marker: tolerated, as GNU tar does with a warning
}

/** The path record of a pax extended header ("<len> path=<name>\n" records). */
function paxPath(data: Uint8Array): string | undefined {
  const text = utf8Decode(data);
  let i = 0;
  let path: string | undefined;
  while (i < text.length) {
    const sp = text.indexOf(' ', i);
    if (sp < 0) break;
    const len = parseInt(text.slice(i, sp), 10);
    if (!(len > 0) || i + len > text.length) corrupt('malformed pax record');
    const rec = text.slice(sp + 1, i + len - 1);
    if (rec.startsWith('path=')) path = rec.slice(5);
    i += len;
  }
  return path;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0');
}

/** A ustar header for a regular file (name must fit, as OVA member names always do). */
export function tarHeader(name: string, size: number, mtime = 0): Uint8Array {
  const nameBytes = utf8Encode(name);
  if (nameBytes.length > 100) throw new StorageError('unsupported', `tar: name '${name}' is longer than 100 bytes`);
  if (size >= 8 ** 11)
    throw new StorageError('too-large', `tar: entry '${name}' of ${size} bytes exceeds ustar's 8 GiB`);
  const h = new Uint8Array(BLOCK);
  const put = (off: number, s: string) => h.set(utf8Encode(s), off);
  h.set(nameBytes, 0);
  put(100, octal(0o644, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(size, 12));
  put(136, octal(mtime, 12));
  h[156] = 0x30;
  put(257, 'ustar');
  put(263, '00');
  put(265, 'someone');
  put(297, 'someone');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  put(148, octal(sum, 7));
  h[155] = 0x20;
  return h;
}

/** Writes a tar sequentially into a store. */
export class TarWriter {
  private pos = 0;
  constructor(private readonly store: ByteStore) {}

  /** Offset where the next entry's data would start (after its header). */
  get dataOffset(): number {
    return this.pos + BLOCK;
  }

  async add(name: string, data: Uint8Array): Promise<void> {
    await this.store.write(this.pos + BLOCK, data);
    await this.finishEntry(name, data.length);
  }

  /** Writes the header of an entry whose `size` bytes the caller already put at `dataOffset`. */
  async finishEntry(name: string, size: number): Promise<void> {
    await this.store.write(this.pos, tarHeader(name, size));
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (padded > size) await this.store.write(this.pos + BLOCK + size, new Uint8Array(padded - size));
    this.pos += BLOCK + padded;
  }

  async end(): Promise<void> {
    await this.store.write(this.pos, new Uint8Array(2 * BLOCK));
    this.pos += 2 * BLOCK;
    await this.store.truncate(this.pos);
  }
}
