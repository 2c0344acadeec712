/**
 * Opening a VMDK: a sparse file with its embedded descriptor, or a text descriptor whose extent
 * files are opened through OpenOptions.openFile; delta disks open their parent through
 * OpenOptions.openBacking (by parentFileNameHint).
 */
import type { OpenOptions } from '../formats.ts';
import { utf8Decode } from '../text.ts';
import type { BlockBackend, ByteStore } from '../types.ts';
import { StorageError } from '../types.ts';
import {
  looksLikeDescriptor,
  MAX_DESCRIPTOR_BYTES,
  NO_PARENT_CID,
  parseDescriptor,
  type Descriptor,
  type ExtentLine,
} from './descriptor.ts';
import { FlatExtent, ZeroExtent, type Extent } from './extent.ts';
import { VmdkImage, type PlacedExtent } from './image.ts';
import { hasSparseMagic } from './sparse-header.ts';
import { SparseExtent } from './sparse-extent.ts';

export async function openVmdk(store: ByteStore, opts: OpenOptions): Promise<VmdkImage> {
  const name = store.name;
  if (opts.readOnly === false && store.readOnly)
    throw new StorageError('read-only', `VMDK ${name}: store is read-only`);
  const readOnly = !!opts.readOnly || store.readOnly;
  const fileSize = await store.size();
  const head = new Uint8Array(Math.min(fileSize, 4096));
  await store.read(0, head);
  if (hasSparseMagic(head)) return openMonolithicSparse(store, readOnly, opts);
  if (head.length >= 4 && String.fromCharCode(...head.subarray(0, 4)) === 'COWD') {
    throw new StorageError('unsupported', `VMDK ${name}: version 3 (COWD, ESX) sparse extents are not supported`);
  }
  if (!looksLikeDescriptor(head))
    throw new StorageError('bad-magic', `VMDK ${name}: neither a sparse extent nor a descriptor`);
  if (fileSize > MAX_DESCRIPTOR_BYTES)
    throw new StorageError('too-large', `VMDK ${name}: descriptor file of ${fileSize} bytes`);
  const text = new Uint8Array(fileSize);
  await store.read(0, text);
  const desc = parseDescriptor(utf8Decode(text), name);
  const extents: PlacedExtent[] = [];
  try {
    let start = 0;
    for (const line of desc.extents) {
      const extent = await openExtent(line, readOnly, opts, name);
      const file = line.type === 'ZERO' || line.access === 'NOACCESS' ? undefined : line.file;
      extents.push({ start, extent, type: line.type, ...(file !== undefined && { file }) });
      start += extent.size;
    }
    if (start === 0) throw new StorageError('corrupt', `VMDK ${name}: the descriptor's extents hold 0 sectors`);
    const backing = await openParent(desc, opts, name);
    return new VmdkImage(name, desc, extents, readOnly, backing, store);
  } catch (e) {
    for (const p of extents) await p.extent.close().catch(() => {});
    throw e;
  }
}

async function openMonolithicSparse(store: ByteStore, readOnly: boolean, opts: OpenOptions): Promise<VmdkImage> {
  const name = store.name;
  const extent = await SparseExtent.open({ store, writable: !readOnly, where: name });
  const h = extent.header;
  let desc: Descriptor | undefined;
  if (h.descriptorOffset > 0 && h.descriptorSize > 0) {
    const bytes = h.descriptorSize * 512;
    const fileSize = await store.size();
    if (bytes > MAX_DESCRIPTOR_BYTES || h.descriptorOffset * 512 + bytes > fileSize) {
      throw new StorageError(
        'corrupt',
        `VMDK ${name}: embedded descriptor (${h.descriptorSize} sectors at ${h.descriptorOffset}) is outside the file`,
      );
    }
    const raw = new Uint8Array(bytes);
    await store.read(h.descriptorOffset * 512, raw);
    const end = raw.indexOf(0);
    desc = parseDescriptor(utf8Decode(end >= 0 ? raw.subarray(0, end) : raw), `${name} (embedded)`);
  }
  desc ??= {
    version: 1,
    cid: 0,
    parentCid: NO_PARENT_CID,
    createType: 'monolithicSparse',
    extents: [{ access: 'RW', sectors: h.capacity, type: 'SPARSE', file: name, offset: 0 }],
    ddb: new Map(),
  };
  const backing = await openParent(desc, opts, name);
  return new VmdkImage(name, desc, [{ start: 0, extent }], readOnly, backing);
}

async function openExtent(line: ExtentLine, readOnly: boolean, opts: OpenOptions, name: string): Promise<Extent> {
  const size = line.sectors * 512;
  if (line.type === 'ZERO' || line.access === 'NOACCESS') return new ZeroExtent(size);
  if (!opts.openFile) throw new StorageError('not-found', `VMDK ${name}: extent "${line.file}" needs openFile`);
  const writable = !readOnly && line.access === 'RW';
  if (line.type === 'FLAT' || line.type === 'VMFS') {
    const store = await opts.openFile(line.file, !writable);
    const have = await store.size();
    if (have < (line.offset + line.sectors) * 512) {
      await store.close();
      throw new StorageError(
        'corrupt',
        `VMDK ${name}: flat extent "${line.file}" is ${have} bytes, the descriptor needs ${(line.offset + line.sectors) * 512}`,
      );
    }
    return new FlatExtent(store, size, line.offset * 512, writable);
  }
  if (line.type === 'SPARSE') {
    const store = await opts.openFile(line.file, !writable);
    try {
      return await SparseExtent.open({ store, size, writable, where: line.file });
    } catch (e) {
      await store.close();
      throw e;
    }
  }
  throw new StorageError('unsupported', `VMDK ${name}: ${line.type} extents are not supported`);
}

async function openParent(desc: Descriptor, opts: OpenOptions, name: string): Promise<BlockBackend | undefined> {
  const hint = desc.parentFileNameHint;
  if (desc.parentCid === NO_PARENT_CID && !hint) return undefined;
  if (!hint)
    throw new StorageError(
      'corrupt',
      `VMDK ${name}: delta disk (parentCID ${desc.parentCid.toString(16)}) without parentFileNameHint`,
    );
  if (!opts.openBacking)
    throw new StorageError(
      'not-found',
      `VMDK ${name}: delta disk needs its parent "${hint}" but no openBacking was given`,
    );
  return opts.openBacking(hint, undefined);
}
