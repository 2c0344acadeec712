/**
 * The fixed structures of a VHDX file (MS-VHDX): file type identifier, the two headers, the two
 * region tables and the metadata table with its known items. Parsing validates every field and
 * throws StorageError naming it; serializing produces the exact on-disk bytes.
 *
 *   0       file type identifier ("vhdxfile" + creator, 64 KiB)
 *   64 KiB  header 1 (4 KiB used)        128 KiB header 2
 *   192 KiB region table 1 (64 KiB)      256 KiB region table 2
 *   then, 1 MiB aligned: log, BAT, metadata region, payload blocks
 */
import { StorageError } from '../types.ts';
import { crc32c } from './crc32c.ts';
import { guidBytes, guidEqual, guidText } from './guid.ts';

export const KiB = 1024;
export const MiB = 1024 * 1024;

export const FILE_ID_SIGNATURE = 'vhdxfile';
export const HEADER_OFFSETS = [64 * KiB, 128 * KiB] as const;
export const REGION_TABLE_OFFSETS = [192 * KiB, 256 * KiB] as const;
export const HEADER_SIZE = 4 * KiB;
export const REGION_TABLE_SIZE = 64 * KiB;
export const METADATA_TABLE_SIZE = 64 * KiB;

const SIG_HEAD = 0x64616568; // "head"
const SIG_REGI = 0x69676572; // "regi"
const SIG_METADATA = 'metadata';

export const BAT_GUID = guidBytes('2DC27766-F623-4200-9D64-115E9BFD4A08');
export const METADATA_GUID = guidBytes('8B7CA206-4790-4B9A-B8FE-575F050F886E');

export const ITEM_FILE_PARAMETERS = guidBytes('CAA16737-FA36-4D43-B3B6-33F0AA44E76B');
export const ITEM_VIRTUAL_DISK_SIZE = guidBytes('2FA54224-CD1B-4876-B211-5DBED83BF4B8');
export const ITEM_PAGE83 = guidBytes('BECA12AB-B2E6-4523-93EF-C309E000C746');
export const ITEM_LOGICAL_SECTOR = guidBytes('8141BF1D-A96F-4709-BA47-F233A8FAAB5F');
export const ITEM_PHYSICAL_SECTOR = guidBytes('CDA348C7-445D-4471-9CC9-E9885251C556');
export const ITEM_PARENT_LOCATOR = guidBytes('A8D35F2D-B30B-454D-ABF7-D3D84834AB0C');
export const PARENT_LOCATOR_TYPE_VHDX = guidBytes('B04AEFB7-D19E-4A81-B789-25B8E9445913');

/** The largest virtual size the spec allows (64 TiB). */
export const MAX_VIRTUAL_SIZE = 64 * 1024 * 1024 * MiB;

function corrupt(msg: string): never {
  throw new StorageError('corrupt', `vhdx: ${msg}`);
}

function u64(dv: DataView, off: number): number {
  const v = dv.getBigUint64(off, true);
  // Everything VHDX stores in 64 bits is a byte offset, size or sequence number; beyond 2^53 it
  // is nonsense for us (sequence numbers are compared as bigint separately).
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) corrupt(`64-bit field at ${off} is too large (${v})`);
  return Number(v);
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export function probeFileId(head: Uint8Array): boolean {
  if (head.length < 8) return false;
  for (let i = 0; i < 8; i++) if (head[i] !== FILE_ID_SIGNATURE.charCodeAt(i)) return false;
  return true;
}

export function buildFileId(creator: string): Uint8Array {
  const b = new Uint8Array(64 * KiB);
  for (let i = 0; i < 8; i++) b[i] = FILE_ID_SIGNATURE.charCodeAt(i);
  // Creator: UTF-16LE, at most 256 code units (512 bytes).
  for (let i = 0; i < Math.min(creator.length, 255); i++) {
    b[8 + i * 2] = creator.charCodeAt(i) & 0xff;
    b[9 + i * 2] = creator.charCodeAt(i) >> 8;
  }
  return b;
}

export interface Header {
  sequence: bigint;
  fileWriteGuid: Uint8Array;
  dataWriteGuid: Uint8Array;
  logGuid: Uint8Array;
  logVersion: number;
  version: number;
  logLength: number;
  logOffset: number;
}

/** Why a header or region table copy was rejected; the caller decides whether the other copy saves the day. */
export type Invalid = 'signature' | 'checksum';

/** Parses one header slot; an invalid slot is not an error by itself (the other slot may be valid). */
export function parseHeader(b: Uint8Array): Header | Invalid {
  const dv = view(b);
  if (b.length < HEADER_SIZE || dv.getUint32(0, true) !== SIG_HEAD) return 'signature';
  if (dv.getUint32(4, true) !== crc32c(b.subarray(0, HEADER_SIZE), 4)) return 'checksum';
  return {
    sequence: dv.getBigUint64(8, true),
    fileWriteGuid: b.slice(16, 32),
    dataWriteGuid: b.slice(32, 48),
    logGuid: b.slice(48, 64),
    logVersion: dv.getUint16(64, true),
    version: dv.getUint16(66, true),
    logLength: dv.getUint32(68, true),
    // A huge value stays huge after rounding and fails validateHeader's bound check.
    logOffset: Number(dv.getBigUint64(72, true)),
  };
}

/** Checks the fields of the chosen header against the file. */
export function validateHeader(h: Header, fileSize: number): void {
  if (h.version !== 1) throw new StorageError('unsupported', `vhdx: header Version ${h.version} (only 1 is defined)`);
  if (h.logVersion !== 0)
    throw new StorageError('unsupported', `vhdx: header LogVersion ${h.logVersion} (only 0 is defined)`);
  if (h.logLength % MiB !== 0) corrupt(`header LogLength ${h.logLength} is not a multiple of 1 MiB`);
  if (h.logOffset % MiB !== 0 || h.logOffset < MiB)
    corrupt(`header LogOffset ${h.logOffset} is not 1 MiB aligned past the headers`);
  if (h.logLength > 0 && h.logOffset + h.logLength > fileSize)
    corrupt(`header log region [${h.logOffset}, +${h.logLength}) lies past the end of the file (${fileSize})`);
}

export function serializeHeader(h: Header): Uint8Array {
  const b = new Uint8Array(HEADER_SIZE);
  const dv = view(b);
  dv.setUint32(0, SIG_HEAD, true);
  dv.setBigUint64(8, h.sequence, true);
  b.set(h.fileWriteGuid, 16);
  b.set(h.dataWriteGuid, 32);
  b.set(h.logGuid, 48);
  dv.setUint16(64, h.logVersion, true);
  dv.setUint16(66, h.version, true);
  dv.setUint32(68, h.logLength, true);
  dv.setBigUint64(72, BigInt(h.logOffset), true);
  dv.setUint32(4, crc32c(b, 4), true);
  return b;
}

export interface RegionEntry {
  guid: Uint8Array;
  fileOffset: number;
  length: number;
  required: boolean;
}

/** Parses a region table copy; an invalid copy is reported, the caller tries the other one. */
export function parseRegionTable(b: Uint8Array): RegionEntry[] | Invalid {
  const dv = view(b);
  if (b.length < REGION_TABLE_SIZE || dv.getUint32(0, true) !== SIG_REGI) return 'signature';
  if (dv.getUint32(4, true) !== crc32c(b.subarray(0, REGION_TABLE_SIZE), 4)) return 'checksum';
  const count = dv.getUint32(8, true);
  if (count > 2047) corrupt(`region table EntryCount ${count} exceeds 2047`);
  const out: RegionEntry[] = [];
  for (let i = 0; i < count; i++) {
    const o = 16 + i * 32;
    out.push({
      guid: b.slice(o, o + 16),
      fileOffset: u64(dv, o + 16),
      length: dv.getUint32(o + 24, true),
      required: (dv.getUint32(o + 28, true) & 1) !== 0,
    });
  }
  return out;
}

export function serializeRegionTable(entries: RegionEntry[]): Uint8Array {
  const b = new Uint8Array(REGION_TABLE_SIZE);
  const dv = view(b);
  dv.setUint32(0, SIG_REGI, true);
  dv.setUint32(8, entries.length, true);
  entries.forEach((e, i) => {
    const o = 16 + i * 32;
    b.set(e.guid, o);
    dv.setBigUint64(o + 16, BigInt(e.fileOffset), true);
    dv.setUint32(o + 24, e.length, true);
    dv.setUint32(o + 28, e.required ? 1 : 0, true);
  });
  dv.setUint32(4, crc32c(b, 4), true);
  return b;
}

/** Finds the BAT and metadata regions, rejecting unknown required regions and bad placement. */
export function locateRegions(entries: RegionEntry[], fileSize: number): { bat: RegionEntry; metadata: RegionEntry } {
  let bat: RegionEntry | undefined;
  let metadata: RegionEntry | undefined;
  for (const e of entries) {
    const name = guidEqual(e.guid, BAT_GUID) ? 'BAT' : guidEqual(e.guid, METADATA_GUID) ? 'metadata' : undefined;
    if (!name) {
      if (e.required) throw new StorageError('unsupported', `vhdx: unknown required region ${guidText(e.guid)}`);
      continue;
    }
    if (e.fileOffset % MiB !== 0 || e.fileOffset < MiB)
      corrupt(`${name} region FileOffset ${e.fileOffset} is not 1 MiB aligned`);
    if (e.length % MiB !== 0 || e.length === 0)
      corrupt(`${name} region Length ${e.length} is not a positive multiple of 1 MiB`);
    if (e.fileOffset + e.length > fileSize)
      corrupt(`${name} region [${e.fileOffset}, +${e.length}) lies past the end of the file (${fileSize})`);
    if (name === 'BAT') {
      if (bat) corrupt('two BAT regions');
      bat = e;
    } else {
      if (metadata) corrupt('two metadata regions');
      metadata = e;
    }
  }
  if (!bat) corrupt('region table has no BAT region');
  if (!metadata) corrupt('region table has no metadata region');
  const overlap =
    bat.fileOffset < metadata.fileOffset + metadata.length && metadata.fileOffset < bat.fileOffset + bat.length;
  if (overlap) corrupt('BAT and metadata regions overlap');
  return { bat, metadata };
}

export interface MetadataEntry {
  itemId: Uint8Array;
  offset: number;
  length: number;
  isUser: boolean;
  isVirtualDisk: boolean;
  isRequired: boolean;
}

export function parseMetadataTable(b: Uint8Array, regionLength: number): MetadataEntry[] {
  const dv = view(b);
  for (let i = 0; i < 8; i++)
    if (b[i] !== SIG_METADATA.charCodeAt(i)) corrupt('metadata table signature is not "metadata"');
  const count = dv.getUint16(10, true);
  if (count > 2047) corrupt(`metadata table EntryCount ${count} exceeds 2047`);
  const out: MetadataEntry[] = [];
  for (let i = 0; i < count; i++) {
    const o = 32 + i * 32;
    const bits = dv.getUint32(o + 24, true);
    const e: MetadataEntry = {
      itemId: b.slice(o, o + 16),
      offset: dv.getUint32(o + 16, true),
      length: dv.getUint32(o + 20, true),
      isUser: (bits & 1) !== 0,
      isVirtualDisk: (bits & 2) !== 0,
      isRequired: (bits & 4) !== 0,
    };
    if (e.length > 0 && (e.offset < METADATA_TABLE_SIZE || e.offset + e.length > regionLength)) {
      corrupt(`metadata item ${guidText(e.itemId)} [${e.offset}, +${e.length}) lies outside the metadata region`);
    }
    out.push(e);
  }
  return out;
}

export function serializeMetadataTable(entries: MetadataEntry[]): Uint8Array {
  const b = new Uint8Array(METADATA_TABLE_SIZE);
  const dv = view(b);
  for (let i = 0; i < 8; i++) b[i] = SIG_METADATA.charCodeAt(i);
  dv.setUint16(10, entries.length, true);
  entries.forEach((e, i) => {
    const o = 32 + i * 32;
    b.set(e.itemId, o);
    dv.setUint32(o + 16, e.offset, true);
    dv.setUint32(o + 20, e.length, true);
    dv.setUint32(o + 24, (e.isUser ? 1 : 0) | (e.isVirtualDisk ? 2 : 0) | (e.isRequired ? 4 : 0), true);
  });
  return b;
}

/** Parent locator: key/value pairs (UTF-16LE) such as parent_linkage and relative_path. */
export function parseParentLocator(b: Uint8Array): Map<string, string> {
  const dv = view(b);
  if (b.length < 20) corrupt('parent locator is shorter than its header');
  if (!guidEqual(b.subarray(0, 16), PARENT_LOCATOR_TYPE_VHDX)) {
    throw new StorageError('unsupported', `vhdx: parent locator type ${guidText(b.subarray(0, 16))}`);
  }
  const count = dv.getUint16(18, true);
  if (20 + count * 12 > b.length) corrupt(`parent locator KeyValueCount ${count} overruns the item`);
  const out = new Map<string, string>();
  const str = (off: number, len: number, what: string) => {
    if (off + len > b.length || len % 2 !== 0)
      corrupt(`parent locator ${what} [${off}, +${len}) lies outside the item`);
    let s = '';
    for (let i = 0; i < len; i += 2) s += String.fromCharCode(dv.getUint16(off + i, true));
    return s;
  };
  for (let i = 0; i < count; i++) {
    const o = 20 + i * 12;
    const key = str(dv.getUint32(o, true), dv.getUint16(o + 8, true), 'key');
    out.set(key, str(dv.getUint32(o + 4, true), dv.getUint16(o + 10, true), `value of ${key}`));
  }
  return out;
}

export function serializeParentLocator(entries: Map<string, string>): Uint8Array {
  const pairs = [...entries];
  let size = 20 + pairs.length * 12;
  for (const [k, v] of pairs) size += (k.length + v.length) * 2;
  const b = new Uint8Array(size);
  const dv = view(b);
  b.set(PARENT_LOCATOR_TYPE_VHDX, 0);
  dv.setUint16(18, pairs.length, true);
  let at = 20 + pairs.length * 12;
  const put = (s: string) => {
    const off = at;
    for (let i = 0; i < s.length; i++) dv.setUint16(at + i * 2, s.charCodeAt(i), true);
    at += s.length * 2;
    return off;
  };
  pairs.forEach(([k, v], i) => {
    const o = 20 + i * 12;
    dv.setUint32(o, put(k), true);
    dv.setUint32(o + 4, put(v), true);
    dv.setUint16(o + 8, k.length * 2, true);
    dv.setUint16(o + 10, v.length * 2, true);
  });
  return b;
}
