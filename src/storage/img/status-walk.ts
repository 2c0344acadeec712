/**
 * The walk the img commands (map, compare, commit, rebase) make over an image by block status:
 * ask for the run at pos, go on after it.
 */
import type { ExtentStatus } from '../types.ts';

/**
 * How far the status answer `st` for `pos` carries the walk: to the end of its run, at most
 * `max` bytes, and at least one (an answer that ends at or before pos still moves the walk on).
 */
export function runLength(st: ExtentStatus, pos: number, max: number): number {
  return Math.max(1, Math.min(max, st.offset + st.length - pos));
}
