/**
 * What the fuzzer knows about an image file's layout: integer fields (header words), tables of
 * pointers (L1/L2, grain directories, BATs), the offsets where structures begin and end (for
 * truncation), text regions (VMDK descriptors) and a fix-up that recomputes checksums so a
 * mutation gets past the CRC and reaches the deeper validation.
 */

export interface Field {
  name: string;
  off: number;
  /** Width in bytes; 'octal' fields are NUL/space terminated ASCII octal (tar headers). */
  size: 1 | 2 | 4 | 8;
  le: boolean;
  octal?: boolean;
}

export interface Table {
  name: string;
  off: number;
  count: number;
  /** Bytes per entry (1, 2, 4, 8; 16-byte extended L2 entries are mapped as 8). */
  entry: 1 | 2 | 4 | 8;
  le: boolean;
  /** Entry value that makes the entry point at byte offset `off` of the file, keeping flag bits of `orig`. */
  encode?: (off: number, orig: bigint) => bigint;
}

export interface StructMap {
  fields: Field[];
  tables: Table[];
  /** Offsets where a structure begins or ends: truncating there hits "the table is cut off" paths. */
  boundaries: number[];
  /** Text (descriptors, XML) edited by token instead of by byte. */
  text: { off: number; len: number }[];
  /** Recomputes checksums after a mutation (absent: the format has none). */
  fix?: (b: Uint8Array) => void;
}

export function emptyMap(): StructMap {
  return { fields: [], tables: [], boundaries: [], text: [] };
}

export function readUint(b: Uint8Array, off: number, size: number, le: boolean): bigint {
  let v = 0n;
  for (let i = 0; i < size; i++) {
    const byte = b[le ? off + size - 1 - i : off + i] ?? 0;
    v = (v << 8n) | BigInt(byte);
  }
  return v;
}

export function writeUint(b: Uint8Array, off: number, size: number, le: boolean, value: bigint): void {
  let v = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++) {
    const at = le ? off + i : off + size - 1 - i;
    if (at >= 0 && at < b.length) b[at] = Number(v & 0xffn);
    v >>= 8n;
  }
}

export function readField(b: Uint8Array, f: Field): bigint {
  if (!f.octal) return readUint(b, f.off, f.size, f.le);
  let s = '';
  for (let i = 0; i < f.size; i++) {
    const c = b[f.off + i] ?? 0;
    if (c >= 0x30 && c <= 0x37) s += String.fromCharCode(c);
    else if (s) break;
  }
  return s ? BigInt('0o' + s) : 0n;
}

export function writeField(b: Uint8Array, f: Field, value: bigint): void {
  if (!f.octal) return writeUint(b, f.off, f.size, f.le, value);
  const digits = BigInt.asUintN(64, value)
    .toString(8)
    .padStart(f.size - 1, '0')
    .slice(-(f.size - 1));
  for (let i = 0; i < f.size - 1; i++) b[f.off + i] = digits.charCodeAt(i);
  b[f.off + f.size - 1] = 0;
}

/** Adds a table, clipped to the file, with its ends as truncation boundaries. */
export function addTable(m: StructMap, t: Table, fileSize: number): void {
  if (t.off < 0 || t.off >= fileSize || t.count <= 0) return;
  const count = Math.min(t.count, Math.floor((fileSize - t.off) / t.entry));
  if (count <= 0) return;
  m.tables.push({ ...t, count });
  m.boundaries.push(t.off, t.off + count * t.entry);
}

export function addFields(
  m: StructMap,
  base: number,
  le: boolean,
  list: [name: string, off: number, size: 1 | 2 | 4 | 8][],
): void {
  for (const [name, off, size] of list) m.fields.push({ name, off: base + off, size, le });
}
