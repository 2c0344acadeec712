/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as VHDX uses for its headers, region
 * tables, metadata-free structures and log entries. Table-driven, one byte at a time: the
 * structures it covers are at most a few 64 KiB regions, so slicing tables would buy nothing.
 */

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of buf; `skip` (an offset) names a 4-byte checksum field that counts as zeros. */
export function crc32c(buf: Uint8Array, skip = -1): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) {
    const b = skip >= 0 && i >= skip && i < skip + 4 ? 0 : buf[i]!;
    c = TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}
