/**
 * A writer for the "newc" cpio format (the format of Linux initramfs archives).
 * Platform-neutral: builds the archive in memory from a list of entries.
 *
 * newc layout per entry: the 6-byte magic "070701", thirteen 8-digit hex fields, the name
 * (NUL-terminated) padded to a 4-byte boundary counted from the entry start, then the data
 * padded to 4 bytes. The archive ends with an entry named "TRAILER!!!".
 */

export type CpioEntry =
  | { type: 'file'; path: string; data: Uint8Array; mode?: number }
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const encoder = new TextEncoder();

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n & 3)) & 3;
}

/** Encodes entries into one newc archive. Paths are stored without a leading slash. */
export function writeCpio(entries: CpioEntry[], mtime = 0): Uint8Array {
  const parts: Uint8Array[] = [];
  let ino = 1;
  const push = (name: string, mode: number, data: Uint8Array, rdevMajor = 0, rdevMinor = 0, nlink = 1) => {
    const nameBytes = encoder.encode(name.replace(/^\/+/, '') + '\0');
    const header =
      '070701' +
      [ino++, mode, 0, 0, nlink, mtime, data.length, 0, 0, rdevMajor, rdevMinor, nameBytes.length, 0]
        .map(hex8)
        .join('');
    const head = encoder.encode(header);
    const namePad = pad4(head.length + nameBytes.length);
    const dataPad = pad4(data.length);
    const entry = new Uint8Array(head.length + nameBytes.length + namePad + data.length + dataPad);
    entry.set(head, 0);
    entry.set(nameBytes, head.length);
    entry.set(data, head.length + nameBytes.length + namePad);
    parts.push(entry);
  };
  for (const e of entries) {
    switch (e.type) {
      case 'dir':
        push(e.path, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0), 0, 0, 2);
        break;
      case 'file':
        push(e.path, S_IFREG | (e.mode ?? 0o644), e.data);
        break;
      case 'symlink':
        push(e.path, S_IFLNK | 0o777, encoder.encode(e.target));
        break;
      case 'chardev':
        push(e.path, S_IFCHR | (e.mode ?? 0o600), new Uint8Array(0), e.major, e.minor);
        break;
    }
  }
  push('TRAILER!!!', 0, new Uint8Array(0), 0, 0, 1);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
