/**
 * Spots Linux's "Kernel panic - not syncing" in console output as it streams by, across chunk
 * boundaries, without keeping the log or decoding it to text: a byte search (the engine's
 * indexOf for the first byte) costs little even when a guest prints a lot.
 */
const PANIC = Uint8Array.from('Kernel panic - not syncing', (c) => c.charCodeAt(0));

export class PanicWatch {
  /** The output's last PANIC.length - 1 bytes, which may hold the start of a split match. */
  private tail = new Uint8Array(0);
  seen = false;

  /** Looks at the next chunk of output; returns whether the panic line has been seen so far. */
  feed(bytes: Uint8Array): boolean {
    if (this.seen || bytes.length === 0) return this.seen;
    const keep = PANIC.length - 1;
    if (this.tail.length > 0) {
      const joined = new Uint8Array(this.tail.length + Math.min(bytes.length, keep));
      joined.set(this.tail);
      joined.set(bytes.subarray(0, joined.length - this.tail.length), this.tail.length);
      if (contains(joined)) return (this.seen = true);
      this.tail = bytes.length >= keep ? bytes.slice(-keep) : joined.slice(-keep);
    } else {
      this.tail = bytes.slice(-keep);
    }
    if (contains(bytes)) this.seen = true;
    return this.seen;
  }
}

function contains(hay: Uint8Array): boolean {
  const n = PANIC.length;
  for (let i = hay.indexOf(PANIC[0]!); i >= 0 && i + n <= hay.length; i = hay.indexOf(PANIC[0]!, i + 1)) {
    let j = 1;
    while (j < n && hay[i + j] === PANIC[j]) j++;
    if (j === n) return true;
  }
  return false;
}
