/**
 * Integer instructions of the optional extensions that are rare in hot code: Zicond (czero.*),
 * Zbc/Zbkc (carry-less multiplication), Zbkb (pack*, brev8) and Zbkx (xperm*). The decoder
 * gives them one op (Op.XINT) with the instruction's kind (XI_*) as its immediate; the
 * interpreter and the translation tier both call execIntExt, which checks that the hart
 * implements the extension (CpuConfig) and reports an illegal instruction otherwise.
 *
 * Registers are lo/hi int32 pairs as everywhere in the core (x[2i] low word); rd = 2*rd in the
 * packed word, and x0 writes go to the sink (entries 64/65), as for every other op.
 */
import { X_ZICOND, X_ZBC, X_ZBKC, X_ZBKB, X_ZBKX } from '../cpu-config.ts';

export const XI_CZERO_EQZ = 1;
export const XI_CZERO_NEZ = 2;
export const XI_CLMUL = 3;
export const XI_CLMULH = 4;
export const XI_CLMULR = 5;
export const XI_PACK = 6;
export const XI_PACKH = 7;
export const XI_PACKW = 8;
export const XI_BREV8 = 9;
export const XI_XPERM4 = 10;
export const XI_XPERM8 = 11;

/** Feature bits (any of them) each kind needs, indexed by XI_*. */
const NEEDS = [
  0,
  X_ZICOND,
  X_ZICOND,
  X_ZBC | X_ZBKC,
  X_ZBC | X_ZBKC,
  X_ZBC,
  X_ZBKB,
  X_ZBKB,
  X_ZBKB,
  X_ZBKB,
  X_ZBKX,
  X_ZBKX,
];

/** The 128-bit carry-less product, as four words (low first). */
const prod = new Int32Array(4);

function clmul128(al: number, ah: number, bl: number, bh: number): void {
  let p0 = 0;
  let p1 = 0;
  let p2 = 0;
  let p3 = 0;
  // No data-dependent branch (Zkt): every bit of b masks its shifted copy of a.
  for (let i = 0; i < 64; i++) {
    const m = -(i < 32 ? (bl >>> i) & 1 : (bh >>> (i - 32)) & 1);
    const s = i & 31;
    const x0 = (s === 0 ? al : al << s) & m;
    const x1 = (s === 0 ? ah : (ah << s) | (al >>> (32 - s))) & m;
    const x2 = (s === 0 ? 0 : ah >>> (32 - s)) & m;
    if (i < 32) {
      p0 ^= x0;
      p1 ^= x1;
      p2 ^= x2;
    } else {
      p1 ^= x0;
      p2 ^= x1;
      p3 ^= x2;
    }
  }
  prod[0] = p0;
  prod[1] = p1;
  prod[2] = p2;
  prod[3] = p3;
}

/** Reverses the bits of each byte of a word. */
function brev8w(v: number): number {
  v = ((v >>> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >>> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >>> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
  return v | 0;
}

/**
 * Executes an Op.XINT instruction (packed word w, kind in imm) on the hart's registers.
 * Returns false, changing nothing, when the hart does not implement the extension.
 */
export function execIntExt(x: Int32Array, ext: number, w: number, kind: number): boolean {
  if ((NEEDS[kind]! & ext) === 0) return false;
  const d = (w >>> 8) & 127;
  const a = (w >>> 15) & 63;
  const b = (w >>> 21) & 63;
  const al = x[a];
  const ah = x[a + 1];
  const bl = x[b];
  const bh = x[b + 1];
  let rl = 0;
  let rh = 0;
  switch (kind) {
    case XI_CZERO_EQZ:
    case XI_CZERO_NEZ: {
      const zero = (bl | bh) === 0;
      if (zero === (kind === XI_CZERO_NEZ)) {
        rl = al;
        rh = ah;
      }
      break;
    }
    case XI_CLMUL:
      clmul128(al, ah, bl, bh);
      rl = prod[0];
      rh = prod[1];
      break;
    case XI_CLMULH:
      clmul128(al, ah, bl, bh);
      rl = prod[2];
      rh = prod[3];
      break;
    case XI_CLMULR:
      // bits 126..63 of the product
      clmul128(al, ah, bl, bh);
      rl = (prod[1] >>> 31) | (prod[2] << 1);
      rh = (prod[2] >>> 31) | (prod[3] << 1);
      break;
    case XI_PACK:
      rl = al;
      rh = bl;
      break;
    case XI_PACKH:
      rl = (al & 255) | ((bl & 255) << 8);
      break;
    case XI_PACKW:
      rl = (al & 0xffff) | (bl << 16);
      rh = rl >> 31;
      break;
    case XI_BREV8:
      rl = brev8w(al);
      rh = brev8w(ah);
      break;
    case XI_XPERM8:
      for (let i = 0; i < 8; i++) {
        const idx = i < 4 ? (bl >>> (8 * i)) & 255 : (bh >>> (8 * (i - 4))) & 255;
        const v = idx >= 8 ? 0 : idx < 4 ? (al >>> (8 * idx)) & 255 : (ah >>> (8 * (idx - 4))) & 255;
        if (i < 4) rl |= v << (8 * i);
        else rh |= v << (8 * (i - 4));
      }
      break;
    case XI_XPERM4:
      for (let i = 0; i < 16; i++) {
        const idx = i < 8 ? (bl >>> (4 * i)) & 15 : (bh >>> (4 * (i - 8))) & 15;
        const v = idx < 8 ? (al >>> (4 * idx)) & 15 : (ah >>> (4 * (idx - 8))) & 15;
        if (i < 8) rl |= v << (4 * i);
        else rh |= v << (4 * (i - 8));
      }
      break;
    default:
      return false;
  }
  x[d] = rl | 0;
  x[d + 1] = rh | 0;
  return true;
}
