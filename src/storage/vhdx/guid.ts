/**
 * GUIDs as VHDX stores them: 16 bytes in Microsoft's mixed-endian layout (the first three
 * fields little-endian, the last eight bytes as written). Text form is the usual
 * 8-4-4-4-12 upper-case hex.
 */

/** Parses "2DC27766-F623-4200-9D64-115E9BFD4A08" into its 16 on-disk bytes. */
export function guidBytes(text: string): Uint8Array {
  const hex = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`bad GUID text ${text}`);
  const raw = new Uint8Array(16);
  for (let i = 0; i < 16; i++) raw[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  // Field order on disk: Data1 (LE u32), Data2 (LE u16), Data3 (LE u16), Data4 (8 bytes).
  const out = new Uint8Array(16);
  out.set([raw[3]!, raw[2]!, raw[1]!, raw[0]!, raw[5]!, raw[4]!, raw[7]!, raw[6]!], 0);
  out.set(raw.subarray(8), 8);
  return out;
}

export function guidText(b: Uint8Array): string {
  const h = (i: number) => b[i]!.toString(16).padStart(2, '0');
  const s =
    h(3) +
    h(2) +
    h(1) +
    h(0) +
    '-' +
    h(5) +
    h(4) +
    '-' +
    h(7) +
    h(6) +
    '-' +
    h(8) +
    h(9) +
    '-' +
    h(10) +
    h(11) +
    h(12) +
    h(13) +
    h(14) +
    h(15);
  return s.toUpperCase();
}

export function guidEqual(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function guidIsZero(a: Uint8Array): boolean {
  return a.every((x) => x === 0);
}

/**
 * A random (version 4) GUID. Math.random is enough here: the GUIDs only need to differ between
 * writers of one file, and the core has no access to a host CSPRNG.
 */
export function randomGuid(): Uint8Array {
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[7] = (b[7]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return b;
}
