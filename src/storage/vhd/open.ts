/**
 * Opening a VHD: find and verify the footer, then (dynamic/differencing) the dynamic header and
 * BAT, validating every offset and table size against the file before anything is allocated.
 */
import type { OpenOptions } from '../formats.ts';
import type { BlockBackend, ByteStore } from '../types.ts';
import { StorageError } from '../types.ts';
import { DYN_HEADER_SIZE, decodeLocator, parseDynamicHeader, type DynamicHeader } from './dynamic-header.ts';
import {
  DISK_DIFFERENCING,
  DISK_DYNAMIC,
  DISK_FIXED,
  FOOTER_SIZE,
  hasFooterCookie,
  parseFooter,
  virtualSizeOf,
} from './footer.ts';
import { UNALLOCATED, VhdImage, type DynamicLayout } from './image.ts';

/** The BAT may take at most this many bytes of memory (qemu's 2040 GiB limit with 512-byte blocks needs far less). */
const MAX_BAT_BYTES = 256 << 20;
const MAX_LOCATOR_BYTES = 64 << 10;

export async function openVhd(store: ByteStore, opts: OpenOptions): Promise<VhdImage> {
  const fileSize = await store.size();
  const name = store.name;
  if (fileSize < FOOTER_SIZE)
    throw new StorageError('corrupt', `VHD ${name}: file of ${fileSize} bytes cannot hold a footer`);
  if (opts.readOnly === false && store.readOnly) throw new StorageError('read-only', `VHD ${name}: store is read-only`);
  const readOnly = !!opts.readOnly || store.readOnly;
  // Like qemu, prefer the footer copy at the start (dynamic disks), else the one at the end.
  let footerBytes = new Uint8Array(FOOTER_SIZE);
  await store.read(0, footerBytes);
  let where = 'at offset 0';
  if (!hasFooterCookie(footerBytes)) {
    await store.read(fileSize - FOOTER_SIZE, footerBytes);
    where = `at offset ${fileSize - FOOTER_SIZE}`;
  }
  const footer = parseFooter(footerBytes, where);
  const size = virtualSizeOf(footer);
  if (footer.diskType === DISK_FIXED) {
    if (size > fileSize - FOOTER_SIZE) {
      throw new StorageError(
        'corrupt',
        `VHD ${name}: fixed disk of ${size} bytes needs a file larger than ${fileSize} bytes`,
      );
    }
    return new VhdImage({ store, readOnly, size, diskType: DISK_FIXED, footer: footerBytes });
  }
  if (footer.diskType !== DISK_DYNAMIC && footer.diskType !== DISK_DIFFERENCING) {
    throw new StorageError(
      'unsupported',
      `VHD ${name}: footer disk_type ${footer.diskType} is not fixed, dynamic or differencing`,
    );
  }
  if (footer.dataOffset < 0 || footer.dataOffset % 1 !== 0 || footer.dataOffset + DYN_HEADER_SIZE > fileSize) {
    throw new StorageError(
      'corrupt',
      `VHD ${name}: footer data_offset ${footer.dataOffset} is outside the ${fileSize}-byte file`,
    );
  }
  const hb = new Uint8Array(DYN_HEADER_SIZE);
  await store.read(footer.dataOffset, hb);
  const header = parseDynamicHeader(hb);
  const dyn = await loadBat(store, header, size, fileSize);
  // The footer written after new blocks is the end copy: identical bytes to the start copy.
  footerBytes = footerBytes.slice();
  let backing: BlockBackend | undefined;
  if (footer.diskType === DISK_DIFFERENCING) backing = await openParent(store, header, fileSize, opts);
  return new VhdImage({ store, readOnly, size, diskType: footer.diskType, footer: footerBytes, dyn, backing });
}

async function loadBat(store: ByteStore, h: DynamicHeader, size: number, fileSize: number): Promise<DynamicLayout> {
  const name = store.name;
  const bs = h.blockSize;
  if (bs < 512 || bs > 1 << 30 || (bs & (bs - 1)) !== 0) {
    throw new StorageError(
      'corrupt',
      `VHD ${name}: dynamic header block_size ${bs} is not a power of two between 512 and 1 GiB`,
    );
  }
  const needed = Math.ceil(size / bs);
  if (h.maxTableEntries < needed) {
    throw new StorageError(
      'corrupt',
      `VHD ${name}: max_table_entries ${h.maxTableEntries} cannot cover ${size} bytes (needs ${needed})`,
    );
  }
  const batBytes = h.maxTableEntries * 4;
  if (batBytes > MAX_BAT_BYTES)
    throw new StorageError('too-large', `VHD ${name}: BAT of ${batBytes} bytes (max_table_entries) is too large`);
  if (h.tableOffset < 0 || h.tableOffset + batBytes > fileSize) {
    throw new StorageError(
      'corrupt',
      `VHD ${name}: BAT at table_offset ${h.tableOffset} (${batBytes} bytes) is past the end of the file`,
    );
  }
  const raw = new Uint8Array(batBytes);
  await store.read(h.tableOffset, raw);
  const dv = new DataView(raw.buffer);
  const bat = new Uint32Array(h.maxTableEntries);
  const bitmapSize = Math.ceil(bs / 512 / 8 / 512) * 512;
  let dataEnd = Math.ceil((h.tableOffset + batBytes) / 512) * 512;
  for (let i = 0; i < bat.length; i++) {
    const e = dv.getUint32(i * 4);
    bat[i] = e;
    if (e === UNALLOCATED) continue;
    const end = e * 512 + bitmapSize + bs;
    // qemu's check: blocks may not extend into the footer or past the file.
    if (end > fileSize) {
      throw new StorageError(
        'corrupt',
        `VHD ${name}: BAT entry ${i} (sector ${e}) points past the end of the ${fileSize}-byte file`,
      );
    }
    dataEnd = Math.max(dataEnd, end);
  }
  return {
    blockSize: bs,
    bitmapSize,
    batOffset: h.tableOffset,
    bat,
    allocOffset: Math.max(dataEnd, Math.floor((fileSize - FOOTER_SIZE) / 512) * 512),
    fileEnd: fileSize,
  };
}

/** Tries the parent locators (relative first), then the parent's unicode name, through openBacking. */
async function openParent(
  store: ByteStore,
  h: DynamicHeader,
  fileSize: number,
  opts: OpenOptions,
): Promise<BlockBackend> {
  const name = store.name;
  const candidates: string[] = [];
  const order = ['W2ru', 'MacX', 'W2ku'];
  const locs = [...h.locators].sort((a, b) => order.indexOf(a.platform) - order.indexOf(b.platform));
  for (const l of locs) {
    if (!order.includes(l.platform)) continue;
    if (l.dataLength > MAX_LOCATOR_BYTES || l.dataOffset < 0 || l.dataOffset + l.dataLength > fileSize) {
      throw new StorageError(
        'corrupt',
        `VHD ${name}: parent locator ${l.platform} data (${l.dataLength} bytes at ${l.dataOffset}) is outside the file`,
      );
    }
    const data = new Uint8Array(l.dataLength);
    await store.read(l.dataOffset, data);
    const path = decodeLocator(l.platform, data);
    if (path) candidates.push(path);
  }
  if (h.parentName) candidates.push(h.parentName);
  if (!opts.openBacking) {
    throw new StorageError(
      'not-found',
      `VHD ${name}: differencing disk needs its parent "${h.parentName}" but no openBacking was given`,
    );
  }
  let last: unknown;
  for (const c of [...new Set(candidates)]) {
    try {
      return await opts.openBacking(c, undefined);
    } catch (e) {
      // A missing file means "try the next name"; loops, depth and corruption are final.
      if (e instanceof StorageError && e.code !== 'not-found' && e.code !== 'io') throw e;
      last = e;
    }
  }
  if (last) throw last;
  throw new StorageError('not-found', `VHD ${name}: differencing disk names no usable parent`);
}
