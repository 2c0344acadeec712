/**
 * How many columns and rows of terminal cells fit a box: the page sizes its xterm.js terminal to
 * the window with this. The guest is not told (a serial console has no size); the limits keep a
 * tiny or huge window from making a terminal nobody can use or one that costs a lot to redraw.
 */
export const TERMINAL_LIMITS = { minCols: 20, maxCols: 400, minRows: 6, maxRows: 150 } as const;

export interface FitBox {
  /** Content box of the terminal's container, CSS pixels. */
  width: number;
  height: number;
  /** One cell, as the terminal renders it. */
  cellWidth: number;
  cellHeight: number;
  /** Width kept free on the right (the scrollbar). */
  reserveWidth?: number;
}

/** The size that fits, or undefined when the measurements are unusable (a hidden or unrendered terminal). */
export function fitTerminal(box: FitBox): { cols: number; rows: number } | undefined {
  const { width, height, cellWidth, cellHeight } = box;
  const usable = (n: number) => Number.isFinite(n) && n > 0;
  if (!usable(cellWidth) || !usable(cellHeight) || !usable(width) || !usable(height)) return undefined;
  const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));
  const L = TERMINAL_LIMITS;
  return {
    cols: clamp(Math.floor((width - (box.reserveWidth ?? 0)) / cellWidth), L.minCols, L.maxCols),
    rows: clamp(Math.floor(height / cellHeight), L.minRows, L.maxRows),
  };
}
