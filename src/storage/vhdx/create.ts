/**
 * Creating an empty VHDX, laid out as qemu-img does: headers and region tables in the first
 * MiB, the log at 1 MiB, then the BAT, then the metadata region, then payload blocks.
 * Options (qemu-img spelling): subformat=dynamic|fixed, block_size, log_size.
 */
import { StorageError } from '../types.ts';
import type { ByteStore } from '../types.ts';
import type { CreateOptions } from '../formats.ts';
import { PAYLOAD_BLOCK_FULLY_PRESENT, Bat, batGeometry, payloadIndex } from './bat.ts';
import { guidText, randomGuid } from './guid.ts';
import {
  BAT_GUID,
  HEADER_OFFSETS,
  ITEM_FILE_PARAMETERS,
  ITEM_LOGICAL_SECTOR,
  ITEM_PAGE83,
  ITEM_PARENT_LOCATOR,
  ITEM_PHYSICAL_SECTOR,
  ITEM_VIRTUAL_DISK_SIZE,
  MAX_VIRTUAL_SIZE,
  METADATA_GUID,
  METADATA_TABLE_SIZE,
  MiB,
  REGION_TABLE_OFFSETS,
  buildFileId,
  serializeHeader,
  serializeMetadataTable,
  serializeParentLocator,
  serializeRegionTable,
} from './layout.ts';
import type { MetadataEntry } from './layout.ts';

const KNOWN_OPTIONS = new Set(['subformat', 'block_size', 'log_size', 'block_state_zero', 'preallocation']);

/** Parses a qemu-style size: plain bytes or a k/M/G/T suffix (powers of 1024). */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+)([kKmMgGtT]?)[bB]?$/.exec(text.trim());
  if (!m) throw new StorageError('unsupported', `vhdx: ${what} '${text}' is not a size`);
  const mult = { '': 1, k: 1024, m: MiB, g: 1024 * MiB, t: 1024 * 1024 * MiB }[m[2]!.toLowerCase()]!;
  return Number(m[1]) * mult;
}

/** qemu's default block size grows with the disk so the BAT stays small. */
function defaultBlockSize(size: number): number {
  const GiB = 1024 * MiB;
  if (size > 32 * 1024 * GiB) return 64 * MiB;
  if (size > 100 * GiB) return 32 * MiB;
  if (size > GiB) return 16 * MiB;
  return 8 * MiB;
}

export async function createVhdx(store: ByteStore, size: number, opts: CreateOptions): Promise<void> {
  for (const k of Object.keys(opts.options)) {
    if (!KNOWN_OPTIONS.has(k)) throw new StorageError('unsupported', `vhdx: unknown option '${k}'`);
  }
  const o = opts.options;
  const subformat = o.subformat ?? 'dynamic';
  if (subformat !== 'dynamic' && subformat !== 'fixed')
    throw new StorageError('unsupported', `vhdx: subformat '${subformat}' (dynamic or fixed)`);
  const logical = 512;

  let parentLocator: Uint8Array | undefined;
  if (opts.backingFile !== undefined) {
    if (subformat === 'fixed') throw new StorageError('unsupported', 'vhdx: a fixed image cannot have a parent');
    let linkage = new Uint8Array(16);
    if (opts.openBacking) {
      const parent = await opts.openBacking(opts.backingFile, opts.backingFormat);
      if (size === 0) size = parent.size;
      // Hyper-V checks it against the parent's DataWriteGuid on every open.
      const guid = parent.format === 'vhdx' ? parent.identity?.uniqueId : undefined;
      if (guid?.length === 16) linkage = guid.slice();
      await parent.close();
    }
    const entries = new Map<string, string>();
    entries.set('parent_linkage', `{${guidText(linkage)}}`);
    entries.set('relative_path', opts.backingFile);
    parentLocator = serializeParentLocator(entries);
  }

  if (!Number.isSafeInteger(size) || size <= 0)
    throw new StorageError('unsupported', `vhdx: virtual size ${size} must be positive`);
  if (size > MAX_VIRTUAL_SIZE) throw new StorageError('too-large', `vhdx: virtual size ${size} exceeds 64 TiB`);
  size = Math.ceil(size / logical) * logical;
  const blockSize =
    o.block_size && parseSize(o.block_size, 'block_size') !== 0
      ? parseSize(o.block_size, 'block_size')
      : defaultBlockSize(size);
  if (blockSize < MiB || blockSize > 256 * MiB || (blockSize & (blockSize - 1)) !== 0) {
    throw new StorageError('unsupported', `vhdx: block_size ${blockSize} must be a power of two from 1 MiB to 256 MiB`);
  }
  const logSize = o.log_size ? parseSize(o.log_size, 'log_size') : MiB;
  if (logSize < MiB || logSize % MiB !== 0 || logSize > 4095 * MiB)
    throw new StorageError('unsupported', `vhdx: log_size ${logSize} must be a multiple of 1 MiB`);

  const geometry = batGeometry(size, blockSize, logical, parentLocator !== undefined);
  const logOffset = MiB;
  const batOffset = logOffset + logSize;
  const batLength = Math.ceil((geometry.entries * 8) / MiB) * MiB;
  if (batLength > 0xffffffff - MiB)
    throw new StorageError('too-large', `vhdx: BAT of ${geometry.entries} entries does not fit a region`);
  const metadataOffset = batOffset + batLength;
  const metadataLength = MiB;
  const dataOffset = metadataOffset + metadataLength;

  await store.write(0, buildFileId('virtkit'));
  const fileWriteGuid = randomGuid();
  const dataWriteGuid = randomGuid();
  for (let i = 0; i < 2; i++) {
    const h = {
      sequence: BigInt(i + 1),
      fileWriteGuid,
      dataWriteGuid,
      logGuid: new Uint8Array(16),
      logVersion: 0,
      version: 1,
      logLength: logSize,
      logOffset,
    };
    await store.write(HEADER_OFFSETS[i]!, serializeHeader(h));
  }
  const regions = serializeRegionTable([
    { guid: BAT_GUID, fileOffset: batOffset, length: batLength, required: true },
    { guid: METADATA_GUID, fileOffset: metadataOffset, length: metadataLength, required: true },
  ]);
  for (const off of REGION_TABLE_OFFSETS) await store.write(off, regions);

  // Metadata items, packed after the 64 KiB table as qemu packs them.
  const items: { id: Uint8Array; data: Uint8Array; virtualDisk: boolean }[] = [];
  const fileParams = new Uint8Array(8);
  const fp = new DataView(fileParams.buffer);
  fp.setUint32(0, blockSize, true);
  fp.setUint32(4, (subformat === 'fixed' ? 1 : 0) | (parentLocator ? 2 : 0), true);
  items.push({ id: ITEM_FILE_PARAMETERS, data: fileParams, virtualDisk: false });
  const vsize = new Uint8Array(8);
  new DataView(vsize.buffer).setBigUint64(0, BigInt(size), true);
  items.push({ id: ITEM_VIRTUAL_DISK_SIZE, data: vsize, virtualDisk: true });
  items.push({ id: ITEM_PAGE83, data: randomGuid(), virtualDisk: true });
  const u32 = (v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    return b;
  };
  items.push({ id: ITEM_LOGICAL_SECTOR, data: u32(logical), virtualDisk: true });
  items.push({ id: ITEM_PHYSICAL_SECTOR, data: u32(512), virtualDisk: true });
  if (parentLocator) items.push({ id: ITEM_PARENT_LOCATOR, data: parentLocator, virtualDisk: false });
  const table: MetadataEntry[] = [];
  let at = METADATA_TABLE_SIZE;
  for (const it of items) {
    table.push({
      itemId: it.id,
      offset: at,
      length: it.data.length,
      isUser: false,
      isVirtualDisk: it.virtualDisk,
      isRequired: true,
    });
    await store.write(metadataOffset + at, it.data);
    at += it.data.length;
  }
  await store.write(metadataOffset, serializeMetadataTable(table));

  // BAT: all NOT_PRESENT for dynamic; fixed images get every block allocated in order.
  const bat = new Bat(new Uint8Array(geometry.entries * 8));
  let end = dataOffset;
  if (subformat === 'fixed') {
    for (let b = 0; b < geometry.dataBlocks; b++) {
      bat.set(payloadIndex(geometry, b), PAYLOAD_BLOCK_FULLY_PRESENT, dataOffset + b * blockSize);
    }
    end = dataOffset + geometry.dataBlocks * blockSize;
  }
  await store.write(batOffset, bat.bytes);
  await store.truncate(end);
  await store.flush();
}
