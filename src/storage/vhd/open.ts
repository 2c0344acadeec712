/**
 * Opening a VHD: find and verify the footer, then (dynamic/differencing) the dynamic header and
 * BAT, validating every offset and table size against the file before anything is allocated.
 */
import type { OpenOptions } from '../formats.ts';
import type { BlockBackend, ByteStore, ImageIdentity } from '../types.ts';
import { StorageError } from '../types.ts';
import { DYN_HEADER_SIZE, decodeLocator, parseDynamicHeader, type DynamicHeader } from './dynamic-header.ts';
import {
  DISK_DIFFERENCING,
  DISK_DYNAMIC,
  DISK_FIXED,
  FOOTER_SIZE,
  hasFooterCookie,
  parseFooter,
  VHD_EPOCH,
  virtualSizeOf,
  type VhdFooter,
} from './footer.ts';
import { UNALLOCATED, VhdImage, type DynamicLayout } from './image.ts';
import { parentCandidates, type ParentCandidate } from '../parent-path.ts';

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
  const identity = await identityOf(store, footer);
  if (footer.diskType === DISK_FIXED) {
    if (size > fileSize - FOOTER_SIZE) {
      throw new StorageError(
        'corrupt',
        `VHD ${name}: fixed disk of ${size} bytes needs a file larger than ${fileSize} bytes`,
      );
    }
    return new VhdImage({ store, readOnly, size, diskType: DISK_FIXED, footer: footerBytes, identity });
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
  return new VhdImage({
    store,
    readOnly,
    size,
    diskType: footer.diskType,
    footer: footerBytes,
    dyn,
    backing,
    identity,
  });
}

/**
 * What a child records of this disk: the footer's unique ID and the file's modification time in
 * VHD seconds (as Virtual PC, Hyper-V and VirtualBox write it), or the footer's own time stamp
 * where the store cannot say.
 */
async function identityOf(store: ByteStore, footer: VhdFooter): Promise<ImageIdentity> {
  const ms = await store.modifiedTime?.().catch(() => undefined);
  const modifiedVhdTime =
    ms !== undefined && Number.isFinite(ms)
      ? Math.min(0xffffffff, Math.max(0, Math.floor(ms / 1000) - VHD_EPOCH))
      : footer.timestamp;
  return { uniqueId: footer.uuid.slice(), modifiedVhdTime, file: store.name };
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
  const candidates: ParentCandidate[] = [];
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
    if (path) candidates.push(...parentCandidates(path, `${l.platform} locator`));
  }
  if (h.parentName) candidates.push(...parentCandidates(h.parentName, 'parent name'));
  if (!opts.openBacking) {
    throw new StorageError(
      'not-found',
      `VHD ${name}: differencing disk needs its parent "${h.parentName}" but no openBacking was given`,
    );
  }
  const tried: string[] = [];
  const seen = new Set<string>();
  for (const c of candidates) {
    if (seen.has(c.name)) continue;
    seen.add(c.name);
    let parent: BlockBackend;
    try {
      parent = await opts.openBacking(c.name, undefined);
    } catch (e) {
      // A missing file means "try the next name"; loops, depth and corruption are final.
      if (e instanceof StorageError && e.code !== 'not-found' && e.code !== 'io') throw e;
      tried.push(`${c.source}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    await checkParentIdentity(name, c.name, h, parent);
    return parent;
  }
  if (tried.length === 0) throw new StorageError('not-found', `VHD ${name}: differencing disk names no usable parent`);
  throw new StorageError('not-found', `VHD ${name}: parent not found; tried ${tried.join('; ')}`);
}

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

/**
 * Hyper-V refuses a parent whose unique ID is not the one the child recorded: the child's
 * sectors only make sense over the exact disk they were written against, and a same-named but
 * different (or re-created) parent would silently show a mixture of two disks. An all-zero ID
 * (written by older virtkit versions and some tools) records nothing and is not checked. A
 * stand-in for an unopened parent (info, rebase -u) cannot be checked either.
 */
async function checkParentIdentity(
  child: string,
  given: string,
  h: DynamicHeader,
  parent: BlockBackend,
): Promise<void> {
  if (parent.unopened || h.parentUuid.every((x) => x === 0)) return;
  const id = parent.format === 'vpc' ? parent.identity : undefined;
  if (id && id.uniqueId.length === 16 && id.uniqueId.every((x, i) => x === h.parentUuid[i])) return;
  await parent.close().catch(() => undefined);
  const what = id
    ? `has unique ID ${hex(id.uniqueId)}`
    : `is a ${parent.format} image, not a VHD, so it has no VHD unique ID`;
  throw new StorageError(
    'corrupt',
    `VHD ${child}: parent "${given}"${id?.file ? ` (${id.file})` : ''} ${what}, but the differencing disk ` +
      `was made over the VHD with unique ID ${hex(h.parentUuid)}; the parent was replaced or re-created, ` +
      `and reading the child over it would mix two different disks`,
  );
}
