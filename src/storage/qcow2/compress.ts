/** Compressed clusters: raw deflate (qemu's "zlib" compression type, window bits -12). */
import { deflateSync } from 'fflate';

/**
 * Compresses one cluster. Returns undefined when compression does not save space, in which
 * case the caller stores the cluster normally (as qemu does).
 */
export function compressCluster(data: Uint8Array): Uint8Array | undefined {
  const out = deflateSync(data, { level: 6 });
  return out.length < data.length ? out : undefined;
}
