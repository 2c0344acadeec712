/**
 * Every image format virtkit knows, and detection by content. To add a format, import its
 * ImageFormat and append it to `formats` (order only breaks ties between equal probe scores).
 */
import type { ImageFormat } from './formats.ts';
import { qcow2Format } from './qcow2/format.ts';
import { rawFormat } from './raw.ts';
import { vhdxFormat } from './vhdx/index.ts';
import { vmdkFormat } from './vmdk/index.ts';
import { vpcFormat } from './vhd/index.ts';
import { StorageError, type ByteStore } from './types.ts';

export const formats: ImageFormat[] = [qcow2Format, vhdxFormat, vmdkFormat, vpcFormat, rawFormat];

/** How much of the file probes see: enough for every header and for small descriptor files. */
export const PROBE_BYTES = 64 * 1024;

export function findFormat(name: string): ImageFormat {
  const f = formats.find((x) => x.name === name);
  if (!f) {
    throw new StorageError(
      'unsupported',
      `unknown image format '${name}' (known: ${formats.map((x) => x.name).join(', ')})`,
    );
  }
  return f;
}

/** Bytes at the end of a store that probes see: a fixed VHD's footer. */
export const PROBE_TAIL_BYTES = 512;

export interface ProbeInput {
  head: Uint8Array;
  size: number;
  /** The last PROBE_TAIL_BYTES bytes, when the store is at least that long. */
  tail?: Uint8Array;
}

export async function readProbeHead(store: ByteStore): Promise<ProbeInput> {
  const size = await store.size();
  const head = new Uint8Array(Math.min(size, PROBE_BYTES));
  await store.read(0, head);
  let tail: Uint8Array | undefined;
  if (size >= PROBE_TAIL_BYTES) {
    tail = new Uint8Array(PROBE_TAIL_BYTES);
    if (size <= PROBE_BYTES) tail.set(head.subarray(size - PROBE_TAIL_BYTES));
    else await store.read(size - PROBE_TAIL_BYTES, tail);
  }
  return { head, size, tail };
}

/** The format with the highest probe score (raw, scoring 1, wins when nothing else recognises the bytes). */
export async function detectFormat(store: ByteStore, candidates: ImageFormat[] = formats): Promise<ImageFormat> {
  return bestFormat(await readProbeHead(store), candidates);
}

export function bestFormat(input: ProbeInput, candidates: ImageFormat[] = formats): ImageFormat {
  let best: ImageFormat | undefined;
  let bestScore = 0;
  for (const f of candidates) {
    const score = f.probe(input.head, input.size, input.tail);
    if (score > bestScore) {
      best = f;
      bestScore = score;
    }
  }
  if (!best) throw new StorageError('bad-magic', 'no known image format recognises this file');
  return best;
}
