import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus, type CodeCacheClient } from './bus.ts';
import type { MmioDevice } from './mmio.ts';

class Recorder implements MmioDevice {
  log: string[] = [];
  read(offset: number, size: 1 | 2 | 4): number {
    this.log.push(`r${size}@${offset}`);
    return 0x11223344 >>> (32 - 8 * size);
  }
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.log.push(`w${size}@${offset}=${value.toString(16)}`);
  }
}

test('RAM views share one buffer; physical read/write of RAM', () => {
  const bus = new Bus(0x80000000, 1 << 16);
  assert.equal(bus.ram.length, 1 << 16);
  assert.ok(bus.write(0x80000010, 4, 0xdeadbeef));
  assert.equal(bus.ramI32[4], 0xdeadbeef | 0);
  assert.equal(bus.read(0x80000010, 2), 0xbeef);
  assert.equal(bus.read(0x80000013, 1), 0xde);
  assert.equal(bus.read(0x80000010, 4), 0xdeadbeef);
});

test('devices see offsets; unmapped addresses report -1/false', () => {
  const bus = new Bus(0x80000000, 1 << 16);
  const dev = new Recorder();
  bus.addDevice('rec', 0x10000000, 0x100, dev);
  assert.equal(bus.read(0x10000008, 4), 0x11223344);
  assert.ok(bus.write(0x10000004, 2, 0xabcd));
  assert.deepEqual(dev.log, ['r4@8', 'w2@4=abcd']);
  assert.equal(bus.read(0x20000000, 4), -1);
  assert.equal(bus.write(0x20000000, 4, 1), false);
  assert.equal(bus.findDevice(0x100000fe, 4), undefined); // straddles the end
  assert.equal(bus.devices().length, 1);
});

test('overlapping regions are rejected when the board is built', () => {
  const bus = new Bus(0x80000000, 1 << 16);
  bus.addDevice('a', 0x1000, 0x1000, new Recorder());
  assert.throws(() => bus.addDevice('b', 0x1800, 0x1000, new Recorder()), /overlaps a/);
  assert.throws(() => bus.addDevice('c', 0x80008000, 0x10, new Recorder()), /overlaps RAM/);
  assert.throws(() => bus.addDevice('d', -1, 0x10, new Recorder()), /bad range/);
  bus.addDevice('e', 0x2000, 0x1000, new Recorder()); // adjacent is fine
  assert.throws(() => new Bus(0x80000000, 1000), /multiple of 4096/);
});

test('code pages: marking notifies write-translation holders; writes drop decodings', () => {
  const bus = new Bus(0x80000000, 1 << 16);
  const events: string[] = [];
  const client: CodeCacheClient = {
    dropWriteTranslations: (p) => events.push(`drop-w ${p}`),
    dropDecodedPage: (p) => events.push(`drop-d ${p}`),
  };
  bus.attach(client);
  bus.markCode(3);
  bus.markCode(3); // already a code page: no second notification
  assert.equal(bus.codePages[3], 1);
  bus.write(0x80003004, 4, 1);
  assert.equal(bus.codePages[3], 0);
  bus.write(0x80003004, 4, 1); // no longer code: nothing to drop
  bus.markCode(5);
  bus.notifyWrite(0x80004ff0, 0x20);
  assert.deepEqual(events, ['drop-w 3', 'drop-d 3', 'drop-w 5', 'drop-d 5']);
});
