/**
 * Goldfish RTC (QEMU `virt` at 0x101000, PLIC source 11), driven by Linux's rtc-goldfish.
 * Time is nanoseconds since the Unix epoch from a wall-clock callback plus an offset the guest
 * sets by writing TIME_HIGH then TIME_LOW. Reading TIME_LOW latches the high half, so a
 * LOW-then-HIGH read pair is consistent. The alarm fires when the host calls update() (or on
 * any register access) at or after the programmed time, raising the IRQ if enabled.
 */
import type { IrqLine, MmioDevice } from '../memory/mmio.ts';
import { StateReader } from '../memory/state.ts';

const TIME_LOW = 0x00;
const TIME_HIGH = 0x04;
const ALARM_LOW = 0x08;
const ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14;
const ALARM_STATUS = 0x18;
const CLEAR_INTERRUPT = 0x1c;
const M32 = 0xffffffffn;
const M64 = (1n << 64n) - 1n;

/** Nanoseconds since the Unix epoch. */
export type WallClock = () => bigint;

const systemClock: WallClock = () => BigInt(Date.now()) * 1_000_000n;

export class GoldfishRtc implements MmioDevice {
  private offset = 0n;
  private timeHighLatch = 0;
  private alarmHighLatch = 0;
  private alarm = 0n;
  private alarmArmed = false;
  private irqEnabled = false;
  private irqPending = false;

  constructor(
    private readonly irq: IrqLine,
    private readonly wallClock: WallClock = systemClock,
  ) {}

  /** Guest-visible time in ns. */
  now(): bigint {
    return (this.wallClock() + this.offset) & M64;
  }

  /** Fires the alarm if its time has come. */
  update(): void {
    if (this.alarmArmed && this.now() >= this.alarm) {
      this.alarmArmed = false;
      this.irqPending = true;
    }
    this.irq.set(this.irqPending && this.irqEnabled);
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    this.update();
    switch (offset & ~3) {
      case TIME_LOW: {
        const t = this.now();
        this.timeHighLatch = Number((t >> 32n) & M32);
        return Number(t & M32);
      }
      case TIME_HIGH:
        return this.timeHighLatch;
      case ALARM_LOW:
        return Number(this.alarm & M32);
      case ALARM_HIGH:
        return Number((this.alarm >> 32n) & M32);
      case IRQ_ENABLED:
        return this.irqEnabled ? 1 : 0;
      case ALARM_STATUS:
        return this.alarmArmed ? 1 : 0;
      default:
        return 0;
    }
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    const v = BigInt(value >>> 0);
    switch (offset & ~3) {
      case TIME_LOW: {
        const target = (BigInt(this.timeHighLatch) << 32n) | v;
        this.offset = target - this.wallClock();
        break;
      }
      case TIME_HIGH:
        this.timeHighLatch = value >>> 0;
        break;
      case ALARM_LOW:
        this.alarm = (BigInt(this.alarmHighLatch) << 32n) | v;
        this.alarmArmed = true;
        break;
      case ALARM_HIGH:
        this.alarmHighLatch = value >>> 0;
        break;
      case IRQ_ENABLED:
        this.irqEnabled = (value & 1) === 1;
        break;
      case CLEAR_ALARM:
        this.alarmArmed = false;
        break;
      case CLEAR_INTERRUPT:
        this.irqPending = false;
        break;
      default:
        return;
    }
    this.update();
  }

  saveState(): object {
    // The guest's time is saved as an offset from the host clock, so restored guests keep their setting.
    return {
      version: 1,
      offset: this.offset.toString(),
      timeHighLatch: this.timeHighLatch,
      alarmHighLatch: this.alarmHighLatch,
      alarm: this.alarm.toString(),
      alarmArmed: this.alarmArmed,
      irqEnabled: this.irqEnabled,
      irqPending: this.irqPending,
    };
  }

  loadState(state: unknown): void {
    const r = StateReader.of(state, 'goldfish-rtc', 1);
    const big = (field: string): bigint => {
      const s = r.str(field, 21);
      if (!/^-?\d{1,20}$/.test(s)) r.fail(`expected a decimal integer string, got ${JSON.stringify(s)}`, field);
      return BigInt(s);
    };
    this.offset = big('offset');
    this.alarm = big('alarm') & M64;
    this.timeHighLatch = r.int('timeHighLatch', 0, 0xffffffff);
    this.alarmHighLatch = r.int('alarmHighLatch', 0, 0xffffffff);
    this.alarmArmed = r.bool('alarmArmed');
    this.irqEnabled = r.bool('irqEnabled');
    this.irqPending = r.bool('irqPending');
    this.update();
  }
}
