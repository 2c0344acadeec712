/**
 * One NAT'd TCP connection: a real TCP endpoint facing the guest (RFC 9293: handshake, sequence
 * and acknowledgement numbers, windows with scaling, MSS, FIN, RST, retransmission with an
 * RFC 6298 timer, persist probes) bridged to a host socket.
 *
 * Flow control both ways, with bounded memory:
 * - host -> guest: bytes wait in `sndBuf` until the guest acknowledges them; above SND_HIGH the
 *   host socket is paused, and resumed below SND_LOW. Segments never exceed the guest's window.
 *   The NAT also bounds the total over all connections (TcpConnHost.sndBuffered).
 * - guest -> host: the advertised window is what the host socket can still buffer (RCV_BUF minus
 *   its queued bytes); data beyond it is not acknowledged, so the guest's TCP holds it.
 */
import { ACK, FIN, PSH, RST, SYN, seqAdd, seqDiff, seqLe, seqLt, type TcpOut, type TcpSegment } from '../tcp.ts';
import type { HostTcpHandlers, HostTcpSocket } from './host.ts';
import type { NetTimers } from '../types.ts';

/** Host bytes buffered towards the guest before the host socket is paused / resumed. */
export const SND_HIGH = 512 * 1024;
const SND_LOW = 128 * 1024;
/** Guest bytes the host socket may hold before our window closes. */
export const RCV_BUF = 256 * 1024;
/** Our window-scale shift (windows up to 1 MiB). */
const RCV_WSCALE = 4;
/** Our MSS: a 1500-byte MTU minus IP and TCP headers. */
export const OUR_MSS = 1460;
const RTO_MIN = 200;
const RTO_MAX = 30_000;
const RTO_INITIAL = 1000;
/** Longest interval between zero-window probes. */
const PROBE_MAX = 1000;
/** Retransmissions of the same data before the connection is reset. */
const MAX_RETRIES = 10;
/** How long a fully closed connection lingers to re-acknowledge a retransmitted FIN. */
const LINGER_MS = 2000;
/** Longest wait for a host connect or the guest's half of the handshake. */
export const HANDSHAKE_TIMEOUT_MS = 30_000;

export type TcpState = 'connecting' | 'syn-sent' | 'syn-rcvd' | 'established' | 'closed';

/** What a connection needs from the NAT it belongs to. */
export interface TcpConnHost {
  readonly timers: NetTimers;
  /** Sends a segment to the guest (from this connection's remote address/port). */
  emit(conn: TcpConn, t: TcpOut, data?: Uint8Array, gsoSize?: number): void;
  /** Largest TCP payload per frame towards the guest (above the MSS when the NIC offloads). */
  segmentLimit(mss: number): number;
  /** Asks for an ACK at the end of the current batch of guest frames. */
  wantAck(conn: TcpConn): void;
  /** The connection is finished: remove it from the table. */
  remove(conn: TcpConn): void;
  /**
   * The host bytes this connection buffers towards the guest changed by `delta`. True when all
   * connections together are over their budget: the host socket must stay paused, and the NAT
   * calls hostMayResume() once the total is low again.
   */
  sndBuffered(conn: TcpConn, delta: number): boolean;
}

export class TcpConn implements HostTcpHandlers {
  state: TcpState;
  host: HostTcpSocket | undefined;
  // Send side (towards the guest).
  private iss: number;
  private sndUna: number;
  private sndNxt: number;
  private sndWnd = 0;
  private sndWscale = 0;
  private mss = 536;
  private readonly sndBuf: Uint8Array[] = [];
  private sndBufHead = 0; // bytes of sndBuf[0] already acknowledged
  private sndBufLen = 0; // unacknowledged + unsent host bytes
  private hostEnded = false;
  private finSent = false;
  private finAcked = false;
  private hostPaused = false;
  // Receive side (from the guest).
  private rcvNxt = 0;
  private rcvWscale = 0;
  private rcvEdge = 0;
  private guestFin = false;
  // Timers.
  private rto = RTO_INITIAL;
  private srtt = -1;
  private rttvar = 0;
  private rttSeq = -1;
  private rttStart = 0;
  private retries = 0;
  private cancelRtx: (() => void) | undefined;
  private cancelPersist: (() => void) | undefined;
  private cancelLife: (() => void) | undefined;
  private dupAcks = 0;
  /** Guest segments whose data we accepted since the last ACK we sent. */
  ackPending = false;

  constructor(
    private readonly nat: TcpConnHost,
    readonly key: string,
    readonly guestIp: number,
    readonly guestPort: number,
    readonly remoteIp: number,
    readonly remotePort: number,
    initial: 'connecting' | 'syn-sent',
    iss: number,
  ) {
    this.state = initial;
    this.iss = iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.cancelLife = nat.timers.setTimer(() => this.handshakeTimeout(), HANDSHAKE_TIMEOUT_MS);
  }

  // ---- guest-initiated (outbound) ----

  /** The guest's SYN that created this connection: remember its parameters until the host connects. */
  acceptSyn(seg: TcpSegment): void {
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.peerOptions(seg);
  }

  private peerOptions(seg: TcpSegment): void {
    this.mss = Math.max(64, Math.min(seg.mss ?? 536, OUR_MSS));
    if (seg.wscale !== undefined) {
      this.sndWscale = seg.wscale;
      this.rcvWscale = RCV_WSCALE;
    } else {
      this.sndWscale = this.rcvWscale = 0;
    }
    this.sndWnd = seg.window; // windows in SYNs are never scaled
  }

  /** Host socket events. */
  onConnect(): void {
    if (this.state !== 'connecting') return;
    this.state = 'syn-rcvd';
    this.sendSyn();
  }

  onData(data: Uint8Array): void {
    if (this.state === 'closed' || this.hostEnded || data.length === 0) return;
    this.sndBuf.push(data);
    this.sndBufLen += data.length;
    const over = this.nat.sndBuffered(this, data.length);
    if ((this.sndBufLen > SND_HIGH || over) && !this.hostPaused) {
      this.hostPaused = true;
      this.host?.pause();
    }
    this.pump();
  }

  onEnd(): void {
    if (this.state === 'closed') return;
    this.hostEnded = true;
    this.pump();
  }

  onDrain(): void {
    // The host took guest bytes: reopen our window if it had closed to less than a segment.
    if (this.state === 'established' && seqDiff(this.rcvEdge, this.rcvNxt) < this.mss) {
      if (this.openWindow()) this.sendAck();
    }
  }

  onClose(error?: string): void {
    const h = this.host;
    this.host = undefined;
    if (this.state === 'closed') return;
    if (this.state === 'connecting') {
      // Refused or unreachable: answer the guest's SYN with RST (what a closed port does).
      this.nat.emit(this, { ...this.hdr(0, seqAdd(this.rcvNxt, 0)), flags: RST | ACK });
      this.finish();
      return;
    }
    void h;
    if (error || !this.hostEnded) {
      // Reset, or closed without FIN: reset the guest side too.
      this.reset();
      return;
    }
    // A clean close after FIN: wait for the guest side to finish.
  }

  // ---- host-initiated (port forwarding) ----

  /** Starts the handshake towards the guest for an accepted host connection. */
  openToGuest(): void {
    this.sendSyn();
  }

  private sendSyn(): void {
    const synAck = this.state === 'syn-rcvd';
    this.sndNxt = seqAdd(this.iss, 1);
    this.armRtx();
    this.nat.emit(this, {
      srcPort: this.remotePort,
      dstPort: this.guestPort,
      seq: this.iss,
      ack: synAck ? this.rcvNxt : 0,
      flags: synAck ? SYN | ACK : SYN,
      window: Math.min(0xffff, RCV_BUF),
      mss: OUR_MSS,
      wscale: synAck ? (this.rcvWscale ? RCV_WSCALE : undefined) : RCV_WSCALE,
    });
  }

  // ---- segments from the guest ----

  segment(seg: TcpSegment): void {
    const f = seg.flags;
    if (this.state === 'closed') {
      // Lingering after close: re-acknowledge a retransmitted FIN, answer anything else with RST.
      if (f & RST) return;
      if (f & FIN && seqLe(seqAdd(seg.seq, seg.data.length + 1), this.rcvNxt)) this.sendAck();
      else this.nat.emit(this, { ...this.hdr(0, 0), seq: f & ACK ? seg.ack : 0, flags: RST });
      return;
    }
    if (this.state === 'syn-sent') {
      this.synSentSegment(seg);
      return;
    }
    if (this.state === 'connecting') return; // the guest's SYN retransmissions: still waiting for the host
    if (f & RST) {
      // Accept a reset whose sequence number is in the window (RFC 5961 would challenge the rest).
      if (seqLe(this.rcvNxt, seg.seq) && seqLe(seg.seq, seqAdd(this.rcvEdge, 1))) this.abortHost();
      return;
    }
    if (f & SYN) {
      // A retransmitted SYN while we wait for its ACK: resend SYN-ACK; otherwise a challenge ACK.
      if (this.state === 'syn-rcvd' && seqAdd(seg.seq, 1) === this.rcvNxt) this.sendSyn();
      else this.sendAck();
      return;
    }
    if (!(f & ACK)) return;
    if (this.state === 'syn-rcvd') {
      if (seg.ack !== seqAdd(this.iss, 1)) {
        this.nat.emit(this, { ...this.hdr(0, 0), seq: seg.ack, flags: RST });
        return;
      }
      this.established(seg);
    }
    if (!this.ackReceived(seg)) return;
    this.dataReceived(seg);
    this.pump();
    this.maybeDone();
  }

  private synSentSegment(seg: TcpSegment): void {
    const f = seg.flags;
    const ackOk = (f & ACK) !== 0 && seg.ack === seqAdd(this.iss, 1);
    if (f & RST) {
      if (ackOk) this.abortHost();
      return;
    }
    if (f & ACK && !ackOk) {
      this.nat.emit(this, { ...this.hdr(0, 0), seq: seg.ack, flags: RST });
      return;
    }
    if (!(f & SYN) || !ackOk) return;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.peerOptions(seg);
    this.sndUna = seg.ack;
    this.established(seg);
    this.sendAck();
    this.pump();
  }

  private established(seg: TcpSegment): void {
    this.state = 'established';
    this.sndUna = seqAdd(this.iss, 1);
    this.sndNxt = this.sndUna;
    this.retries = 0;
    this.rto = this.srtt < 0 ? RTO_INITIAL : this.rto;
    this.stopRtx();
    this.cancelLife?.();
    this.cancelLife = undefined;
    this.sndWnd = seg.window << this.sndWscale;
    this.rcvEdge = this.rcvNxt;
    this.openWindow();
    // Over the NAT's total budget a new connection starts paused (the NAT resumes it later).
    if (!this.hostPaused && this.nat.sndBuffered(this, 0)) {
      this.hostPaused = true;
      this.host?.pause();
    }
    if (this.host && !this.hostPaused) this.host.resume();
  }

  /** Processes the acknowledgement field; false if the segment must be dropped. */
  private ackReceived(seg: TcpSegment): boolean {
    const ack = seg.ack;
    if (seqLt(this.sndNxt, ack)) {
      // Acknowledges something we never sent.
      this.sendAck();
      return false;
    }
    const wnd = seg.window << this.sndWscale;
    if (seqLt(this.sndUna, ack)) {
      let n = seqDiff(ack, this.sndUna);
      this.sndUna = ack;
      if (this.finSent && ack === this.sndNxt) {
        // The ACK covers our FIN, which holds the last sequence number.
        this.finAcked = true;
        n -= 1;
      }
      this.dropAcked(Math.min(n, this.sndBufLen));
      if (this.rttSeq >= 0 && seqLe(this.rttSeq, ack)) this.rttSample(this.nat.timers.now() - this.rttStart);
      this.retries = 0;
      this.dupAcks = 0;
      if (this.sndUna === this.sndNxt) this.stopRtx();
      else this.armRtx(true);
    } else if (ack === this.sndUna && seg.data.length === 0 && !(seg.flags & FIN) && wnd === this.sndWnd) {
      if (this.sndNxt !== this.sndUna && ++this.dupAcks === 3) this.retransmit(false);
    }
    if (this.sndWnd === 0 && wnd > 0 && ack === this.sndUna && this.sndNxt !== this.sndUna) {
      // The window reopened without covering what went out as probes: the guest dropped those
      // bytes, so send them again in order now rather than after a retransmission timeout.
      this.sndNxt = this.sndUna;
      this.finSent = false;
      this.rttSeq = -1;
      this.stopRtx();
    }
    this.sndWnd = wnd;
    if (this.sndWnd > 0) this.stopPersist();
    return true;
  }

  private dataReceived(seg: TcpSegment): void {
    let data = seg.data;
    let seq = seg.seq;
    let fin = (seg.flags & FIN) !== 0;
    if (data.length === 0 && !fin) return;
    if (this.guestFin) {
      if (fin || data.length) this.sendAck(); // retransmission after our ACK got lost
      return;
    }
    const skip = seqDiff(this.rcvNxt, seq);
    if (skip < 0) {
      // Out of order: we keep no holes; a duplicate ACK makes the guest retransmit.
      this.sendAck();
      return;
    }
    if (skip > 0) {
      if (skip >= data.length + (fin ? 1 : 0)) {
        this.sendAck(); // entirely old
        return;
      }
      data = data.subarray(skip);
      seq = this.rcvNxt;
    }
    const room = Math.max(0, seqDiff(this.rcvEdge, this.rcvNxt));
    if (data.length > room) {
      data = data.subarray(0, room);
      fin = false;
    }
    if (data.length) {
      this.host?.write(data.slice());
      this.rcvNxt = seqAdd(this.rcvNxt, data.length);
    }
    if (fin) {
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.guestFin = true;
      this.host?.end();
    }
    this.openWindow();
    // ACK at once a FIN or data the window cut short; otherwise one ACK at the end of the guest's
    // transmit batch (nat.wantAck), which covers every segment of the batch.
    if (fin || data.length < seg.data.length) this.sendAck();
    else {
      this.ackPending = true;
      this.nat.wantAck(this);
    }
  }

  /** Moves our right window edge forward by what the host can buffer; true if it moved. */
  private openWindow(): boolean {
    const free = Math.max(0, RCV_BUF - (this.host?.bufferedBytes ?? 0));
    const edge = seqAdd(this.rcvNxt, free);
    // Silly-window avoidance: open by at least one MSS (or fully).
    if (seqLt(this.rcvEdge, edge) && (seqDiff(edge, this.rcvEdge) >= this.mss || free === RCV_BUF)) {
      this.rcvEdge = edge;
      return true;
    }
    return false;
  }

  private advertised(): number {
    return Math.max(0, seqDiff(this.rcvEdge, this.rcvNxt)) >>> this.rcvWscale;
  }

  private hdr(seqOffset: number, ack: number): TcpOut {
    return {
      srcPort: this.remotePort,
      dstPort: this.guestPort,
      seq: seqAdd(this.sndNxt, seqOffset),
      ack,
      flags: ACK,
      window: this.advertised(),
    };
  }

  sendAck(): void {
    this.ackPending = false;
    this.nat.emit(this, { ...this.hdr(0, this.rcvNxt) });
  }

  // ---- sending host data ----

  /** Sends what the guest's window allows, then our FIN once the host has ended and all data is out. */
  private pump(): void {
    if (this.state !== 'established' || this.finSent) return;
    for (;;) {
      const inFlight = seqDiff(this.sndNxt, this.sndUna) - (this.finSent ? 1 : 0);
      const unsent = this.sndBufLen - inFlight;
      if (unsent <= 0) break;
      const room = this.sndWnd - inFlight;
      if (room <= 0) {
        if (inFlight === 0) this.armPersist();
        break;
      }
      // No sender-side silly-window avoidance: waiting for an ACK that may never come (the guest
      // already acknowledged everything but a probe) stalls a slow reader's transfer.
      const n = Math.min(this.nat.segmentLimit(this.mss), unsent, room);
      // State first, then the frame: delivery may re-enter segment() synchronously (a switch, a test).
      this.sndNxt = seqAdd(this.sndNxt, n);
      if (this.rttSeq < 0) {
        this.rttSeq = this.sndNxt;
        this.rttStart = this.nat.timers.now();
      }
      this.armRtx();
      this.sendData(inFlight, n, n === unsent);
      if (this.state !== 'established' || this.finSent) return;
    }
    if (this.hostEnded && !this.finSent && seqDiff(this.sndNxt, this.sndUna) === this.sndBufLen) {
      this.finSent = true;
      this.ackPending = false;
      const t = { ...this.hdr(0, this.rcvNxt), flags: FIN | ACK };
      this.sndNxt = seqAdd(this.sndNxt, 1);
      this.armRtx();
      this.nat.emit(this, t);
    }
  }

  /** Sends n buffered bytes starting `offset` bytes after sndUna, at sequence sndUna + offset. */
  private sendData(offset: number, n: number, push: boolean): void {
    const data = this.bufferSlice(offset, n);
    this.ackPending = false;
    this.nat.emit(
      this,
      {
        srcPort: this.remotePort,
        dstPort: this.guestPort,
        seq: seqAdd(this.sndUna, offset),
        ack: this.rcvNxt,
        flags: ACK | (push ? PSH : 0),
        window: this.advertised(),
      },
      data,
      n > this.mss ? this.mss : undefined,
    );
  }

  private bufferSlice(offset: number, n: number): Uint8Array {
    let skip = this.sndBufHead + offset;
    let i = 0;
    while (i < this.sndBuf.length && skip >= this.sndBuf[i]!.length) skip -= this.sndBuf[i++]!.length;
    const first = this.sndBuf[i]!;
    if (skip + n <= first.length) return first.subarray(skip, skip + n);
    const out = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      const c = this.sndBuf[i++]!;
      const take = Math.min(c.length - skip, n - done);
      out.set(c.subarray(skip, skip + take), done);
      done += take;
      skip = 0;
    }
    return out;
  }

  private dropAcked(n: number): void {
    this.sndBufLen -= n;
    let left = n + this.sndBufHead;
    while (this.sndBuf.length && left >= this.sndBuf[0]!.length) left -= this.sndBuf.shift()!.length;
    this.sndBufHead = left;
    if (!this.nat.sndBuffered(this, -n)) this.hostMayResume();
  }

  /** Resumes a paused host socket if this connection's own buffer is low (the NAT's total is). */
  hostMayResume(): void {
    if (this.hostPaused && this.state === 'established' && this.sndBufLen < SND_LOW) {
      this.hostPaused = false;
      this.host?.resume();
    }
  }

  // ---- timers ----

  private rttSample(ms: number): void {
    this.rttSeq = -1;
    if (this.srtt < 0) {
      this.srtt = ms;
      this.rttvar = ms / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - ms);
      this.srtt = 0.875 * this.srtt + 0.125 * ms;
    }
    this.rto = Math.min(RTO_MAX, Math.max(RTO_MIN, this.srtt + 4 * this.rttvar));
  }

  private armRtx(restart = false): void {
    if (this.cancelRtx && !restart) return;
    this.cancelRtx?.();
    this.cancelRtx = this.nat.timers.setTimer(() => {
      this.cancelRtx = undefined;
      this.retransmit(true);
    }, this.rto);
  }

  private stopRtx(): void {
    this.cancelRtx?.();
    this.cancelRtx = undefined;
  }

  /** Go-back-N from sndUna (on a timeout with backoff, or a fast retransmit after 3 duplicate ACKs). */
  private retransmit(timeout: boolean): void {
    if (this.state === 'closed') return;
    if (timeout) {
      if (this.state === 'established' && this.sndWnd === 0) {
        // A zero-window probe went unanswered with an open window: the guest is alive but its
        // reader is slow. Keep probing (RFC 9293 3.8.6.1: never give up), at least every second.
        this.rto = Math.min(PROBE_MAX, this.rto * 2);
      } else {
        if (++this.retries > MAX_RETRIES) {
          this.reset();
          return;
        }
        this.rto = Math.min(RTO_MAX, this.rto * 2);
      }
    }
    this.rttSeq = -1; // Karn: no RTT samples from retransmitted data
    if (this.state === 'syn-sent' || this.state === 'syn-rcvd') {
      this.sendSyn();
      return;
    }
    if (this.state !== 'established') return;
    this.sndNxt = this.sndUna;
    this.finSent = false; // pump() sends it again after the data
    const saved = this.sndWnd;
    // A timeout retransmits at least one segment even into a zero window (it doubles as a probe).
    if (timeout && this.sndWnd === 0) this.sndWnd = Math.min(this.mss, Math.max(1, this.sndBufLen));
    this.stopRtx();
    this.pump();
    this.sndWnd = saved;
  }

  private armPersist(): void {
    if (this.cancelPersist) return;
    this.cancelPersist = this.nat.timers.setTimer(
      () => {
        this.cancelPersist = undefined;
        if (this.state !== 'established' || this.sndWnd > 0) return;
        // Window probe: one byte beyond the closed window; the guest answers with its current window.
        const inFlight = seqDiff(this.sndNxt, this.sndUna);
        if (inFlight === 0 && this.sndBufLen > 0) {
          this.sndNxt = seqAdd(this.sndNxt, 1);
          this.armRtx();
          this.sendData(0, 1, true);
        }
      },
      Math.min(this.rto, PROBE_MAX),
    );
  }

  private stopPersist(): void {
    this.cancelPersist?.();
    this.cancelPersist = undefined;
  }

  private handshakeTimeout(): void {
    this.cancelLife = undefined;
    if (this.state === 'connecting' || this.state === 'syn-sent' || this.state === 'syn-rcvd') this.reset();
  }

  // ---- teardown ----

  private maybeDone(): void {
    if (this.finAcked && this.guestFin) this.finish();
  }

  /** The guest reset us: abort the host side. */
  private abortHost(): void {
    this.host?.destroy();
    this.host = undefined;
    this.finish(false);
  }

  /** Resets both sides. */
  reset(): void {
    if (this.state !== 'closed' && this.state !== 'connecting' && this.state !== 'syn-sent') {
      this.nat.emit(this, { ...this.hdr(0, this.rcvNxt), seq: this.sndNxt, flags: RST | ACK });
    } else if (this.state === 'connecting') {
      this.nat.emit(this, { ...this.hdr(0, this.rcvNxt), flags: RST | ACK });
    }
    this.host?.destroy();
    this.host = undefined;
    this.finish(false);
  }

  /** Marks the connection closed; it lingers briefly to answer retransmissions, then leaves the table. */
  private finish(linger = true): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopRtx();
    this.stopPersist();
    this.cancelLife?.();
    this.sndBuf.length = 0;
    const released = this.sndBufLen;
    this.sndBufLen = 0;
    this.nat.sndBuffered(this, -released);
    if (linger) this.cancelLife = this.nat.timers.setTimer(() => this.nat.remove(this), LINGER_MS);
    else this.nat.remove(this);
  }

  /** Drops host resources and timers immediately (NAT shutdown or table eviction). */
  dispose(): void {
    this.stopRtx();
    this.stopPersist();
    this.cancelLife?.();
    this.host?.destroy();
    this.host = undefined;
    this.state = 'closed';
  }

  /** One line of connection state, for diagnostics. */
  describe(): string {
    const d = (a: number, b: number) => seqDiff(a, b);
    return (
      `${this.key} ${this.state} inflight=${d(this.sndNxt, this.sndUna)} buf=${this.sndBufLen} ` +
      `wnd=${this.sndWnd} rcvwnd=${d(this.rcvEdge, this.rcvNxt)} paused=${this.hostPaused} ` +
      `hostEnded=${this.hostEnded} fin=${this.finSent}/${this.finAcked} guestFin=${this.guestFin} ` +
      `rto=${Math.round(this.rto)} retries=${this.retries} rtx=${!!this.cancelRtx} persist=${!!this.cancelPersist}`
    );
  }

  get unackedBytes(): number {
    return this.sndBufLen;
  }
}
