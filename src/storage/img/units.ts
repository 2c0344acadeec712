/** Sizes in qemu-img's spelling: "64 MiB", "1.21 MiB", "0 B". */

const SUFFIXES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

/** Three significant digits like C's %0.3g: 336, 1.21, 64 (trailing zeros dropped). */
function g3(v: number): string {
  if (v === 0) return '0';
  let s = v.toPrecision(3);
  if (s.includes('e')) return s; // Only for values >= 1000, which the unit choice avoids.
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

/**
 * qemu's size_to_str: picks the unit so the number stays below 1000 (1000..1023 KiB prints as
 * 0.98 MiB), then prints three significant digits.
 */
export function sizeToStr(bytes: number): string {
  if (bytes <= 0) return `${bytes} B`;
  // frexp(bytes * 1.024): exponent e with mantissa in [0.5, 1).
  const e = Math.floor(Math.log2(bytes * 1.024)) + 1;
  const i = Math.min(SUFFIXES.length - 1, Math.max(0, Math.floor((e - 1) / 10)));
  return `${g3(bytes / 2 ** (i * 10))} ${SUFFIXES[i]}B`;
}

/**
 * Parses qemu-img sizes: 1024, 512K, 64M, 2G, 1.5T, with an optional B/iB suffix; undefined if
 * malformed. The result may exceed 2^53 (callers report that as too large).
 */
export function parseImgSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgtpe]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = m[2]!.toLowerCase();
  const units = ['', 'k', 'm', 'g', 't', 'p', 'e'];
  const mult = unit === 'b' ? 1 : 1024 ** units.indexOf(unit);
  const bytes = Number(m[1]) * mult;
  if (!Number.isFinite(bytes)) return undefined;
  return Math.round(bytes);
}
