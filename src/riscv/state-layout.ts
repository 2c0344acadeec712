/**
 * Byte offsets of a hart's state inside its state area (Bus.hartStateArea: a slot of the RAM's
 * WebAssembly.Memory after RAM, when there is one). The interpreter and the JavaScript tier use
 * typed-array views at these offsets; code translated to WebAssembly (wasm/wasm-tier.ts) loads and
 * stores the same bytes directly, so neither side copies state when control passes between them.
 *
 * Integer registers are lo/hi int32 pairs, i.e. little-endian int64s: register i is the i64 at
 * ST_X + 8 i. After the 33 pairs (x0..x31 and the x0 write sink) come the results of a translated
 * window (X_JN, X_JOFF: remaining budget and page offset) and, for a wasm window that leaves the
 * page, the new pc (X_PC_LO/HI); when a wasm function chained into other pages' functions, the
 * RAM page and virtual base of the page it ended in (X_CH_PG, -1 when it did not chain; X_CH_VLO/HI).
 * The FP registers follow the same layout at ST_F (Hart.f).
 */
/** log2 of the TLB entries (exec.ts re-exports it; defined here so this file imports nothing). */
export const TLB_BITS = 12;
const TLB_SIZE = 1 << TLB_BITS;
/**
 * The low tag of an empty TLB entry. Lookups compare a tag with `lo & (-4096 | (size - 1))`,
 * which keeps an access's alignment bits (0..2) and clears bits 3..11, so only a value with one
 * of bits 3..11 set can never match. (It was 1: a misaligned access at an odd address of virtual
 * page 0 matched a flushed entry and used its stale translation.)
 */
export const TLB_INVALID = 0x800;

/** Int32 words of the x view. */
export const X_WORDS = 76;
export const X_JN = 66;
export const X_JOFF = 67;
export const X_PC_LO = 68;
export const X_PC_HI = 69;
export const X_CH_PG = 70;
export const X_CH_VLO = 72;
export const X_CH_VHI = 73;

export const ST_X = 0;
/**
 * Int32 words the translated code reads: the data and fetch TLB keys (Hart.dkey, ikey),
 * mip & mie (non-zero: an interrupt may be due, so translated code does not chain to other pages)
 * and, for FP, the mode and fflags (MISC_FPMODE, MISC_FFLAGS).
 */
export const ST_MISC = 512;
export const MISC_WORDS = 16;
export const MISC_DKEY = 0;
export const MISC_IKEY = 1;
export const MISC_PENDING = 2;
/** Chained calls between wasm pages so far (wrapping int32; tests and diagnostics). */
export const MISC_CHAINS = 3;
/**
 * What translated FP code may assume, written by exec.ts before each call into a translated
 * window (mstatus and frm change only outside translated code): frm (0..7) when mstatus.FS is
 * Dirty, else -1 (translated FP instructions then hand themselves back to the interpreter).
 */
export const MISC_FPMODE = 4;
/**
 * fcsr.fflags while translated code runs: exec.ts copies Hart.fflags here before each call into a
 * translated window and back after it; translated FP code ORs into it.
 */
export const MISC_FFLAGS = 5;
/** FP registers f0..f31 as int64s (raw bits; singles NaN-boxed): Hart.f is a view on them. */
export const ST_F = 768;
export const F_WORDS = 64;
/** The nine TLB arrays, TLB_SIZE int32s each, in this order (after ST_F's 256 bytes). */
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
/**
 * Which RAM pages have a wasm function, for chaining (wasm/wasm-tier.ts): direct-mapped by
 * ramPage mod FN_SLOTS, the RAM page (-1: none) and its index in the hart's function table.
 */
export const FN_SLOTS = 4096;
export const ST_FN_TAG = ST_TLB + 9 * TLB_BYTES;
export const ST_FN_IDX = ST_FN_TAG + FN_SLOTS * 4;
/** Bytes used (must not exceed the bus's HART_STATE_BYTES). */
export const ST_END = ST_FN_IDX + FN_SLOTS * 4;
