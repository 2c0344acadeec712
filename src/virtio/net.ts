/**
 * virtio-net (device ID 1, virtio 1.x section 5.1) over the modern virtio-mmio transport:
 * queue 0 = receiveq1, queue 1 = transmitq1. Every buffer starts with the 12-byte
 * virtio_net_hdr (VERSION_1 always carries num_buffers).
 *
 * Features: MAC (config mac), STATUS (link up/down with a config interrupt), CSUM (the guest
 * may leave a TCP/UDP checksum for us to complete: we finish it before the frame leaves, so
 * every backend sees correct checksums), HOST_TSO4 (the guest may send TCP segments of up to
 * 64 KiB; they are cut into MTU-sized frames here, see net/tso.ts), GUEST_CSUM (frames from backends that guarantee valid
 * checksums are marked DATA_VALID, saving the guest the check). No GSO, no mergeable buffers,
 * no control queue, no receive-side GSO: every rx buffer must hold a whole 1514-byte frame, which Linux guarantees
 * when MRG_RXBUF and GUEST_TSO are not negotiated.
 *
 * Frames from the backend go straight into posted rx buffers; when the guest has none they
 * wait in a bounded backlog (then are dropped, as a full NIC ring would).
 */
import { StateReader } from '../devices/state.ts';
// eslint-disable-next-line no-restricted-imports -- the lint pattern 'net' targets node:net, not src/net
import type { NetBackend } from '../net/types.ts';
// eslint-disable-next-line no-restricted-imports -- the lint pattern 'net' targets node:net, not src/net
import { finish, get32, pseudoSum, sum16 } from '../net/bytes.ts';
// eslint-disable-next-line no-restricted-imports -- the lint pattern 'net' targets node:net, not src/net
import { segmentTcp } from '../net/tso.ts';
import type { VirtioDeviceModel, VirtioMmio } from './mmio.ts';
import { DescChain } from './virtqueue.ts';

export const VIRTIO_ID_NET = 1;
export const VIRTIO_NET_F_CSUM = 0;
export const VIRTIO_NET_F_GUEST_CSUM = 1;
export const VIRTIO_NET_F_GUEST_TSO4 = 7;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_HOST_TSO4 = 11;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_S_LINK_UP = 1;
export const NET_HDR_LEN = 12;
const HDR_F_NEEDS_CSUM = 1;
const HDR_F_DATA_VALID = 2;
const GSO_NONE = 0;
const GSO_TCPV4 = 1;
/** Largest GSO request: a 64 KiB IP packet plus Ethernet and VLAN headers. */
const MAX_GSO_FRAME = 65535 + 18;
/** Largest frame accepted from the guest without GSO: 1500 MTU + Ethernet + VLAN tag. */
export const MAX_TX_FRAME = 1518;

export interface VirtioNetOptions {
  mac: Uint8Array;
  queueSize?: number;
  /** Frames held while the guest has no rx buffers (default 512). */
  backlogFrames?: number;
}

export interface VirtioNetStats {
  txFrames: number;
  rxFrames: number;
  txDropped: number;
  rxDropped: number;
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
      (1 << VIRTIO_NET_F_STATUS),
    0,
  ];
  /** mac[6], status u16, max_virtqueue_pairs u16. */
  readonly config = new Uint8Array(10);
  readonly stats: VirtioNetStats = { txFrames: 0, rxFrames: 0, txDropped: 0, rxDropped: 0 };
  private transport!: VirtioMmio;
  /** Rx chains popped for a frame that does not fit yet (mergeable buffers), in order. */
  private readonly held: DescChain[] = [];
  private heldCount = 0;
  private heldBytes = 0;
  private readonly lens: number[] = [];
  private readonly two = new Uint8Array(2);
  private readonly txChain = new DescChain();
  private readonly backlog: Array<{ frame: Uint8Array; gsoSize: number }> = [];
  private readonly backlogMax: number;
  private readonly txBuf = new Uint8Array(NET_HDR_LEN + MAX_GSO_FRAME);
  private readonly rxHdr = new Uint8Array(NET_HDR_LEN);

  constructor(
    readonly backend: NetBackend,
    opts: VirtioNetOptions,
  ) {
    const n = opts.queueSize ?? 256;
    this.queueSizes = [n, n];
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
    if (!up) this.backlog.length = 0;
    this.transport.configChanged();
  }

  get backlogLength(): number {
    return this.backlog.length;
  }

  reset(): void {
    // Held chains belong to the old rings; large frames are no longer acceptable.
    this.backlog.length = 0;
    this.heldCount = this.heldBytes = 0;
    this.backend.setReceiveOffload?.(0);
  }

  driverOk(): void {
    this.backend.setReceiveOffload?.(this.rxOffload ? MAX_GSO_FRAME - 4 : 0);
    this.drainBacklog();
  }

  queueNotify(index: number): void {
    if (index === 0) this.drainBacklog();
    else if (index === 1) this.transmit();
  }

  /** A frame from the backend for the guest (the view is copied if it has to wait). */
  receive(frame: Uint8Array, gsoSize = 0): void {
    const limit = gsoSize ? MAX_GSO_FRAME : MAX_TX_FRAME;
    if (!this.linkUp || frame.length < 14 || frame.length > limit || (gsoSize && !this.rxOffload)) {
      this.stats.rxDropped++;
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
    if (this.backlog.length >= this.backlogMax) {
      this.stats.rxDropped++;
      return;
    }
    this.backlog.push({ frame: frame.slice(), gsoSize });
  }

  private drainBacklog(): void {
    let pushed = false;
    while (this.backlog.length && this.deliverOne(this.backlog[0]!.frame, this.backlog[0]!.gsoSize)) {
      this.backlog.shift();
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
   * means the frame has to wait for the guest to post more.
   */
  private deliverOne(frame: Uint8Array, gsoSize: number): boolean {
    const q = this.transport.queues[0]!;
    const need = NET_HDR_LEN + frame.length;
    const mergeable = this.transport.hasFeature(VIRTIO_NET_F_MRG_RXBUF);
    for (;;) {
      if (this.heldCount > 0 && (!mergeable || this.heldBytes >= need)) break;
      if (this.heldCount === this.held.length) this.held.push(new DescChain());
      const c = this.held[this.heldCount]!;
      if (!q.pop(c)) return false;
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

  private transmit(): void {
    const q = this.transport.queues[1]!;
    const ram = this.transport.mem.ram;
    const c = this.txChain;
    let pushed = false;
    while (q.pop(c)) {
      const len = c.readBytes;
      if (len < NET_HDR_LEN + 14 || len > this.txBuf.length) {
        this.stats.txDropped++;
      } else {
        const buf = this.txBuf.subarray(0, len);
        c.copyOut(ram, 0, buf);
        const frame = this.prepare(buf);
        if (!frame || !this.linkUp) this.stats.txDropped++;
        else if (buf[1] === GSO_TCPV4) {
          // TSO: cut the guest's large segment into MTU-sized frames here.
          const mss = buf[4]! | (buf[5]! << 8);
          const ok = segmentTcp(frame, mss, (seg) => {
            this.stats.txFrames++;
            this.backend.transmit(seg);
          });
          if (!ok) this.stats.txDropped++;
        } else if (frame.length > MAX_TX_FRAME) this.stats.txDropped++;
        else {
          this.stats.txFrames++;
          this.backend.transmit(frame);
        }
      }
      q.complete(c, 0);
      pushed = true;
    }
    if (pushed) {
      this.transport.notifyUsed(1);
      this.backend.flush?.();
    }
  }

  /** Applies the header to the frame (checksum completion); undefined if the frame must be dropped. */
  private prepare(buf: Uint8Array): Uint8Array | undefined {
    const flags = buf[0]!;
    const gso = buf[1]!;
    if (gso !== GSO_NONE && (gso !== GSO_TCPV4 || !this.transport.hasFeature(VIRTIO_NET_F_HOST_TSO4))) return undefined;
    const frame = buf.subarray(NET_HDR_LEN);
    if (flags & HDR_F_NEEDS_CSUM) {
      if (!this.transport.hasFeature(VIRTIO_NET_F_CSUM)) return undefined;
      const start = buf[6]! | (buf[7]! << 8);
      const off = buf[8]! | (buf[9]! << 8);
      if (start + off + 2 > frame.length) return undefined;
      // The field holds the pseudo-header sum; the checksum covers [start, end) including it.
      const sum = finish(sum16(frame, start, frame.length));
      frame[start + off] = sum >> 8;
      frame[start + off + 1] = sum & 0xff;
    }
    return frame;
  }

  saveState(): object {
    // Frames in the backlog are not saved (a restore loses them, as a cable pull would); rx
    // chains held for a large frame are, by head, so the guest gets them back.
    const held = this.held.slice(0, this.heldCount).map((c) => c.head);
    return { version: 1, mac: Array.from(this.config.subarray(0, 6)), link: this.linkUp, held };
  }

  /** Restores after the transport and its queues (guest RAM loaded). Throws DeviceStateError or VirtioError. */
  loadState(state: unknown): void {
    const r = new StateReader('virtio-net', state, 1);
    const mac = r.ints('mac', 0, 255, 6, 6);
    const link = r.bool('link');
    const heads = r.ints('held', 0, 0xffff, this.queueSizes[0]!);
    this.config.set(mac, 0);
    this.config[6] = link ? VIRTIO_NET_S_LINK_UP : 0;
    this.backlog.length = 0;
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
