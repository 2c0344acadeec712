/**
 * An open VHDX image as a BlockBackend.
 *
 * Write ordering (instead of the metadata log): a write into an unallocated block appends the
 * block at the 1 MiB aligned end of the file, writes the data, flushes, and only then stores the
 * 8-byte BAT entry in place. A crash before the BAT write leaves a harmless leaked block; after
 * it, the entry points at complete data. An aligned 8-byte write cannot tear on any real disk, so
 * every BAT update is atomic by itself and a log adds nothing but extra writes. The headers are
 * updated alternately (sequence number + 1, new FileWriteGuid and DataWriteGuid) before the first
 * modification, as MS-VHDX requires. Pending logs written by other writers are replayed on open.
 */
import { StorageError } from '../types.ts';
import type { BlockBackend, ByteStore, CheckResult, ExtentStatus, ImageIdentity } from '../types.ts';
import { parentCandidates } from '../parent-path.ts';
import type { OpenOptions } from '../formats.ts';
import {
  Bat,
  MAX_BAT_BYTES,
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PAYLOAD_BLOCK_NOT_PRESENT,
  PAYLOAD_BLOCK_PARTIALLY_PRESENT,
  PAYLOAD_BLOCK_UNDEFINED,
  PAYLOAD_BLOCK_UNMAPPED,
  PAYLOAD_BLOCK_ZERO,
  SB_BLOCK_NOT_PRESENT,
  SB_BLOCK_PRESENT,
  batGeometry,
  bitmapIndex,
  payloadIndex,
} from './bat.ts';
import type { BatGeometry } from './bat.ts';
import { guidEqual, guidIsZero, guidText, randomGuid } from './guid.ts';
import {
  HEADER_OFFSETS,
  HEADER_SIZE,
  ITEM_FILE_PARAMETERS,
  ITEM_LOGICAL_SECTOR,
  ITEM_PAGE83,
  ITEM_PARENT_LOCATOR,
  ITEM_PHYSICAL_SECTOR,
  ITEM_VIRTUAL_DISK_SIZE,
  MAX_VIRTUAL_SIZE,
  METADATA_TABLE_SIZE,
  MiB,
  REGION_TABLE_OFFSETS,
  REGION_TABLE_SIZE,
  locateRegions,
  parseHeader,
  parseMetadataTable,
  parseParentLocator,
  parseRegionTable,
  probeFileId,
  serializeHeader,
  validateHeader,
} from './layout.ts';
import type { Header, MetadataEntry, RegionEntry } from './layout.ts';
import { findBatProblems } from './check.ts';
import type { BatCheckInput, ReservedRange } from './check.ts';
import { checkSequence, findActiveSequence, replaySequence, storeTarget } from './log.ts';
import { OverlayStore } from './overlay-store.ts';
import { discardBytes } from '../zero-range.ts';
import { BlockWalk, writeZeroPieces } from '../block-walk.ts';

const KNOWN_ITEMS = [
  ITEM_FILE_PARAMETERS,
  ITEM_VIRTUAL_DISK_SIZE,
  ITEM_PAGE83,
  ITEM_LOGICAL_SECTOR,
  ITEM_PHYSICAL_SECTOR,
  ITEM_PARENT_LOCATOR,
];
/** Reads and copies move at most this much at a time, whatever the block size. */
const CHUNK = MiB;

function corrupt(msg: string): never {
  throw new StorageError('corrupt', `vhdx: ${msg}`);
}

export interface VhdxInfo {
  blockSize: number;
  logicalSectorSize: number;
  physicalSectorSize: number;
  leaveBlocksAllocated: boolean;
  hasParent: boolean;
  page83: Uint8Array;
  parentLocator?: Map<string, string>;
}

/** Chooses the current header: the valid copy with the higher sequence number. */
async function readHeaders(store: ByteStore): Promise<{ header: Header; slot: number }> {
  const parsed = [];
  for (const off of HEADER_OFFSETS) {
    const b = new Uint8Array(HEADER_SIZE);
    await store.read(off, b);
    parsed.push(parseHeader(b));
  }
  const [h1, h2] = parsed as [ReturnType<typeof parseHeader>, ReturnType<typeof parseHeader>];
  if (typeof h1 === 'string' && typeof h2 === 'string') {
    const code = h1 === 'checksum' || h2 === 'checksum' ? 'checksum' : 'corrupt';
    throw new StorageError(code, `vhdx: neither header is valid (header 1: bad ${h1}, header 2: bad ${h2})`);
  }
  if (typeof h2 === 'string') return { header: h1 as Header, slot: 0 };
  if (typeof h1 === 'string') return { header: h2, slot: 1 };
  return h2.sequence > h1.sequence ? { header: h2, slot: 1 } : { header: h1, slot: 0 };
}

async function readRegions(store: ByteStore): Promise<RegionEntry[]> {
  const why: string[] = [];
  for (const off of REGION_TABLE_OFFSETS) {
    const b = new Uint8Array(REGION_TABLE_SIZE);
    await store.read(off, b);
    const r = parseRegionTable(b);
    if (typeof r !== 'string') return r;
    why.push(r);
  }
  const code = why.includes('checksum') ? 'checksum' : 'corrupt';
  throw new StorageError(code, `vhdx: neither region table is valid (copy 1: bad ${why[0]}, copy 2: bad ${why[1]})`);
}

async function readMetadata(store: ByteStore, region: RegionEntry): Promise<{ info: VhdxInfo; virtualSize: number }> {
  const table = new Uint8Array(METADATA_TABLE_SIZE);
  await store.read(region.fileOffset, table);
  const entries = parseMetadataTable(table, region.length);
  const find = (id: Uint8Array): MetadataEntry | undefined => entries.find((e) => guidEqual(e.itemId, id));
  for (const e of entries) {
    if (e.isRequired && !KNOWN_ITEMS.some((k) => guidEqual(k, e.itemId))) {
      throw new StorageError('unsupported', `vhdx: unknown required metadata item ${guidText(e.itemId)}`);
    }
  }
  const item = async (
    id: Uint8Array,
    name: string,
    minLen: number,
    optional = false,
  ): Promise<DataView | undefined> => {
    const e = find(id);
    if (!e) {
      if (optional) return undefined;
      corrupt(`metadata item ${name} is missing`);
    }
    if (e.length < minLen) corrupt(`metadata item ${name} is ${e.length} bytes, expected at least ${minLen}`);
    if (e.length > 64 * 1024) corrupt(`metadata item ${name} is ${e.length} bytes, larger than any defined item`);
    const b = new Uint8Array(e.length);
    await store.read(region.fileOffset + e.offset, b);
    return new DataView(b.buffer);
  };
  const params = (await item(ITEM_FILE_PARAMETERS, 'File Parameters', 8))!;
  const blockSize = params.getUint32(0, true);
  const flags = params.getUint32(4, true);
  if (blockSize < MiB || blockSize > 256 * MiB || (blockSize & (blockSize - 1)) !== 0) {
    corrupt(`File Parameters BlockSize ${blockSize} is not a power of two between 1 MiB and 256 MiB`);
  }
  const sizeItem = (await item(ITEM_VIRTUAL_DISK_SIZE, 'Virtual Disk Size', 8))!;
  const virtualSizeBig = sizeItem.getBigUint64(0, true);
  const logical = (await item(ITEM_LOGICAL_SECTOR, 'Logical Sector Size', 4))!.getUint32(0, true);
  const physical = (await item(ITEM_PHYSICAL_SECTOR, 'Physical Sector Size', 4))!.getUint32(0, true);
  if (logical !== 512 && logical !== 4096) corrupt(`Logical Sector Size ${logical} is neither 512 nor 4096`);
  if (physical !== 512 && physical !== 4096) corrupt(`Physical Sector Size ${physical} is neither 512 nor 4096`);
  if (virtualSizeBig > BigInt(MAX_VIRTUAL_SIZE))
    throw new StorageError('too-large', `vhdx: Virtual Disk Size ${virtualSizeBig} exceeds 64 TiB`);
  const virtualSize = Number(virtualSizeBig);
  // An empty disk is a damaged header, not an image (qemu refuses it: its BAT arithmetic has no blocks).
  if (virtualSize === 0) corrupt('Virtual Disk Size is 0');
  if (virtualSize % logical !== 0)
    corrupt(`Virtual Disk Size ${virtualSize} is not a multiple of the logical sector size ${logical}`);
  const page83View = await item(ITEM_PAGE83, 'Page 83 Data', 16, true);
  const info: VhdxInfo = {
    blockSize,
    logicalSectorSize: logical,
    physicalSectorSize: physical,
    leaveBlocksAllocated: (flags & 1) !== 0,
    hasParent: (flags & 2) !== 0,
    page83: page83View ? new Uint8Array(page83View.buffer, 0, 16).slice() : new Uint8Array(16),
  };
  if (info.hasParent) {
    const loc = await item(ITEM_PARENT_LOCATOR, 'Parent Locator', 20);
    info.parentLocator = parseParentLocator(new Uint8Array(loc!.buffer));
  }
  return { info, virtualSize };
}

export class VhdxImage implements BlockBackend {
  readonly format = 'vhdx';
  /**
   * Data runs' host offsets are offsets of the opened file's own bytes (FileMappedBackend,
   * img/capabilities.ts): not when a log replay is shown through an in-memory overlay.
   */
  get dataInFile(): boolean {
    return !(this.store instanceof OverlayStore);
  }
  private dirty = false;
  /** Where the next block goes: the 1 MiB aligned end of everything allocated so far. */
  private allocEnd: number;
  /**
   * Header updates, block allocation and BAT changes run one at a time: two concurrent writes
   * into one unallocated block would otherwise both allocate it (the second BAT entry wins and
   * the first write's data is lost). Data writes into allocated blocks do not wait.
   */
  private metaLock: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: ByteStore,
    readonly readOnly: boolean,
    readonly size: number,
    readonly info: VhdxInfo,
    private header: Header,
    private headerSlot: number,
    private readonly batRegion: RegionEntry,
    private readonly geometry: BatGeometry,
    private readonly bat: Bat,
    fileSize: number,
    readonly backing: BlockBackend | undefined,
    /** What `check` needs: whether open replayed a pending log, and the BAT's surroundings. */
    private readonly checkState: { logReplayed: boolean; input: BatCheckInput },
  ) {
    this.allocEnd = Math.ceil(fileSize / MiB) * MiB;
  }

  /** The DataWriteGuid, which a child's parent_linkage must name. */
  get dataWriteGuid(): Uint8Array {
    return this.header.dataWriteGuid;
  }

  get identity(): ImageIdentity {
    return { uniqueId: this.header.dataWriteGuid.slice(), file: this.store.name };
  }

  /**
   * Opens for `img check` (qemu's BDRV_O_CHECK): BAT entries are not validated, so check() can
   * report every bad one, the parent is not opened, and the image must not be used for I/O
   * beyond check(). A pending log is still replayed, into the file when writable (what repair
   * means for VHDX), else only in memory, and check() then reports that it needs replaying.
   */
  static openForCheck(file: ByteStore, readOnly: boolean): Promise<VhdxImage> {
    return VhdxImage.open(file, { readOnly }, true);
  }

  static async open(file: ByteStore, opts: OpenOptions, forCheck = false): Promise<VhdxImage> {
    const readOnly = opts.readOnly ?? file.readOnly;
    if (!readOnly && file.readOnly)
      throw new StorageError('read-only', `vhdx: ${file.name} is read-only and cannot be opened for writing`);
    let store = file;
    const fileSize = await store.size();
    const head = new Uint8Array(8);
    await store.read(0, head);
    if (!probeFileId(head)) throw new StorageError('bad-magic', `vhdx: ${file.name} has no "vhdxfile" identifier`);
    if (fileSize < 320 * 1024) corrupt(`file is ${fileSize} bytes, too small for the headers and region tables`);
    let { header, slot } = await readHeaders(store);
    validateHeader(header, fileSize);
    let logReplayed = false;

    if (!guidIsZero(header.logGuid)) {
      const seq =
        header.logLength > 0 ? await findActiveSequence(store, header.logOffset, header.logLength, header.logGuid) : [];
      if (seq.length > 0) {
        const newSize = checkSequence(seq, fileSize, fileSize + MAX_VIRTUAL_SIZE);
        logReplayed = true;
        if (readOnly) {
          // Never write a read-only file: show the replayed state through an overlay.
          const overlay = new OverlayStore(file);
          await replaySequence(seq, overlay, newSize);
          store = overlay;
        } else {
          await replaySequence(seq, storeTarget(store), newSize);
          await store.flush();
        }
      }
      if (!readOnly) {
        // The log is now applied (or held nothing valid): clear it in both header copies.
        header = { ...header, logGuid: new Uint8Array(16) };
        slot = await writeHeaderPair(store, header, slot);
        header = { ...header, sequence: header.sequence + 2n };
      }
    }

    const currentSize = await store.size();
    const regions = await readRegions(store);
    const { bat: batRegion, metadata } = locateRegions(regions, currentSize);
    const { info, virtualSize } = await readMetadata(store, metadata);
    const geometry = batGeometry(virtualSize, info.blockSize, info.logicalSectorSize, info.hasParent);
    const batBytes = geometry.entries * 8;
    if (batBytes > batRegion.length)
      corrupt(
        `BAT region Length ${batRegion.length} is smaller than the ${batBytes} bytes ${geometry.entries} entries need`,
      );
    if (batBytes > MAX_BAT_BYTES)
      throw new StorageError('too-large', `vhdx: BAT of ${batBytes} bytes is larger than we hold in memory`);
    const bat = new Bat(new Uint8Array(batBytes));
    await store.read(batRegion.fileOffset, bat.bytes);
    const checkInput: BatCheckInput = {
      bat,
      geometry,
      virtualSize,
      fileSize: currentSize,
      hasParent: info.hasParent,
      reserved: reservedRanges(header, regions, batRegion, metadata),
    };
    let allocEnd = 0;
    if (!forCheck) {
      allocEnd = checkBat(bat, geometry, info, virtualSize, currentSize);
      // Blocks over the log, BAT or metadata, or over each other: writes would destroy them.
      const problems = findBatProblems(checkInput);
      if (problems.count > 0)
        corrupt(`${problems.messages[0]!.replace(/^VHDX /, '')} (run 'img check' for the full list)`);
    }
    allocEnd = Math.max(
      allocEnd,
      currentSize,
      batRegion.fileOffset + batRegion.length,
      metadata.fileOffset + metadata.length,
    );

    let backing: BlockBackend | undefined;
    if (info.hasParent && !forCheck) backing = await openParent(file.name, info, virtualSize, opts);
    return new VhdxImage(
      store,
      readOnly,
      virtualSize,
      info,
      header,
      slot,
      batRegion,
      geometry,
      bat,
      allocEnd,
      backing,
      {
        logReplayed,
        input: checkInput,
      },
    );
  }

  /**
   * qemu-img check for VHDX. A log that needed replaying is an error when the image is open
   * read-only (qemu-img cannot even open it: "check not completed", exit status 1); opened for
   * repair, open has replayed it, which counts as one corruption fixed. Then every BAT problem
   * is one corruption. VHDX has no reference counts, so there are no leaks to find, and nothing
   * in the BAT is repaired (qemu repairs nothing there either).
   */
  async check(repair?: 'leaks' | 'all'): Promise<CheckResult> {
    if (this.checkState.logReplayed && this.readOnly) {
      const name = this.store.name;
      throw new StorageError(
        'corrupt',
        `vhdx: ${name} was opened read-only, but contains a log that needs to be replayed ` +
          `(replay it with: virtkit img check -r all '${name}')`,
      );
    }
    if (repair !== undefined && this.readOnly)
      throw new StorageError('read-only', `vhdx: ${this.store.name} is open read-only and cannot be repaired`);
    const { count, messages } = findBatProblems({ ...this.checkState.input, fileSize: await this.store.size() });
    return {
      leaks: 0,
      corruptions: count,
      leaksFixed: 0,
      corruptionsFixed: this.checkState.logReplayed ? 1 : 0,
      allocatedClusters: 0,
      totalClusters: 0,
      fragmentedClusters: 0,
      compressedClusters: 0,
      imageEndOffset: 0,
      messages,
    };
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    this.checkRange(offset, buf.length);
    for (const w = new BlockWalk(this.geometry.blockSize, offset, buf.length); w.next(); )
      await this.readInBlock(w.index, w.inBlock, buf.subarray(w.done, w.done + w.length));
  }

  private async readInBlock(block: number, inBlock: number, out: Uint8Array): Promise<void> {
    const idx = payloadIndex(this.geometry, block);
    const state = this.bat.state(idx);
    const pos = block * this.geometry.blockSize + inBlock;
    switch (state) {
      case PAYLOAD_BLOCK_FULLY_PRESENT:
        await this.store.read(this.bat.offset(idx) + inBlock, out);
        return;
      case PAYLOAD_BLOCK_PARTIALLY_PRESENT: {
        // Runs of sectors whose bitmap bit says "here" come from this file, the rest from the parent.
        let done = 0;
        while (done < out.length) {
          const run = await this.bitmapRun(block, inBlock + done, out.length - done);
          const piece = out.subarray(done, done + run.length);
          if (run.present) await this.store.read(this.bat.offset(idx) + inBlock + done, piece);
          else await this.backing!.read(pos + done, piece);
          done += run.length;
        }
        return;
      }
      case PAYLOAD_BLOCK_NOT_PRESENT:
        if (this.backing) await this.backing.read(pos, out);
        else out.fill(0);
        return;
      default:
        out.fill(0);
    }
  }

  /** The run of sectors from `inBlock` with the same sector-bitmap bit, at most `max` bytes. */
  private async bitmapRun(block: number, inBlock: number, max: number): Promise<{ present: boolean; length: number }> {
    const sector = this.info.logicalSectorSize;
    const chunk = Math.floor(block / this.geometry.chunkRatio);
    const sbIdx = bitmapIndex(this.geometry, chunk);
    const firstBit =
      (block % this.geometry.chunkRatio) * (this.geometry.blockSize / sector) + Math.floor(inBlock / sector);
    const lastBit =
      (block % this.geometry.chunkRatio) * (this.geometry.blockSize / sector) +
      Math.floor((inBlock + max - 1) / sector);
    const bytes = new Uint8Array((lastBit >> 3) - (firstBit >> 3) + 1);
    if (this.bat.state(sbIdx) === SB_BLOCK_PRESENT)
      await this.store.read(this.bat.offset(sbIdx) + (firstBit >> 3), bytes);
    const bit = (b: number) => (bytes[(b >> 3) - (firstBit >> 3)]! >> (b & 7)) & 1;
    const present = bit(firstBit);
    let b = firstBit + 1;
    while (b <= lastBit && bit(b) === present) b++;
    const end = Math.min(
      inBlock + max,
      (b - (block % this.geometry.chunkRatio) * (this.geometry.blockSize / sector)) * sector,
    );
    return { present: present === 1, length: end - inBlock };
  }

  /** Runs fn after every earlier metadata operation finished (see metaLock). */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.metaLock.then(fn);
    this.metaLock = p.catch(() => undefined);
    return p;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.checkWritable();
    this.checkRange(offset, data.length);
    if (!this.dirty) await this.locked(() => this.markDirty());
    for (const w = new BlockWalk(this.geometry.blockSize, offset, data.length); w.next(); ) {
      const block = w.index;
      const idx = payloadIndex(this.geometry, block);
      const host =
        this.bat.state(idx) === PAYLOAD_BLOCK_FULLY_PRESENT
          ? this.bat.offset(idx)
          : await this.locked(() => this.ensureAllocated(block));
      await this.store.write(host + w.inBlock, data.subarray(w.done, w.done + w.length));
    }
  }

  /**
   * Returns the file offset of a FULLY_PRESENT block, allocating it (or turning a partially
   * present one into a fully present copy) first. The block's old content is preserved: zeros,
   * or the parent's data where the parent shows through. Callers hold metaLock.
   */
  private async ensureAllocated(block: number): Promise<number> {
    const idx = payloadIndex(this.geometry, block);
    const state = this.bat.state(idx);
    if (state === PAYLOAD_BLOCK_FULLY_PRESENT) return this.bat.offset(idx);
    const bs = this.geometry.blockSize;
    const start = block * bs;
    const valid = Math.min(bs, this.size - start);
    let host: number;
    const reusable =
      state !== PAYLOAD_BLOCK_NOT_PRESENT && state !== PAYLOAD_BLOCK_PARTIALLY_PRESENT && this.bat.offset(idx) !== 0;
    if (state === PAYLOAD_BLOCK_PARTIALLY_PRESENT) {
      // Materialize: copy what reads through (bitmap-selected mix) into the same block, in place.
      host = this.bat.offset(idx);
      await this.copyIntoBlock(host, valid, (o, piece) => this.readInBlock(block, o, piece));
    } else {
      if (reusable) {
        // ZERO/UNMAPPED/UNDEFINED blocks may keep their space; reuse it, zeroed.
        host = this.bat.offset(idx);
        await writeZeroPieces((at, zeros) => this.store.write(at, zeros), host, valid, CHUNK);
      } else {
        host = this.allocEnd;
        this.allocEnd += bs;
        // Growing the file provides the zeros; only the parent's data needs copying.
        if ((await this.store.size()) < host + bs) await this.store.truncate(host + bs);
        const backing = this.backing;
        if (state === PAYLOAD_BLOCK_NOT_PRESENT && backing)
          await this.copyIntoBlock(host, valid, (o, piece) => backing.read(start + o, piece));
      }
    }
    // Data first, durable, then the BAT entry that makes it visible (see the header comment).
    await this.store.flush();
    await this.setEntry(idx, PAYLOAD_BLOCK_FULLY_PRESENT, host);
    return host;
  }

  /** Fills a block's first `length` bytes at `host` with what `read` gives (offsets from the block's start), a CHUNK at a time. */
  private async copyIntoBlock(
    host: number,
    length: number,
    read: (inBlock: number, piece: Uint8Array) => Promise<void>,
  ): Promise<void> {
    const tmp = new Uint8Array(Math.min(CHUNK, length));
    for (const w = new BlockWalk(CHUNK, 0, length); w.next(); ) {
      const piece = tmp.subarray(0, w.length);
      await read(w.done, piece);
      await this.store.write(host + w.done, piece);
    }
  }

  private async setEntry(idx: number, state: number, offset: number): Promise<void> {
    this.bat.set(idx, state, offset);
    await this.store.write(this.batRegion.fileOffset + idx * 8, this.bat.entry(idx).slice());
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    await this.zeroRange(offset, length, false);
  }

  async discard(offset: number, length: number): Promise<void> {
    await this.zeroRange(offset, length, true);
  }

  /**
   * Whole blocks change state (ZERO, or NOT_PRESENT for a discard in a differencing image so the
   * parent shows through again); partial blocks get zeros written. The old block space is kept
   * in the entry so a later write can reuse it.
   */
  private async zeroRange(offset: number, length: number, discard: boolean): Promise<void> {
    this.checkWritable();
    this.checkRange(offset, length);
    await this.locked(() => this.zeroRangeLocked(offset, length, discard));
  }

  private async zeroRangeLocked(offset: number, length: number, discard: boolean): Promise<void> {
    await this.markDirty();
    for (const w = new BlockWalk(this.geometry.blockSize, offset, length); w.next(); ) {
      const block = w.index;
      const idx = payloadIndex(this.geometry, block);
      const state = this.bat.state(idx);
      if (w.whole(this.size) && !this.info.leaveBlocksAllocated) {
        const keep = state === PAYLOAD_BLOCK_FULLY_PRESENT ? this.bat.offset(idx) : 0;
        const newState = discard && this.backing ? PAYLOAD_BLOCK_NOT_PRESENT : PAYLOAD_BLOCK_ZERO;
        await this.setEntry(idx, newState, newState === PAYLOAD_BLOCK_ZERO ? keep : 0);
        // The old block's bytes are no longer read: give their space back to the host.
        if (discard && keep) await discardBytes(this.store, keep, w.length);
      } else if (discard) {
        // Discard is advisory and never writes (here it could allocate a whole block); the space
        // of a fully present block (a fixed image's) can still go back to the host.
        if (state === PAYLOAD_BLOCK_FULLY_PRESENT)
          await discardBytes(this.store, this.bat.offset(idx) + w.inBlock, w.length);
      } else if (!this.readsAsZero(state)) {
        const host = await this.ensureAllocated(block);
        await writeZeroPieces((at, zeros) => this.store.write(at, zeros), host + w.inBlock, w.length, CHUNK);
      }
    }
  }

  private readsAsZero(state: number): boolean {
    if (state === PAYLOAD_BLOCK_FULLY_PRESENT || state === PAYLOAD_BLOCK_PARTIALLY_PRESENT) return false;
    return state !== PAYLOAD_BLOCK_NOT_PRESENT || !this.backing;
  }

  async blockStatus(offset: number, length: number): Promise<ExtentStatus> {
    this.checkRange(offset, length);
    if (length === 0) return { offset, length: 0, data: false, zero: true, depth: 0 };
    const bs = this.geometry.blockSize;
    const first = await this.statusInBlock(offset, length);
    let end = offset + first.length;
    // Merge following blocks while they continue the same kind of run.
    while (end < offset + length && end % bs === 0) {
      const next = await this.statusInBlock(end, offset + length - end);
      const contiguous =
        first.hostOffset === undefined
          ? next.hostOffset === undefined
          : next.hostOffset === first.hostOffset + (end - offset);
      if (next.data !== first.data || next.zero !== first.zero || next.depth !== first.depth || !contiguous) break;
      end += next.length;
    }
    return { ...first, length: end - offset };
  }

  private async statusInBlock(offset: number, max: number): Promise<ExtentStatus> {
    const bs = this.geometry.blockSize;
    const block = Math.floor(offset / bs);
    const inBlock = offset - block * bs;
    const n = Math.min(max, bs - inBlock);
    const idx = payloadIndex(this.geometry, block);
    const state = this.bat.state(idx);
    if (state === PAYLOAD_BLOCK_FULLY_PRESENT) {
      return { offset, length: n, data: true, zero: false, depth: 0, hostOffset: this.bat.offset(idx) + inBlock };
    }
    if (state === PAYLOAD_BLOCK_PARTIALLY_PRESENT) {
      const run = await this.bitmapRun(block, inBlock, n);
      if (run.present)
        return {
          offset,
          length: run.length,
          data: true,
          zero: false,
          depth: 0,
          hostOffset: this.bat.offset(idx) + inBlock,
        };
      return this.parentStatus(offset, run.length);
    }
    if (state === PAYLOAD_BLOCK_NOT_PRESENT && this.backing) return this.parentStatus(offset, n);
    return { offset, length: n, data: false, zero: true, depth: 0 };
  }

  private async parentStatus(offset: number, n: number): Promise<ExtentStatus> {
    const s = await this.backing!.blockStatus(offset, n);
    return { ...s, depth: s.depth + 1 };
  }

  async flush(): Promise<void> {
    if (!this.readOnly) await this.store.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.backing?.close();
    await this.store.close();
  }

  /**
   * Before the first change after open: new FileWriteGuid and DataWriteGuid, written to both
   * header slots in turn (the stale slot first, so one valid header survives any crash).
   */
  private async markDirty(): Promise<void> {
    if (this.dirty) return;
    this.dirty = true;
    this.header = { ...this.header, fileWriteGuid: randomGuid(), dataWriteGuid: randomGuid() };
    this.headerSlot = await writeHeaderPair(this.store, this.header, this.headerSlot);
    this.header = { ...this.header, sequence: this.header.sequence + 2n };
  }

  private checkWritable(): void {
    if (this.readOnly) throw new StorageError('read-only', `vhdx: ${this.store.name} is open read-only`);
  }

  private checkRange(offset: number, length: number): void {
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.size
    ) {
      throw new StorageError(
        'out-of-range',
        `vhdx: range [${offset}, +${length}) is outside the ${this.size}-byte disk`,
      );
    }
  }
}

/**
 * Writes `h` (with sequence + 1) to the slot that is not current, flushes, then (sequence + 2) to
 * the other one. Returns the new current slot.
 */
export async function writeHeaderPair(store: ByteStore, h: Header, currentSlot: number): Promise<number> {
  let slot = currentSlot;
  for (let i = 1; i <= 2; i++) {
    slot = 1 - slot;
    await store.write(HEADER_OFFSETS[slot]!, serializeHeader({ ...h, sequence: h.sequence + BigInt(i) }));
    await store.flush();
  }
  return slot;
}

/** The header section, the log and every region of the region table: no block may overlap them. */
function reservedRanges(
  header: Header,
  regions: RegionEntry[],
  batRegion: RegionEntry,
  metadata: RegionEntry,
): ReservedRange[] {
  const out: ReservedRange[] = [{ name: 'the header section', start: 0, length: MiB }];
  if (header.logLength > 0) out.push({ name: 'the log', start: header.logOffset, length: header.logLength });
  for (const r of regions) {
    const name =
      r === batRegion ? 'the BAT region' : r === metadata ? 'the metadata region' : `region ${guidText(r.guid)}`;
    out.push({ name, start: r.fileOffset, length: r.length });
  }
  return out;
}

/** Validates every BAT entry against the file; returns the end of the highest allocated block. */
function checkBat(bat: Bat, g: BatGeometry, info: VhdxInfo, virtualSize: number, fileSize: number): number {
  let end = 0;
  for (let block = 0; block < g.dataBlocks; block++) {
    const idx = payloadIndex(g, block);
    const state = bat.state(idx);
    const off = bat.offset(idx);
    const need = Math.min(g.blockSize, virtualSize - block * g.blockSize);
    switch (state) {
      case PAYLOAD_BLOCK_FULLY_PRESENT:
      case PAYLOAD_BLOCK_PARTIALLY_PRESENT:
        if (state === PAYLOAD_BLOCK_PARTIALLY_PRESENT && !info.hasParent)
          corrupt(`BAT entry ${idx} (block ${block}) is PARTIALLY_PRESENT in an image without a parent`);
        if (off === 0 || off + need > fileSize)
          corrupt(`BAT entry ${idx} (block ${block}) points at ${off}, outside the ${fileSize}-byte file`);
        end = Math.max(end, off + g.blockSize);
        break;
      case PAYLOAD_BLOCK_NOT_PRESENT:
      case PAYLOAD_BLOCK_UNDEFINED:
      case PAYLOAD_BLOCK_ZERO:
      case PAYLOAD_BLOCK_UNMAPPED:
        // Space kept by a zeroed block may be reused, but only if it is really in the file.
        if (off !== 0 && off + g.blockSize <= fileSize) end = Math.max(end, off + g.blockSize);
        else if (off !== 0) bat.set(idx, state, 0);
        break;
      default:
        corrupt(`BAT entry ${idx} (block ${block}) has undefined state ${state}`);
    }
  }
  for (let chunk = 0; info.hasParent && chunk * g.chunkRatio < g.dataBlocks; chunk++) {
    const idx = bitmapIndex(g, chunk);
    const state = bat.state(idx);
    if (state === SB_BLOCK_PRESENT) {
      const off = bat.offset(idx);
      if (off === 0 || off + MiB > fileSize)
        corrupt(`BAT sector bitmap entry ${idx} points at ${off}, outside the ${fileSize}-byte file`);
      end = Math.max(end, off + MiB);
    } else if (state !== SB_BLOCK_NOT_PRESENT) {
      corrupt(`BAT sector bitmap entry ${idx} has undefined state ${state}`);
    }
  }
  return end;
}

async function openParent(child: string, info: VhdxInfo, virtualSize: number, opts: OpenOptions): Promise<BlockBackend> {
  const loc = info.parentLocator!;
  const candidates = ['relative_path', 'volume_path', 'absolute_win32_path'].flatMap((k) => {
    const v = loc.get(k);
    return v ? parentCandidates(v, k) : [];
  });
  if (candidates.length === 0) corrupt('parent locator names no parent path');
  if (!opts.openBacking)
    throw new StorageError(
      'not-found',
      `vhdx: differencing image needs its parent ${candidates[0]!.name}, but no opener was given`,
    );
  let parent: BlockBackend | undefined;
  let given = '';
  const tried: string[] = [];
  const seen = new Set<string>();
  for (const c of candidates) {
    if (seen.has(c.name)) continue;
    seen.add(c.name);
    try {
      parent = await opts.openBacking(c.name, undefined);
      given = c.name;
      break;
    } catch (e) {
      // Depth and loop errors are final; a missing path lets us try the next locator entry.
      if (e instanceof StorageError && e.code !== 'not-found' && e.code !== 'io') throw e;
      tried.push(`${c.source}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (!parent) throw new StorageError('not-found', `vhdx: ${child}: parent not found; tried ${tried.join('; ')}`);
  // A stand-in for a parent deliberately left closed (info, rebase -u) has no size or identity to check.
  if (parent.unopened) return parent;
  if (parent.size !== virtualSize) {
    await parent.close();
    corrupt(`${child}: parent "${given}" has size ${parent.size}, not the virtual size ${virtualSize}`);
  }
  // Hyper-V opens a parent only if its DataWriteGuid is the one the child recorded (parent_linkage,
  // or parent_linkage2 during a parent update): a changed or different parent would show the child's
  // blocks over other data. An all-zero linkage records nothing (written without a parent to ask).
  const linkages = ['parent_linkage', 'parent_linkage2']
    .map((k) => loc.get(k)?.replace(/[{}]/g, '').toUpperCase())
    .filter((v): v is string => !!v && !/^0{8}-0{4}-0{4}-0{4}-0{12}$/.test(v));
  if (linkages.length > 0) {
    const id = parent.format === 'vhdx' ? parent.identity : undefined;
    const have = id ? guidText(id.uniqueId) : undefined;
    if (!have || !linkages.includes(have)) {
      await parent.close();
      const what = have ? `has DataWriteGuid {${have}}` : `is a ${parent.format} image, not a VHDX`;
      corrupt(
        `${child}: parent "${given}"${id?.file ? ` (${id.file})` : ''} ${what}, but the differencing image's ` +
          `parent_linkage is {${linkages.join('} or {')}}; the parent was replaced or written to since, ` +
          `and reading the child over it would mix two different disks`,
      );
    }
  }
  return parent;
}
