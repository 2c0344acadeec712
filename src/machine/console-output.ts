/**
 * Guest console output on its way to the host, bounded per turn.
 *
 * The console devices (UART, virtio-console, the SBI console) put bytes here; the VM driver
 * hands them to the host once per turn (`take`) and starts the next turn with `newTurn`. A turn
 * takes at most `budget` bytes, and none while the host says its console is behind (`setHeld`).
 * A device that is refused stops consuming and marks the output `stalled`: the guest waits
 * (virtio tx chains stay in the ring, the SBI console reports a short write, the UART keeps THR
 * busy) and the board resumes the devices once there is room again. So however much a guest asks
 * to print at once, the host never holds more than one budget of it.
 *
 * Platform-neutral; no allocation per byte.
 */

/** Bytes of guest output a turn hands to the host (a normal boot prints a few hundred KB in all). */
export const OUTPUT_TURN_BUDGET = 64 * 1024;

export class ConsoleOutput {
  private readonly buf: Uint8Array;
  private len = 0;
  /** Bytes taken this turn (including any still buffered from before it). */
  private used = 0;
  private held = false;
  /** A device was refused and waits for room (see resume in the board). */
  stalled = false;

  constructor(readonly budget: number = OUTPUT_TURN_BUDGET) {
    this.buf = new Uint8Array(budget);
  }

  /** Bytes devices may still hand over this turn. */
  room(): number {
    return this.held ? 0 : this.budget - this.used;
  }

  /** The host's console is behind (true) or caught up (false). */
  setHeld(held: boolean): void {
    this.held = held;
  }

  get isHeld(): boolean {
    return this.held;
  }

  /** Takes one byte if there is room; otherwise marks the output stalled and returns false. */
  put(b: number): boolean {
    if (this.held || this.used >= this.budget) {
      this.stalled = true;
      return false;
    }
    this.buf[this.len++] = b;
    this.used++;
    return true;
  }

  /** Takes bytes.length bytes, which must not exceed room() (the caller asked first). */
  write(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n > this.room()) throw new RangeError(`console output of ${n} bytes exceeds the room left (${this.room()})`);
    this.buf.set(bytes, this.len);
    this.len += n;
    this.used += n;
  }

  /** A device has more to give than room() allowed: it waits to be resumed. */
  stall(): void {
    this.stalled = true;
  }

  /** The buffered bytes (a copy the caller owns), emptying the buffer; undefined when there are none. */
  take(): Uint8Array | undefined {
    if (this.len === 0) return undefined;
    const out = this.buf.slice(0, this.len);
    this.len = 0;
    return out;
  }

  /** Starts a turn's budget; bytes not yet taken count against it. */
  newTurn(): void {
    this.used = this.len;
  }
}
