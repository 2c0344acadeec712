/**
 * The one split-virtqueue implementation shared by every virtio device (virtio 1.x, section 2.7).
 *
 * Every address and length here is written by the guest, so nothing is trusted: the ring areas
 * are checked against guest RAM once when the driver sets QueueReady, and every descriptor,
 * indirect table and buffer is checked when a chain is popped. A violation throws VirtioError,
 * which the transport turns into DEVICE_NEEDS_RESET; it never reaches the host.
 *
 * Hot path: descriptors are read through one DataView over RAM, chains are returned as lists
 * of RAM offsets (no copying), and DescChain objects can be reused.
 *
 * In-flight accounting: a popped head stays "in flight" until the device uses it. A driver that
 * makes a head available again before that (QEMU: "Virtqueue size exceeded") is in error, so at
 * most `size` chains are ever in flight per queue, whatever the driver does. When the queue is
 * reset, disabled or the device needs a reset, the in-flight chains are abandoned and `epoch`
 * changes: a device that finishes work later compares epochs and must then not touch guest RAM,
 * the used ring or the interrupt line (the chain may already belong to a new driver).
 */

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
const VRING_AVAIL_F_NO_INTERRUPT = 1;

/** The longest indirect table accepted (QEMU's VIRTQUEUE_MAX_SIZE). */
export const MAX_INDIRECT = 1024;

/** Guest RAM as devices see it (the board's Bus satisfies this). */
export interface GuestMemory {
  readonly ram: Uint8Array;
  /** Guest-physical address of ram[0]. */
  readonly ramBase: number;
  /**
   * Device writes to RAM are reported here (Bus.notifyWrite) so harts drop instructions they
   * pre-decoded from those bytes.
   */
  notifyWrite?(addr: number, len: number): void;
}

/** A guest-caused virtio protocol violation. */
export class VirtioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VirtioError';
  }
}

/** Combines the two 32-bit halves of a guest address. Exact below 2^53; larger values are far outside RAM anyway. */
export function addr64(lo: number, hi: number): number {
  return (hi >>> 0) * 0x1_0000_0000 + (lo >>> 0);
}

/**
 * One popped descriptor chain: the device-readable buffers, then the device-writable ones,
 * each as (offset into ram, length). Devices treat each direction as one byte stream
 * (VIRTIO_F_ANY_LAYOUT is implied by VERSION_1), so framing never depends on segment sizes.
 */
export class DescChain {
  head = 0;
  readCount = 0;
  writeCount = 0;
  readBytes = 0;
  writeBytes = 0;
  readonly readOff: number[] = [];
  readonly readLen: number[] = [];
  readonly writeOff: number[] = [];
  readonly writeLen: number[] = [];

  clear(head: number): void {
    this.head = head;
    this.readCount = this.writeCount = this.readBytes = this.writeBytes = 0;
  }

  addRead(off: number, len: number): void {
    this.readOff[this.readCount] = off;
    this.readLen[this.readCount++] = len;
    this.readBytes += len;
  }

  addWrite(off: number, len: number): void {
    this.writeOff[this.writeCount] = off;
    this.writeLen[this.writeCount++] = len;
    this.writeBytes += len;
  }

  /** Copies readable bytes [from, from + dst.length) into dst; returns how many were available. */
  copyOut(ram: Uint8Array, from: number, dst: Uint8Array): number {
    return walk(ram, this.readOff, this.readLen, this.readCount, from, dst.length, (seg, at) => dst.set(seg, at));
  }

  /** Copies src into the writable stream at offset `to`; returns how many bytes fitted. */
  copyIn(ram: Uint8Array, to: number, src: Uint8Array): number {
    return walk(ram, this.writeOff, this.writeLen, this.writeCount, to, src.length, (seg, at) =>
      seg.set(src.subarray(at, at + seg.length)),
    );
  }

  /** Calls fn with views of RAM covering readable bytes [from, from + length) (zero-copy). */
  readSegments(ram: Uint8Array, from: number, length: number, fn: (seg: Uint8Array, at: number) => void): number {
    return walk(ram, this.readOff, this.readLen, this.readCount, from, length, fn);
  }

  /** Calls fn with views of RAM covering writable bytes [from, from + length) (zero-copy). */
  writeSegments(ram: Uint8Array, from: number, length: number, fn: (seg: Uint8Array, at: number) => void): number {
    return walk(ram, this.writeOff, this.writeLen, this.writeCount, from, length, fn);
  }
}

/** Visits the part [from, from + length) of a segment list as RAM views; returns the bytes visited. */
function walk(
  ram: Uint8Array,
  offs: number[],
  lens: number[],
  count: number,
  from: number,
  length: number,
  fn: (seg: Uint8Array, at: number) => void,
): number {
  let done = 0;
  let skip = from;
  for (let i = 0; i < count && done < length; i++) {
    const len = lens[i]!;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    const n = Math.min(len - skip, length - done);
    const start = offs[i]! + skip;
    fn(ram.subarray(start, start + n), done);
    done += n;
    skip = 0;
  }
  return done;
}

export interface VirtQueueState {
  size: number;
  ready: boolean;
  desc: number;
  driver: number;
  device: number;
  lastAvail: number;
  usedIdx: number;
  signalledUsed: number;
  signalledValid: boolean;
}

export class VirtQueue {
  /** QueueNum as written by the driver (defaults to the maximum). */
  size: number;
  ready = false;
  /** Guest-physical addresses of the descriptor table, driver (avail) and device (used) areas. */
  descAddr = 0;
  driverAddr = 0;
  deviceAddr = 0;
  /** Negotiated features, set by the transport on DRIVER_OK. */
  eventIdx = false;
  indirect = false;

  private lastAvail = 0;
  private usedIdx = 0;
  private signalledUsed = 0;
  private signalledValid = false;
  private descOff = 0;
  private availOff = 0;
  private usedOff = 0;
  private ramRef: Uint8Array | null = null;
  private view!: DataView;
  /** One flag per descriptor index: 1 while a chain with that head is popped and not yet used. */
  private readonly busy: Uint8Array;
  private busyCount = 0;
  private epochNow = 0;

  constructor(
    private readonly mem: GuestMemory,
    readonly maxSize: number,
  ) {
    this.size = maxSize;
    this.busy = new Uint8Array(maxSize);
  }

  /** Chains popped and not yet used (never more than `size`). */
  get inflightCount(): number {
    return this.busyCount;
  }

  /** Changes whenever in-flight chains are abandoned; work started under another epoch is stale. */
  get epoch(): number {
    return this.epochNow;
  }

  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.descAddr = this.driverAddr = this.deviceAddr = 0;
    this.eventIdx = this.indirect = false;
    this.lastAvail = this.usedIdx = this.signalledUsed = 0;
    this.signalledValid = false;
    this.abandon();
  }

  /** The driver wrote QueueReady = 0: the rings may be freed, so in-flight chains are abandoned. */
  disable(): void {
    this.ready = false;
    this.abandon();
  }

  /** Forgets every in-flight chain (reset, queue disabled, DEVICE_NEEDS_RESET): their results must be dropped. */
  abandon(): void {
    this.epochNow = (this.epochNow + 1) >>> 0;
    if (this.busyCount > 0) this.busy.fill(0);
    this.busyCount = 0;
  }

  private refresh(): DataView {
    const ram = this.mem.ram;
    if (ram !== this.ramRef) {
      this.ramRef = ram;
      this.view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
    }
    return this.view;
  }

  /** RAM offset of [addr, addr + len), or -1 if any of it is outside guest RAM. */
  ramOffset(addr: number, len: number): number {
    const off = addr - this.mem.ramBase;
    return off >= 0 && off + len <= this.mem.ram.length ? off : -1;
  }

  /** Validates the ring layout and makes the queue live (QueueReady = 1). Throws VirtioError. */
  activate(): void {
    const n = this.size;
    if (n === 0 || n > this.maxSize || (n & (n - 1)) !== 0) {
      throw new VirtioError(`queue size ${n} is not a power of two in [1, ${this.maxSize}]`);
    }
    this.descOff = this.area('descriptor table', this.descAddr, 16 * n, 16);
    this.availOff = this.area('driver area', this.driverAddr, 6 + 2 * n, 2);
    this.usedOff = this.area('device area', this.deviceAddr, 6 + 8 * n, 4);
    this.refresh();
    this.ready = true;
  }

  private area(what: string, addr: number, len: number, align: number): number {
    if (addr % align !== 0) throw new VirtioError(`${what} at 0x${addr.toString(16)} is not ${align}-byte aligned`);
    const off = this.ramOffset(addr, len);
    if (off < 0) throw new VirtioError(`${what} 0x${addr.toString(16)}+${len} is outside guest RAM`);
    return off;
  }

  /** True if the driver has made buffers available that were not popped yet. */
  hasAvailable(): boolean {
    if (!this.ready) return false;
    return this.refresh().getUint16(this.availOff + 2, true) !== this.lastAvail;
  }

  /**
   * Pops the next available chain into `chain`. Returns false if the ring is empty.
   * Throws VirtioError on any malformed ring or descriptor.
   */
  pop(chain: DescChain): boolean {
    if (!this.ready) return false;
    const view = this.refresh();
    const availIdx = view.getUint16(this.availOff + 2, true);
    const pending = (availIdx - this.lastAvail) & 0xffff;
    if (pending === 0) return false;
    if (pending > this.size) {
      throw new VirtioError(
        `avail idx ${availIdx} is ${pending} entries ahead of ${this.lastAvail} (queue size ${this.size})`,
      );
    }
    const head = view.getUint16(this.availOff + 4 + 2 * (this.lastAvail & (this.size - 1)), true);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    this.readChain(head, chain);
    if (this.eventIdx) {
      // avail_event: ask the driver to notify us as soon as it adds past what we consumed.
      view.setUint16(this.usedOff + 4 + 8 * this.size, this.lastAvail, true);
      this.mem.notifyWrite?.(this.mem.ramBase + this.usedOff + 4 + 8 * this.size, 2);
    }
    return true;
  }

  /**
   * Walks the chain starting at descriptor `head` and marks the head in flight (also used to
   * re-issue requests after a snapshot load). Throws VirtioError if the head is already in flight.
   */
  readChain(head: number, chain: DescChain): void {
    if (head >= this.size) throw new VirtioError(`descriptor index ${head} is outside a table of ${this.size}`);
    if (this.busy[head] === 1 || this.busyCount >= this.size) {
      throw new VirtioError(
        `descriptor head ${head} was made available while still in flight (virtqueue size ${this.size} exceeded)`,
      );
    }
    this.walkChain(head, chain);
    this.busy[head] = 1;
    this.busyCount++;
  }

  private walkChain(head: number, chain: DescChain): void {
    const view = this.refresh();
    chain.clear(head);
    let table = this.descOff;
    let tableLen = this.size;
    let limit = this.size;
    let indirect = false;
    let idx = head;
    let count = 0;
    for (;;) {
      if (idx >= tableLen) throw new VirtioError(`descriptor index ${idx} is outside a table of ${tableLen}`);
      if (++count > limit)
        throw new VirtioError(`descriptor chain from head ${head} is longer than ${limit} (a loop?)`);
      const d = table + 16 * idx;
      const addr = addr64(view.getUint32(d, true), view.getUint32(d + 4, true));
      const len = view.getUint32(d + 8, true);
      const flags = view.getUint16(d + 12, true);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.indirect) throw new VirtioError('indirect descriptor without VIRTIO_F_INDIRECT_DESC');
        if (indirect) throw new VirtioError('nested indirect descriptor');
        if (flags & VIRTQ_DESC_F_NEXT) throw new VirtioError('descriptor has both INDIRECT and NEXT');
        if (len === 0 || len % 16 !== 0 || len / 16 > MAX_INDIRECT) {
          throw new VirtioError(`indirect table length ${len} is not a multiple of 16 in [16, ${16 * MAX_INDIRECT}]`);
        }
        const off = this.ramOffset(addr, len);
        if (off < 0) throw new VirtioError(`indirect table 0x${addr.toString(16)}+${len} is outside guest RAM`);
        table = off;
        tableLen = limit = len / 16;
        indirect = true;
        idx = count = 0;
        continue;
      }
      const off = this.ramOffset(addr, len);
      if (off < 0) throw new VirtioError(`buffer 0x${addr.toString(16)}+${len} is outside guest RAM`);
      if (flags & VIRTQ_DESC_F_WRITE) chain.addWrite(off, len);
      else if (chain.writeCount > 0) throw new VirtioError('device-readable descriptor after a writable one');
      else chain.addRead(off, len);
      if (!(flags & VIRTQ_DESC_F_NEXT)) return;
      idx = view.getUint16(d + 14, true);
    }
  }

  /**
   * Returns a chain to the driver with `written` bytes written into its writable buffers,
   * after reporting those buffers as written (code-cache coherence).
   */
  complete(chain: DescChain, written: number): void {
    const notify = this.mem.notifyWrite;
    if (notify) {
      const base = this.mem.ramBase;
      for (let i = 0; i < chain.writeCount; i++) notify.call(this.mem, base + chain.writeOff[i]!, chain.writeLen[i]!);
    }
    this.pushUsed(chain.head, written);
  }

  /** Writes a used-ring entry and publishes it by bumping used.idx; the head is no longer in flight. */
  pushUsed(head: number, written: number): void {
    if (this.busy[head] === 1) {
      this.busy[head] = 0;
      this.busyCount--;
    }
    if (!this.ready) return;
    const view = this.refresh();
    const e = this.usedOff + 4 + 8 * (this.usedIdx & (this.size - 1));
    view.setUint32(e, head, true);
    view.setUint32(e + 4, written, true);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    view.setUint16(this.usedOff + 2, this.usedIdx, true);
    this.mem.notifyWrite?.(this.mem.ramBase + e, 8);
    this.mem.notifyWrite?.(this.mem.ramBase + this.usedOff + 2, 2);
  }

  /**
   * Whether the driver wants an interrupt for the used entries pushed since the last call
   * (VRING_AVAIL_F_NO_INTERRUPT, or used_event with VIRTIO_F_EVENT_IDX).
   */
  needsInterrupt(): boolean {
    if (!this.ready) return false;
    const view = this.refresh();
    if (!this.eventIdx) return (view.getUint16(this.availOff, true) & VRING_AVAIL_F_NO_INTERRUPT) === 0;
    const now = this.usedIdx;
    const old = this.signalledUsed;
    const valid = this.signalledValid;
    this.signalledUsed = now;
    this.signalledValid = true;
    if (!valid) return true;
    const usedEvent = view.getUint16(this.availOff + 4 + 2 * this.size, true);
    return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
  }

  saveState(): VirtQueueState {
    return {
      size: this.size,
      ready: this.ready,
      desc: this.descAddr,
      driver: this.driverAddr,
      device: this.deviceAddr,
      lastAvail: this.lastAvail,
      usedIdx: this.usedIdx,
      signalledUsed: this.signalledUsed,
      signalledValid: this.signalledValid,
    };
  }

  /** Restores a saved queue (fields already type-checked by the transport); throws VirtioError if the rings are invalid. */
  loadState(s: VirtQueueState): void {
    this.size = s.size;
    this.descAddr = s.desc;
    this.driverAddr = s.driver;
    this.deviceAddr = s.device;
    this.lastAvail = s.lastAvail;
    this.usedIdx = s.usedIdx;
    this.signalledUsed = s.signalledUsed;
    this.signalledValid = s.signalledValid;
    this.ready = false;
    if (s.ready) this.activate();
  }
}
