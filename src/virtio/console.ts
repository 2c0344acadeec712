/**
 * virtio-console (device ID 3) with a single port and no MULTIPORT (virtio 1.x, section 5.3):
 * queue 0 = receiveq (host -> guest), queue 1 = transmitq (guest -> host). Linux's hvc driver
 * appears as /dev/hvc0. Host input waits in a bounded FIFO until the guest posts rx buffers;
 * pushInput() reports how much it accepted so the host can apply back-pressure.
 * VIRTIO_CONSOLE_F_EMERG_WRITE is offered: a config write of emerg_wr outputs one byte.
 *
 * Output is paced by the host: transmit chains are consumed only while the sink has room, a
 * chain bigger than the room is printed in pieces (it stays with the device, not returned to the
 * guest, until all of it is printed), and the rest wait in the ring until resumeOutput(). So one
 * chain whose descriptors all point at the same large buffer costs the host one room's worth at
 * a time, never its whole length at once.
 */
import { DeviceStateError, StateReader } from '../memory/state.ts';
import type { VirtioDeviceModel, VirtioMmio } from './mmio.ts';
import { DescChain } from './virtqueue.ts';

export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_CONSOLE_F_EMERG_WRITE = 2;
const EMERG_WR = 8; // config offset of emerg_wr

/** Where guest output goes. */
export interface ConsoleSink {
  /** Bytes the host takes now; 0 stops consumption until resumeOutput(). */
  room(): number;
  /** Hands over at most room() bytes; the view is only valid during the call (copy to keep it). */
  write(bytes: Uint8Array): void;
  /** The device stopped with output left over and waits for resumeOutput(). */
  stall?(): void;
}

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
  private readonly sink: ConsoleSink;
  /** The transmit chain being printed (popped, not yet returned), and how much of it is printed. */
  private readonly txChain = new DescChain();
  private txBusy = false;
  private txDone = 0;
  private readonly txWrite = (seg: Uint8Array) => this.sink.write(seg);

  constructor(
    /** Receives guest output: a sink with room (paced), or a plain callback that takes everything. */
    output: ConsoleSink | ((bytes: Uint8Array) => void),
    opts: VirtioConsoleOptions = {},
  ) {
    this.sink = typeof output === 'function' ? { room: () => Infinity, write: output } : output;
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
    // A part-printed transmit chain belongs to the old driver: drop it.
    this.txBusy = false;
    this.txDone = 0;
  }

  /** The sink has room again: go on with transmit chains left waiting. */
  resumeOutput(): void {
    if (this.transport?.live) this.transport.guard(() => this.transmit());
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
      // Best effort, one byte per register write: dropped when the host has no room.
      if (this.sink.room() < 1) return;
      this.one[0] = this.config[EMERG_WR]!;
      this.sink.write(this.one);
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

  /** Prints transmit chains while the sink has room; what does not fit waits (see resumeOutput). */
  private transmit(): void {
    const q = this.transport.queues[1]!;
    const ram = this.transport.mem.ram;
    const c = this.txChain;
    let pushed = false;
    for (;;) {
      if (!this.txBusy) {
        if (!q.hasAvailable()) break;
        if (this.sink.room() <= 0) {
          this.sink.stall?.();
          break;
        }
        q.pop(c);
        this.txBusy = true;
        this.txDone = 0;
      }
      const left = c.readBytes - this.txDone;
      if (left > 0) {
        const n = Math.min(left, this.sink.room());
        if (n <= 0) {
          this.sink.stall?.();
          break;
        }
        c.readSegments(ram, this.txDone, n, this.txWrite);
        this.txDone += n;
        if (n < left) {
          this.sink.stall?.();
          break;
        }
      }
      q.complete(c, 0);
      this.txBusy = false;
      pushed = true;
    }
    if (pushed) this.transport.notifyUsed(1);
  }

  saveState(): object {
    const pending: number[] = [];
    for (let i = 0; i < this.count; i++) pending.push(this.fifo[(this.head + i) % this.fifo.length]!);
    // tx: the part-printed transmit chain's head and bytes printed (absent when none; older
    // snapshots never have one).
    return { version: 1, input: pending, ...(this.txBusy ? { tx: [this.txChain.head, this.txDone] } : {}) };
  }

  loadState(state: unknown): void {
    const r = StateReader.of(state, 'virtio-console', 1);
    const input = r.ints('input', 0, 255, this.fifo.length);
    const q = this.transport.queues[1]!;
    const tx = r.raw('tx') === undefined ? undefined : r.ints('tx', 0, 0xffffffff, 2, 2);
    if (tx && tx[0]! >= q.maxSize)
      throw new DeviceStateError(
        `virtio-console: state field 'tx' names descriptor ${tx[0]} of a ${q.maxSize}-entry queue`,
      );
    this.head = 0;
    this.count = input.length;
    this.fifo.set(input);
    this.txBusy = false;
    this.txDone = 0;
    if (tx && this.transport.live) {
      // Re-read the chain from the restored RAM and go on from where the saved device stopped.
      this.transport.guard(() => {
        q.readChain(tx[0]!, this.txChain);
        this.txBusy = true;
        this.txDone = Math.min(tx[1]!, this.txChain.readBytes);
      });
    }
  }
}
