/**
 * Test support for virtio devices: an in-memory BlockBackend with fault injection, and a tiny
 * virtio-mmio driver that programs registers and rings the way Linux's virtio_mmio/virtio_ring do.
 * Used only by tests; kept platform-neutral so it also type-checks with the core.
 */
import type { BlockBackend, ExtentStatus } from '../storage/types.ts';
import { StorageError } from '../storage/types.ts';
import type { IrqLine } from '../memory/mmio.ts';
import { R, STATUS_ACKNOWLEDGE, STATUS_DRIVER, STATUS_DRIVER_OK, STATUS_FEATURES_OK, type VirtioMmio } from './mmio.ts';

export class MemoryBackend implements BlockBackend {
  readonly format = 'raw';
  readonly data: Uint8Array;
  /** Set to make the next operations fail with an I/O error. */
  failNext = 0;
  flushes = 0;
  readonly log: string[] = [];
  /** Pending operations are held here when `hold` is set, to test in-flight requests. */
  hold = false;
  readonly held: Array<() => void> = [];

  constructor(
    readonly size: number,
    readonly readOnly = false,
  ) {
    this.data = new Uint8Array(size);
  }

  private async op(name: string, offset: number, length: number, fn: () => void): Promise<void> {
    this.log.push(`${name} ${offset} ${length}`);
    if (this.hold) await new Promise<void>((res) => this.held.push(res));
    if (this.failNext > 0) {
      this.failNext--;
      throw new StorageError('io', `injected failure in ${name}`);
    }
    if (offset < 0 || offset + length > this.size) throw new StorageError('out-of-range', `${name} past the end`);
    fn();
  }

  release(): void {
    this.hold = false;
    for (const r of this.held.splice(0)) r();
  }

  read(offset: number, buf: Uint8Array): Promise<void> {
    return this.op('read', offset, buf.length, () => buf.set(this.data.subarray(offset, offset + buf.length)));
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    return this.op('write', offset, data.length, () => this.data.set(data, offset));
  }
  flush(): Promise<void> {
    return this.op('flush', 0, 0, () => this.flushes++);
  }
  discard(offset: number, length: number): Promise<void> {
    return this.op('discard', offset, length, () => this.data.fill(0, offset, offset + length));
  }
  writeZeroes(offset: number, length: number): Promise<void> {
    return this.op('write-zeroes', offset, length, () => this.data.fill(0, offset, offset + length));
  }
  async blockStatus(offset: number, length: number): Promise<ExtentStatus> {
    return { offset, length, data: true, zero: false, depth: 0 };
  }
  async close(): Promise<void> {}
}

/** Waits until queued promise callbacks (backend completions) have run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

export class RecordingIrq implements IrqLine {
  level = false;
  raises = 0;
  set(level: boolean): void {
    if (level && !this.level) this.raises++;
    this.level = level;
  }
}

export interface Buf {
  addr: number;
  len: number;
  write?: boolean;
}

interface QueueLayout {
  size: number;
  desc: number;
  avail: number;
  used: number;
  nextDesc: number;
  availIdx: number;
  lastUsed: number;
}

/** A minimal guest driver. Addresses are guest-physical; RAM starts at ramBase. */
export class TestDriver {
  readonly view: DataView;
  readonly queues: QueueLayout[] = [];

  constructor(
    readonly dev: VirtioMmio,
    readonly ram: Uint8Array,
    readonly ramBase: number,
  ) {
    this.view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  }

  rd(reg: number): number {
    return this.dev.read(reg, 4);
  }
  wr(reg: number, v: number): void {
    this.dev.write(reg, 4, v);
  }

  /** The status handshake up to FEATURES_OK; returns whether the device accepted the features. */
  negotiate(features: [number, number]): boolean {
    this.wr(R.Status, 0);
    this.wr(R.Status, STATUS_ACKNOWLEDGE);
    this.wr(R.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    for (let i = 0; i < 2; i++) {
      this.wr(R.DriverFeaturesSel, i);
      this.wr(R.DriverFeatures, features[i]!);
    }
    this.wr(R.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    return (this.rd(R.Status) & STATUS_FEATURES_OK) !== 0;
  }

  deviceFeatures(): [number, number] {
    this.wr(R.DeviceFeaturesSel, 0);
    const lo = this.rd(R.DeviceFeatures);
    this.wr(R.DeviceFeaturesSel, 1);
    return [lo, this.rd(R.DeviceFeatures)];
  }

  /** Lays out queue `i` at guest address `at` (desc, then avail, then used 4-aligned) and enables it. */
  setupQueue(i: number, size: number, at: number): QueueLayout {
    const desc = at;
    const avail = desc + 16 * size;
    const used = Math.ceil((avail + 6 + 2 * size) / 4) * 4;
    this.wr(R.QueueSel, i);
    this.wr(R.QueueNum, size);
    this.wr(R.QueueDescLow, desc);
    this.wr(R.QueueDescHigh, 0);
    this.wr(R.QueueDriverLow, avail);
    this.wr(R.QueueDriverHigh, 0);
    this.wr(R.QueueDeviceLow, used);
    this.wr(R.QueueDeviceHigh, 0);
    this.wr(R.QueueReady, 1);
    const q = { size, desc, avail, used, nextDesc: 0, availIdx: 0, lastUsed: 0 };
    this.queues[i] = q;
    return q;
  }

  /** Full init: negotiate all offered features (or `features`), set up queues, DRIVER_OK. */
  init(queueSizes: number[], at: number, features?: [number, number]): void {
    const f = features ?? this.deviceFeatures();
    if (!this.negotiate(f)) throw new Error('device refused features');
    let p = at;
    queueSizes.forEach((n, i) => {
      this.setupQueue(i, n, p);
      p += 0x1000 * Math.ceil((16 * n + 6 + 2 * n + 8 + 6 + 8 * n) / 0x1000);
    });
    this.wr(R.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  }

  private off(addr: number): number {
    return addr - this.ramBase;
  }

  /** Writes a raw descriptor. */
  setDesc(table: number, i: number, addr: number, len: number, flags: number, next: number): void {
    const d = this.off(table) + 16 * i;
    this.view.setUint32(d, addr % 0x1_0000_0000, true);
    this.view.setUint32(d + 4, Math.floor(addr / 0x1_0000_0000), true);
    this.view.setUint32(d + 8, len, true);
    this.view.setUint16(d + 12, flags, true);
    this.view.setUint16(d + 14, next, true);
  }

  /** Places a chain of buffers in the descriptor table and publishes its head; returns the head. */
  addChain(qi: number, bufs: Buf[]): number {
    const q = this.queues[qi]!;
    const head = q.nextDesc % q.size;
    bufs.forEach((b, k) => {
      const i = (head + k) % q.size;
      const last = k === bufs.length - 1;
      this.setDesc(q.desc, i, b.addr, b.len, (last ? 0 : 1) | (b.write ? 2 : 0), (i + 1) % q.size);
    });
    q.nextDesc += bufs.length;
    this.publish(qi, head);
    return head;
  }

  /** Puts `head` into the avail ring and bumps avail.idx. */
  publish(qi: number, head: number): void {
    const q = this.queues[qi]!;
    this.view.setUint16(this.off(q.avail) + 4 + 2 * (q.availIdx % q.size), head, true);
    q.availIdx = (q.availIdx + 1) & 0xffff;
    this.view.setUint16(this.off(q.avail) + 2, q.availIdx, true);
  }

  kick(qi: number): void {
    this.wr(R.QueueNotify, qi);
  }

  /** New used entries since the last call. */
  takeUsed(qi: number): Array<{ id: number; len: number }> {
    const q = this.queues[qi]!;
    const out: Array<{ id: number; len: number }> = [];
    const idx = this.view.getUint16(this.off(q.used) + 2, true);
    while (q.lastUsed !== idx) {
      const e = this.off(q.used) + 4 + 8 * (q.lastUsed % q.size);
      out.push({ id: this.view.getUint32(e, true), len: this.view.getUint32(e + 4, true) });
      q.lastUsed = (q.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  ack(): number {
    const s = this.rd(R.InterruptStatus);
    this.wr(R.InterruptACK, s);
    return s;
  }
}
