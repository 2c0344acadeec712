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
import { finish, sum16 } from '../net/bytes.ts';
// eslint-disable-next-line no-restricted-imports -- the lint pattern 'net' targets node:net, not src/net
import { segmentTcp } from '../net/tso.ts';
import type { VirtioDeviceModel, VirtioMmio } from './mmio.ts';
import { DescChain } from './virtqueue.ts';

export const VIRTIO_ID_NET = 1;
export const VIRTIO_NET_F_CSUM = 0;
export const VIRTIO_NET_F_GUEST_CSUM = 1;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_HOST_TSO4 = 11;
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
      (1 << VIRTIO_NET_F_STATUS),
    0,
  ];
  /** mac[6], status u16, max_virtqueue_pairs u16. */
  readonly config = new Uint8Array(10);
  readonly stats: VirtioNetStats = { txFrames: 0, rxFrames: 0, txDropped: 0, rxDropped: 0 };
  private transport!: VirtioMmio;
  private readonly rxChain = new DescChain();
  private readonly txChain = new DescChain();
  private readonly backlog: Uint8Array[] = [];
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
    backend.connect((frame) => this.receive(frame));
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
    this.backlog.length = 0;
  }

  driverOk(): void {
    this.drainBacklog();
  }

  queueNotify(index: number): void {
    if (index === 0) this.drainBacklog();
    else if (index === 1) this.transmit();
  }

  /** A frame from the backend for the guest (the view is copied if it has to wait). */
  receive(frame: Uint8Array): void {
    if (!this.linkUp || frame.length < 14 || frame.length > 65535) {
      this.stats.rxDropped++;
      return;
    }
    if (this.backlog.length === 0 && this.transport?.live) {
      let delivered = false;
      this.transport.guard(() => {
        delivered = this.deliverOne(frame);
        if (delivered) this.transport.notifyUsed(0);
      });
      if (delivered) return;
    }
    if (this.backlog.length >= this.backlogMax) {
      this.stats.rxDropped++;
      return;
    }
    this.backlog.push(frame.slice());
  }

  private drainBacklog(): void {
    let pushed = false;
    while (this.backlog.length && this.deliverOne(this.backlog[0]!)) {
      this.backlog.shift();
      pushed = true;
    }
    if (pushed) this.transport.notifyUsed(0);
  }

  /** Copies one frame into the next rx buffer; false if the guest has posted none. */
  private deliverOne(frame: Uint8Array): boolean {
    const q = this.transport.queues[0]!;
    const c = this.rxChain;
    if (!q.pop(c)) return false;
    const ram = this.transport.mem.ram;
    if (c.writeBytes < NET_HDR_LEN + frame.length) {
      // Too small for the frame (we negotiated no mergeable buffers): the frame is lost.
      this.stats.rxDropped++;
      q.complete(c, 0);
      return true;
    }
    const h = this.rxHdr;
    h.fill(0);
    if (this.backend.checksumsValid && this.transport.hasFeature(VIRTIO_NET_F_GUEST_CSUM)) h[0] = HDR_F_DATA_VALID;
    h[10] = 1; // num_buffers
    c.copyIn(ram, 0, h);
    c.copyIn(ram, NET_HDR_LEN, frame);
    q.complete(c, NET_HDR_LEN + frame.length);
    this.stats.rxFrames++;
    return true;
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
    return { version: 1, mac: Array.from(this.config.subarray(0, 6)), link: this.linkUp };
  }

  loadState(state: unknown): void {
    const r = new StateReader('virtio-net', state, 1);
    const mac = r.ints('mac', 0, 255, 6, 6);
    this.config.set(mac, 0);
    this.config[6] = r.bool('link') ? VIRTIO_NET_S_LINK_UP : 0;
    this.backlog.length = 0;
  }
}
