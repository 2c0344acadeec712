/**
 * Base64 (RFC 4648, with padding) for byte arrays, so binary data can ride in a snapshot's JSON
 * part. Written here because a worker has no Buffer and btoa/atob want binary strings; decoding
 * is strict (a corrupt snapshot is an error, not silently different bytes).
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
const VALUES = new Int16Array(128).fill(-1);
CODES.forEach((code, v) => (VALUES[code] = v));

export class Base64Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Base64Error';
  }
}

export function encodeBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  // Chunks keep String.fromCharCode's argument list short (engines limit it).
  const CHUNK = 3 * 8192;
  for (let start = 0; start < bytes.length; start += CHUNK) {
    const end = Math.min(bytes.length, start + CHUNK);
    const out = new Uint8Array(Math.ceil((end - start) / 3) * 4);
    let o = 0;
    for (let i = start; i < end; i += 3) {
      const n = end - i;
      const v = (bytes[i]! << 16) | ((n > 1 ? bytes[i + 1]! : 0) << 8) | (n > 2 ? bytes[i + 2]! : 0);
      out[o++] = CODES[(v >> 18) & 63]!;
      out[o++] = CODES[(v >> 12) & 63]!;
      out[o++] = n > 1 ? CODES[(v >> 6) & 63]! : 0x3d;
      out[o++] = n > 2 ? CODES[v & 63]! : 0x3d;
    }
    parts.push(String.fromCharCode(...out));
  }
  return parts.join('');
}

/** Decodes padded base64; anything else (stray characters, bad length or padding) is a Base64Error. */
export function decodeBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new Base64Error(`base64 text length ${text.length} is not a multiple of 4`);
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let v = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      const isPad = c === 0x3d && i + 4 === text.length && j >= 4 - pad;
      const d = isPad ? 0 : c < 128 ? VALUES[c]! : -1;
      if (d < 0) throw new Base64Error(`invalid base64 character at ${i + j}`);
      v = (v << 6) | d;
    }
    out[o++] = v >> 16;
    if (o < out.length) out[o++] = (v >> 8) & 0xff;
    if (o < out.length) out[o++] = v & 0xff;
  }
  return out;
}
