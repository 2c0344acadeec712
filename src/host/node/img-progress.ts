/**
 * qemu-img's -p progress line on stderr: "    (42.00/100%)" rewritten in place with \r.
 * Redraws only when the shown value changes, and at most every 100 ms, so a fast copy does not
 * spend its time printing.
 */
export interface Progress {
  update(done: number, total: number): void;
  finish(): void;
}

export function progressBar(write: (text: string) => void = (t) => process.stderr.write(t)): Progress {
  let shown = -1;
  let lastDraw = 0;
  const draw = (pct: number) => {
    write(`    (${pct.toFixed(2)}/100%)\r`);
    shown = pct;
    lastDraw = Date.now();
  };
  draw(0);
  return {
    update(done, total) {
      const pct = total > 0 ? Math.floor((10000 * done) / total) / 100 : 100;
      if (pct !== shown && (pct === 100 || Date.now() - lastDraw >= 100)) draw(pct);
    },
    finish() {
      if (shown !== 100) draw(100);
      write('\n');
    },
  };
}
