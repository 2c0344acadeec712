/**
 * virtio-net (device ID 1, virtio 1.x section 5.1) over the modern virtio-mmio transport:
 * queue 0 = receiveq1, queue 1 = transmitq1. Every buffer starts with the 12-byte
 * virtio_net_hdr (VERSION_1 always carries num_buffers).
 *
 * queue 2 = controlq.
 *
 * Features: MAC, STATUS (link up/down with a config interrupt), CSUM (the guest may leave a
 * TCP/UDP checksum for us to complete: it is finished before an MTU-sized frame leaves, so those
 * always carry correct checksums), HOST_TSO4 (the guest may send TCP segments of up to 64 KiB; a
 * backend that sets transmitOffload, the user-mode NAT, takes them whole with their checksum
 * partial, any other gets them cut into MTU-sized frames here, see net/tso.ts), GUEST_CSUM (frames
 * from backends that guarantee valid checksums are marked DATA_VALID), GUEST_TSO4 + MRG_RXBUF (the
 * backend may send large TCP segments, handed over as GSO packets across as many rx buffers as
 * they need), CTRL_VQ + CTRL_RX + CTRL_MAC_ADDR (promiscuous/all-multicast modes, MAC filter
 * tables and MAC changes; frames for other stations are filtered here, see net/rx-filter.ts).
 *
 * Frames from the backend go straight into posted rx buffers; when the guest has none they
 * wait in a backlog bounded in frames and bytes (then are dropped, as a full NIC ring would).
 *
 * Guest-driven work is bounded: rx chains held for one frame never outnumber the queue's entries
 * (an rx chain without room for the header is a driver error: DEVICE_NEEDS_RESET, as QEMU
 * does), TSO requests are checked (type, gso_size, checksum offsets, segment count) before any
 * segmentation, and the transmit queue is served in turns of at most TX_TURN_FRAMES frames /
 * TX_TURN_BYTES bytes; the board calls poll() between CPU slices to resume it.
 */
import { StateReader } from '../memory/state.ts';
import type { NetBackend } from '../net/types.ts';
import { checksum, finish, get32, pseudoSum, put16, sum16 } from '../net/bytes.ts';
import { MAX_TSO_SEGMENTS, MIN_GSO_SIZE, segmentTcp, tsoHeaderLength } from '../net/tso.ts';
import { MAC_TABLE_ENTRIES, RxFilter } from '../net/rx-filter.ts';
import type { VirtioDeviceModel, VirtioMmio } from './mmio.ts';
import { DescChain } from './virtqueue.ts';

export const VIRTIO_ID_NET = 1;
export const VIRTIO_NET_F_CSUM = 0;
export const VIRTIO_NET_F_GUEST_CSUM = 1;
export const VIRTIO_NET_F_GUEST_TSO4 = 7;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_HOST_TSO4 = 11;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_CTRL_VQ = 17;
export const VIRTIO_NET_F_CTRL_RX = 18;
export const VIRTIO_NET_F_CTRL_MAC_ADDR = 23;
const CTRL_RX = 0;
const CTRL_RX_PROMISC = 0;
const CTRL_RX_ALLMULTI = 1;
const CTRL_MAC = 1;
const CTRL_MAC_TABLE_SET = 0;
const CTRL_MAC_ADDR_SET = 1;
const CTRL_OK = 0;
const CTRL_ERR = 1;
/** Longest control command accepted (a full MAC table is well below this). */
const CTRL_MAX = 16384;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_S_LINK_UP = 1;
export const NET_HDR_LEN = 12;
const HDR_F_NEEDS_CSUM = 1;
const HDR_F_DATA_VALID = 2;
const GSO_NONE = 0;
const GSO_TCPV4 = 1;
/** Largest GSO request: a 64 KiB IP packet plus Ethernet and VLAN headers. */
const MAX_GSO_FRAME = 65535 + 18;
/**
 * Largest TSO request handed to a backend whole: a 64 KiB IP packet behind an untagged Ethernet
 * header (the IP total length field must be able to describe it).
 */
const MAX_WHOLE_FRAME = 65535 + 14;
/** Largest frame accepted from the guest without GSO: 1500 MTU + Ethernet + VLAN tag. */
export const MAX_TX_FRAME = 1518;
/**
 * Frames handed to the backend per transmit turn (one notification, or one poll() between CPU
 * slices). 512 MTU frames (~750 KB, eleven 64 KiB TSO segments) take the user-mode NAT a
 * millisecond or two, well inside the VM loop's 8 ms turn, and still let the guest send more than
 * 100 MB/s; a chain in progress is finished, so a turn may overshoot by one chain's
 * MAX_TSO_SEGMENTS.
 */
export const TX_TURN_FRAMES = 512;
/** Guest bytes read from the transmit queue per turn (16 full 64 KiB TSO requests). */
export const TX_TURN_BYTES = 1024 * 1024;
/**
 * Bytes of frames waiting for rx buffers, whatever their count: 64 full-size GSO segments. A
 * guest that posts no buffers can otherwise make 512 x 64 KiB (32 MiB) wait per NIC.
 */
export const BACKLOG_MAX_BYTES = 4 * 1024 * 1024;

export interface VirtioNetOptions {
  mac: Uint8Array;
  queueSize?: number;
  /** Frames held while the guest has no rx buffers (default 512). */
  backlogFrames?: number;
}

export interface VirtioNetStats {
  txFrames: number;
  rxFrames: number;
  /** Frame bytes (without the virtio-net header) handed to the backend / delivered to the guest. */
  txBytes: number;
  rxBytes: number;
  txDropped: number;
  rxDropped: number;
  /** Frames for other stations, dropped by the receive filter. */
  rxFiltered: number;
  /** TSO/GSO requests refused (bad type, gso_size, offsets, too many segments); also in txDropped. */
  txBadGso: number;
  /** TSO requests handed to the backend whole (transmit offload); each also counts one txFrame. */
  txWhole: number;
}

export class VirtioNet implements VirtioDeviceModel {
  readonly deviceId = VIRTIO_ID_NET;
  readonly queueSizes: readonly number[];
  readonly features: readonly [number, number] = [
    (1 << VIRTIO_NET_F_CSUM) |
      (1 << VIRTIO_NET_F_GUEST_CSUM) |
      (1 << VIRTIO_NET_F_MAC) |
      (1 << VIRTIO_NET_F_HOST_TSO4) |
      (1 << VIRTIO_NET_F_GUEST_TSO4) |
      (1 << VIRTIO_NET_F_MRG_RXBUF) |
      (1 << VIRTIO_NET_F_CTRL_VQ) |
      (1 << VIRTIO_NET_F_CTRL_RX) |
      (1 << VIRTIO_NET_F_CTRL_MAC_ADDR) |
      (1 << VIRTIO_NET_F_STATUS),
    0,
  ];
  /** mac[6], status u16, max_virtqueue_pairs u16. */
  readonly config = new Uint8Array(10);
  readonly stats: VirtioNetStats = {
    txFrames: 0,
    rxFrames: 0,
    txBytes: 0,
    rxBytes: 0,
    txDropped: 0,
    rxDropped: 0,
    rxFiltered: 0,
    txBadGso: 0,
    txWhole: 0,
  };
  private transport!: VirtioMmio;
  /** Rx chains popped for a frame that does not fit yet (mergeable buffers), in order. */
  private readonly held: DescChain[] = [];
  private heldCount = 0;
  private heldBytes = 0;
  private readonly lens: number[] = [];
  private readonly two = new Uint8Array(2);
  private readonly txChain = new DescChain();
  private readonly ctrlChain = new DescChain();
  /** What the driver programmed through the control queue (promiscuous until it does). */
  readonly filter = new RxFilter();
  private readonly backlog: Array<{ frame: Uint8Array; gsoSize: number }> = [];
  private readonly backlogMax: number;
  private backlogBytes = 0;
  /** Transmit work left for this turn (frames, bytes); refilled by poll(). */
  private txFrameCredit = TX_TURN_FRAMES;
  private txByteCredit = TX_TURN_BYTES;
  private txMore = false;
  private readonly txBuf = new Uint8Array(NET_HDR_LEN + MAX_GSO_FRAME);
  private readonly rxHdr = new Uint8Array(NET_HDR_LEN);

  constructor(
    readonly backend: NetBackend,
    opts: VirtioNetOptions,
  ) {
    const n = opts.queueSize ?? 256;
    this.queueSizes = [n, n, 64];
    this.backlogMax = opts.backlogFrames ?? 512;
    this.config.set(opts.mac.subarray(0, 6), 0);
    this.config[6] = VIRTIO_NET_S_LINK_UP;
    this.config[8] = 1; // one queue pair
    backend.connect((frame, gsoSize) => this.receive(frame, gsoSize));
  }

  attach(transport: VirtioMmio): void {
    this.transport = transport;
  }

  get mac(): Uint8Array {
    return this.config.slice(0, 6);
  }

  get linkUp(): boolean {
    return (this.config[6]! & VIRTIO_NET_S_LINK_UP) !== 0;
  }

  /** Plugs or unplugs the virtual cable (the guest gets a config-change interrupt). */
  setLink(up: boolean): void {
    if (up === this.linkUp) return;
    this.config[6] = up ? VIRTIO_NET_S_LINK_UP : 0;
    if (!up) this.clearBacklog();
    this.transport.configChanged();
  }

  /** One line of device state, for diagnostics. */
  describe(): string {
    const s = this.stats;
    const rx = this.transport.queues[0]!;
    return (
      `virtio-net tx=${s.txFrames}/${s.txDropped}(badgso ${s.txBadGso})${this.txMore ? '+pending' : ''} rx=${s.rxFrames}/${s.rxDropped}/${s.rxFiltered} ` +
      `backlog=${this.backlog.length}(${this.backlogBytes}B) held=${this.heldCount}(${this.heldBytes}B) rxAvail=${rx.hasAvailable()} ` +
      `irq=${this.transport.interruptStatus} status=${this.transport.status}`
    );
  }

  get backlogLength(): number {
    return this.backlog.length;
  }

  /** Whether the transmit queue has chains left over from a turn that ran out of budget. */
  get txPending(): boolean {
    return this.txMore;
  }

  /**
   * Called by the board between CPU slices: starts a new transmit turn (budget refilled) and
   * resumes a transmit queue left over from the previous one.
   */
  poll(): void {
    this.txFrameCredit = TX_TURN_FRAMES;
    this.txByteCredit = TX_TURN_BYTES;
    if (!this.txMore) return;
    // A device that failed (or was stopped) does no more work until the driver resets it.
    if (!this.transport.live) this.txMore = false;
    else this.transport.guard(() => this.transmit());
    // transmit() may have failed part-way (DEVICE_NEEDS_RESET): nothing is pending then.
    if (!this.transport.live) this.txMore = false;
  }

  private clearBacklog(): void {
    this.backlog.length = 0;
    this.backlogBytes = 0;
  }

  reset(): void {
    // Held chains belong to the old rings; large frames are no longer acceptable.
    this.clearBacklog();
    this.txMore = false;
    this.heldCount = this.heldBytes = 0;
    this.filter.reset();
    this.backend.setReceiveOffload?.(0);
  }

  driverOk(): void {
    this.backend.setReceiveOffload?.(this.rxOffload ? MAX_GSO_FRAME - 4 : 0);
    this.drainBacklog();
  }

  queueNotify(index: number): void {
    if (index === 0) this.drainBacklog();
    else if (index === 1) this.transmit();
    else if (index === 2) this.control();
  }

  /** Control queue: rx mode and MAC filter commands; anything else is answered with an error. */
  private control(): void {
    const q = this.transport.queues[2]!;
    const ram = this.transport.mem.ram;
    const c = this.ctrlChain;
    let pushed = false;
    while (q.pop(c)) {
      let ack = CTRL_ERR;
      if (c.readBytes >= 2 && c.readBytes <= CTRL_MAX && c.writeBytes >= 1) {
        const cmd = new Uint8Array(c.readBytes);
        c.copyOut(ram, 0, cmd);
        ack = this.command(cmd[0]!, cmd[1]!, cmd.subarray(2)) ? CTRL_OK : CTRL_ERR;
      }
      this.two[0] = ack;
      const written = c.writeBytes >= 1 ? c.copyIn(ram, 0, this.two.subarray(0, 1)) : 0;
      q.complete(c, written);
      pushed = true;
    }
    if (pushed) this.transport.notifyUsed(2);
  }

  private command(cls: number, cmd: number, data: Uint8Array): boolean {
    const has = (bit: number) => this.transport.hasFeature(bit);
    if (cls === CTRL_RX && has(VIRTIO_NET_F_CTRL_RX) && data.length === 1) {
      if (cmd === CTRL_RX_PROMISC) this.filter.promisc = data[0] !== 0;
      else if (cmd === CTRL_RX_ALLMULTI) this.filter.allmulti = data[0] !== 0;
      else return false;
      return true;
    }
    if (cls === CTRL_MAC) {
      if (cmd === CTRL_MAC_TABLE_SET && has(VIRTIO_NET_F_CTRL_RX)) return this.filter.setTables(data);
      if (cmd === CTRL_MAC_ADDR_SET && has(VIRTIO_NET_F_CTRL_MAC_ADDR) && data.length === 6 && !(data[0]! & 1)) {
        this.config.set(data, 0);
        return true;
      }
    }
    return false;
  }

  /** A frame from the backend for the guest (the view is copied if it has to wait). */
  receive(frame: Uint8Array, gsoSize = 0): void {
    const limit = gsoSize ? MAX_GSO_FRAME : MAX_TX_FRAME;
    if (!this.linkUp || frame.length < 14 || frame.length > limit || (gsoSize && !this.rxOffload)) {
      this.stats.rxDropped++;
      return;
    }
    if (!this.filter.accepts(frame, this.config)) {
      this.stats.rxFiltered++;
      return;
    }
    if (this.backlog.length === 0 && this.transport?.live) {
      let delivered = false;
      this.transport.guard(() => {
        delivered = this.deliverOne(frame, gsoSize);
        if (delivered) this.transport.notifyUsed(0);
      });
      if (delivered) return;
    }
    if (this.backlog.length >= this.backlogMax || this.backlogBytes + frame.length > BACKLOG_MAX_BYTES) {
      this.stats.rxDropped++;
      return;
    }
    this.backlog.push({ frame: frame.slice(), gsoSize });
    this.backlogBytes += frame.length;
  }

  private drainBacklog(): void {
    let pushed = false;
    while (this.backlog.length && this.deliverOne(this.backlog[0]!.frame, this.backlog[0]!.gsoSize)) {
      this.backlogBytes -= this.backlog.shift()!.frame.length;
      pushed = true;
    }
    if (pushed) this.transport.notifyUsed(0);
  }

  /** Whether the driver negotiated receive-side TSO (we then send it frames up to 64 KiB). */
  private get rxOffload(): boolean {
    return this.transport?.hasFeature(VIRTIO_NET_F_GUEST_TSO4) ?? false;
  }

  /**
   * Copies one frame into rx buffers: one buffer, or with MRG_RXBUF as many as it takes
   * (num_buffers in the header). Buffers are popped and held until enough are there; false
   * means the frame has to wait for the guest to post more (or the device just failed).
   * At most one queue's worth of chains is held: a frame the whole ring cannot hold is dropped
   * and the chains stay held for the next frames.
   */
  private deliverOne(frame: Uint8Array, gsoSize: number): boolean {
    const q = this.transport.queues[0]!;
    const need = NET_HDR_LEN + frame.length;
    const mergeable = this.transport.hasFeature(VIRTIO_NET_F_MRG_RXBUF);
    for (;;) {
      if (this.heldCount > 0 && (!mergeable || this.heldBytes >= need)) break;
      if (this.heldCount >= q.size) {
        // Every entry of the ring is held and together they are too small: the frame cannot fit.
        this.stats.rxDropped++;
        return true;
      }
      if (this.heldCount === this.held.length) this.held.push(new DescChain());
      const c = this.held[this.heldCount]!;
      if (!q.pop(c)) return false;
      // virtio 1.x 5.1.6.3.1: with mergeable buffers each one holds at least the header; a
      // receive chain with nothing to write into is an error either way (QEMU: virtio_error).
      if (c.writeBytes === 0 || (mergeable && c.writeBytes < NET_HDR_LEN)) {
        this.transport.deviceError(
          `virtio-net: receive buffer (head ${c.head}) has ${c.writeBytes} writable bytes, ` +
            `less than the ${NET_HDR_LEN}-byte header`,
        );
        return false;
      }
      this.heldCount++;
      this.heldBytes += c.writeBytes;
      if (!mergeable) break;
    }
    const ram = this.transport.mem.ram;
    if (this.heldBytes < need) {
      // One buffer too small for the frame (no mergeable buffers negotiated): the frame is lost.
      this.stats.rxDropped++;
      q.complete(this.held[0]!, 0);
      this.releaseHeld(1);
      return true;
    }
    const h = this.rxHdr;
    h.fill(0);
    let csumAt = -1;
    let csum = 0;
    if (gsoSize && frame.length > 14 + 20) {
      // A large TCP segment: the guest's stack takes it whole (GSO), with the checksum marked partial.
      const ihl = (frame[14]! & 15) * 4;
      const tcp = 14 + ihl;
      const thl = tcp + 12 < frame.length ? (frame[tcp + 12]! >> 4) * 4 : 20;
      h[0] = HDR_F_NEEDS_CSUM;
      h[1] = GSO_TCPV4;
      put16le(h, 2, tcp + thl);
      put16le(h, 4, gsoSize);
      put16le(h, 6, tcp);
      put16le(h, 8, 16);
      // The checksum field must hold the pseudo-header sum only.
      const src = get32(frame, 26);
      const dst = get32(frame, 30);
      let ps = pseudoSum(src, dst, 6, frame.length - tcp);
      while (ps > 0xffff) ps = (ps & 0xffff) + Math.floor(ps / 0x10000);
      csumAt = NET_HDR_LEN + tcp + 16;
      csum = ps;
    } else if (this.backend.checksumsValid && this.transport.hasFeature(VIRTIO_NET_F_GUEST_CSUM)) {
      h[0] = HDR_F_DATA_VALID;
    }
    // Spread header + frame over the held buffers.
    let done = 0;
    let used = 0;
    const total = need;
    while (done < total) {
      const c = this.held[used]!;
      const take = Math.min(c.writeBytes, total - done);
      let w = 0;
      if (done < NET_HDR_LEN) {
        const hp = h.subarray(done, Math.min(NET_HDR_LEN, done + take));
        w += c.copyIn(ram, 0, hp);
      }
      if (w < take) {
        const fo = done + w - NET_HDR_LEN;
        w += c.copyIn(ram, w, frame.subarray(fo, fo + (take - w)));
      }
      if (csumAt >= done && csumAt + 2 <= done + take) {
        this.two[0] = csum >> 8;
        this.two[1] = csum & 0xff;
        c.copyIn(ram, csumAt - done, this.two);
      }
      this.lens[used] = take;
      done += take;
      used++;
    }
    // num_buffers is written into the first buffer's header (it is in the first 12 bytes).
    this.two[0] = used & 0xff;
    this.two[1] = used >> 8;
    this.held[0]!.copyIn(ram, 10, this.two);
    for (let i = 0; i < used; i++) q.complete(this.held[i]!, this.lens[i]!);
    this.releaseHeld(used);
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
    return true;
  }

  /** Drops the first n held chains (completed), keeping the rest in order. */
  private releaseHeld(n: number): void {
    const done = this.held.splice(0, n);
    this.held.push(...done);
    this.heldCount -= n;
    this.heldBytes = 0;
    for (let i = 0; i < this.heldCount; i++) this.heldBytes += this.held[i]!.writeBytes;
  }

  /**
   * Serves the transmit queue until it is empty or this turn's budget is spent; leftover chains
   * stay in the ring (txPending) for poll() to resume.
   */
  private transmit(): void {
    const q = this.transport.queues[1]!;
    const c = this.txChain;
    let pushed = false;
    this.txMore = false;
    for (;;) {
      if (this.txFrameCredit <= 0 || this.txByteCredit <= 0) {
        this.txMore = q.hasAvailable();
        break;
      }
      if (!q.pop(c)) break;
      this.txByteCredit -= c.readBytes;
      this.txFrameCredit -= Math.max(1, this.transmitChain(c));
      q.complete(c, 0);
      pushed = true;
    }
    if (pushed) {
      this.transport.notifyUsed(1);
      this.backend.flush?.();
    }
  }

  /** Sends one chain's frame (or its TSO segments); returns how many frames went to the backend. */
  private transmitChain(c: DescChain): number {
    const len = c.readBytes;
    if (len < NET_HDR_LEN + 14 || len > this.txBuf.length) {
      this.stats.txDropped++;
      return 0;
    }
    const buf = this.txBuf.subarray(0, len);
    c.copyOut(this.transport.mem.ram, 0, buf);
    const frame = this.prepare(buf);
    if (!frame || !this.linkUp) {
      this.stats.txDropped++;
      return 0;
    }
    if (buf[1] === GSO_TCPV4) {
      const mss = buf[4]! | (buf[5]! << 8);
      if (this.sendWhole(frame, mss)) return 1;
      // TSO: cut the guest's large segment into MTU-sized frames here (prepare checked it).
      let n = 0;
      const ok = segmentTcp(
        frame,
        mss,
        (seg) => {
          n++;
          this.stats.txFrames++;
          this.stats.txBytes += seg.length;
          this.backend.transmit(seg);
        },
        MAX_TX_FRAME,
      );
      if (!ok) {
        this.stats.txDropped++;
        this.stats.txBadGso++;
      }
      return n;
    }
    if (frame.length > MAX_TX_FRAME) {
      this.stats.txDropped++;
      return 0;
    }
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
    this.backend.transmit(frame);
    return 1;
  }

  /**
   * Transmit offload: hands a TSO request to a backend that takes it whole, if it does and the
   * request passes the very checks segmentation applies (so hostile gso_size or headers are
   * refused either way). Only the IP header is fixed (total length from the frame, as the
   * segments would get, and its checksum); the TCP checksum stays partial by contract, which
   * saves the checksums and the copies for MTU frames that the backend would only join again.
   * The transmit turn is charged the chain's bytes (txByteCredit) and one frame.
   */
  private sendWhole(frame: Uint8Array, mss: number): boolean {
    const max = Math.min(this.backend.transmitOffload ?? 0, MAX_WHOLE_FRAME);
    if (frame.length <= MAX_TX_FRAME || frame.length > max) return false;
    if (tsoHeaderLength(frame, mss, MAX_TX_FRAME) < 0) return false;
    const ip = 14;
    const ihl = (frame[ip]! & 15) * 4;
    put16(frame, ip + 2, frame.length - ip);
    put16(frame, ip + 10, 0);
    put16(frame, ip + 10, checksum(frame, ip, ip + ihl));
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
    this.stats.txWhole++;
    this.backend.transmit(frame, mss);
    return true;
  }

  /**
   * Applies the header to the frame (checksum completion); undefined if the frame must be
   * dropped. Every header field is guest-controlled and checked against the frame here.
   */
  private prepare(buf: Uint8Array): Uint8Array | undefined {
    const flags = buf[0]!;
    const gso = buf[1]!;
    const frame = buf.subarray(NET_HDR_LEN);
    const start = buf[6]! | (buf[7]! << 8);
    const off = buf[8]! | (buf[9]! << 8);
    if (flags & HDR_F_NEEDS_CSUM) {
      const bad = !this.transport.hasFeature(VIRTIO_NET_F_CSUM) || start + off + 2 > frame.length;
      if (bad) {
        if (gso !== GSO_NONE) this.stats.txBadGso++;
        return undefined;
      }
    }
    if (gso !== GSO_NONE) {
      if (!this.gsoAcceptable(buf, frame)) {
        this.stats.txBadGso++;
        return undefined;
      }
      // The segments get their own checksums: completing the large one would be wasted work.
      return frame;
    }
    if (flags & HDR_F_NEEDS_CSUM) {
      // The field holds the pseudo-header sum; the checksum covers [start, end) including it.
      const sum = finish(sum16(frame, start, frame.length));
      frame[start + off] = sum >> 8;
      frame[start + off + 1] = sum & 0xff;
    }
    return frame;
  }

  /**
   * A TSO request we can honour: TCPV4 (the only type offered; ECN, UDP and TCPV6 need features
   * we do not offer), hdr_len within the frame (it is only a hint, headers are parsed from the
   * frame), a partial checksum at the TCP checksum field, and a gso_size from MIN_GSO_SIZE up
   * that yields at most MAX_TSO_SEGMENTS frames. segmentTcp checks the frame itself.
   */
  private gsoAcceptable(buf: Uint8Array, frame: Uint8Array): boolean {
    const gso = buf[1]!;
    if (gso !== GSO_TCPV4) return false; // also refuses TCPV4 | ECN (0x80): HOST_ECN is not offered
    if (!this.transport.hasFeature(VIRTIO_NET_F_HOST_TSO4)) return false;
    const hdrLen = buf[2]! | (buf[3]! << 8);
    const gsoSize = buf[4]! | (buf[5]! << 8);
    if (hdrLen > frame.length || gsoSize < MIN_GSO_SIZE) return false;
    if (frame.length < 14 + 20) return false;
    const tcp = 14 + (frame[14]! & 15) * 4;
    if (buf[0]! & HDR_F_NEEDS_CSUM) {
      const start = buf[6]! | (buf[7]! << 8);
      const off = buf[8]! | (buf[9]! << 8);
      if (start !== tcp || off !== 16) return false;
    }
    return Math.ceil((frame.length - tcp - 20) / gsoSize) <= MAX_TSO_SEGMENTS;
  }

  saveState(): object {
    // Frames in the backlog are not saved (a restore loses them, as a cable pull would); rx
    // chains held for a large frame are, by head, so the guest gets them back.
    const held = this.held.slice(0, this.heldCount).map((c) => c.head);
    return {
      version: 1,
      mac: Array.from(this.config.subarray(0, 6)),
      link: this.linkUp,
      held,
      filter: this.filter.save(),
    };
  }

  /** Restores after the transport and its queues (guest RAM loaded). Throws DeviceStateError or VirtioError. */
  loadState(state: unknown): void {
    const r = StateReader.of(state, 'virtio-net', 1);
    const mac = r.ints('mac', 0, 255, 6, 6);
    const link = r.bool('link');
    const heads = r.ints('held', 0, 0xffff, this.queueSizes[0]!);
    const fr = r.field('filter');
    const MAXKEY = 2 ** 48 - 1;
    const filter = {
      promisc: fr.bool('promisc'),
      allmulti: fr.bool('allmulti'),
      unicast: fr.ints('unicast', 0, MAXKEY, MAC_TABLE_ENTRIES),
      multicast: fr.ints('multicast', 0, MAXKEY, MAC_TABLE_ENTRIES),
      uniOverflow: fr.bool('uniOverflow'),
      multiOverflow: fr.bool('multiOverflow'),
    };
    this.config.set(mac, 0);
    this.config[6] = link ? VIRTIO_NET_S_LINK_UP : 0;
    this.filter.load(filter);
    this.clearBacklog();
    // Chains the guest made available before the snapshot are still in the ring.
    this.txMore = true;
    this.heldCount = this.heldBytes = 0;
    const q = this.transport.queues[0]!;
    for (const head of heads) {
      if (this.heldCount === this.held.length) this.held.push(new DescChain());
      const c = this.held[this.heldCount]!;
      q.readChain(head, c);
      this.heldCount++;
      this.heldBytes += c.writeBytes;
    }
  }
}

function put16le(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}
