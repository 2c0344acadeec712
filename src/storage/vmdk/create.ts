/**
 * Creating VMDK images as `qemu-img create -f vmdk` does: subformat=monolithicSparse (default),
 * streamOptimized or monolithicFlat; adapter_type, hwversion, zeroed_grain and toolsversion as qemu
 * spells them; a delta disk (parentFileNameHint) when a backing file is given.
 */
import type { CreateOptions } from '../formats.ts';
import { utf8Encode } from '../text.ts';
import type { ByteStore } from '../types.ts';
import { StorageError } from '../types.ts';
import { formatDescriptor, NO_PARENT_CID, type Descriptor } from './descriptor.ts';
import {
  buildMarker,
  buildSparseHeader,
  COMPRESS_DEFLATE,
  FLAG_COMPRESSED,
  FLAG_MARKERS,
  FLAG_NL_TEST,
  FLAG_RGD,
  FLAG_ZERO_GRAIN,
  GD_AT_END,
  MARKER_EOS,
  MARKER_FOOTER,
  MARKER_GD,
} from './sparse-header.ts';

const GRAIN_SECTORS = 128;
const GTES = 512;
const DESC_SECTORS = 20;
const ADAPTERS = ['ide', 'buslogic', 'lsilogic', 'legacyESX'];
const OPTIONS = ['subformat', 'adapter_type', 'hwversion', 'zeroed_grain', 'compat6', 'toolsversion'];
/** VMDK sparse extents address sectors with 32-bit grain entries; qemu caps the disk at 2 TiB - 1 sector... */
const MAX_SPARSE_BYTES = 2 ** 41 - 512;

function onOff(v: string | undefined, key: string): boolean {
  if (v === undefined || v === 'off' || v === 'false') return false;
  if (v === 'on' || v === 'true') return true;
  throw new StorageError('unsupported', `vmdk option ${key}=${v}: expected on or off`);
}

function baseName(p: string): string {
  return p.slice(Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) + 1);
}

function randomCid(): number {
  return Math.floor(Math.random() * 0xfffffffe);
}

export async function createVmdk(store: ByteStore, requested: number, opts: CreateOptions): Promise<void> {
  const o = opts.options;
  for (const k of Object.keys(o))
    if (!OPTIONS.includes(k)) throw new StorageError('unsupported', `vmdk has no option ${k}`);
  const sub = o.subformat ?? 'monolithicSparse';
  if (!['monolithicSparse', 'streamOptimized', 'monolithicFlat'].includes(sub)) {
    throw new StorageError(
      'unsupported',
      `vmdk subformat=${sub}: expected monolithicSparse, streamOptimized or monolithicFlat`,
    );
  }
  const adapter = o.adapter_type ?? 'ide';
  if (!ADAPTERS.includes(adapter))
    throw new StorageError('unsupported', `vmdk adapter_type=${adapter}: expected ${ADAPTERS.join(', ')}`);
  const compat6 = onOff(o.compat6, 'compat6');
  const hw = o.hwversion ?? (compat6 ? '6' : '4');
  if (!/^\d{1,3}$/.test(hw)) throw new StorageError('unsupported', `vmdk hwversion=${hw} is not a number`);
  const zeroedGrain = onOff(o.zeroed_grain, 'zeroed_grain');
  let parentCid = NO_PARENT_CID;
  let parentHint: string | undefined;
  if (opts.backingFile !== undefined) {
    if (sub !== 'monolithicSparse')
      throw new StorageError('unsupported', `vmdk delta disks must be monolithicSparse, not ${sub}`);
    if (!opts.openBacking)
      throw new StorageError('not-found', `vmdk parent ${opts.backingFile}: no openBacking was given`);
    const parent = await opts.openBacking(opts.backingFile, opts.backingFormat);
    try {
      if (!(requested > 0)) requested = parent.size;
      const cid = (parent as { cid?: unknown }).cid;
      parentCid = typeof cid === 'number' ? cid : 0;
    } finally {
      await parent.close();
    }
    parentHint = opts.backingFile;
  }
  if (!Number.isSafeInteger(requested) || requested < 0)
    throw new StorageError('unsupported', `vmdk size ${requested} is invalid`);
  // qemu-img writes a 0-sector VMDK that neither it nor we can open again: refuse it up front.
  if (requested === 0) throw new StorageError('unsupported', 'vmdk: virtual size 0 must be positive');
  const sectors = Math.ceil(requested / 512);
  if (sub !== 'monolithicFlat' && sectors * 512 > MAX_SPARSE_BYTES) {
    throw new StorageError('too-large', `vmdk size ${requested} exceeds what a sparse extent can address`);
  }
  const heads = adapter === 'ide' ? 16 : 255;
  const desc: Descriptor = {
    version: 1,
    cid: randomCid(),
    parentCid,
    createType: sub,
    parentFileNameHint: parentHint,
    extents: [],
    ddb: new Map([
      ['ddb.virtualHWVersion', hw],
      ['ddb.geometry.cylinders', String(Math.floor(sectors / (heads * 63)))],
      ['ddb.geometry.heads', String(heads)],
      ['ddb.geometry.sectors', '63'],
      ['ddb.adapterType', adapter],
      ['ddb.toolsVersion', o.toolsversion ?? '2147483647'],
    ]),
  };
  await store.truncate(0);
  if (sub === 'monolithicFlat') {
    if (!opts.openFile)
      throw new StorageError('not-found', 'vmdk monolithicFlat needs openFile to create its -flat extent');
    const flatName = baseName(store.name).replace(/\.vmdk$/i, '') + '-flat.vmdk';
    desc.extents.push({ access: 'RW', sectors, type: 'FLAT', file: flatName, offset: 0 });
    const flat = await opts.openFile(flatName, false);
    try {
      await flat.truncate(0);
      await flat.truncate(sectors * 512);
      await flat.flush();
    } finally {
      await flat.close();
    }
    await store.write(0, utf8Encode(formatDescriptor(desc)));
    await store.flush();
    return;
  }
  desc.extents.push({ access: 'RW', sectors, type: 'SPARSE', file: baseName(store.name), offset: 0 });
  const text = utf8Encode(formatDescriptor(desc));
  if (text.length > DESC_SECTORS * 512)
    throw new StorageError('too-large', 'vmdk descriptor does not fit its 20 sectors');
  const grains = Math.ceil(sectors / GRAIN_SECTORS);
  const gtCount = Math.ceil(grains / GTES);
  const gdSectors = Math.ceil((gtCount * 4) / 512);
  const gtSectors = (GTES * 4) / 512;
  const base = {
    capacity: sectors,
    grainSize: GRAIN_SECTORS,
    descriptorOffset: 1,
    descriptorSize: DESC_SECTORS,
    numGTEsPerGT: GTES,
    uncleanShutdown: 0,
    compressAlgorithm: 0,
  };
  if (sub === 'streamOptimized') {
    // The VMware stream layout: header, descriptor, (grains later), then GD + footer + end-of-stream.
    const overHead = 128;
    const header = {
      ...base,
      version: 3,
      flags: FLAG_NL_TEST | FLAG_COMPRESSED | FLAG_MARKERS,
      rgdOffset: 0,
      overHead,
      compressAlgorithm: COMPRESS_DEFLATE,
    };
    await store.write(0, buildSparseHeader({ ...header, gdOffset: GD_AT_END }));
    await store.write(512, text);
    const gdAt = overHead + 1;
    const tail = new Uint8Array((1 + gdSectors + 3) * 512);
    tail.set(buildMarker(gdSectors, MARKER_GD), 0);
    tail.set(buildMarker(1, MARKER_FOOTER), (1 + gdSectors) * 512);
    tail.set(buildSparseHeader({ ...header, gdOffset: gdAt }), (2 + gdSectors) * 512);
    tail.set(buildMarker(0, MARKER_EOS), (3 + gdSectors) * 512);
    await store.write(overHead * 512, tail);
    await store.flush();
    return;
  }
  // monolithicSparse, laid out as qemu does: descriptor, redundant GD + GTs, GD + GTs, grains.
  const rgdOffset = 1 + DESC_SECTORS;
  const gdOffset = rgdOffset + gdSectors + gtSectors * gtCount;
  const overHead = Math.ceil((gdOffset + gdSectors + gtSectors * gtCount) / GRAIN_SECTORS) * GRAIN_SECTORS;
  const flags = FLAG_NL_TEST | FLAG_RGD | (zeroedGrain ? FLAG_ZERO_GRAIN : 0);
  const header = { ...base, version: zeroedGrain ? 2 : 1, flags, rgdOffset, gdOffset, overHead };
  // The tables start out zero (no grains); only the header, descriptor and directories hold data.
  await store.truncate(overHead * 512);
  await store.write(0, buildSparseHeader(header));
  await store.write(512, text);
  for (const dir of [rgdOffset, gdOffset]) {
    const gd = new Uint8Array(gdSectors * 512);
    const dv = new DataView(gd.buffer);
    for (let i = 0; i < gtCount; i++) dv.setUint32(i * 4, dir + gdSectors + i * gtSectors, true);
    await store.write(dir * 512, gd);
  }
  await store.flush();
}
