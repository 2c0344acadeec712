/**
 * A tiny FAT12 file system image writer: a volume label and a few small files in the root
 * directory, with VFAT long names (cloud-init's NoCloud seed needs `meta-data` and `user-data`,
 * which are not 8.3 names). Platform-neutral: it returns the bytes of a raw disk image.
 *
 * Layout (1 MiB, 512-byte sectors, one sector per cluster): boot sector, two FATs of 6 sectors,
 * a 224-entry root directory (14 sectors), then the data clusters from sector 27: 2021 clusters,
 * under FAT12's 4085.
 */
const SECTOR = 512;
const TOTAL_SECTORS = 2048;
const FAT_SECTORS = 6;
const ROOT_ENTRIES = 224;
const ROOT_SECTORS = (ROOT_ENTRIES * 32) / SECTOR;
const DATA_START = 1 + 2 * FAT_SECTORS + ROOT_SECTORS;
const CLUSTERS = TOTAL_SECTORS - DATA_START;

export interface FatFile {
  name: string;
  data: Uint8Array;
}

/** The FAT image; throws when a name or the label is unusable, or the files do not fit. */
export function buildFat12(label: string, files: FatFile[], volumeId = 0x12345678): Uint8Array {
  if (!/^[A-Z0-9_-]{1,11}$/.test(label)) throw new Error(`volume label ${JSON.stringify(label)}: 1-11 of A-Z 0-9 _ -`);
  if (files.length > 50) throw new Error('too many files for the root directory');
  const img = new Uint8Array(TOTAL_SECTORS * SECTOR);
  const dv = new DataView(img.buffer);
  // Boot sector (BIOS parameter block, extended with the label).
  img.set([0xeb, 0x3c, 0x90], 0);
  img.set(ascii('VIRTKIT '), 3);
  dv.setUint16(11, SECTOR, true);
  img[13] = 1; // sectors per cluster
  dv.setUint16(14, 1, true); // reserved sectors
  img[16] = 2; // FATs
  dv.setUint16(17, ROOT_ENTRIES, true);
  dv.setUint16(19, TOTAL_SECTORS, true);
  img[21] = 0xf8; // media: fixed disk
  dv.setUint16(22, FAT_SECTORS, true);
  dv.setUint16(24, 32, true); // sectors per track
  dv.setUint16(26, 2, true); // heads
  img[36] = 0x80; // drive number
  img[38] = 0x29; // extended boot signature: id, label and type follow
  dv.setUint32(39, volumeId, true);
  img.set(ascii(label.padEnd(11)), 43);
  img.set(ascii('FAT12   '), 54);
  img[510] = 0x55;
  img[511] = 0xaa;

  const fat = new Uint16Array(CLUSTERS + 2);
  fat[0] = 0xff8;
  fat[1] = 0xfff;
  let next = 2;
  const root = new DataView(img.buffer, (1 + 2 * FAT_SECTORS) * SECTOR, ROOT_SECTORS * SECTOR);
  let slot = 0;
  const entry = () => {
    if (slot >= ROOT_ENTRIES) throw new Error('the root directory is full');
    return new Uint8Array(root.buffer, root.byteOffset + 32 * slot++, 32);
  };
  const label11 = ascii(label.padEnd(11));
  const le = entry();
  le.set(label11, 0);
  le[11] = 0x08; // volume label
  const used = new Set<string>();
  for (const [i, f] of files.entries()) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(f.name)) throw new Error(`file name ${JSON.stringify(f.name)}: 1-64 of A-Z a-z 0-9 . _ -`);
    const short = shortName(f.name, i + 1);
    if (used.has(short)) throw new Error(`two files named ${f.name}`);
    used.add(short);
    const sum = shortNameChecksum(ascii(short));
    // Long-name entries, last part first.
    const units = [...f.name].map((c) => c.charCodeAt(0));
    const parts = Math.ceil((units.length + 1) / 13);
    const padded = [...units, 0, ...new Array(parts * 13).fill(0xffff)].slice(0, parts * 13);
    for (let p = parts; p >= 1; p--) {
      const e = entry();
      const edv = new DataView(e.buffer, e.byteOffset, 32);
      e[0] = p | (p === parts ? 0x40 : 0);
      e[11] = 0x0f;
      e[13] = sum;
      const chars = padded.slice((p - 1) * 13, p * 13);
      const at = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
      for (let k = 0; k < 13; k++) edv.setUint16(at[k]!, chars[k]!, true);
    }
    const clusters = Math.ceil(f.data.length / SECTOR);
    if (next + clusters > CLUSTERS + 2) throw new Error('the files do not fit in the image');
    const first = clusters ? next : 0;
    for (let c = 0; c < clusters; c++) {
      fat[next + c] = c === clusters - 1 ? 0xfff : next + c + 1;
      img.set(f.data.subarray(c * SECTOR, (c + 1) * SECTOR), (DATA_START + next + c - 2) * SECTOR);
    }
    next += clusters;
    const e = entry();
    const edv = new DataView(e.buffer, e.byteOffset, 32);
    e.set(ascii(short), 0);
    e[11] = 0x01 | 0x20; // read-only, archive
    // 2000-01-01 00:00 for creation, access and modification (no clock in a pure function).
    const date = (20 << 9) | (1 << 5) | 1;
    edv.setUint16(16, date, true);
    edv.setUint16(18, date, true);
    edv.setUint16(24, date, true);
    edv.setUint16(26, first, true);
    edv.setUint32(28, f.data.length, true);
  }
  // FAT12: two entries in three bytes; both copies alike.
  for (let copy = 0; copy < 2; copy++) {
    const base = (1 + copy * FAT_SECTORS) * SECTOR;
    for (let n = 0; n < fat.length; n++) {
      const off = base + Math.floor((n * 3) / 2);
      const v = fat[n]!;
      if (n % 2 === 0) {
        img[off] = v & 0xff;
        img[off + 1] = (img[off + 1]! & 0xf0) | ((v >> 8) & 0x0f);
      } else {
        img[off] = (img[off]! & 0x0f) | ((v & 0x0f) << 4);
        img[off + 1] = (v >> 4) & 0xff;
      }
    }
  }
  return img;
}

/** An 8.3 name (11 bytes, space padded) for a long name: BASE~N.EXT, upper case. */
function shortName(name: string, n: number): string {
  const dot = name.lastIndexOf('.');
  const clean = (s: string) => s.toUpperCase().replace(/[^A-Z0-9_-]/g, '');
  const base = clean(dot > 0 ? name.slice(0, dot) : name);
  const ext = clean(dot > 0 ? name.slice(dot + 1) : '').slice(0, 3);
  const tail = `~${n}`;
  return (base.slice(0, 8 - tail.length) + tail).padEnd(8) + ext.padEnd(3);
}

function shortNameChecksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + b[i]!) & 0xff;
  return sum;
}

function ascii(s: string): Uint8Array {
  return Uint8Array.from([...s].map((c) => c.charCodeAt(0)));
}
