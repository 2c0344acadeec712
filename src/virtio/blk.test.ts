import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtioMmio, R, STATUS_DEVICE_NEEDS_RESET, INT_USED_BUFFER } from './mmio.ts';
import {
  VirtioBlk,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  BLK_MAX_REQUEST_BYTES,
  type VirtioBlkOptions,
} from './blk.ts';
import { MemoryBackend, RecordingIrq, TestDriver, settle } from './testing.ts';

const BASE = 0x8000_0000;
const HDR = BASE + 0x10000;
const DATA = BASE + 0x20000;
const STATUS = BASE + 0x30000;

function setup(opts: VirtioBlkOptions = {}, size = 1 << 20, readOnly = false, qsize = 16) {
  const ram = new Uint8Array(1 << 20);
  const mem = { ram, ramBase: BASE };
  const backend = new MemoryBackend(size, readOnly);
  const irq = new RecordingIrq();
  const blk = new VirtioBlk(backend, opts);
  const dev = new VirtioMmio(mem, irq, blk);
  const drv = new TestDriver(dev, ram, BASE);
  drv.init([qsize], BASE + 0x1000);
  const view = new DataView(ram.buffer);
  const header = (type: number, sector: number, at = HDR) => {
    view.setUint32(at - BASE, type, true);
    view.setUint32(at - BASE + 4, 0, true);
    view.setUint32(at - BASE + 8, sector % 2 ** 32, true);
    view.setUint32(at - BASE + 12, Math.floor(sector / 2 ** 32), true);
  };
  const status = () => ram[STATUS - BASE];
  return { ram, mem, backend, irq, blk, dev, drv, view, header, status };
}

test('config space: capacity, seg_max, blk_size, discard limits, like Linux reads them', () => {
  const { dev } = setup({}, 8 << 20);
  assert.equal(dev.read(R.Config, 4), (8 << 20) / 512);
  assert.equal(dev.read(R.Config + 4, 4), 0);
  assert.equal(dev.read(R.Config + 12, 4), 254);
  assert.equal(dev.read(R.Config + 20, 4), 512);
  assert.equal(dev.read(R.Config + 36, 4), 0x3fffff);
  assert.equal(dev.read(R.Config + 40, 4), 1);
  assert.equal(dev.read(R.Config + 56, 1), 1);
  assert.equal(dev.read(R.DeviceID, 4), 2);
});

test('write then read round-trips through the backend, with status, used length and interrupt', async () => {
  // A clock that moves 0.3 ms each time it is read: every request takes 300 us.
  let clock = 0;
  const s = setup({ nowMs: () => (clock += 0.3) });
  const pattern = Uint8Array.from({ length: 1024 }, (_, i) => (i * 7) & 0xff);
  s.ram.set(pattern, DATA - BASE);
  s.header(VIRTIO_BLK_T_OUT, 3);
  s.ram[STATUS - BASE] = 0xff;
  // Data split over two segments to check the byte-stream view.
  s.drv.addChain(0, [
    { addr: HDR, len: 16 },
    { addr: DATA, len: 300 },
    { addr: DATA + 300, len: 724 },
    { addr: STATUS, len: 1, write: true },
  ]);
  s.drv.kick(0);
  assert.equal(s.blk.inflightCount, 1);
  await settle();
  assert.equal(s.status(), VIRTIO_BLK_S_OK);
  assert.deepEqual(s.backend.data.subarray(3 * 512, 3 * 512 + 1024), pattern);
  assert.deepEqual(s.drv.takeUsed(0), [{ id: 0, len: 1 }]);
  assert.equal(s.irq.level, true);
  assert.equal(s.drv.ack(), 1);
  assert.equal(s.irq.level, false);

  s.ram.fill(0, DATA - BASE, DATA - BASE + 1024);
  s.header(VIRTIO_BLK_T_IN, 3);
  s.drv.addChain(0, [
    { addr: HDR, len: 16 },
    { addr: DATA, len: 1000, write: true },
    { addr: DATA + 1000, len: 24, write: true },
    { addr: STATUS, len: 1, write: true },
  ]);
  s.drv.kick(0);
  await settle();
  assert.equal(s.status(), VIRTIO_BLK_S_OK);
  assert.deepEqual(s.ram.subarray(DATA - BASE, DATA - BASE + 1024), pattern);
  assert.deepEqual(s.drv.takeUsed(0), [{ id: 4, len: 1025 }]);
  // Counted for x-virtkit-query-stats.
  const { rdLatency, wrLatency, ...counts } = s.blk.stats;
  assert.deepEqual(counts, { rdBytes: 1024, wrBytes: 1024, rdOps: 1, wrOps: 1 });
  // 300 us: the 250..500 us bucket, once each for the read and the write.
  for (const h of [rdLatency, wrLatency]) {
    assert.deepEqual(h.counts.slice(0, 5), [0, 0, 0, 1, 0]);
    assert.equal(Math.round(h.sumUs), 300);
  }
});

test('status byte may share a descriptor with the data (any layout)', async () => {
  const s = setup();
  s.backend.data.fill(0xab, 0, 512);
  s.header(VIRTIO_BLK_T_IN, 0);
  s.drv.addChain(0, [
    { addr: HDR, len: 16 },
    { addr: DATA, len: 513, write: true },
  ]);
  s.drv.kick(0);
  await settle();
  assert.equal(s.ram[DATA - BASE + 511], 0xab);
  assert.equal(s.ram[DATA - BASE + 512], VIRTIO_BLK_S_OK);
});

test('out-of-range and unaligned requests fail with IOERR, unknown types with UNSUPP', async () => {
  const s = setup({}, 64 * 512);
  for (const [type, sector, len, want] of [
    [VIRTIO_BLK_T_IN, 64, 512, VIRTIO_BLK_S_IOERR],
    [VIRTIO_BLK_T_IN, 63, 1024, VIRTIO_BLK_S_IOERR],
    [VIRTIO_BLK_T_IN, 2 ** 53, 512, VIRTIO_BLK_S_IOERR],
    [VIRTIO_BLK_T_IN, 0, 100, VIRTIO_BLK_S_IOERR],
    [77, 0, 512, VIRTIO_BLK_S_UNSUPP],
    [VIRTIO_BLK_T_IN, 63, 512, VIRTIO_BLK_S_OK],
  ] as const) {
    s.header(type, sector);
    s.ram[STATUS - BASE] = 0xee;
    s.drv.addChain(0, [
      { addr: HDR, len: 16 },
      { addr: DATA, len, write: true },
      { addr: STATUS, len: 1, write: true },
    ]);
    s.drv.kick(0);
    await settle();
    assert.equal(s.status(), want, `type ${type} sector ${sector} len ${len}`);
  }
  assert.equal(s.dev.read(R.Status, 4) & STATUS_DEVICE_NEEDS_RESET, 0);
});

test('backend errors become IOERR', async () => {
  const s = setup();
  s.backend.failNext = 1;
  s.header(VIRTIO_BLK_T_IN, 0);
  s.drv.addChain(0, [
    { addr: HDR, len: 16 },
    { addr: DATA, len: 512, write: true },
    { addr: STATUS, len: 1, write: true },
  ]);
  s.drv.kick(0);
  await settle();
  assert.equal(s.status(), VIRTIO_BLK_S_IOERR);
  assert.equal(s.drv.takeUsed(0).length, 1);
});

test('read-only disks advertise RO and refuse writes', async () => {
  const s = setup({}, 1 << 20, true);
  assert.ok(s.drv.deviceFeatures()[0] & (1 << VIRTIO_BLK_F_RO));
  s.header(VIRTIO_BLK_T_OUT, 0);
  s.drv.addChain(0, [
    { addr: HDR, len: 16 },
    { addr: DATA, len: 512 },
    { addr: STATUS, len: 1, write: true },
  ]);
  s.drv.kick(0);
  await settle();
  assert.equal(s.status(), VIRTIO_BLK_S_IOERR);
  assert.equal(s.backend.log.length, 0);
});

test('FLUSH reaches the backend; GET_ID returns the serial', async () => {
  const s = setup({ serial: 'disk-0001' });
  s.header(VIRTIO_BLK_T_FLUSH, 0);
  s.drv.addChain(0, [
    { addr: HDR, len: 16 },
    { addr: STATUS, len: 1, write: true },
  ]);
  s.drv.kick(0);
  await settle();
  assert.equal(s.backend.flushes, 1);
  assert.equal(s.status(), VIRTIO_BLK_S_OK);

  s.ram.fill(0xff, DATA - BASE, DATA - BASE + 20);
  s.header(VIRTIO_BLK_T_GET_ID, 0);
  s.drv.addChain(0, [
    { addr: HDR, len: 16 },
    { addr: DATA, len: 20, write: true },
    { addr: STATUS, len: 1, write: true },
  ]);
  s.drv.kick(0);
  await settle();
  const id = s.ram.subarray(DATA - BASE, DATA - BASE + 20);
  assert.equal(String.fromCharCode(...id.subarray(0, 9)), 'disk-0001');
  assert.equal(id[9], 0);
  assert.deepEqual(s.drv.takeUsed(0).pop(), { id: 2, len: 21 });
});

test('DISCARD and WRITE_ZEROES honour the segment format and limits', async () => {
  const s = setup({ maxDiscardSeg: 2, maxDiscardSectors: 8 });
  s.backend.data.fill(0x55);
  const seg = (at: number, sector: number, n: number, flags: number) => {
    s.view.setUint32(at - BASE, sector, true);
    s.view.setUint32(at - BASE + 4, 0, true);
    s.view.setUint32(at - BASE + 8, n, true);
    s.view.setUint32(at - BASE + 12, flags, true);
  };
  const run = async (type: number, segs: number) => {
    s.header(type, 0);
    s.drv.addChain(0, [
      { addr: HDR, len: 16 },
      { addr: DATA, len: 16 * segs },
      { addr: STATUS, len: 1, write: true },
    ]);
    s.drv.kick(0);
    await settle();
    return s.status();
  };
  seg(DATA, 2, 2, 0);
  seg(DATA + 16, 10, 1, 0);
  assert.equal(await run(VIRTIO_BLK_T_DISCARD, 2), VIRTIO_BLK_S_OK);
  assert.equal(s.backend.data[2 * 512], 0);
  assert.equal(s.backend.data[4 * 512], 0x55);
  assert.equal(s.backend.data[10 * 512 + 511], 0);
  assert.equal(await run(VIRTIO_BLK_T_DISCARD, 3), VIRTIO_BLK_S_UNSUPP, 'too many segments');
  seg(DATA, 0, 9, 0);
  assert.equal(await run(VIRTIO_BLK_T_DISCARD, 1), VIRTIO_BLK_S_IOERR, 'too many sectors');
  seg(DATA, 0, 1, 1);
  assert.equal(await run(VIRTIO_BLK_T_DISCARD, 1), VIRTIO_BLK_S_UNSUPP, 'unmap flag on discard');
  seg(DATA, 20, 1, 1);
  assert.equal(await run(VIRTIO_BLK_T_WRITE_ZEROES, 1), VIRTIO_BLK_S_OK);
  assert.equal(s.backend.data[20 * 512], 0);
  assert.ok(s.backend.log.includes(`write-zeroes ${20 * 512} 512`));
  seg(DATA, 2048, 1, 0);
  assert.equal(await run(VIRTIO_BLK_T_WRITE_ZEROES, 1), VIRTIO_BLK_S_IOERR, 'past the end');
});

test('a request without a status byte puts the device into DEVICE_NEEDS_RESET with a config interrupt', () => {
  const s = setup();
  s.header(VIRTIO_BLK_T_IN, 0);
  s.drv.addChain(0, [{ addr: HDR, len: 16 }]);
  s.drv.kick(0);
  assert.ok(s.dev.read(R.Status, 4) & STATUS_DEVICE_NEEDS_RESET);
  assert.equal(s.dev.read(R.InterruptStatus, 4) & 2, 2);
  assert.match(s.dev.lastError ?? '', /status byte/);
  // Further kicks are ignored until the driver resets the device.
  s.drv.addChain(0, [
    { addr: HDR, len: 16 },
    { addr: STATUS, len: 1, write: true },
  ]);
  s.drv.kick(0);
  assert.equal(s.blk.inflightCount, 0);
});

test('completions of requests from before a reset are dropped', async () => {
  const s = setup();
  s.backend.hold = true;
  s.header(VIRTIO_BLK_T_IN, 0);
  s.drv.addChain(0, [
    { addr: HDR, len: 16 },
    { addr: DATA, len: 512, write: true },
    { addr: STATUS, len: 1, write: true },
  ]);
  s.drv.kick(0);
  s.drv.wr(R.Status, 0);
  s.backend.release();
  await settle();
  assert.equal(s.irq.level, false);
  assert.equal(s.drv.view.getUint16(s.drv.queues[0]!.used - BASE + 2, true), 0);
});

test('snapshot: in-flight requests are re-issued by loadState', async () => {
  const s = setup();
  s.backend.data.fill(0x42, 512, 1024);
  s.backend.hold = true;
  s.header(VIRTIO_BLK_T_IN, 1);
  s.drv.addChain(0, [
    { addr: HDR, len: 16 },
    { addr: DATA, len: 512, write: true },
    { addr: STATUS, len: 1, write: true },
  ]);
  s.drv.kick(0);
  const saved = JSON.parse(JSON.stringify(s.dev.saveState()));
  const ramCopy = s.ram.slice();

  // A fresh machine: same RAM, new device, state loaded.
  const ram2 = ramCopy;
  const irq2 = new RecordingIrq();
  const backend2 = s.backend;
  backend2.hold = false;
  const dev2 = new VirtioMmio({ ram: ram2, ramBase: BASE }, irq2, new VirtioBlk(backend2));
  dev2.loadState(saved);
  await settle();
  assert.equal(ram2[DATA - BASE], 0x42);
  assert.equal(ram2[STATUS - BASE], VIRTIO_BLK_S_OK);
  assert.equal(irq2.level, true);
  const d2 = new TestDriver(dev2, ram2, BASE);
  d2.queues[0] = { ...s.drv.queues[0]! };
  assert.deepEqual(d2.takeUsed(0), [{ id: 0, len: 513 }]);
});

test('loadState rejects malformed state with a named error', () => {
  const s = setup();
  assert.throws(() => s.dev.loadState({ version: 9 }), /unsupported state version/);
  const st = s.dev.saveState() as Record<string, unknown>;
  assert.throws(() => s.dev.loadState({ ...st, status: -1 }), /status/);
});

/** Posts `n` 4 KiB reads (sector 8*i into DATA + i*4097, status byte last), two descriptors each. */
function postReads(s: ReturnType<typeof setup>, n: number, first = 0): void {
  for (let i = first; i < first + n; i++) {
    s.header(VIRTIO_BLK_T_IN, 8 * i, HDR + 16 * i);
    s.drv.addChain(0, [
      { addr: HDR + 16 * i, len: 16 },
      { addr: DATA + 4097 * i, len: 4097, write: true },
    ]);
  }
  s.drv.kick(0);
}

/** Bytes of [from, from + len) in guest RAM that are not `value`. */
function differing(ram: Uint8Array, from: number, len: number, value: number): number {
  let n = 0;
  for (let i = from - BASE; i < from - BASE + len; i++) if (ram[i] !== value) n++;
  return n;
}

test('re-posting in-flight heads puts the device into DEVICE_NEEDS_RESET; in flight never exceeds the queue size', async () => {
  const s = setup();
  s.backend.hold = true;
  postReads(s, 1);
  assert.equal(s.blk.inflightCount, 1);
  // A hostile driver publishes the same head again and again before it completes.
  for (let k = 0; k < 1000; k++) {
    s.drv.publish(0, 0);
    s.drv.kick(0);
    assert.ok(s.blk.inflightCount <= 16, `${s.blk.inflightCount} requests in flight`);
    assert.ok(s.dev.queues[0]!.inflightCount <= 16, `${s.dev.queues[0]!.inflightCount} heads in flight`);
  }
  assert.ok(s.dev.read(R.Status, 4) & STATUS_DEVICE_NEEDS_RESET, 'needs reset');
  assert.match(s.dev.lastError ?? '', /head 0 .*still in flight/);
  assert.equal(s.blk.inflightCount, 1);
  assert.equal(s.backend.log.length, 1);
  s.backend.release();
  await settle();
  assert.equal(s.blk.inflightCount, 0);
  assert.equal(s.drv.takeUsed(0).length, 0, 'a device that needs a reset does not use buffers');
});

const USED_AREA = [BASE + 0x1000, 0x1000] as const; // descriptor table, avail and used rings of a 16-entry queue

async function resetWithReadsHeld(how: (s: ReturnType<typeof setup>) => void) {
  const s = setup();
  s.backend.data.fill(0xaa);
  s.backend.hold = true;
  postReads(s, 8);
  assert.equal(s.backend.log.length, 8);
  const raises = s.irq.raises;
  how(s);
  // The guest reuses its memory at once, as Linux does after a reset.
  s.ram.fill(0x11, DATA - BASE, DATA - BASE + 8 * 4097);
  const rings = s.ram.slice(USED_AREA[0] - BASE, USED_AREA[0] - BASE + USED_AREA[1]);
  s.backend.release();
  await settle();
  await settle();
  assert.equal(differing(s.ram, DATA, 8 * 4097, 0x11), 0, 'guest RAM untouched by stale reads');
  assert.deepEqual(s.ram.slice(USED_AREA[0] - BASE, USED_AREA[0] - BASE + USED_AREA[1]), rings, 'rings untouched');
  assert.equal(s.dev.interruptStatus & INT_USED_BUFFER, 0, 'no used-buffer interrupt');
  assert.equal(s.blk.inflightCount, 0);
  return { s, raises };
}

test('reset with reads in flight: they never reach guest RAM, the used ring or the interrupt line', async () => {
  const { s, raises } = await resetWithReadsHeld((s) => s.drv.wr(R.Status, 0));
  assert.equal(s.irq.raises, raises);
  // A fresh initialization and a sane request work.
  s.drv.init([16], BASE + 0x1000);
  postReads(s, 1);
  await settle();
  assert.equal(differing(s.ram, DATA, 4096, 0xaa), 0);
  assert.equal(s.ram[DATA - BASE + 4096], VIRTIO_BLK_S_OK);
  assert.deepEqual(s.drv.takeUsed(0), [{ id: 0, len: 4097 }]);
});

test('DEVICE_NEEDS_RESET with reads in flight: they never reach guest RAM or the used ring', async () => {
  await resetWithReadsHeld((s) => {
    s.drv.addChain(0, [{ addr: HDR, len: 16 }]); // no status byte: a driver error
    s.drv.kick(0);
    assert.ok(s.dev.read(R.Status, 4) & STATUS_DEVICE_NEEDS_RESET, 'needs reset');
  });
});

test('disabling the queue (QueueReady = 0) with reads in flight: they never reach guest RAM', async () => {
  await resetWithReadsHeld((s) => {
    s.drv.wr(R.QueueSel, 0);
    s.drv.wr(R.QueueReady, 0);
  });
});

test('after a reset, new requests wait until the old ones have finished (no stale write lands after a new one)', async () => {
  const s = setup();
  s.backend.data.fill(0xaa);
  s.backend.hold = true;
  postReads(s, 4);
  s.drv.wr(R.Status, 0);
  s.drv.init([16], BASE + 0x1000);
  s.ram.fill(0x11, DATA - BASE, DATA - BASE + 8 * 4097);
  postReads(s, 1, 5);
  assert.equal(s.backend.log.length, 4, 'the new request is not started while stale ones are in flight');
  s.backend.release();
  await settle();
  await settle();
  assert.equal(s.backend.log.length, 5);
  assert.equal(differing(s.ram, DATA, 5 * 4097, 0x11), 0, 'stale reads dropped');
  assert.equal(differing(s.ram, DATA + 5 * 4097, 4096, 0xaa), 0, 'the new read landed');
  assert.deepEqual(s.drv.takeUsed(0), [{ id: 0, len: 4097 }]);
  assert.equal(s.irq.level, true);
});

test('bytes in flight are capped: requests beyond the budget wait and then complete', async () => {
  const s = setup({ maxInflightBytes: 8192 });
  s.backend.data.fill(0x5a);
  s.backend.hold = true;
  postReads(s, 6);
  assert.equal(s.backend.log.length, 2);
  assert.equal(s.blk.inflightCount, 2);
  s.backend.release();
  for (let i = 0; i < 6; i++) await settle();
  assert.equal(s.backend.log.length, 6);
  assert.equal(s.drv.takeUsed(0).length, 6);
  assert.equal(differing(s.ram, DATA, 4096, 0x5a), 0);
  assert.equal(differing(s.ram, DATA + 5 * 4097, 4096, 0x5a), 0);
});

test(`a write over ${BLK_MAX_REQUEST_BYTES} bytes fails with IOERR without reaching the disk`, async () => {
  const s = setup({}, 16 << 20, false, 32);
  // 17 descriptors of 512 KiB over the same guest memory: 8.5 MiB.
  const bufs = Array.from({ length: 17 }, () => ({ addr: DATA, len: 512 << 10 }));
  s.header(VIRTIO_BLK_T_OUT, 0);
  s.drv.addChain(0, [{ addr: HDR, len: 16 }, ...bufs, { addr: STATUS, len: 1, write: true }]);
  s.drv.kick(0);
  await settle();
  assert.equal(s.status(), VIRTIO_BLK_S_IOERR);
  assert.equal(s.backend.log.length, 0);
  assert.equal(s.drv.takeUsed(0).length, 1);
});

test('startAfter: no disk I/O starts before the previous board has finished its own', async () => {
  let go!: () => void;
  const after = new Promise<void>((res) => (go = res));
  const s = setup({ startAfter: after });
  s.backend.data.fill(0x77);
  postReads(s, 2);
  await settle();
  assert.equal(s.backend.log.length, 0);
  go();
  await settle();
  await settle();
  assert.equal(s.backend.log.length, 2);
  assert.equal(s.drv.takeUsed(0).length, 2);
  assert.equal(differing(s.ram, DATA, 4096, 0x77), 0);
});

test(`a read over ${BLK_MAX_REQUEST_BYTES} bytes is served in pieces through one bounce buffer (U-Boot reads a whole kernel at once)`, async () => {
  const s = setup({}, 16 << 20, false, 32);
  for (let i = 0; i < 17; i++) s.backend.data.fill(i + 1, i * (512 << 10), (i + 1) * (512 << 10));
  // 17 descriptors of 512 KiB over the same guest memory: 8.5 MiB, read as 8 MiB then 512 KiB.
  const bufs = Array.from({ length: 17 }, () => ({ addr: DATA, len: 512 << 10, write: true }));
  s.header(VIRTIO_BLK_T_IN, 0);
  s.drv.addChain(0, [{ addr: HDR, len: 16 }, ...bufs, { addr: STATUS, len: 1, write: true }]);
  s.drv.kick(0);
  for (let i = 0; i < 4; i++) await settle();
  assert.equal(s.status(), VIRTIO_BLK_S_OK);
  assert.deepEqual(s.backend.log, [`read 0 ${8 << 20}`, `read ${8 << 20} ${512 << 10}`]);
  assert.equal(s.ram[DATA - BASE], 17, 'the last piece landed last');
  assert.deepEqual(s.drv.takeUsed(0), [{ id: 0, len: 17 * (512 << 10) + 1 }]);
});

test("the pieces of a big read land in order across the chain's buffers", async () => {
  const s = setup({ maxRequestBytes: 4096 }, 1 << 20);
  for (let i = 0; i < 3; i++) s.backend.data.fill(0x10 + i, i * 4096, (i + 1) * 4096);
  s.header(VIRTIO_BLK_T_IN, 0);
  s.drv.addChain(0, [
    { addr: HDR, len: 16 },
    { addr: DATA, len: 6000, write: true },
    { addr: DATA + 8192, len: 6288, write: true },
    { addr: STATUS, len: 1, write: true },
  ]);
  s.drv.kick(0);
  for (let i = 0; i < 6; i++) await settle();
  assert.equal(s.status(), VIRTIO_BLK_S_OK);
  assert.equal(s.backend.log.length, 3);
  assert.equal(s.ram[DATA - BASE + 4095], 0x10);
  assert.equal(s.ram[DATA - BASE + 4096], 0x11);
  assert.equal(s.ram[DATA - BASE + 5999], 0x11);
  assert.equal(s.ram[DATA + 8192 - BASE], 0x11);
  assert.equal(s.ram[DATA + 8192 - BASE + 6287], 0x12);
});
