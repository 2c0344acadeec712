/**
 * Partition tables on 512-byte-sector disks: writing a GUID Partition Table (UEFI spec, chapter 5)
 * and reading GPT or MBR tables back, so virtkit can build bootable disks and tell whether a disk
 * has partitions at all (a disk with one boots through the firmware, docs/disk-boot.md).
 *
 * GPT layout written here (the usual one, as sfdisk and gdisk write it):
 *   LBA 0            protective MBR (one 0xEE partition covering the disk)
 *   LBA 1            primary header (92 bytes used)
 *   LBA 2..33        128 partition entries of 128 bytes
 *   ...              partitions, between LBA 34 and the last usable LBA N-34
 *   LBA N-33..N-2    backup partition entries
 *   LBA N-1          backup header
 * GUIDs are stored mixed-endian: the first three fields little-endian, the last two as bytes.
 *
 * Reading never trusts the disk: every offset and count is checked, a header whose CRC fails is
 * replaced by the backup header, and anything unrecognisable is scheme 'none'. Platform-neutral.
 */

export const SECTOR = 512;
const ENTRY_SIZE = 128;
const ENTRY_COUNT = 128;
/** Sectors the entry array takes (128 x 128 bytes). */
const ENTRY_SECTORS = (ENTRY_SIZE * ENTRY_COUNT) / SECTOR;
const HEADER_SIZE = 92;
const SIGNATURE = 'EFI PART';

/** Partition type GUIDs by their usual names. */
export const GPT_TYPES = {
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
  efi: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
} as const;

/** The "legacy BIOS bootable" attribute (bit 2), which U-Boot's distro boot and sfdisk's LegacyBIOSBootable mean. */
const LEGACY_BOOTABLE = 4;

/** A partition table that cannot be built as asked (the message names the partition and the problem). */
export class PartitionTableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PartitionTableError';
  }
}

export interface GptPartitionSpec {
  /** Byte offset, a multiple of 512. */
  start: number;
  /** Byte length, a multiple of 512. */
  size: number;
  /** 'linux', 'efi' or a type GUID. */
  type: 'linux' | 'efi' | string;
  uuid: string;
  /** At most 36 UTF-16 code units. */
  name: string;
  /** Sets the legacy BIOS bootable attribute (bit 2). */
  bootable?: boolean;
}

export interface GptSpec {
  /** Bytes, a multiple of 512. */
  diskSize: number;
  diskGuid: string;
  partitions: GptPartitionSpec[];
}

export interface BuiltGpt {
  /** Protective MBR, primary header and entries: write at offset 0 (34 sectors). */
  primary: Uint8Array;
  /** Backup entries and header: write at backupOffset (33 sectors, ending at the disk's end). */
  backup: Uint8Array;
  backupOffset: number;
}

export interface PartitionInfo {
  /** 1-based, as Linux numbers partitions (vda1 is index 1). */
  index: number;
  /** Byte offset. */
  start: number;
  /** Bytes. */
  size: number;
  /** GPT: the type GUID (upper case); MBR: the type byte as '0x83'. */
  type: string;
  /** GPT only: the partition's unique GUID (upper case). */
  uuid?: string;
  /** GPT only. */
  name?: string;
  /** GPT: attribute bit 2; MBR: status byte 0x80. */
  bootable: boolean;
}

export interface PartitionTable {
  scheme: 'gpt' | 'mbr' | 'none';
  partitions: PartitionInfo[];
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zlib computes it), what GPT's header and entry checksums use. */
export function crc32(bytes: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function guidBytes(text: string, what: string): Uint8Array {
  if (!GUID_RE.test(text))
    throw new PartitionTableError(`${what} '${text}' is not a GUID (XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX)`);
  const hex = text.replace(/-/g, '');
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  // The first three fields are stored little-endian.
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b;
}

function guidText(b: Uint8Array): string {
  const h = (from: number, to: number, reverse: boolean) => {
    const part = Array.from(b.subarray(from, to), (x) => x.toString(16).padStart(2, '0'));
    return (reverse ? part.reverse() : part).join('');
  };
  return [h(0, 4, true), h(4, 6, true), h(6, 8, true), h(8, 10, false), h(10, 16, false)].join('-').toUpperCase();
}

const put64 = (dv: DataView, off: number, v: number) => {
  dv.setUint32(off, v >>> 0, true);
  dv.setUint32(off + 4, Math.floor(v / 2 ** 32), true);
};
const get64 = (dv: DataView, off: number) => dv.getUint32(off, true) + dv.getUint32(off + 4, true) * 2 ** 32;

function header(
  myLba: number,
  altLba: number,
  entriesLba: number,
  lastUsable: number,
  diskGuid: Uint8Array,
  entriesCrc: number,
) {
  const h = new Uint8Array(SECTOR);
  const dv = new DataView(h.buffer);
  for (let i = 0; i < 8; i++) h[i] = SIGNATURE.charCodeAt(i);
  dv.setUint32(8, 0x00010000, true); // revision 1.0
  dv.setUint32(12, HEADER_SIZE, true);
  put64(dv, 24, myLba);
  put64(dv, 32, altLba);
  put64(dv, 40, 2 + ENTRY_SECTORS); // first usable LBA: 34
  put64(dv, 48, lastUsable);
  h.set(diskGuid, 56);
  put64(dv, 72, entriesLba);
  dv.setUint32(80, ENTRY_COUNT, true);
  dv.setUint32(84, ENTRY_SIZE, true);
  dv.setUint32(88, entriesCrc, true);
  dv.setUint32(16, crc32(h.subarray(0, HEADER_SIZE)), true);
  return h;
}

/** Builds a protective MBR and both GPT copies; throws PartitionTableError naming what is wrong. */
export function buildGpt(spec: GptSpec): BuiltGpt {
  const { diskSize } = spec;
  if (!Number.isSafeInteger(diskSize) || diskSize <= 0 || diskSize % SECTOR)
    throw new PartitionTableError(`disk size ${diskSize} is not a positive multiple of ${SECTOR} bytes`);
  const sectors = diskSize / SECTOR;
  const firstUsable = 2 + ENTRY_SECTORS;
  const lastUsable = sectors - 2 - ENTRY_SECTORS;
  if (lastUsable < firstUsable)
    throw new PartitionTableError(
      `a ${diskSize}-byte disk is too small for a GPT (it takes ${(2 * ENTRY_SECTORS + 3) * SECTOR} bytes)`,
    );
  if (spec.partitions.length > ENTRY_COUNT)
    throw new PartitionTableError(`${spec.partitions.length} partitions: a GPT holds at most ${ENTRY_COUNT}`);
  const diskGuid = guidBytes(spec.diskGuid, 'disk GUID');
  const entries = new Uint8Array(ENTRY_SIZE * ENTRY_COUNT);
  const edv = new DataView(entries.buffer);
  const ranges: [number, number, number][] = [];
  spec.partitions.forEach((p, i) => {
    const what = `partition ${i + 1}`;
    for (const [k, v] of [
      ['start', p.start],
      ['size', p.size],
    ] as const)
      if (!Number.isSafeInteger(v) || v < 0 || v % SECTOR)
        throw new PartitionTableError(`${what}: ${k} ${v} is not a multiple of ${SECTOR} bytes`);
    if (p.size === 0) throw new PartitionTableError(`${what}: size is 0`);
    const first = p.start / SECTOR;
    const last = first + p.size / SECTOR - 1;
    if (first < firstUsable || last > lastUsable)
      throw new PartitionTableError(
        `${what}: bytes ${p.start}..${p.start + p.size} are outside the usable area ${firstUsable * SECTOR}..${(lastUsable + 1) * SECTOR}`,
      );
    for (const [f, l, j] of ranges)
      if (first <= l && f <= last) throw new PartitionTableError(`${what} overlaps partition ${j}`);
    ranges.push([first, last, i + 1]);
    const type = p.type === 'linux' || p.type === 'efi' ? GPT_TYPES[p.type] : p.type;
    const typeBytes = guidBytes(type, `${what}: type`);
    if (typeBytes.every((b) => b === 0))
      throw new PartitionTableError(`${what}: the zero type GUID marks an unused entry`);
    if (p.name.length > 36) throw new PartitionTableError(`${what}: name '${p.name}' is longer than 36 UTF-16 units`);
    const o = i * ENTRY_SIZE;
    entries.set(typeBytes, o);
    entries.set(guidBytes(p.uuid, `${what}: uuid`), o + 16);
    put64(edv, o + 32, first);
    put64(edv, o + 40, last);
    put64(edv, o + 48, p.bootable ? LEGACY_BOOTABLE : 0);
    for (let c = 0; c < p.name.length; c++) edv.setUint16(o + 56 + 2 * c, p.name.charCodeAt(c), true);
  });
  const entriesCrc = crc32(entries);

  const primary = new Uint8Array(firstUsable * SECTOR);
  // Protective MBR: one partition of type 0xEE from LBA 1 to the end (capped at 32 bits).
  const mbr = new DataView(primary.buffer, 0, SECTOR);
  primary.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff], 446);
  mbr.setUint32(454, 1, true);
  mbr.setUint32(458, Math.min(sectors - 1, 0xffffffff), true);
  primary[510] = 0x55;
  primary[511] = 0xaa;
  primary.set(header(1, sectors - 1, 2, lastUsable, diskGuid, entriesCrc), SECTOR);
  primary.set(entries, 2 * SECTOR);

  const backup = new Uint8Array((ENTRY_SECTORS + 1) * SECTOR);
  backup.set(entries, 0);
  backup.set(
    header(sectors - 1, 1, sectors - 1 - ENTRY_SECTORS, lastUsable, diskGuid, entriesCrc),
    ENTRY_SECTORS * SECTOR,
  );
  return { primary, backup, backupOffset: (sectors - 1 - ENTRY_SECTORS) * SECTOR };
}

type ReadAt = (offset: number, length: number) => Promise<Uint8Array>;

/** The most entry bytes a header may make us read (a hostile header could ask for gigabytes). */
const MAX_ENTRY_BYTES = 1024 * 1024;

/** Reads and checks the GPT header at `lba` and its entries; undefined if anything is wrong. */
async function readGptAt(readAt: ReadAt, lba: number, sectors: number): Promise<PartitionInfo[] | undefined> {
  if (lba < 1 || lba >= sectors) return undefined;
  const h = await readAt(lba * SECTOR, SECTOR);
  if (h.length < SECTOR) return undefined;
  for (let i = 0; i < 8; i++) if (h[i] !== SIGNATURE.charCodeAt(i)) return undefined;
  const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const size = dv.getUint32(12, true);
  if (size < HEADER_SIZE || size > SECTOR) return undefined;
  const copy = h.slice(0, size);
  new DataView(copy.buffer).setUint32(16, 0, true);
  if (crc32(copy) !== dv.getUint32(16, true)) return undefined;
  if (get64(dv, 24) !== lba) return undefined;
  const firstUsable = get64(dv, 40);
  const lastUsable = get64(dv, 48);
  const entriesLba = get64(dv, 72);
  const count = dv.getUint32(80, true);
  const entrySize = dv.getUint32(84, true);
  if (entrySize < 128 || entrySize % 8 || count === 0 || count * entrySize > MAX_ENTRY_BYTES) return undefined;
  const entryBytes = count * entrySize;
  if (entriesLba < 1 || entriesLba * SECTOR + entryBytes > sectors * SECTOR) return undefined;
  if (firstUsable > lastUsable || lastUsable >= sectors) return undefined;
  const entries = await readAt(entriesLba * SECTOR, entryBytes);
  if (entries.length < entryBytes || crc32(entries) !== dv.getUint32(88, true)) return undefined;
  const edv = new DataView(entries.buffer, entries.byteOffset, entries.byteLength);
  const out: PartitionInfo[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * entrySize;
    const type = entries.subarray(o, o + 16);
    if (type.every((b) => b === 0)) continue;
    const first = get64(edv, o + 32);
    const last = get64(edv, o + 40);
    // An entry outside the disk is skipped, as Linux skips it, rather than failing the table.
    if (last < first || last >= sectors) continue;
    let name = '';
    for (let c = 0; c < 36; c++) {
      const u = edv.getUint16(o + 56 + 2 * c, true);
      if (u === 0) break;
      name += String.fromCharCode(u);
    }
    out.push({
      index: i + 1,
      start: first * SECTOR,
      size: (last - first + 1) * SECTOR,
      type: guidText(type),
      uuid: guidText(entries.subarray(o + 16, o + 32)),
      name,
      bootable: (edv.getUint32(o + 48, true) & LEGACY_BOOTABLE) !== 0,
    });
  }
  return out;
}

/**
 * Reads a disk's partition table: GPT (checked by CRC; the backup header at the disk's last
 * sector when the primary is damaged), else an MBR's primary partitions, else scheme 'none'.
 * Garbage never throws; only `readAt`'s own errors propagate.
 */
export async function readPartitionTable(readAt: ReadAt, diskSize: number): Promise<PartitionTable> {
  const none: PartitionTable = { scheme: 'none', partitions: [] };
  const sectors = Math.floor(diskSize / SECTOR);
  if (sectors < 2) return none;
  const gpt = (await readGptAt(readAt, 1, sectors)) ?? (await readGptAt(readAt, sectors - 1, sectors));
  if (gpt) return { scheme: 'gpt', partitions: gpt };
  const mbr = await readAt(0, SECTOR);
  if (mbr.length < SECTOR || mbr[510] !== 0x55 || mbr[511] !== 0xaa) return none;
  const dv = new DataView(mbr.buffer, mbr.byteOffset, mbr.byteLength);
  const parts: PartitionInfo[] = [];
  for (let i = 0; i < 4; i++) {
    const o = 446 + 16 * i;
    const status = mbr[o]!;
    // A FAT or NTFS boot sector also ends in 55 AA: its code in this area fails these checks.
    if (status !== 0 && status !== 0x80) return none;
    const type = mbr[o + 4]!;
    const first = dv.getUint32(o + 8, true);
    const count = dv.getUint32(o + 12, true);
    if (type === 0 || count === 0) continue;
    if (type === 0xee) return none; // a protective MBR whose GPT copies are both damaged
    if (first === 0 || first + count > sectors) return none;
    parts.push({
      index: i + 1,
      start: first * SECTOR,
      size: count * SECTOR,
      type: `0x${type.toString(16).padStart(2, '0')}`,
      bootable: status === 0x80,
    });
  }
  return parts.length ? { scheme: 'mbr', partitions: parts } : none;
}
