/**
 * Creating VHD images the way `qemu-img create -f vpc` does: options subformat=dynamic|fixed and
 * force_size=on|off, and a differencing disk when a backing file is given.
 */
import type { CreateOptions } from '../formats.ts';
import type { ByteStore } from '../types.ts';
import { StorageError } from '../types.ts';
import { buildDynamicHeader, DYN_HEADER_SIZE, encodeW2, type ParentLocator } from './dynamic-header.ts';
import {
  buildFooter,
  chsForSectors,
  chsSectors,
  DISK_DIFFERENCING,
  DISK_DYNAMIC,
  DISK_FIXED,
  FOOTER_SIZE,
  MAX_CHS_SECTORS,
  MAX_VHD_SECTORS,
  VHD_EPOCH,
  type Chs,
} from './footer.ts';

const BLOCK_SIZE = 2 << 20;

function onOff(v: string | undefined, key: string): boolean {
  if (v === undefined || v === 'off' || v === 'false') return false;
  if (v === 'on' || v === 'true') return true;
  throw new StorageError('unsupported', `vpc option ${key}=${v}: expected on or off`);
}

/** The geometry and the virtual size qemu picks for a requested size (rounded up, never truncated). */
export function vhdGeometryFor(size: number, forceSize: boolean): { chs: Chs; size: number } {
  const rounded = Math.ceil(size / 512) * 512;
  let chs: Chs = { cylinders: 65535, heads: 16, sectorsPerTrack: 255 };
  if (!forceSize) {
    const want = Math.min(MAX_CHS_SECTORS, rounded / 512);
    chs = { cylinders: 0, heads: 0, sectorsPerTrack: 0 };
    for (let i = 0; want > chsSectors(chs); i++) chs = chsForSectors(want + i);
  }
  const sectors = chsSectors(chs) === MAX_CHS_SECTORS ? rounded / 512 : chsSectors(chs);
  if (sectors > MAX_VHD_SECTORS) throw new StorageError('too-large', `VHD size ${size} exceeds the 2040 GiB maximum`);
  return { chs, size: sectors * 512 };
}

function randomUuid(): Uint8Array {
  const u = new Uint8Array(16);
  for (let i = 0; i < 16; i++) u[i] = Math.floor(Math.random() * 256);
  u[6] = (u[6]! & 0x0f) | 0x40;
  u[8] = (u[8]! & 0x3f) | 0x80;
  return u;
}

function baseName(p: string): string {
  return p.slice(Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) + 1);
}

export async function createVhd(store: ByteStore, requested: number, opts: CreateOptions): Promise<void> {
  const o = opts.options;
  for (const k of Object.keys(o)) {
    if (!['subformat', 'force_size'].includes(k)) throw new StorageError('unsupported', `vpc has no option ${k}`);
  }
  const sub = o.subformat ?? 'dynamic';
  if (sub !== 'dynamic' && sub !== 'fixed')
    throw new StorageError('unsupported', `vpc subformat=${sub}: expected dynamic or fixed`);
  const forceSize = onOff(o.force_size, 'force_size');
  let diskType = sub === 'fixed' ? DISK_FIXED : DISK_DYNAMIC;
  let parentName = '';
  let parentUuid = new Uint8Array(16);
  let parentTimestamp = 0;
  if (opts.backingFile !== undefined) {
    if (sub === 'fixed') throw new StorageError('unsupported', 'a fixed VHD cannot have a parent');
    if (!opts.openBacking)
      throw new StorageError('not-found', `VHD parent ${opts.backingFile}: no openBacking was given`);
    // The child records who its parent is (Hyper-V refuses a parent with another unique ID).
    const parent = await opts.openBacking(opts.backingFile, opts.backingFormat);
    try {
      if (!(requested > 0)) requested = parent.size;
      if (parent.format === 'vpc' && parent.identity?.uniqueId.length === 16) {
        parentUuid = parent.identity.uniqueId.slice();
        parentTimestamp = parent.identity.modifiedVhdTime ?? 0;
      }
    } finally {
      await parent.close();
    }
    diskType = DISK_DIFFERENCING;
    parentName = opts.backingFile;
  }
  if (!Number.isSafeInteger(requested) || requested < 0)
    throw new StorageError('unsupported', `VHD size ${requested} is invalid`);
  const { chs, size } = vhdGeometryFor(requested, forceSize);
  const now = Math.max(0, Math.floor(Date.now() / 1000) - VHD_EPOCH);
  const footer = buildFooter({
    features: 2,
    version: 0x00010000,
    dataOffset: diskType === DISK_FIXED ? -1 : FOOTER_SIZE,
    timestamp: now,
    creatorApp: forceSize ? 'qem2' : 'qemu',
    creatorVersion: 0x00050003,
    creatorOs: 'Wi2k',
    originalSize: size,
    currentSize: size,
    ...chs,
    diskType,
    uuid: randomUuid(),
    savedState: 0,
  });
  if (diskType === DISK_FIXED) {
    // Truncating to zero and growing gives zeros without writing them (sparse on most hosts).
    await store.truncate(0);
    await store.truncate(size);
    await store.write(size, footer);
    await store.flush();
    return;
  }
  const entries = Math.ceil(size / BLOCK_SIZE);
  const batOffset = FOOTER_SIZE + DYN_HEADER_SIZE;
  const batBytes = Math.ceil((entries * 4) / 512) * 512;
  let end = batOffset + batBytes;
  const locators: ParentLocator[] = [];
  const locatorData: { at: number; bytes: Uint8Array }[] = [];
  if (diskType === DISK_DIFFERENCING) {
    // A relative Windows locator (as Virtual PC and Hyper-V write) and an absolute-style one with the name as given.
    for (const [platform, path] of [
      ['W2ru', '.\\' + baseName(parentName)],
      ['W2ku', parentName],
    ] as const) {
      const bytes = encodeW2(path);
      const space = Math.ceil(Math.max(bytes.length, 1) / 512) * 512;
      locators.push({ platform, dataSpace: space / 512, dataLength: bytes.length, dataOffset: end });
      locatorData.push({ at: end, bytes });
      end += space;
    }
  }
  const header = buildDynamicHeader({
    tableOffset: batOffset,
    headerVersion: 0x00010000,
    maxTableEntries: entries,
    blockSize: BLOCK_SIZE,
    parentUuid,
    parentTimestamp,
    parentName: baseName(parentName),
    locators,
  });
  await store.truncate(0);
  await store.write(0, footer);
  await store.write(FOOTER_SIZE, header);
  await store.write(batOffset, new Uint8Array(batBytes).fill(0xff));
  for (const l of locatorData) await store.write(l.at, l.bytes);
  await store.write(end, footer);
  await store.flush();
}
