/**
 * The VHD dynamic disk header (1024 bytes at footer.dataOffset, big-endian): where the block
 * allocation table lives, the block size, and for differencing disks the parent's identity and
 * the parent locators (platform-specific encodings of the parent's path).
 */
import { utf8Decode, utf8Encode } from '../text.ts';
import { StorageError } from '../types.ts';
import { readU64BE, vhdChecksum, writeU64BE } from './footer.ts';

export const DYN_HEADER_SIZE = 1024;

export interface ParentLocator {
  /** Four-character platform code: 'W2ru' (relative, UTF-16LE), 'W2ku' (absolute, UTF-16LE), 'MacX' (file URL, UTF-8), ... */
  platform: string;
  /** Bytes reserved in the file (stored in sectors). */
  dataSpace: number;
  dataLength: number;
  dataOffset: number;
}

export interface DynamicHeader {
  tableOffset: number;
  headerVersion: number;
  maxTableEntries: number;
  blockSize: number;
  parentUuid: Uint8Array;
  parentTimestamp: number;
  parentName: string;
  locators: ParentLocator[];
}

function utf16be(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    const c = (bytes[i]! << 8) | bytes[i + 1]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

export function parseDynamicHeader(b: Uint8Array): DynamicHeader {
  if (String.fromCharCode(...b.subarray(0, 8)) !== 'cxsparse') {
    throw new StorageError('bad-magic', 'VHD dynamic header: no "cxsparse" cookie');
  }
  const dv = new DataView(b.buffer, b.byteOffset, DYN_HEADER_SIZE);
  const stored = dv.getUint32(36);
  const computed = vhdChecksum(b.subarray(0, DYN_HEADER_SIZE), 36);
  if (stored !== computed) {
    throw new StorageError(
      'checksum',
      `VHD dynamic header: checksum 0x${stored.toString(16)} does not match computed 0x${computed.toString(16)}`,
    );
  }
  const locators: ParentLocator[] = [];
  for (let i = 0; i < 8; i++) {
    const o = 576 + i * 24;
    const platform = String.fromCharCode(...b.subarray(o, o + 4));
    if (dv.getUint32(o) === 0) continue;
    locators.push({
      platform,
      dataSpace: dv.getUint32(o + 4),
      dataLength: dv.getUint32(o + 8),
      dataOffset: readU64BE(dv, o + 16, `parent locator ${i} data offset`),
    });
  }
  return {
    tableOffset: readU64BE(dv, 16, 'dynamic header table_offset'),
    headerVersion: dv.getUint32(24),
    maxTableEntries: dv.getUint32(28),
    blockSize: dv.getUint32(32),
    parentUuid: b.slice(40, 56),
    parentTimestamp: dv.getUint32(56),
    parentName: utf16be(b.subarray(64, 576)),
    locators,
  };
}

export function buildDynamicHeader(h: DynamicHeader): Uint8Array {
  const b = new Uint8Array(DYN_HEADER_SIZE);
  const dv = new DataView(b.buffer);
  b.set(utf8Encode('cxsparse'), 0);
  writeU64BE(dv, 8, -1);
  writeU64BE(dv, 16, h.tableOffset);
  dv.setUint32(24, h.headerVersion);
  dv.setUint32(28, h.maxTableEntries);
  dv.setUint32(32, h.blockSize);
  b.set(h.parentUuid.subarray(0, 16), 40);
  dv.setUint32(56, h.parentTimestamp >>> 0);
  const name = h.parentName.slice(0, 255);
  for (let i = 0; i < name.length; i++) dv.setUint16(64 + i * 2, name.charCodeAt(i));
  h.locators.slice(0, 8).forEach((l, i) => {
    const o = 576 + i * 24;
    for (let k = 0; k < 4; k++) b[o + k] = l.platform.charCodeAt(k) & 0xff;
    dv.setUint32(o + 4, l.dataSpace);
    dv.setUint32(o + 8, l.dataLength);
    writeU64BE(dv, o + 16, l.dataOffset);
  });
  dv.setUint32(36, vhdChecksum(b, 36));
  return b;
}

/** Decodes a locator's bytes into a path, or undefined for platforms we cannot use. */
export function decodeLocator(platform: string, data: Uint8Array): string | undefined {
  if (platform === 'W2ru' || platform === 'W2ku') {
    let s = '';
    for (let i = 0; i + 1 < data.length; i += 2) {
      const c = data[i]! | (data[i + 1]! << 8);
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
    // As written (Windows separators); parent-path.ts makes host names of it.
    return s;
  }
  if (platform === 'MacX') {
    const s = utf8Decode(data).replace(/\0+$/, '');
    return s.startsWith('file://') ? decodeURIComponent(s.slice(7)) : s;
  }
  return undefined;
}

/** UTF-16LE encoding for the Windows locators. */
export function encodeW2(path: string): Uint8Array {
  const win = path.replace(/\//g, '\\');
  const b = new Uint8Array(win.length * 2);
  for (let i = 0; i < win.length; i++) {
    b[i * 2] = win.charCodeAt(i) & 0xff;
    b[i * 2 + 1] = win.charCodeAt(i) >> 8;
  }
  return b;
}
