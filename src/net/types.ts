/**
 * The contracts between a NIC model (virtio-net) and whatever carries its frames (user-mode NAT,
 * a switch port, a socket to another process). Platform-neutral: time and timers come in
 * through NetTimers so the same stack runs in Node.js, a browser, or a test with a fake clock.
 */

/** Where a NIC's transmitted frames go, and where frames for the NIC come from. */
export interface NetBackend {
  /**
   * A frame the guest transmitted (Ethernet header onwards, no FCS). The view is only valid
   * during the call: copy it to keep it.
   *
   * `gsoSize` accompanies a large IPv4/TCP segment handed over whole (only to a backend that
   * sets transmitOffload, and never longer than it): its IP total length and header checksum are
   * correct, its TCP checksum is NOT (the guest left it partial: the backend must not verify
   * it), and on a wire it would be gsoSize-byte segments. Without gsoSize every frame is at
   * most MTU-sized and carries complete checksums.
   */
  transmit(frame: Uint8Array, gsoSize?: number): void;
  /**
   * Transmit segmentation offload: the largest IPv4/TCP frame the backend takes whole (with
   * gsoSize) instead of MTU-sized pieces with their checksums; absent or 0 = the NIC segments
   * in software. A user-mode NAT, which only joins the pieces back into a stream, opts in;
   * switches and sockets carry frames to other stations' NICs and do not.
   */
  readonly transmitOffload?: number;
  /**
   * Connects the receive side: the backend calls deliver() with frames for the guest (the view
   * may be reused after the call). Called once by the NIC. `gsoSize` accompanies an IPv4/TCP
   * frame larger than the MTU (only after setReceiveOffload): the NIC hands it to the guest as
   * one large segment of gsoSize-byte pieces.
   */
  connect(deliver: (frame: Uint8Array, gsoSize?: number) => void): void;
  /**
   * The NIC now accepts IPv4/TCP frames up to `maxFrame` bytes (receive-side segmentation
   * offload negotiated by its driver); 0 = MTU-sized frames only (the default, and after reset).
   */
  setReceiveOffload?(maxFrame: number): void;
  /**
   * The NIC finished a batch of transmitted frames (one guest notification): a backend may
   * hold replies such as TCP ACKs until then so one covers several segments.
   */
  flush?(): void;
  /** Whether every frame this backend delivers carries verified, correct checksums. */
  readonly checksumsValid?: boolean;
  /** Releases host resources (sockets, timers). */
  close(): void;
}

/** Time for protocol timers, in milliseconds. */
export interface NetTimers {
  now(): number;
  /** Runs fn once after ms milliseconds; returns a canceller. */
  setTimer(fn: () => void, ms: number): () => void;
}

/** A hand-driven clock for tests: timers run when advance() passes their deadline. */
export class ManualTimers implements NetTimers {
  private t = 0;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + Math.max(0, ms), fn });
    return () => this.pending.delete(id);
  }

  get count(): number {
    return this.pending.size;
  }

  /** Moves time forward, running due timers in deadline order (timers they add also run if due). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let bestId = -1;
      let best: { at: number; fn: () => void } | undefined;
      for (const [id, e] of this.pending) {
        if (e.at <= end && (!best || e.at < best.at)) {
          best = e;
          bestId = id;
        }
      }
      if (!best) break;
      this.pending.delete(bestId);
      this.t = Math.max(this.t, best.at);
      best.fn();
    }
    this.t = end;
  }
}
