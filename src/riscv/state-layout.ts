/**
 * Byte offsets of a hart's state inside its state area (Bus.hartStateArea: a slot of the RAM's
 * WebAssembly.Memory after RAM, when there is one). The interpreter and the JavaScript tier use
 * typed-array views at these offsets; code translated to WebAssembly (wasm/wasm-tier.ts) loads and
 * stores the same bytes directly, so neither side copies state when control passes between them.
 *
 * Integer registers are lo/hi int32 pairs, i.e. little-endian int64s: register i is the i64 at
 * ST_X + 8 i. After the 33 pairs (x0..x31 and the x0 write sink) come the results of a translated
 * window (X_JN, X_JOFF: remaining budget and page offset) and, for a wasm window that leaves the
 * page by JALR, the new pc (X_PC_LO/HI).
 */
/** log2 of the TLB entries (exec.ts re-exports it; defined here so this file imports nothing). */
export const TLB_BITS = 12;
const TLB_SIZE = 1 << TLB_BITS;

/** Int32 words of the x view. */
export const X_WORDS = 72;
export const X_JN = 66;
export const X_JOFF = 67;
export const X_PC_LO = 68;
export const X_PC_HI = 69;

export const ST_X = 0;
/** Int32 words the translated code reads: the data TLB key (Hart.dkey). */
export const ST_MISC = 512;
export const MISC_WORDS = 16;
export const MISC_DKEY = 0;
/** The nine TLB arrays, TLB_SIZE int32s each, in this order. */
export const ST_TLB = 1024;
const TLB_BYTES = TLB_SIZE * 4;
export const ST_RTAG_LO = ST_TLB;
export const ST_RTAG_HI = ST_TLB + TLB_BYTES;
export const ST_ROFF = ST_TLB + 2 * TLB_BYTES;
export const ST_WTAG_LO = ST_TLB + 3 * TLB_BYTES;
export const ST_WTAG_HI = ST_TLB + 4 * TLB_BYTES;
export const ST_WOFF = ST_TLB + 5 * TLB_BYTES;
export const ST_XTAG_LO = ST_TLB + 6 * TLB_BYTES;
export const ST_XTAG_HI = ST_TLB + 7 * TLB_BYTES;
export const ST_XOFF = ST_TLB + 8 * TLB_BYTES;
/** Bytes used (must not exceed the bus's HART_STATE_BYTES). */
export const ST_END = ST_TLB + 9 * TLB_BYTES;
