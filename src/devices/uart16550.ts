/**
 * NS16550A UART as on QEMU's `virt` board (0x10000000, PLIC source 10, byte registers,
 * reg-shift 0). Linux's 8250 driver and OpenSBI's console drive it.
 *
 * Transmission is instantaneous while the host takes output: a THR write goes straight to the
 * output callback, so THR and the shift register are empty again (LSR.THRE|TEMT) and the THRE
 * interrupt fires again right away. When the output callback refuses a byte (the host's console
 * is behind or the turn's output budget is spent), bytes wait in a transmit FIFO (16 bytes, or 1
 * with FIFOs disabled; more are lost as on an overrun), THRE and TEMT read clear, and the guest
 * waits until txResume() moves them out and signals THRE. Received bytes wait in a bounded FIFO (16 bytes, or 1 with FIFOs disabled); the host
 * learns about free space from receive()'s return value, rxSpace() and the onRxSpace callback.
 * Without a timer, the character-timeout interrupt is reported as soon as bytes sit below the
 * trigger level, which is what a driver sees after the timeout anyway.
 */
import type { IrqLine, MmioDevice } from '../memory/mmio.ts';
import { StateReader } from '../memory/state.ts';

const IER_RDI = 0x01; // received data available
const IER_THRI = 0x02; // THR empty
const IER_RLSI = 0x04; // receiver line status
const IER_MSI = 0x08; // modem status

const IIR_NO_INT = 0x01;
const IIR_MSI = 0x00;
const IIR_THRI = 0x02;
const IIR_RDI = 0x04;
const IIR_RLSI = 0x06;
const IIR_CTI = 0x0c;
const IIR_FIFO = 0xc0;

const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

const MCR_LOOP = 0x10;
const LCR_DLAB = 0x80;
const FIFO_SIZE = 16;
const TRIGGER = [1, 4, 8, 14];

export interface Uart16550Options {
  /** Called when the guest frees FIFO space after receive() had refused bytes. */
  onRxSpace?: () => void;
}

export class Uart16550 implements MmioDevice {
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private lsrErrors = 0;
  private msr = 0xb0; // DCD, DSR, CTS asserted (QEMU's idle modem lines)
  private scr = 0;
  private dll = 0x0c; // 9600 baud at 1.8432 MHz, QEMU's reset value
  private dlm = 0;
  private fifoEnabled = false;
  private trigger = 1;
  private thrIpending = false;
  private readonly rx = new Uint8Array(FIFO_SIZE);
  /** Transmitted bytes the host has not taken yet. */
  private readonly tx = new Uint8Array(FIFO_SIZE);
  private txHead = 0;
  private txCount = 0;
  private rxHead = 0;
  private rxCount = 0;
  private starved = false;
  private irqLevel = false;

  constructor(
    private readonly irq: IrqLine,
    /** Takes one transmitted byte; returning false refuses it (it waits for txResume()). */
    private readonly output: (byte: number) => boolean | void,
    private readonly opts: Uart16550Options = {},
  ) {}

  private get fifoCapacity(): number {
    return this.fifoEnabled ? FIFO_SIZE : 1;
  }

  /** Free space in the receive FIFO. */
  rxSpace(): number {
    return Math.max(0, this.fifoCapacity - this.rxCount);
  }

  /** The host takes output again: sends the bytes waiting to go out, signalling THRE once all left. */
  txResume(): void {
    if (this.txCount === 0) return;
    while (this.txCount > 0 && this.output(this.tx[this.txHead]!) !== false) {
      this.txHead = (this.txHead + 1) % FIFO_SIZE;
      this.txCount--;
    }
    if (this.txCount === 0) {
      this.thrIpending = true;
      this.update();
    }
  }

  private transmit(value: number): void {
    if (this.txCount === 0 && this.output(value) !== false) {
      // The byte left at once: THR is empty again and THRE is signalled anew.
      this.thrIpending = true;
      return;
    }
    // Held until txResume(); a full FIFO loses the byte, as an overrun would.
    if (this.txCount < this.fifoCapacity) {
      this.tx[(this.txHead + this.txCount) % FIFO_SIZE] = value;
      this.txCount++;
    }
  }

  /** Host input: queues as many bytes as fit and returns that count (the rest must be retried). */
  receive(bytes: Uint8Array | readonly number[]): number {
    const n = Math.min(bytes.length, this.rxSpace());
    for (let i = 0; i < n; i++) this.pushRx(bytes[i]!);
    if (n < bytes.length) this.starved = true;
    this.update();
    return n;
  }

  private pushRx(b: number): void {
    this.rx[(this.rxHead + this.rxCount) % FIFO_SIZE] = b & 0xff;
    this.rxCount++;
  }

  private iir(): number {
    let id = IIR_NO_INT;
    if (this.ier & IER_RLSI && this.lsrErrors) id = IIR_RLSI;
    else if (this.ier & IER_RDI && this.rxCount > 0)
      id = this.fifoEnabled && this.rxCount < this.trigger ? IIR_CTI : IIR_RDI;
    else if (this.ier & IER_THRI && this.thrIpending) id = IIR_THRI;
    else if (this.ier & IER_MSI && this.msr & 0x0f) id = IIR_MSI;
    return id | (this.fifoEnabled ? IIR_FIFO : 0);
  }

  private update(): void {
    const level = (this.iir() & IIR_NO_INT) === 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case 0: {
        if (dlab) return this.dll;
        if (this.rxCount === 0) return 0;
        const b = this.rx[this.rxHead]!;
        this.rxHead = (this.rxHead + 1) % FIFO_SIZE;
        this.rxCount--;
        this.update();
        if (this.starved) {
          this.starved = false;
          this.opts.onRxSpace?.();
        }
        return b;
      }
      case 1:
        return dlab ? this.dlm : this.ier;
      case 2: {
        const v = this.iir();
        // Reading IIR while it reports THRE acknowledges that interrupt.
        if ((v & 0x0f) === IIR_THRI) {
          this.thrIpending = false;
          this.update();
        }
        return v;
      }
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5: {
        const v = (this.rxCount > 0 ? LSR_DR : 0) | (this.txCount === 0 ? LSR_THRE | LSR_TEMT : 0) | this.lsrErrors;
        if (this.lsrErrors) {
          this.lsrErrors = 0;
          this.update();
        }
        return v;
      }
      case 6: {
        const v = this.msr;
        if (v & 0x0f) {
          this.msr &= 0xf0;
          this.update();
        }
        return v;
      }
      case 7:
        return this.scr;
      default:
        return 0;
    }
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    value &= 0xff;
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case 0:
        if (dlab) {
          this.dll = value;
          return;
        }
        if (this.mcr & MCR_LOOP) {
          if (this.rxCount < this.fifoCapacity) this.pushRx(value);
          else this.lsrErrors |= LSR_OE;
          // The byte left at once: THR is empty again and THRE is signalled anew.
          this.thrIpending = true;
        } else {
          this.transmit(value);
        }
        break;
      case 1:
        if (dlab) {
          this.dlm = value;
          return;
        }
        if (value & IER_THRI && !(this.ier & IER_THRI) && this.txCount === 0) this.thrIpending = true;
        this.ier = value & 0x0f;
        break;
      case 2: {
        const enable = (value & 1) !== 0;
        if (enable !== this.fifoEnabled || value & 2) this.rxHead = this.rxCount = 0;
        if (enable !== this.fifoEnabled || value & 4) {
          // Clearing the transmit FIFO empties THR: the driver may go on writing.
          if (this.txCount > 0) this.thrIpending = true;
          this.txHead = this.txCount = 0;
        }
        this.fifoEnabled = enable;
        this.trigger = TRIGGER[value >> 6]!;
        break;
      }
      case 3:
        this.lcr = value;
        return;
      case 4:
        this.setMcr(value & 0x1f);
        break;
      case 7:
        this.scr = value;
        return;
      default:
        return;
    }
    this.update();
  }

  /** In loopback the modem inputs follow the outputs: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2. */
  private setMcr(value: number): void {
    this.mcr = value;
    const lines =
      value & MCR_LOOP ? ((value & 2) << 3) | ((value & 1) << 5) | ((value & 4) << 4) | ((value & 8) << 4) : 0xb0;
    const changed = (lines ^ this.msr) & 0xf0;
    // Delta bits: DCTS, DDSR, TERI (on RI falling), DDCD.
    let delta = 0;
    if (changed & 0x10) delta |= 0x01;
    if (changed & 0x20) delta |= 0x02;
    if (changed & 0x40 && !(lines & 0x40)) delta |= 0x04;
    if (changed & 0x80) delta |= 0x08;
    this.msr = lines | (this.msr & 0x0f) | delta;
  }

  saveState(): object {
    const rx: number[] = [];
    for (let i = 0; i < this.rxCount; i++) rx.push(this.rx[(this.rxHead + i) % FIFO_SIZE]!);
    const tx: number[] = [];
    for (let i = 0; i < this.txCount; i++) tx.push(this.tx[(this.txHead + i) % FIFO_SIZE]!);
    return {
      version: 1,
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      lsrErrors: this.lsrErrors,
      msr: this.msr,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      fifoEnabled: this.fifoEnabled,
      trigger: this.trigger,
      thrIpending: this.thrIpending,
      rx,
      // Absent when empty (and in snapshots from before the transmit FIFO).
      ...(tx.length ? { tx } : {}),
    };
  }

  loadState(state: unknown): void {
    const r = StateReader.of(state, 'uart16550', 1);
    this.ier = r.int('ier', 0, 0x0f);
    this.lcr = r.int('lcr', 0, 0xff);
    this.mcr = r.int('mcr', 0, 0x1f);
    this.lsrErrors = r.int('lsrErrors', 0, 0xff) & LSR_OE;
    this.msr = r.int('msr', 0, 0xff);
    this.scr = r.int('scr', 0, 0xff);
    this.dll = r.int('dll', 0, 0xff);
    this.dlm = r.int('dlm', 0, 0xff);
    this.fifoEnabled = r.bool('fifoEnabled');
    const trigger = r.int('trigger', 1, 14);
    if (!TRIGGER.includes(trigger)) r.fail(`expected one of ${TRIGGER.join(', ')}, got ${trigger}`, 'trigger');
    this.trigger = trigger;
    this.thrIpending = r.bool('thrIpending');
    const rx = r.ints('rx', 0, 255, this.fifoEnabled ? FIFO_SIZE : 1);
    this.rxHead = 0;
    this.rxCount = 0;
    for (const b of rx) this.pushRx(b);
    const tx = r.raw('tx') === undefined ? [] : r.ints('tx', 0, 255, this.fifoEnabled ? FIFO_SIZE : 1);
    this.tx.set(tx);
    this.txHead = 0;
    this.txCount = tx.length;
    this.irqLevel = (this.iir() & IIR_NO_INT) === 0;
    this.irq.set(this.irqLevel);
  }
}
