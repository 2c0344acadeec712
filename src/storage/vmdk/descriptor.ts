/**
 * The VMDK text descriptor: header keys (version, CID, parentCID, createType, parentFileNameHint),
 * extent lines ("RW 2048 SPARSE "disk.vmdk"", "RW 2048 FLAT "disk-flat.vmdk" 0") and the disk
 * database (ddb.* keys). Parsing is lenient about layout (blank lines, comments, spacing, quotes)
 * and strict about numbers, so hostile descriptors fail with a message naming the line.
 */
import { StorageError } from '../types.ts';

export type ExtentAccess = 'RW' | 'RDONLY' | 'NOACCESS';
export const EXTENT_TYPES = ['SPARSE', 'FLAT', 'ZERO', 'VMFS', 'VMFSSPARSE', 'VMFSRDM', 'VMFSRAW', 'SESPARSE'] as const;
export type ExtentType = (typeof EXTENT_TYPES)[number];

export interface ExtentLine {
  access: ExtentAccess;
  /** Size in 512-byte sectors. */
  sectors: number;
  type: ExtentType;
  file: string;
  /** Start within the file in sectors (FLAT/VMFS only). */
  offset: number;
}

export interface Descriptor {
  version: number;
  cid: number;
  parentCid: number;
  createType: string;
  parentFileNameHint?: string;
  extents: ExtentLine[];
  /** ddb.* keys, values unquoted, in file order. */
  ddb: Map<string, string>;
}

export const NO_PARENT_CID = 0xffffffff;
/** Descriptors are small text files; anything larger is not one. */
export const MAX_DESCRIPTOR_BYTES = 1 << 20;
const MAX_EXTENTS = 1 << 16;

function unquote(v: string): string {
  const t = v.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

function parseCid(v: string, key: string): number {
  const t = unquote(v);
  if (!/^[0-9a-fA-F]{1,8}$/.test(t))
    throw new StorageError('corrupt', `VMDK descriptor: ${key}=${t} is not a 32-bit hex number`);
  return parseInt(t, 16) >>> 0;
}

export function parseDescriptor(text: string, where: string): Descriptor {
  const d: Descriptor = { version: 1, cid: 0, parentCid: NO_PARENT_CID, createType: '', extents: [], ddb: new Map() };
  let sawCreateType = false;
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.replace(/\0.*$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const ext = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+([A-Za-z]+)(?:\s+"((?:[^"\\]|\\.)*)"(?:\s+(\d+))?)?\s*$/.exec(line);
    if (ext) {
      const type = ext[3]!.toUpperCase() as ExtentType;
      if (!EXTENT_TYPES.includes(type)) {
        throw new StorageError('unsupported', `VMDK descriptor ${where} line ${n + 1}: unknown extent type ${ext[3]}`);
      }
      const sectors = Number(ext[2]);
      const offset = ext[5] === undefined ? 0 : Number(ext[5]);
      if (!Number.isSafeInteger(sectors * 512) || !Number.isSafeInteger(offset * 512)) {
        throw new StorageError(
          'too-large',
          `VMDK descriptor ${where} line ${n + 1}: extent size or offset out of range`,
        );
      }
      if (type !== 'ZERO' && ext[4] === undefined) {
        throw new StorageError('corrupt', `VMDK descriptor ${where} line ${n + 1}: ${type} extent without a file name`);
      }
      if (d.extents.length >= MAX_EXTENTS)
        throw new StorageError('too-large', `VMDK descriptor ${where}: too many extents`);
      d.extents.push({ access: ext[1] as ExtentAccess, sectors, type, file: ext[4] ?? '', offset });
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) {
      if (/^(RW|RDONLY|NOACCESS)\s/.test(line)) {
        throw new StorageError('corrupt', `VMDK descriptor ${where} line ${n + 1}: malformed extent line`);
      }
      continue; // unknown free text: ignored, as VMware does
    }
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1);
    if (key === 'version') {
      const v = Number(unquote(value));
      if (!Number.isInteger(v))
        throw new StorageError('corrupt', `VMDK descriptor ${where}: version=${value} is not a number`);
      d.version = v;
    } else if (key === 'CID') d.cid = parseCid(value, 'CID');
    else if (key === 'parentCID') d.parentCid = parseCid(value, 'parentCID');
    else if (key === 'createType') {
      d.createType = unquote(value);
      sawCreateType = true;
    } else if (key === 'parentFileNameHint') d.parentFileNameHint = unquote(value);
    else if (key.startsWith('ddb.')) d.ddb.set(key, unquote(value));
  }
  if (!sawCreateType) throw new StorageError('corrupt', `VMDK descriptor ${where}: no createType`);
  if (d.extents.length === 0) throw new StorageError('corrupt', `VMDK descriptor ${where}: no extents`);
  return d;
}

export function formatDescriptor(d: Descriptor): string {
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
  const out = ['# Disk DescriptorFile', `version=${d.version}`, `CID=${hex(d.cid)}`, `parentCID=${hex(d.parentCid)}`];
  out.push(`createType="${d.createType}"`);
  if (d.parentFileNameHint !== undefined) out.push(`parentFileNameHint="${d.parentFileNameHint}"`);
  out.push('', '# Extent description');
  for (const e of d.extents) {
    let l = `${e.access} ${e.sectors} ${e.type}`;
    if (e.type !== 'ZERO') l += ` "${e.file}"`;
    if (e.type === 'FLAT' || e.type === 'VMFS') l += ` ${e.offset}`;
    out.push(l);
  }
  out.push('', '# The Disk Data Base', '#DDB', '');
  for (const [k, v] of d.ddb) out.push(`${k} = "${v}"`);
  return out.join('\n') + '\n';
}

/** True when the bytes look like a text descriptor (the probe and the opener agree on this). */
export function looksLikeDescriptor(head: Uint8Array): boolean {
  const n = Math.min(head.length, 4096);
  let s = '';
  for (let i = 0; i < n; i++) {
    const c = head[i]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return /^\s*#\s*Disk DescriptorFile/m.test(s) || (/^\s*version\s*=/m.test(s) && /^\s*createType\s*=/m.test(s));
}
