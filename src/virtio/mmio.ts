/**
 * The virtio-mmio transport, version 2 (modern only), as QEMU's `virt` board exposes it at
 * 0x10001000 + 0x1000*i and Linux's virtio_mmio driver programs it (virtio 1.x, section 4.2.2).
 * Device behaviour lives in a VirtioDeviceModel (blk, console, rng); this class owns the
 * registers, feature negotiation, queues, the interrupt line and DEVICE_NEEDS_RESET.
 */
import type { IrqLine, MmioDevice } from '../memory/mmio.ts';
import { StateReader, subRead } from '../memory/state.ts';
import { VirtQueue, VirtioError, type GuestMemory, type VirtQueueState } from './virtqueue.ts';

export const VIRTIO_MMIO_MAGIC = 0x74726976; // "virt"
export const VIRTIO_VENDOR_QEMU = 0x554d4551; // "QEMU", what Linux sees on QEMU

export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_DEVICE_NEEDS_RESET = 0x40;
export const STATUS_FAILED = 0x80;

export const INT_USED_BUFFER = 1;
export const INT_CONFIG_CHANGE = 2;

/** Transport feature bits (bit numbers across the 64-bit feature space). */
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;

/** Register offsets. */
export const R = {
  MagicValue: 0x000,
  Version: 0x004,
  DeviceID: 0x008,
  VendorID: 0x00c,
  DeviceFeatures: 0x010,
  DeviceFeaturesSel: 0x014,
  DriverFeatures: 0x020,
  DriverFeaturesSel: 0x024,
  QueueSel: 0x030,
  QueueNumMax: 0x034,
  QueueNum: 0x038,
  QueueReady: 0x044,
  QueueNotify: 0x050,
  InterruptStatus: 0x060,
  InterruptACK: 0x064,
  Status: 0x070,
  QueueDescLow: 0x080,
  QueueDescHigh: 0x084,
  QueueDriverLow: 0x090,
  QueueDriverHigh: 0x094,
  QueueDeviceLow: 0x0a0,
  QueueDeviceHigh: 0x0a4,
  SHMSel: 0x0ac,
  SHMLenLow: 0x0b0,
  SHMLenHigh: 0x0b4,
  SHMBaseLow: 0x0b8,
  SHMBaseHigh: 0x0bc,
  ConfigGeneration: 0x0fc,
  Config: 0x100,
} as const;

/** What a device type (blk, console, rng ...) provides to the transport. */
export interface VirtioDeviceModel {
  readonly deviceId: number;
  /** Maximum size of each queue (QueueNumMax); the array length is the number of queues. */
  readonly queueSizes: readonly number[];
  /** Device-specific feature bits as [bits 0-31, bits 32-63]; the transport adds VERSION_1, EVENT_IDX, INDIRECT_DESC. */
  readonly features: readonly [number, number];
  /** The device configuration space (read at 0x100+, little-endian). */
  readonly config: Uint8Array;
  attach(transport: VirtioMmio): void;
  /** The driver wrote the config space (the bytes are already stored in `config`). */
  configWritten?(offset: number, size: number): void;
  /** The driver notified queue `index` (only called while DRIVER_OK and healthy). May throw VirtioError. */
  queueNotify(index: number): void;
  /** The driver set DRIVER_OK (e.g. to deliver input that arrived earlier). May throw VirtioError. */
  driverOk?(): void;
  /** Device reset: drop in-flight work and device state. */
  reset(): void;
  saveState(): object;
  /** Called after the transport and its queues are restored (guest RAM must already be loaded). */
  loadState(state: unknown): void;
}

const STATE_VERSION = 1;

export class VirtioMmio implements MmioDevice {
  readonly queues: VirtQueue[];
  status = 0;
  interruptStatus = 0;
  configGeneration = 0;
  /** Why the device last entered DEVICE_NEEDS_RESET (for logs and tests). */
  lastError: string | undefined;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private readonly driverFeatures = [0, 0];
  private queueSel = 0;
  private readonly deviceFeatures: [number, number];

  constructor(
    readonly mem: GuestMemory,
    private readonly irq: IrqLine,
    readonly device: VirtioDeviceModel,
    /** Called when the device enters DEVICE_NEEDS_RESET, with the reason. */
    private readonly onError?: (message: string) => void,
  ) {
    this.queues = device.queueSizes.map((n) => new VirtQueue(mem, n));
    this.deviceFeatures = [
      (device.features[0] | (1 << VIRTIO_F_INDIRECT_DESC) | (1 << VIRTIO_F_EVENT_IDX)) >>> 0,
      (device.features[1] | (1 << (VIRTIO_F_VERSION_1 - 32))) >>> 0,
    ];
    device.attach(this);
  }

  /** True once the driver accepted feature `bit` (valid after FEATURES_OK). */
  hasFeature(bit: number): boolean {
    return ((this.driverFeatures[bit >> 5]! >>> (bit & 31)) & 1) === 1;
  }

  /** Whether the device may process queues: driver running, no pending reset. */
  get live(): boolean {
    return (this.status & (STATUS_DRIVER_OK | STATUS_DEVICE_NEEDS_RESET)) === STATUS_DRIVER_OK;
  }

  private setIrq(bits: number): void {
    this.interruptStatus |= bits;
    this.irq.set(this.interruptStatus !== 0);
  }

  /** Raises the used-buffer interrupt for queue `index` if its suppression rules allow. */
  notifyUsed(index: number): void {
    const q = this.queues[index];
    if (q && this.live && q.needsInterrupt()) this.setIrq(INT_USED_BUFFER);
  }

  /** The device's configuration changed: bump ConfigGeneration and interrupt the driver. */
  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (this.status & STATUS_DRIVER_OK) this.setIrq(INT_CONFIG_CHANGE);
  }

  /**
   * A guest protocol violation: stop the device until the driver resets it (virtio 1.x 2.1.2).
   * The driver sees DEVICE_NEEDS_RESET and a configuration-change interrupt. Work in flight is
   * abandoned (queue epochs change): it must not write guest RAM or the used rings any more.
   */
  deviceError(message: string): void {
    this.lastError = message;
    if (this.status & STATUS_DEVICE_NEEDS_RESET) return;
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    for (const q of this.queues) q.abandon();
    this.onError?.(message);
    if (this.status & STATUS_DRIVER_OK) this.setIrq(INT_CONFIG_CHANGE);
  }

  /** Runs device work, turning any exception into DEVICE_NEEDS_RESET so nothing escapes to the host. */
  guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.deviceError(e instanceof VirtioError ? e.message : `internal error: ${String(e)}`);
    }
  }

  /**
   * A board reset (reboot): the device resets as if the driver wrote Status = 0, so work still
   * in flight is abandoned and never touches guest RAM.
   */
  boardReset(): void {
    this.reset();
  }

  private reset(): void {
    this.status = 0;
    this.interruptStatus = 0;
    this.irq.set(false);
    this.deviceFeaturesSel = this.driverFeaturesSel = this.queueSel = 0;
    this.driverFeatures[0] = this.driverFeatures[1] = 0;
    this.lastError = undefined;
    for (const q of this.queues) q.reset();
    this.device.reset();
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (offset >= R.Config) {
      const cfg = this.device.config;
      const o = offset - R.Config;
      if (o + size > cfg.length) return 0;
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = v * 256 + cfg[o + i]!;
      return v;
    }
    // Registers are 32-bit; narrower accesses read part of the word (Linux only uses 32-bit).
    return subRead(this.readReg(offset & ~3), offset, size);
  }

  private readReg(offset: number): number {
    const q = this.queues[this.queueSel];
    switch (offset) {
      case R.MagicValue:
        return VIRTIO_MMIO_MAGIC;
      case R.Version:
        return 2;
      case R.DeviceID:
        return this.device.deviceId;
      case R.VendorID:
        return VIRTIO_VENDOR_QEMU;
      case R.DeviceFeatures:
        return this.deviceFeaturesSel < 2 ? this.deviceFeatures[this.deviceFeaturesSel]! : 0;
      case R.QueueNumMax:
        return q ? q.maxSize : 0;
      case R.QueueReady:
        return q?.ready ? 1 : 0;
      case R.InterruptStatus:
        return this.interruptStatus;
      case R.Status:
        return this.status;
      case R.SHMLenLow:
      case R.SHMLenHigh:
        return 0xffffffff; // no shared memory regions
      case R.ConfigGeneration:
        return this.configGeneration;
      default:
        return 0;
    }
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset >= R.Config) {
      const cfg = this.device.config;
      const o = offset - R.Config;
      if (o + size > cfg.length || !this.device.configWritten) return;
      for (let i = 0; i < size; i++) cfg[o + i] = (value >>> (8 * i)) & 0xff;
      this.guard(() => this.device.configWritten!(o, size));
      return;
    }
    if (size !== 4 || offset & 3) return; // the spec requires 32-bit register writes
    value >>>= 0;
    const q = this.queues[this.queueSel];
    switch (offset) {
      case R.DeviceFeaturesSel:
        this.deviceFeaturesSel = value;
        return;
      case R.DriverFeatures:
        // Only before FEATURES_OK; bits the device does not offer are dropped, so FEATURES_OK checks the rest.
        if (this.driverFeaturesSel < 2 && !(this.status & STATUS_FEATURES_OK)) {
          this.driverFeatures[this.driverFeaturesSel] = value;
        }
        return;
      case R.DriverFeaturesSel:
        this.driverFeaturesSel = value;
        return;
      case R.QueueSel:
        this.queueSel = value;
        return;
      case R.QueueNum:
        if (q && !q.ready) q.size = value;
        return;
      case R.QueueReady:
        if (!q) return;
        if (value & 1) {
          if (!q.ready) this.guard(() => q.activate());
        } else if (q.ready) {
          q.disable(); // in-flight chains of this queue are abandoned
        }
        return;
      case R.QueueNotify:
        if (value < this.queues.length && this.live && this.queues[value]!.ready) {
          this.guard(() => this.device.queueNotify(value));
        }
        return;
      case R.InterruptACK:
        this.interruptStatus &= ~value;
        this.irq.set(this.interruptStatus !== 0);
        return;
      case R.Status:
        this.writeStatus(value);
        return;
      case R.QueueDescLow:
      case R.QueueDescHigh:
      case R.QueueDriverLow:
      case R.QueueDriverHigh:
      case R.QueueDeviceLow:
      case R.QueueDeviceHigh:
        if (q && !q.ready) this.setQueueAddr(q, offset, value);
        return;
      default:
        return;
    }
  }

  private setQueueAddr(q: VirtQueue, offset: number, value: number): void {
    const hi = (offset & 4) !== 0;
    const set = (old: number): number => {
      const lo = old % 0x1_0000_0000;
      const h = Math.floor(old / 0x1_0000_0000);
      return hi ? value * 0x1_0000_0000 + lo : h * 0x1_0000_0000 + value;
    };
    if (offset < R.QueueDriverLow) q.descAddr = set(q.descAddr);
    else if (offset < R.QueueDeviceLow) q.driverAddr = set(q.driverAddr);
    else q.deviceAddr = set(q.deviceAddr);
  }

  private writeStatus(value: number): void {
    value &= 0xff;
    if (value === 0) {
      this.reset();
      return;
    }
    const keep = this.status & STATUS_DEVICE_NEEDS_RESET;
    const added = value & ~this.status;
    if (added & STATUS_FEATURES_OK) {
      // Accept only a subset of what we offer that includes VERSION_1 (no legacy interface).
      const ok =
        (this.driverFeatures[0]! & ~this.deviceFeatures[0]) === 0 &&
        (this.driverFeatures[1]! & ~this.deviceFeatures[1]) === 0 &&
        this.hasFeature(VIRTIO_F_VERSION_1);
      if (!ok) value &= ~STATUS_FEATURES_OK;
    }
    if (added & STATUS_DRIVER_OK && !(value & STATUS_FEATURES_OK)) value &= ~STATUS_DRIVER_OK;
    this.status = value | keep;
    if (added & STATUS_DRIVER_OK && value & STATUS_DRIVER_OK) {
      const eventIdx = this.hasFeature(VIRTIO_F_EVENT_IDX);
      const indirect = this.hasFeature(VIRTIO_F_INDIRECT_DESC);
      for (const q of this.queues) {
        q.eventIdx = eventIdx;
        q.indirect = indirect;
      }
      if (this.device.driverOk) this.guard(() => this.device.driverOk!());
    }
  }

  saveState(): object {
    return {
      version: STATE_VERSION,
      status: this.status,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: [...this.driverFeatures],
      queueSel: this.queueSel,
      queues: this.queues.map((q) => q.saveState()),
      device: this.device.saveState(),
    };
  }

  /** Restores the transport and then the device. Guest RAM must be restored first. Throws StateError. */
  loadState(state: unknown): void {
    const name = `virtio-mmio(device ${this.device.deviceId})`;
    const r = StateReader.of(state, name, STATE_VERSION);
    const U32 = 0xffffffff;
    const queues = r.list('queues', this.queues.length, (qr, i) => {
      const s: VirtQueueState = {
        size: qr.int('size', 0, this.queues[i]!.maxSize),
        ready: qr.bool('ready'),
        desc: qr.int('desc', 0, Number.MAX_SAFE_INTEGER),
        driver: qr.int('driver', 0, Number.MAX_SAFE_INTEGER),
        device: qr.int('device', 0, Number.MAX_SAFE_INTEGER),
        lastAvail: qr.int('lastAvail', 0, 0xffff),
        usedIdx: qr.int('usedIdx', 0, 0xffff),
        signalledUsed: qr.int('signalledUsed', 0, 0xffff),
        signalledValid: qr.bool('signalledValid'),
      };
      return s;
    });
    if (queues.length !== this.queues.length)
      r.fail(`${queues.length} saved, the device (${name}) has ${this.queues.length}`, 'queues');
    this.status = r.int('status', 0, 0xff);
    this.interruptStatus = r.int('interruptStatus', 0, 3);
    this.configGeneration = r.int('configGeneration', 0, U32);
    this.deviceFeaturesSel = r.int('deviceFeaturesSel', 0, U32);
    this.driverFeaturesSel = r.int('driverFeaturesSel', 0, U32);
    const df = r.ints('driverFeatures', 0, U32, 2, 2);
    this.driverFeatures[0] = df[0]!;
    this.driverFeatures[1] = df[1]!;
    this.queueSel = r.int('queueSel', 0, U32);
    const eventIdx = this.hasFeature(VIRTIO_F_EVENT_IDX);
    const indirect = this.hasFeature(VIRTIO_F_INDIRECT_DESC);
    this.queues.forEach((q, i) => {
      q.reset();
      this.guard(() => q.loadState(queues[i]!));
      q.eventIdx = eventIdx;
      q.indirect = indirect;
    });
    this.irq.set(this.interruptStatus !== 0);
    // Rings the saved state points at may be broken (guest data): the device then needs a reset,
    // as for a live request. A malformed field of the state itself is a StateError for the caller.
    try {
      this.device.loadState(r.field('device'));
    } catch (e) {
      if (e instanceof VirtioError) this.deviceError(e.message);
      else throw e;
    }
  }
}
