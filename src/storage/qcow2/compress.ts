/**
 * Compressed clusters: raw deflate for qemu's "zlib" compression type (window bits -12), zstd
 * frames for its "zstd" type (compression_type 1).
 */
import { deflateSync, inflateSync } from 'fflate';
import { StorageError } from '../types.ts';
import { zstdCompressCluster, zstdDecompressCluster } from './zstd.ts';

export const COMPRESSION_ZLIB = 0;
export const COMPRESSION_ZSTD = 1;

/**
 * Compresses one cluster. Returns undefined when compression does not save space, in which
 * case the caller stores the cluster normally (as qemu does).
 */
export function compressCluster(data: Uint8Array, type = COMPRESSION_ZLIB): Uint8Array | undefined {
  if (type === COMPRESSION_ZSTD) return zstdCompressCluster(data);
  const out = deflateSync(data, { level: 6 });
  return out.length < data.length ? out : undefined;
}

/** Decompresses one cluster of `size` bytes from `src` (which may run on past the stream's end). */
export function decompressCluster(src: Uint8Array, size: number, type: number, host: number): Uint8Array {
  if (type === COMPRESSION_ZSTD) return zstdDecompressCluster(src, size, String(host));
  let out: Uint8Array;
  try {
    // A bounded output buffer: a hostile stream cannot inflate past one cluster.
    out = inflateSync(src, { out: new Uint8Array(size) });
  } catch (err) {
    throw new StorageError(
      'corrupt',
      `qcow2: compressed cluster at ${host} does not inflate: ${(err as Error).message}`,
    );
  }
  if (out.length !== size) {
    throw new StorageError('corrupt', `qcow2: compressed cluster at ${host} inflates to ${out.length} bytes`);
  }
  return out;
}
