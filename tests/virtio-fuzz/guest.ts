/**
 * The guest side of the fuzzer: a virtio-mmio driver that reaches a device only through its
 * MMIO registers and guest RAM, as a kernel would (through the board's Bus, so a store to the
 * slot takes the same path as a guest store). Unlike a real driver it will happily write
 * nonsense: every helper takes raw values, and nothing is validated here.
 */
import { R, STATUS_ACKNOWLEDGE, STATUS_DRIVER, STATUS_DRIVER_OK, STATUS_FEATURES_OK } from '../../src/virtio/mmio.ts';

/** Register access to one virtio-mmio slot (offsets within the slot). */
export interface MmioPort {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

export interface Buf {
  addr: number;
  len: number;
  write?: boolean;
}

/** The driver's idea of one queue (the device may disagree: that is the point). */
export interface GuestQueue {
  size: number;
  desc: number;
  avail: number;
  used: number;
  nextDesc: number;
  availIdx: number;
  lastUsed: number;
}

export interface UsedEntry {
  id: number;
  len: number;
}

/** Bytes reserved for one queue's rings (a 256-entry queue needs about 6.6 KiB). */
export const RING_STRIDE = 0x4000;

export class GuestDevice {
  readonly queues: Array<GuestQueue | undefined> = [];
  readonly view: DataView;
  /** Every [addr, addr+len) this driver put in a descriptor since clearDma() (for the DMA canary). */
  readonly dmaRanges: Array<[number, number]> = [];

  constructor(
    readonly name: string,
    readonly port: MmioPort,
    readonly ram: Uint8Array,
    readonly ramBase: number,
    /** Guest address of this device's ring area (RING_STRIDE per queue). */
    readonly ringArea: number,
    /** Guest address and size of this device's buffer pool. */
    readonly poolBase: number,
    readonly poolSize: number,
    readonly numQueues: number,
  ) {
    this.view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  }

  rd(reg: number): number {
    return this.port.read(reg, 4);
  }
  wr(reg: number, v: number): void {
    this.port.write(reg, 4, v >>> 0);
  }

  deviceFeatures(): [number, number] {
    this.wr(R.DeviceFeaturesSel, 0);
    const lo = this.rd(R.DeviceFeatures);
    this.wr(R.DeviceFeaturesSel, 1);
    return [lo, this.rd(R.DeviceFeatures)];
  }

  reset(): void {
    this.wr(R.Status, 0);
    this.queues.length = 0;
  }

  /** The status handshake up to FEATURES_OK; true if the device accepted. */
  negotiate(features: readonly [number, number]): boolean {
    this.reset();
    this.wr(R.Status, STATUS_ACKNOWLEDGE);
    this.wr(R.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    for (let i = 0; i < 2; i++) {
      this.wr(R.DriverFeaturesSel, i);
      this.wr(R.DriverFeatures, features[i]!);
    }
    this.wr(R.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    return (this.rd(R.Status) & STATUS_FEATURES_OK) !== 0;
  }

  /** Programs queue `i` with `size` entries in its slot of the ring area and enables it. */
  setupQueue(i: number, size: number): GuestQueue {
    const desc = this.ringArea + i * RING_STRIDE;
    const avail = desc + 16 * size;
    const used = Math.ceil((avail + 6 + 2 * size) / 4) * 4;
    this.ram.fill(0, desc - this.ramBase, desc - this.ramBase + RING_STRIDE);
    size >>>= 0;
    this.wr(R.QueueSel, i);
    this.wr(R.QueueNum, size);
    this.wr(R.QueueDescLow, desc);
    this.wr(R.QueueDescHigh, 0);
    this.wr(R.QueueDriverLow, avail);
    this.wr(R.QueueDriverHigh, 0);
    this.wr(R.QueueDeviceLow, used);
    this.wr(R.QueueDeviceHigh, 0);
    this.wr(R.QueueReady, 1);
    // The driver's own ring arithmetic needs a non-zero size even when it told the device nonsense.
    const q = { size: Math.max(1, Math.min(size, 0x8000)), desc, avail, used, nextDesc: 0, availIdx: 0, lastUsed: 0 };
    this.queues[i] = q;
    return q;
  }

  /** QueueNumMax of queue i. */
  maxSize(i: number): number {
    this.wr(R.QueueSel, i);
    return this.rd(R.QueueNumMax);
  }

  /** A full, valid init: features, every queue (`sizes[i]`, clamped to the maximum), DRIVER_OK. */
  init(features: readonly [number, number], sizes: readonly number[]): boolean {
    if (!this.negotiate(features)) return false;
    for (let i = 0; i < this.numQueues; i++) {
      const max = this.maxSize(i);
      if (max === 0) return false;
      this.setupQueue(i, Math.min(sizes[i] ?? max, max));
    }
    this.wr(R.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    return true;
  }

  get status(): number {
    return this.rd(R.Status);
  }

  private off(addr: number): number {
    return addr - this.ramBase;
  }

  /** True if [addr, addr+len) is in RAM (the driver checks before touching its own memory). */
  inRam(addr: number, len: number): boolean {
    const o = this.off(addr);
    return o >= 0 && o + len <= this.ram.length;
  }

  /** Writes one raw descriptor into a table (a ring's or an indirect one) and records its range. */
  setDesc(table: number, i: number, addr: number, len: number, flags: number, next: number): void {
    if (!this.inRam(table + 16 * i, 16)) return;
    const d = this.off(table) + 16 * i;
    this.view.setUint32(d, addr % 0x1_0000_0000, true);
    this.view.setUint32(d + 4, Math.floor(addr / 0x1_0000_0000) >>> 0, true);
    this.view.setUint32(d + 8, len >>> 0, true);
    this.view.setUint16(d + 12, flags & 0xffff, true);
    this.view.setUint16(d + 14, next & 0xffff, true);
    if (this.dmaRanges.length < 4096) this.dmaRanges.push([addr, len >>> 0]);
  }

  clearDma(): void {
    this.dmaRanges.length = 0;
  }

  /**
   * Places a chain in consecutive descriptors from the queue's rotating cursor (wrapping, so a
   * chain longer than the queue overwrites its own start) and publishes its head.
   */
  addChain(qi: number, bufs: readonly Buf[], publish = true): number {
    const q = this.queues[qi];
    if (!q) return 0;
    const head = q.nextDesc % q.size;
    bufs.forEach((b, k) => {
      const i = (head + k) % q.size;
      const last = k === bufs.length - 1;
      this.setDesc(q.desc, i, b.addr, b.len, (last ? 0 : 1) | (b.write ? 2 : 0), (i + 1) % q.size);
    });
    q.nextDesc = (q.nextDesc + Math.max(1, bufs.length)) % q.size;
    if (publish) this.publish(qi, head);
    return head;
  }

  /** Puts `head` in the avail ring and bumps avail.idx. */
  publish(qi: number, head: number): void {
    const q = this.queues[qi];
    if (!q) return;
    this.w16(q.avail + 4 + 2 * (q.availIdx % q.size), head);
    q.availIdx = (q.availIdx + 1) & 0xffff;
    this.w16(q.avail + 2, q.availIdx);
  }

  /** Sets avail.idx to anything (the driver's own count follows it). */
  setAvailIdx(qi: number, idx: number): void {
    const q = this.queues[qi];
    if (!q) return;
    q.availIdx = idx & 0xffff;
    this.w16(q.avail + 2, q.availIdx);
  }

  /** Writes avail.flags and used_event (interrupt suppression fields). */
  setSuppression(qi: number, flags: number, usedEvent: number): void {
    const q = this.queues[qi];
    if (!q) return;
    this.w16(q.avail, flags);
    this.w16(q.avail + 4 + 2 * q.size, usedEvent);
  }

  kick(qi: number): void {
    this.wr(R.QueueNotify, qi);
  }

  /** Used entries since the last call (at most one ring's worth, even if used.idx is garbage). */
  takeUsed(qi: number): UsedEntry[] {
    const q = this.queues[qi];
    const out: UsedEntry[] = [];
    if (!q) return out;
    if (!this.inRam(q.used, 4)) return out;
    const idx = this.view.getUint16(this.off(q.used) + 2, true);
    while (q.lastUsed !== idx && out.length < q.size) {
      const at = q.used + 4 + 8 * (q.lastUsed % q.size);
      if (!this.inRam(at, 8)) break;
      const e = this.off(at);
      out.push({ id: this.view.getUint32(e, true), len: this.view.getUint32(e + 4, true) });
      q.lastUsed = (q.lastUsed + 1) & 0xffff;
    }
    q.lastUsed = idx;
    return out;
  }

  ackInterrupt(): number {
    const s = this.rd(R.InterruptStatus);
    this.wr(R.InterruptACK, s);
    return s;
  }

  /** A 16-bit store to the driver's own ring memory (skipped if a junk queue size put it outside RAM). */
  private w16(addr: number, v: number): void {
    if (this.inRam(addr, 2)) this.view.setUint16(this.off(addr), v & 0xffff, true);
  }

  /** Copies bytes into guest RAM (the driver filling its own buffers). */
  put(addr: number, bytes: Uint8Array): void {
    if (this.inRam(addr, bytes.length)) this.ram.set(bytes, this.off(addr));
  }

  get(addr: number, len: number): Uint8Array {
    return this.inRam(addr, len) ? this.ram.slice(this.off(addr), this.off(addr) + len) : new Uint8Array(0);
  }
}
