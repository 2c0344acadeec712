/**
 * The guest's time source (what the board's mtime counts from): host time, minus the time the
 * host did not give the VM.
 *
 * An emulated hart does its work only while this process runs the VM's turns. When the host is
 * busy (other processes on its cores, other VMs in the same thread) the process is descheduled
 * for long stretches; with mtime tied to the host clock, the guest sees those stretches as time
 * its own work took, and every timeout a healthy system has — systemd's 90 s device timeout,
 * journald's watchdog, a TCP retransmit — fires as if the machine had hung. (Measured: the
 * Debian guest at load 8 on two cores lost its serial getty to a dev-ttyS0.device timeout.)
 *
 * So guest time follows host time, except:
 * - within one turn (vm.ts: CPU slices until TURN_MS have passed) it advances at most
 *   TURN_CAP_MS: a turn the host interrupted for 200 ms counts as a full turn, no more;
 * - between turns while the VM is runnable (it yielded to the event loop, or was paused) it
 *   advances at most GAP_CAP_MS, so a paused VM's clock stands still, as QEMU's virtual clock does;
 * - while every hart waits (the VM sleeps until its next timer or an I/O interrupt) it advances
 *   with host time, so an idle guest keeps real time and its timers fire when they should.
 *
 * On a host with a free core the caps never bind and guest time is host time. Guest time never
 * runs ahead of host time and never goes back. Its wall clock (the RTC) is separate and stays on
 * host time; a guest that syncs time (systemd-timesyncd) corrects the difference.
 */

/**
 * Guest ms one turn may take: vm.ts ends a turn once 8 ms have passed, after the CPU slice that
 * crossed them (20,000 instructions per hart, well under a millisecond unless the host paused us).
 */
export const TURN_CAP_MS = 9;
/** Guest ms between two turns of a runnable VM (event-loop work: I/O callbacks, output). */
export const GAP_CAP_MS = 1;

export class GuestTime {
  /** Guest ms at `anchor` (host ms); guest time is base + (host - anchor), capped at `cap`. */
  private base: number;
  private anchor: number;
  private cap = Infinity;
  /** The last value returned: guest time never goes back. */
  private last: number;
  /** Host ms and guest ms when the last turn ended, and whether the VM then slept. */
  private endHost: number;
  private endGuest: number;
  private slept = true;
  /** Host ms the caps held back (the host's time the guest did not see). */
  private heldBack = 0;

  constructor(private readonly hostMs: () => number) {
    const h = hostMs();
    this.base = h;
    this.anchor = h;
    this.last = h;
    this.endHost = h;
    this.endGuest = h;
  }

  /** Guest time in ms (the board's clock source). */
  now(): number {
    let g = this.base + (this.hostMs() - this.anchor);
    if (g > this.cap) g = this.cap;
    if (g < this.last) return this.last;
    this.last = g;
    return g;
  }

  /** A VM turn starts: guest time catches up on the gap since the last turn (capped unless it slept). */
  beginTurn(): void {
    const h = this.hostMs();
    const gap = h - this.endHost;
    const allowed = this.slept ? gap : Math.min(gap, GAP_CAP_MS);
    if (gap > allowed) this.heldBack += gap - allowed;
    const g = Math.max(this.endGuest + allowed, this.last);
    this.base = g;
    this.anchor = h;
    this.cap = g + TURN_CAP_MS;
  }

  /** The turn ends; `sleeping`: every hart waits and the VM sleeps until a timer or an interrupt. */
  endTurn(sleeping: boolean): void {
    const h = this.hostMs();
    const g = this.now();
    const ran = h - this.anchor;
    if (ran > g - this.base) this.heldBack += ran - (g - this.base);
    this.endHost = h;
    this.endGuest = g;
    this.slept = sleeping;
    // Until the next turn, readers (I/O callbacks, the sleep computation) see time move as the
    // next beginTurn will count it.
    this.base = g;
    this.anchor = h;
    this.cap = sleeping ? Infinity : g + GAP_CAP_MS;
  }

  /** The VM was paused: until its next turn, guest time stands (at most GAP_CAP_MS passes). */
  hold(): void {
    const g = this.now();
    const h = this.hostMs();
    this.endHost = h;
    this.endGuest = g;
    this.slept = false;
    this.base = g;
    this.anchor = h;
    this.cap = g + GAP_CAP_MS;
  }

  /** Host milliseconds the guest did not see because the host held the VM back. */
  get heldBackMs(): number {
    return this.heldBack;
  }
}
