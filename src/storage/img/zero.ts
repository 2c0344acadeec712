/**
 * Zero detection for convert/compare: finds the runs of a buffer that are all zero, at a
 * granularity (qemu-img's -S, default 4 KiB) so short zero runs inside data stay data.
 */

/** True if every byte of buf[start, end) is zero. Word-at-a-time where alignment allows. */
export function isZero(buf: Uint8Array, start = 0, end = buf.length): boolean {
  let i = start;
  // Walk bytes up to an 8-byte boundary of the underlying buffer, then compare 32-bit words.
  while (i < end && (buf.byteOffset + i) % 4 !== 0) if (buf[i++] !== 0) return false;
  const words = Math.floor((end - i) / 4);
  if (words > 0) {
    const w = new Uint32Array(buf.buffer, buf.byteOffset + i, words);
    // Unrolled OR of eight words per step: the branch is taken once per 32 bytes.
    let k = 0;
    const n8 = words - (words % 8);
    for (; k < n8; k += 8) {
      if ((w[k]! | w[k + 1]! | w[k + 2]! | w[k + 3]! | w[k + 4]! | w[k + 5]! | w[k + 6]! | w[k + 7]!) !== 0)
        return false;
    }
    for (; k < words; k++) if (w[k] !== 0) return false;
    i += words * 4;
  }
  while (i < end) if (buf[i++] !== 0) return false;
  return true;
}

export interface Run {
  /** Offset within the buffer. */
  start: number;
  length: number;
  zero: boolean;
}

/**
 * Splits buf into alternating data/zero runs. Blocks of `granularity` bytes aligned to
 * `baseOffset + i` (the buffer's position in the image) count as zero only if wholly zero, so
 * the output stays aligned to the granularity like qemu-img's. granularity 0 = one data run.
 */
export function splitZeroRuns(
  buf: Uint8Array,
  granularity: number,
  baseOffset = 0,
  zeroTest: (b: Uint8Array) => boolean = (b) => isZero(b),
): Run[] {
  const runs: Run[] = [];
  if (buf.length === 0) return runs;
  if (granularity <= 0) return [{ start: 0, length: buf.length, zero: false }];
  // Most buffers of a sparse image are wholly zero or wholly data: test the whole first.
  if (zeroTest(buf)) return [{ start: 0, length: buf.length, zero: true }];
  const n = buf.length;
  const add = (start: number, end: number, zero: boolean) => {
    const last = runs[runs.length - 1];
    if (last && last.zero === zero) last.length = end - last.start;
    else runs.push({ start, length: end - start, zero });
  };
  const blockEnd = (i: number) => Math.min(n, i + granularity - ((baseOffset + i) % granularity));
  // Three bytes of a block first: data blocks almost always show a non-zero one. A partial block
  // at the end of the buffer still counts as a block (the image ends there).
  const probe = (i: number, end: number) => buf[i] === 0 && buf[end - 1] === 0 && buf[(i + end) >> 1] === 0;
  let i = 0;
  while (i < n) {
    let end = blockEnd(i);
    if (!probe(i, end)) {
      // Data: extend over the following blocks that show data too, then add them at once.
      while (end < n) {
        const e = blockEnd(end);
        if (probe(end, e)) break;
        end = e;
      }
      add(i, end, false);
      i = end;
      continue;
    }
    // Blocks that may be zero: test the whole stretch with one call (a zero area inside data,
    // such as the unwritten part of an allocated VHD block, is thousands of blocks), and block
    // by block only if the stretch turns out to hold data.
    while (end < n) {
      const e = blockEnd(end);
      if (!probe(end, e)) break;
      end = e;
    }
    if (zeroTest(buf.subarray(i, end))) add(i, end, true);
    else {
      for (let b = i; b < end;) {
        const e = blockEnd(b);
        add(b, e, zeroTest(buf.subarray(b, e)));
        b = e;
      }
    }
    i = end;
  }
  return runs;
}

/** True if a[s, e) equals b[s, e); compares 32-bit words where both buffers allow it. */
export function sameBytes(a: Uint8Array, b: Uint8Array, s = 0, e = a.length): boolean {
  let i = s;
  if ((a.byteOffset + i) % 4 === (b.byteOffset + i) % 4) {
    while (i < e && (a.byteOffset + i) % 4 !== 0) {
      if (a[i] !== b[i]) return false;
      i++;
    }
    const words = Math.floor((e - i) / 4);
    if (words > 0) {
      const wa = new Uint32Array(a.buffer, a.byteOffset + i, words);
      const wb = new Uint32Array(b.buffer, b.byteOffset + i, words);
      for (let k = 0; k < words; k++) if (wa[k] !== wb[k]) return false;
      i += words * 4;
    }
  }
  for (; i < e; i++) if (a[i] !== b[i]) return false;
  return true;
}
