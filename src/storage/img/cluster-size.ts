/**
 * The allocation unit of VMDK and VHD images, read from their headers, for `info`'s cluster-size
 * while those backends do not publish a `clusterSize` (capabilities.ts prefers the backend's
 * own). Only the two fields are read: the sparse VMDK grain size and the dynamic VHD block size.
 */
import type { ByteStore } from '../types.ts';

/** VMDK hosted sparse extent: "KDMV" magic (little-endian), grain size in sectors at byte 20. */
async function vmdkGrain(store: ByteStore): Promise<number | undefined> {
  const h = new Uint8Array(28);
  await store.read(0, h);
  const dv = new DataView(h.buffer);
  if (dv.getUint32(0, true) !== 0x564d444b) return undefined;
  const sectors = dv.getUint32(20, true) + dv.getUint32(24, true) * 2 ** 32;
  return sectors > 0 && sectors <= 2 ** 17 ? sectors * 512 : undefined;
}

/** Dynamic/differencing VHD: the footer copy at 0 points (byte 16) at the dynamic header, whose block size is at byte 32. */
async function vhdBlock(store: ByteStore): Promise<number | undefined> {
  const f = new Uint8Array(24);
  await store.read(0, f);
  if (String.fromCharCode(...f.subarray(0, 8)) !== 'conectix') return undefined;
  const dv = new DataView(f.buffer);
  const dynOffset = dv.getUint32(16) * 2 ** 32 + dv.getUint32(20);
  if (dynOffset === 0xffffffff * 2 ** 32 + 0xffffffff || dynOffset > (await store.size())) return undefined;
  const d = new Uint8Array(36);
  await store.read(dynOffset, d);
  if (String.fromCharCode(...d.subarray(0, 8)) !== 'cxsparse') return undefined;
  const size = new DataView(d.buffer).getUint32(32);
  return size > 0 ? size : undefined;
}

export async function headerClusterSize(format: string, store: ByteStore): Promise<number | undefined> {
  if (format === 'vmdk') return vmdkGrain(store);
  if (format === 'vpc') return vhdBlock(store);
  return undefined;
}
