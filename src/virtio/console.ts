/**
 * virtio-console (device ID 3) with a single port and no MULTIPORT (virtio 1.x, section 5.3):
 * queue 0 = receiveq (host -> guest), queue 1 = transmitq (guest -> host). Linux's hvc driver
 * appears as /dev/hvc0. Host input waits in a bounded FIFO until the guest posts rx buffers;
 * pushInput() reports how much it accepted so the host can apply back-pressure.
 * VIRTIO_CONSOLE_F_EMERG_WRITE is offered: a config write of emerg_wr outputs one byte.
 */
import { StateReader } from '../devices/state.ts';
import type { VirtioDeviceModel, VirtioMmio } from './mmio.ts';
import { DescChain } from './virtqueue.ts';

export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_CONSOLE_F_EMERG_WRITE = 2;
const EMERG_WR = 8; // config offset of emerg_wr

export interface VirtioConsoleOptions {
  /** Capacity of the host-input FIFO in bytes (default 4096). */
  inputCapacity?: number;
  queueSize?: number;
}

export class VirtioConsole implements VirtioDeviceModel {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly queueSizes: readonly number[];
  readonly features: readonly [number, number] = [1 << VIRTIO_CONSOLE_F_EMERG_WRITE, 0];
  /** cols u16, rows u16, max_nr_ports u32, emerg_wr u32. */
  readonly config = new Uint8Array(12);
  private transport!: VirtioMmio;
  private readonly fifo: Uint8Array;
  private head = 0;
  private count = 0;
  private readonly chain = new DescChain();
  private readonly one = new Uint8Array(1);

  constructor(
    /** Receives guest output; the view is only valid during the call (copy to keep it). */
    private readonly output: (bytes: Uint8Array) => void,
    opts: VirtioConsoleOptions = {},
  ) {
    this.fifo = new Uint8Array(opts.inputCapacity ?? 4096);
    const n = opts.queueSize ?? 64;
    this.queueSizes = [n, n];
    this.config[4] = 1; // max_nr_ports
  }

  attach(transport: VirtioMmio): void {
    this.transport = transport;
  }

  reset(): void {
    // Pending host input survives a driver reset, as bytes typed before the driver loads do.
  }

  /** Free space in the input FIFO. */
  inputSpace(): number {
    return this.fifo.length - this.count;
  }

  /** Queues host input for the guest; returns how many bytes were accepted (the rest must be retried). */
  pushInput(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.inputSpace());
    for (let i = 0; i < n; i++) this.fifo[(this.head + this.count + i) % this.fifo.length] = bytes[i]!;
    this.count += n;
    if (this.transport.live) this.transport.guard(() => this.deliver());
    return n;
  }

  driverOk(): void {
    this.deliver();
  }

  queueNotify(index: number): void {
    if (index === 0) this.deliver();
    else if (index === 1) this.transmit();
  }

  configWritten(offset: number): void {
    if (offset === EMERG_WR && this.transport.hasFeature(VIRTIO_CONSOLE_F_EMERG_WRITE)) {
      this.one[0] = this.config[EMERG_WR]!;
      this.output(this.one);
    }
  }

  /** Moves FIFO bytes into posted rx buffers. */
  private deliver(): void {
    const q = this.transport.queues[0]!;
    const ram = this.transport.mem.ram;
    let pushed = false;
    while (this.count > 0 && q.pop(this.chain)) {
      let written = 0;
      while (this.count > 0 && written < this.chain.writeBytes) {
        // Copy the contiguous part of the ring buffer in one go.
        const run = Math.min(this.count, this.fifo.length - this.head, this.chain.writeBytes - written);
        written += this.chain.copyIn(ram, written, this.fifo.subarray(this.head, this.head + run));
        this.head = (this.head + run) % this.fifo.length;
        this.count -= run;
      }
      q.complete(this.chain, written);
      pushed = true;
    }
    if (pushed) this.transport.notifyUsed(0);
  }

  private transmit(): void {
    const q = this.transport.queues[1]!;
    const ram = this.transport.mem.ram;
    let pushed = false;
    while (q.pop(this.chain)) {
      this.chain.readSegments(ram, 0, this.chain.readBytes, (seg) => {
        if (seg.length > 0) this.output(seg);
      });
      q.complete(this.chain, 0);
      pushed = true;
    }
    if (pushed) this.transport.notifyUsed(1);
  }

  saveState(): object {
    const pending: number[] = [];
    for (let i = 0; i < this.count; i++) pending.push(this.fifo[(this.head + i) % this.fifo.length]!);
    return { version: 1, input: pending };
  }

  loadState(state: unknown): void {
    const r = StateReader.of(state, 'virtio-console', 1);
    const input = r.ints('input', 0, 255, this.fifo.length);
    this.head = 0;
    this.count = input.length;
    this.fifo.set(input);
  }
}
