/**
 * The Block Allocation Table: one 64-bit entry per payload block, with one sector-bitmap entry
 * after every `chunkRatio` payload entries (MS-VHDX 2.5). Bits 0-2 hold the state, bits 20-63
 * the file offset in MiB.
 */
import { StorageError } from '../types.ts';
import { MiB } from './layout.ts';

export const PAYLOAD_BLOCK_NOT_PRESENT = 0;
export const PAYLOAD_BLOCK_UNDEFINED = 1;
export const PAYLOAD_BLOCK_ZERO = 2;
export const PAYLOAD_BLOCK_UNMAPPED = 3;
export const PAYLOAD_BLOCK_FULLY_PRESENT = 6;
export const PAYLOAD_BLOCK_PARTIALLY_PRESENT = 7;
export const SB_BLOCK_NOT_PRESENT = 0;
export const SB_BLOCK_PRESENT = 6;

/** Keeps the in-memory BAT bounded; 128 MiB covers 16 TiB at 1 MiB blocks, 64 TiB at 4 MiB. */
export const MAX_BAT_BYTES = 128 * MiB;

export interface BatGeometry {
  blockSize: number;
  chunkRatio: number;
  dataBlocks: number;
  /** Number of 64-bit entries the BAT region must hold. */
  entries: number;
}

export function batGeometry(
  virtualSize: number,
  blockSize: number,
  logicalSectorSize: number,
  hasParent: boolean,
): BatGeometry {
  const chunkRatio = (2 ** 23 * logicalSectorSize) / blockSize;
  const dataBlocks = Math.ceil(virtualSize / blockSize);
  const bitmapBlocks = Math.ceil(dataBlocks / chunkRatio);
  const entries = hasParent
    ? bitmapBlocks * (chunkRatio + 1)
    : dataBlocks + Math.floor(Math.max(0, dataBlocks - 1) / chunkRatio);
  return { blockSize, chunkRatio, dataBlocks, entries };
}

export function payloadIndex(g: BatGeometry, block: number): number {
  return block + Math.floor(block / g.chunkRatio);
}

export function bitmapIndex(g: BatGeometry, chunk: number): number {
  return chunk * (g.chunkRatio + 1) + g.chunkRatio;
}

export class Bat {
  private readonly dv: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  state(i: number): number {
    return this.dv.getUint32(i * 8, true) & 7;
  }
  /** File offset in bytes (may exceed 2^53 on corrupt input; callers compare against the file size). */
  offset(i: number): number {
    const lo = this.dv.getUint32(i * 8, true);
    const hi = this.dv.getUint32(i * 8 + 4, true);
    return ((lo >>> 20) + hi * 4096) * MiB;
  }
  set(i: number, state: number, offset: number): void {
    if (offset % MiB !== 0) throw new StorageError('corrupt', `vhdx: BAT offset ${offset} is not 1 MiB aligned`);
    const mb = offset / MiB;
    this.dv.setUint32(i * 8, ((mb % 4096) << 20) | state, true);
    this.dv.setUint32(i * 8 + 4, Math.floor(mb / 4096), true);
  }
  entry(i: number): Uint8Array {
    return this.bytes.subarray(i * 8, i * 8 + 8);
  }
}
