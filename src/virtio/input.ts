/**
 * virtio-input (device ID 18, virtio 1.x section 5.8) as a power button: an evdev device with one
 * key, KEY_POWER. QEMU's riscv `virt` board has no ACPI power button; this is the one a guest
 * sees instead. Linux's virtio_input driver exposes it as /dev/input/eventN, where busybox acpid
 * or systemd-logind (udev tags any device with a KEY_* capability "power-switch") turn a press
 * into a clean shutdown.
 *
 * Queue 0 = eventq (device -> driver, 8-byte events: le16 type, le16 code, le32 value), queue 1 =
 * statusq (driver -> device: LED and similar feedback, which a button has no use for; each chain
 * is returned unread). A press is EV_KEY KEY_POWER 1, EV_SYN, EV_KEY KEY_POWER 0, EV_SYN; events
 * wait for eventq buffers, at most MAX_PENDING_EVENTS of them: beyond that the oldest whole
 * press not yet started is dropped (never the rest of a press the driver has seen begin, or the
 * key would stay down and later presses would be ignored).
 *
 * Presses are only taken while a driver runs (DRIVER_OK): a driver starts with a device reset,
 * which drops pending events, so anything queued earlier would be lost anyway.
 */
import { StateReader } from '../memory/state.ts';
import type { VirtioDeviceModel, VirtioMmio } from './mmio.ts';
import { DescChain, VirtioError } from './virtqueue.ts';

export const VIRTIO_ID_INPUT = 18;

/** virtio_input_config.select values. */
export const INPUT_CFG = {
  UNSET: 0x00,
  ID_NAME: 0x01,
  ID_SERIAL: 0x02,
  ID_DEVIDS: 0x03,
  PROP_BITS: 0x10,
  EV_BITS: 0x11,
  ABS_INFO: 0x12,
} as const;

/** Linux input event types and codes (include/uapi/linux/input-event-codes.h). */
export const EV_SYN = 0x00;
export const EV_KEY = 0x01;
export const SYN_REPORT = 0;
export const KEY_POWER = 116;
export const BUS_VIRTUAL = 0x06;

export const POWER_BUTTON_NAME = 'virtkit power button';
export const POWER_BUTTON_SERIAL = 'virtkit-power-0';
/** Vendor/product in ID_DEVIDS: QEMU's virtio-input vendor id (0x0627) and our own product number. */
const DEVIDS = { bustype: BUS_VIRTUAL, vendor: 0x0627, product: 0x0001, version: 0x0001 };

/** Size of the configuration space: select, subsel, size, 5 reserved, a 128-byte union. */
export const INPUT_CONFIG_SIZE = 136;
const U = 8; // offset of the union
const EVENT_BYTES = 8;
/** The events of one press. */
const PRESS: ReadonlyArray<readonly [number, number, number]> = [
  [EV_KEY, KEY_POWER, 1],
  [EV_SYN, SYN_REPORT, 0],
  [EV_KEY, KEY_POWER, 0],
  [EV_SYN, SYN_REPORT, 0],
];
/** Events waiting for eventq buffers (16 presses). */
export const MAX_PENDING_EVENTS = 64;
const STATE_VERSION = 1;

export class VirtioInput implements VirtioDeviceModel {
  readonly deviceId = VIRTIO_ID_INPUT;
  readonly queueSizes: readonly number[];
  readonly features: readonly [number, number] = [0, 0];
  readonly config = new Uint8Array(INPUT_CONFIG_SIZE);
  private transport!: VirtioMmio;
  private readonly chain = new DescChain();
  private readonly event = new Uint8Array(EVENT_BYTES);
  private readonly eventView = new DataView(this.event.buffer);
  /**
   * Events not yet delivered. They are always the tail of a run of whole presses, so a count says
   * which they are: the first is PRESS[(4 - pending % 4) % 4], and so on.
   */
  private pending = 0;
  /** Presses dropped because too many waited (for diagnostics and tests). */
  dropped = 0;

  constructor(queueSize = 64) {
    this.queueSizes = [queueSize, queueSize];
  }

  attach(transport: VirtioMmio): void {
    this.transport = transport;
  }

  reset(): void {
    this.pending = 0;
    this.config.fill(0);
  }

  /** Events waiting for eventq buffers. */
  get pendingEvents(): number {
    return this.pending;
  }

  /**
   * Presses and releases the power button. Returns false (and does nothing) when no driver runs
   * the device: the guest would never see the press.
   */
  press(): boolean {
    const t = this.transport;
    if (!t?.live) return false;
    if (this.pending + PRESS.length > MAX_PENDING_EVENTS) {
      this.pending -= PRESS.length; // a whole press after any part-delivered one
      this.dropped++;
    }
    this.pending += PRESS.length;
    t.guard(() => this.deliver());
    return true;
  }

  driverOk(): void {
    this.deliver();
  }

  queueNotify(index: number): void {
    if (index === 0) this.deliver();
    else if (index === 1) this.drainStatus();
  }

  /** The driver chose what to read: select (offset 0) and subsel (1). Everything else is rebuilt. */
  configWritten(): void {
    const select = this.config[0]!;
    const subsel = this.config[1]!;
    this.config.fill(0, 2);
    const c = this.config;
    const setString = (s: string) => {
      for (let i = 0; i < s.length; i++) c[U + i] = s.charCodeAt(i);
      c[2] = s.length;
    };
    const setBits = (bits: number[]) => {
      let size = 0;
      for (const b of bits) {
        c[U + (b >> 3)]! |= 1 << (b & 7);
        size = Math.max(size, (b >> 3) + 1);
      }
      c[2] = size;
    };
    switch (select) {
      case INPUT_CFG.ID_NAME:
        if (subsel === 0) setString(POWER_BUTTON_NAME);
        break;
      case INPUT_CFG.ID_SERIAL:
        if (subsel === 0) setString(POWER_BUTTON_SERIAL);
        break;
      case INPUT_CFG.ID_DEVIDS:
        if (subsel === 0) {
          const v = new DataView(c.buffer, c.byteOffset + U, 8);
          v.setUint16(0, DEVIDS.bustype, true);
          v.setUint16(2, DEVIDS.vendor, true);
          v.setUint16(4, DEVIDS.product, true);
          v.setUint16(6, DEVIDS.version, true);
          c[2] = 8;
        }
        break;
      case INPUT_CFG.EV_BITS:
        // Only the two event types a press uses; every other type (and PROP_BITS, ABS_INFO) has size 0.
        if (subsel === EV_KEY) setBits([KEY_POWER]);
        else if (subsel === EV_SYN) setBits([SYN_REPORT]);
        break;
      default:
        break;
    }
  }

  /** Writes pending events into posted eventq buffers, one event per buffer. */
  private deliver(): void {
    if (this.pending === 0) return;
    const q = this.transport.queues[0]!;
    const ram = this.transport.mem.ram;
    let pushed = false;
    try {
      while (this.pending > 0 && q.pop(this.chain)) {
        if (this.chain.writeBytes < EVENT_BYTES)
          throw new VirtioError(
            `eventq buffer ${this.chain.head} has ${this.chain.writeBytes} writable bytes, an event needs ${EVENT_BYTES}`,
          );
        const [type, code, value] = PRESS[(PRESS.length - (this.pending % PRESS.length)) % PRESS.length]!;
        this.eventView.setUint16(0, type, true);
        this.eventView.setUint16(2, code, true);
        this.eventView.setUint32(4, value, true);
        this.chain.copyIn(ram, 0, this.event);
        q.complete(this.chain, EVENT_BYTES);
        this.pending--;
        pushed = true;
      }
    } finally {
      if (pushed) this.transport.notifyUsed(0);
    }
  }

  /** statusq: feedback for LEDs and the like, which a power button has none of; returned unread. */
  private drainStatus(): void {
    const q = this.transport.queues[1]!;
    let pushed = false;
    // Bounded: pop() refuses more chains than the queue holds, and the guest cannot add any meanwhile.
    while (q.pop(this.chain)) {
      q.complete(this.chain, 0);
      pushed = true;
    }
    if (pushed) this.transport.notifyUsed(1);
  }

  saveState(): object {
    return { version: STATE_VERSION, pending: this.pending, select: this.config[0]!, subsel: this.config[1]! };
  }

  loadState(state: unknown): void {
    const r = StateReader.of(state, 'virtio-input', STATE_VERSION);
    const pending = r.int('pending', 0, MAX_PENDING_EVENTS);
    const select = r.int('select', 0, 255);
    const subsel = r.int('subsel', 0, 255);
    this.pending = pending;
    this.config[0] = select;
    this.config[1] = subsel;
    this.configWritten();
    // Buffers the driver posted before the save may now take events that were waiting.
    if (this.transport.live) this.deliver();
  }
}
