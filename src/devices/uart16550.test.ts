import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Uart16550 } from './uart16550.ts';

function setup() {
  const out: number[] = [];
  const irq = {
    level: false,
    set(l: boolean) {
      this.level = l;
    },
  };
  let spaceCalls = 0;
  const uart = new Uart16550(
    irq,
    (b) => {
      out.push(b);
    },
    { onRxSpace: () => spaceCalls++ },
  );
  return { uart, out, irq, spaces: () => spaceCalls };
}

test('reset values: LSR idle, IIR no interrupt, MSR lines up', () => {
  const { uart } = setup();
  assert.equal(uart.read(5, 1), 0x60);
  assert.equal(uart.read(2, 1), 0x01);
  assert.equal(uart.read(6, 1), 0xb0);
});

test('Linux-style init: DLAB divisor, LCR 8N1, FIFO enable, then transmit', () => {
  const { uart, out } = setup();
  uart.write(3, 1, 0x80); // DLAB
  uart.write(0, 1, 0x01);
  uart.write(1, 1, 0x00);
  assert.equal(uart.read(0, 1), 0x01);
  uart.write(3, 1, 0x03); // 8N1, DLAB off
  uart.write(2, 1, 0xc7); // enable + clear FIFOs, trigger 14
  assert.equal(uart.read(2, 1) & 0xc0, 0xc0, 'FIFO bits in IIR');
  assert.equal(uart.read(3, 1), 0x03);
  for (const c of 'ok\n') uart.write(0, 1, c.charCodeAt(0));
  assert.equal(String.fromCharCode(...out), 'ok\n');
  uart.write(7, 1, 0x5a);
  assert.equal(uart.read(7, 1), 0x5a);
});

test('RX: FIFO of 16 with back-pressure, data-ready, interrupt priority over THRE', () => {
  const { uart, irq, spaces } = setup();
  uart.write(2, 1, 0x01 | 0x80); // FIFO, trigger 8
  assert.equal(uart.receive(Uint8Array.from({ length: 20 }, (_, i) => i + 1)), 16);
  assert.equal(uart.rxSpace(), 0);
  assert.equal(irq.level, false, 'interrupts disabled');
  uart.write(1, 1, 0x03); // RDI + THRI
  assert.equal(irq.level, true);
  assert.equal(uart.read(2, 1) & 0x0f, 0x04, 'RX data beats THRE');
  assert.equal(uart.read(5, 1) & 1, 1);
  assert.equal(uart.read(0, 1), 1);
  assert.equal(spaces(), 1, 'host told about free space');
  assert.equal(uart.rxSpace(), 1);
  for (let i = 0; i < 8; i++) uart.read(0, 1);
  assert.equal(uart.read(2, 1) & 0x0f, 0x0c, 'below trigger: character timeout');
  for (let i = 0; i < 7; i++) uart.read(0, 1);
  assert.equal(uart.read(5, 1) & 1, 0);
  assert.equal(uart.read(0, 1), 0, 'empty FIFO reads 0');
  // Now THRE is the source; reading IIR acknowledges it.
  assert.equal(uart.read(2, 1) & 0x0f, 0x02);
  assert.equal(uart.read(2, 1) & 0x0f, 0x01);
  assert.equal(irq.level, false);
});

test('THRE interrupt: raised when enabled, re-raised after each THR write', () => {
  const { uart, irq } = setup();
  uart.write(1, 1, 0x02);
  assert.equal(irq.level, true);
  assert.equal(uart.read(2, 1), 0x02);
  assert.equal(irq.level, false);
  uart.write(0, 1, 0x41);
  assert.equal(irq.level, true);
  uart.write(1, 1, 0x00);
  assert.equal(irq.level, false);
});

test('non-FIFO mode holds one byte', () => {
  const { uart } = setup();
  assert.equal(uart.receive([1, 2]), 1);
  uart.write(1, 1, 0x01);
  assert.equal(uart.read(2, 1), 0x04);
});

test('loopback: THR comes back on RBR and modem lines follow MCR', () => {
  const { uart, out } = setup();
  uart.write(2, 1, 0x01);
  uart.write(4, 1, 0x10 | 0x0f);
  uart.write(0, 1, 0x33);
  assert.deepEqual(out, []);
  assert.equal(uart.read(0, 1), 0x33);
  assert.equal(uart.read(6, 1) & 0xf0, 0xf0);
  uart.write(4, 1, 0x10);
  const msr = uart.read(6, 1);
  assert.equal(msr & 0xf0, 0);
  assert.equal(msr & 0x0b, 0x0b, 'delta bits set');
  assert.equal(uart.read(6, 1) & 0x0f, 0, 'cleared by reading');
});

test('saveState/loadState keeps registers and FIFO contents', () => {
  const a = setup();
  a.uart.write(2, 1, 0x01);
  a.uart.write(1, 1, 0x01);
  a.uart.receive([7, 8, 9]);
  const b = setup();
  b.uart.loadState(JSON.parse(JSON.stringify(a.uart.saveState())));
  assert.equal(b.irq.level, true);
  assert.deepEqual([b.uart.read(0, 1), b.uart.read(0, 1), b.uart.read(0, 1)], [7, 8, 9]);
  assert.throws(() => b.uart.loadState({ ...(a.uart.saveState() as object), ier: 999 }), /ier/);
});

test('TX: while the host takes no output, THR bytes wait in a 16-byte FIFO with THRE clear, then drain', () => {
  const out: number[] = [];
  let room = 0;
  const irq = {
    level: false,
    set(l: boolean) {
      this.level = l;
    },
  };
  const uart = new Uart16550(irq, (b) => {
    if (room === 0) return false;
    room--;
    out.push(b);
    return true;
  });
  uart.write(2, 1, 0x01); // FIFO on
  uart.write(1, 1, 0x02); // THRE interrupt
  assert.equal(uart.read(2, 1) & 0x0f, 0x02);
  for (let i = 0; i < 20; i++) uart.write(0, 1, 0x40 + i);
  assert.deepEqual(out, []);
  assert.equal(uart.read(5, 1) & 0x60, 0, 'THRE and TEMT clear: the transmitter is busy');
  assert.equal(irq.level, false, 'no THRE interrupt while busy');
  room = 10;
  uart.txResume();
  assert.equal(out.length, 10);
  assert.equal(uart.read(5, 1) & 0x60, 0);
  room = 100;
  uart.txResume();
  assert.deepEqual(
    out,
    Array.from({ length: 16 }, (_, i) => 0x40 + i),
    'the FIFO kept 16 bytes; the rest overran',
  );
  assert.equal(uart.read(5, 1) & 0x60, 0x60);
  assert.equal(irq.level, true, 'THRE interrupt once the FIFO emptied');
});

test('TX: bytes waiting in the FIFO survive saveState/loadState', () => {
  let accept = false;
  const out: number[] = [];
  const mk = () =>
    new Uart16550({ set: () => {} }, (b) => {
      if (!accept) return false;
      out.push(b);
      return true;
    });
  const a = mk();
  a.write(2, 1, 0x01);
  a.write(0, 1, 0x31);
  a.write(0, 1, 0x32);
  const b = mk();
  b.loadState(JSON.parse(JSON.stringify(a.saveState())));
  accept = true;
  b.txResume();
  assert.deepEqual(out, [0x31, 0x32]);
});
