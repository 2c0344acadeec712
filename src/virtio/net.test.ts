import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtioMmio, R } from './mmio.ts';
import {
  VirtioNet,
  NET_HDR_LEN,
  TX_TURN_BYTES,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MRG_RXBUF,
} from './net.ts';
import { buildTcp, parseTcp } from '../net/tcp.ts';
import { RecordingIrq, TestDriver } from './testing.ts';
import { ManualTimers, type NetBackend } from '../net/types.ts';
import { EthernetSwitch } from '../net/switch.ts';
import { buildUdp } from '../net/udp.ts';
import { parseIpv4 } from '../net/ipv4.ts';
import { parseUdp } from '../net/udp.ts';
import { pseudoSum, put16 } from '../net/bytes.ts';

const BASE = 0x8000_0000;
const MAC = new Uint8Array([0x52, 0x54, 0, 0x12, 0x34, 0x56]);

class LoopBackend implements NetBackend {
  readonly sent: Uint8Array[] = [];
  flushes = 0;
  deliver!: (f: Uint8Array, gso?: number) => void;
  setReceiveOffload?: (n: number) => void;
  checksumsValid = true;
  transmit(frame: Uint8Array): void {
    this.sent.push(frame.slice());
  }
  connect(d: (f: Uint8Array, gso?: number) => void): void {
    this.deliver = d;
  }
  flush(): void {
    this.flushes++;
  }
  close(): void {}
}

function setup(backlogFrames = 4) {
  const ram = new Uint8Array(0x80000);
  const be = new LoopBackend();
  const irq = new RecordingIrq();
  const net = new VirtioNet(be, { mac: MAC, backlogFrames });
  const dev = new VirtioMmio({ ram, ramBase: BASE }, irq, net);
  const drv = new TestDriver(dev, ram, BASE);
  return { ram, be, irq, net, dev, drv };
}

const FRAME = buildUdp(
  MAC,
  new Uint8Array([2, 0, 0, 0, 0, 1]),
  0x0a000202,
  1234,
  0x0a00020f,
  5678,
  new TextEncoder().encode('hi'),
);
const frame = () => FRAME.slice();

test('config space holds the MAC and link-up status; MAC and STATUS are offered', () => {
  const { dev, drv } = setup();
  assert.equal(dev.read(R.DeviceID, 4), 1);
  const [lo] = drv.deviceFeatures();
  assert.ok(lo & (1 << VIRTIO_NET_F_MAC));
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((i) => dev.read(R.Config + i, 1)),
    [...MAC],
  );
  assert.equal(dev.read(R.Config + 6, 2), 1);
});

test('rx: frames land in posted buffers after a 12-byte header; without buffers they wait in a bounded backlog', () => {
  const { ram, be, irq, net, drv } = setup(2);
  drv.init([16, 16], BASE + 0x1000);
  be.deliver(frame());
  be.deliver(frame());
  be.deliver(frame()); // backlog holds 2
  assert.equal(net.backlogLength, 2);
  assert.equal(net.stats.rxDropped, 1);
  drv.addChain(0, [{ addr: BASE + 0x10000, len: 1526, write: true }]);
  drv.addChain(0, [{ addr: BASE + 0x11000, len: 1526, write: true }]);
  drv.kick(0);
  const used = drv.takeUsed(0);
  assert.equal(used.length, 2);
  const f = frame();
  assert.equal(used[0]!.len, NET_HDR_LEN + f.length);
  assert.deepEqual(ram.subarray(0x10000 + NET_HDR_LEN, 0x10000 + NET_HDR_LEN + f.length), f);
  assert.equal(ram[0x10000], 2, 'DATA_VALID: the backend guarantees checksums');
  assert.equal(ram[0x10000 + 10], 1, 'num_buffers');
  assert.ok(irq.raises > 0);
  // A buffer posted first takes the next frame directly.
  drv.addChain(0, [{ addr: BASE + 0x12000, len: 1526, write: true }]);
  be.deliver(frame());
  assert.equal(drv.takeUsed(0).length, 1);
  assert.equal(net.backlogLength, 0);
  // Counted for x-virtkit-query-stats: frames delivered and their bytes (without the header).
  assert.equal(net.stats.rxFrames, 3);
  assert.equal(net.stats.rxBytes, 3 * f.length);
});

test('tx: the header is stripped, a partial checksum is completed, the backend is flushed per batch', () => {
  const { ram, be, drv, net } = setup();
  drv.init([16, 16], BASE + 0x1000, [(1 << VIRTIO_NET_F_CSUM) | (1 << VIRTIO_NET_F_MAC), 1]);
  const f = frame();
  const udpOff = 34;
  // Replace the checksum with the pseudo-header sum, as a guest using checksum offload does.
  const len = f.length - udpOff;
  let seed = pseudoSum(0x0a000202, 0x0a00020f, 17, len);
  while (seed > 0xffff) seed = (seed & 0xffff) + (seed >>> 16);
  put16(f, udpOff + 6, seed);
  const hdr = new Uint8Array(NET_HDR_LEN);
  hdr[0] = 1; // NEEDS_CSUM
  put16(hdr, 6, 0); // little-endian fields written below
  hdr[6] = udpOff;
  hdr[8] = 6;
  ram.set(hdr, 0x20000);
  ram.set(f, 0x20100);
  drv.addChain(1, [
    { addr: BASE + 0x20000, len: NET_HDR_LEN },
    { addr: BASE + 0x20100, len: f.length },
  ]);
  drv.kick(1);
  assert.equal(be.sent.length, 1);
  assert.equal(be.flushes, 1);
  const sent = be.sent[0]!;
  const ip = parseIpv4(sent);
  assert.ok(typeof ip !== 'string');
  const u = parseUdp(sent, ip);
  assert.ok(typeof u !== 'string', `checksum verifies after completion: ${String(u)}`);
  assert.equal(net.stats.txFrames, 1);
  assert.equal(net.stats.txBytes, f.length);
});

test('tx: runt frames, GSO without negotiation and bad checksum offsets are dropped; rx buffers too small lose the frame', () => {
  const { ram, be, net, drv } = setup();
  drv.init([16, 16], BASE + 0x1000, [1 << VIRTIO_NET_F_GUEST_CSUM, 1]);
  drv.addChain(1, [{ addr: BASE + 0x20000, len: 10 }]);
  ram.fill(0, 0x21000, 0x21100);
  ram[0x21001] = 1; // gso_type TCPV4
  drv.addChain(1, [{ addr: BASE + 0x21000, len: 100 }]);
  ram.fill(0, 0x22000, 0x22100);
  ram[0x22000] = 1; // NEEDS_CSUM, not negotiated
  drv.addChain(1, [{ addr: BASE + 0x22000, len: 100 }]);
  drv.kick(1);
  assert.equal(be.sent.length, 0);
  assert.equal(net.stats.txDropped, 3);
  assert.equal(drv.takeUsed(1).length, 3, 'every chain is returned');
  drv.addChain(0, [{ addr: BASE + 0x30000, len: 20, write: true }]);
  be.deliver(frame());
  assert.deepEqual(drv.takeUsed(0), [{ id: 0, len: 0 }]);
  assert.equal(net.stats.rxDropped, 1);
});

test('link down drops traffic and raises a config interrupt; state round-trips', () => {
  const { be, net, drv, dev } = setup();
  drv.init([16, 16], BASE + 0x1000);
  drv.ack();
  net.setLink(false);
  assert.equal(dev.read(R.Config + 6, 2), 0);
  assert.equal(drv.ack() & 2, 2);
  be.deliver(frame());
  assert.equal(net.backlogLength, 0);
  const s = net.saveState();
  net.setLink(true);
  net.loadState(s);
  assert.equal(net.linkUp, false);
  assert.throws(() => net.loadState({ version: 1, mac: [1, 2], link: true, held: [] }));
  assert.throws(() => net.loadState({ version: 1, mac: [1, 2, 3, 4, 5, 6], link: true, held: [-1] }));
});

test('tx: a TSO request (gso TCPV4) is cut into MSS-sized frames; without HOST_TSO4 it is dropped', () => {
  const { ram, be, net, drv } = setup();
  drv.init([16, 16], BASE + 0x1000, [(1 << VIRTIO_NET_F_CSUM) | (1 << VIRTIO_NET_F_HOST_TSO4), 1]);
  const data = new Uint8Array(4000).map((_, i) => i & 255);
  const big = buildTcp(
    MAC,
    MAC,
    0x0a00020f,
    0x0a000202,
    { srcPort: 5, dstPort: 80, seq: 1, ack: 2, flags: 0x18, window: 9 },
    data,
  );
  const hdr = new Uint8Array(NET_HDR_LEN);
  hdr[1] = 1; // GSO_TCPV4
  hdr[4] = 1448 & 255;
  hdr[5] = 1448 >> 8;
  ram.set(hdr, 0x20000);
  ram.set(big, 0x20100);
  drv.addChain(1, [
    { addr: BASE + 0x20000, len: NET_HDR_LEN },
    { addr: BASE + 0x20100, len: big.length },
  ]);
  drv.kick(1);
  assert.deepEqual(
    be.sent.map((f) => f.length),
    [54 + 1448, 54 + 1448, 54 + 1104],
  );
  assert.equal(net.stats.txFrames, 3);
  const plain = setup();
  plain.drv.init([16, 16], BASE + 0x1000, [1 << VIRTIO_NET_F_CSUM, 1]);
  plain.ram.set(hdr, 0x20000);
  plain.ram.set(big, 0x20100);
  plain.drv.addChain(1, [
    { addr: BASE + 0x20000, len: NET_HDR_LEN },
    { addr: BASE + 0x20100, len: big.length },
  ]);
  plain.drv.kick(1);
  assert.equal(plain.be.sent.length, 0);
  assert.equal(plain.net.stats.txDropped, 1);
});

test('rx with MRG_RXBUF + GUEST_TSO4: a large TCP segment spans buffers with num_buffers and a GSO header', () => {
  const { ram, be, net, drv } = setup();
  const feats: [number, number] = [
    (1 << VIRTIO_NET_F_GUEST_CSUM) | (1 << VIRTIO_NET_F_GUEST_TSO4) | (1 << VIRTIO_NET_F_MRG_RXBUF),
    1,
  ];
  let offload = -1;
  be.setReceiveOffload = (n: number) => (offload = n);
  drv.init([16, 16], BASE + 0x1000, feats);
  assert.ok(offload > 60000, 'the backend learns it may send large segments');
  const data = new Uint8Array(4000).map((_, i) => (i * 3) & 255);
  const big = buildTcp(
    MAC,
    MAC,
    0x0a000202,
    0x0a00020f,
    { srcPort: 80, dstPort: 5, seq: 1, ack: 2, flags: 0x18, window: 9 },
    data,
  );
  drv.addChain(0, [{ addr: BASE + 0x10000, len: 1536, write: true }]);
  drv.addChain(0, [{ addr: BASE + 0x11000, len: 1536, write: true }]);
  be.deliver(big, 1448); // needs 3 buffers, only 2 posted: it waits
  assert.equal(drv.takeUsed(0).length, 0);
  assert.equal(net.backlogLength, 1);
  drv.addChain(0, [{ addr: BASE + 0x12000, len: 1536, write: true }]);
  drv.kick(0);
  const used = drv.takeUsed(0);
  assert.deepEqual(
    used.map((u) => u.len),
    [1536, 1536, NET_HDR_LEN + big.length - 3072],
  );
  const hdr = ram.subarray(0x10000, 0x10000 + NET_HDR_LEN);
  assert.equal(hdr[0], 1, 'NEEDS_CSUM');
  assert.equal(hdr[1], 1, 'GSO_TCPV4');
  assert.equal(hdr[4]! | (hdr[5]! << 8), 1448);
  assert.equal(hdr[6], 34, 'csum_start at the TCP header');
  assert.equal(hdr[8], 16);
  assert.equal(hdr[10], 3, 'num_buffers');
  const got = new Uint8Array([
    ...ram.subarray(0x10000 + NET_HDR_LEN, 0x10000 + 1536),
    ...ram.subarray(0x11000, 0x11000 + 1536),
    ...ram.subarray(0x12000, 0x12000 + used[2]!.len),
  ]);
  assert.deepEqual(got.subarray(54), data);
  assert.deepEqual(got.subarray(0, 50), big.subarray(0, 50));
  // Reset tells the backend to go back to MTU-sized frames.
  drv.wr(0x070, 0);
  assert.equal(offload, 0);
});

test('control queue: rx mode and MAC table commands filter received frames; bad commands get ERR', () => {
  const { ram, be, net, drv } = setup();
  drv.init([16, 16, 8], BASE + 0x1000);
  const ctrl = (bytes: number[]): number => {
    ram.set(bytes, 0x40000);
    ram[0x41000] = 0xee;
    drv.addChain(2, [
      { addr: BASE + 0x40000, len: bytes.length },
      { addr: BASE + 0x41000, len: 1, write: true },
    ]);
    drv.kick(2);
    assert.equal(drv.takeUsed(2).length, 1);
    return ram[0x41000]!;
  };
  const to = (dst: number[]) => {
    const f = frame();
    f.set(dst, 0);
    return f;
  };
  const OTHER = [0x52, 0x54, 0, 0, 0, 9];
  const MCAST = [0x01, 0, 0x5e, 0, 0, 1];
  // Promiscuous until the driver says otherwise.
  be.deliver(to(OTHER));
  assert.equal(net.stats.rxFiltered, 0);
  assert.equal(ctrl([0, 0, 0]), 0, 'PROMISC off');
  assert.equal(ctrl([0, 1, 0]), 0, 'ALLMULTI off');
  be.deliver(to(OTHER));
  be.deliver(to(MCAST));
  be.deliver(to([...MAC]));
  be.deliver(to([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  assert.equal(net.stats.rxFiltered, 2, 'other unicast and unlisted multicast are dropped');
  // MAC tables: one extra unicast address, one multicast group.
  assert.equal(ctrl([1, 0, 1, 0, 0, 0, ...OTHER, 1, 0, 0, 0, ...MCAST]), 0);
  be.deliver(to(OTHER));
  be.deliver(to(MCAST));
  assert.equal(net.stats.rxFiltered, 2);
  // Malformed: a table count past the end, an unknown class, a command with no ack buffer space.
  assert.equal(ctrl([1, 0, 9, 0, 0, 0, 1, 2]), 1);
  assert.equal(ctrl([7, 0]), 1);
  // Changing the MAC.
  assert.equal(ctrl([1, 1, 0x52, 0x54, 0, 1, 2, 3]), 0);
  assert.deepEqual([...net.mac], [0x52, 0x54, 0, 1, 2, 3]);
  assert.equal(ctrl([1, 1, 0x01, 0x54, 0, 1, 2, 3]), 1, 'a multicast MAC is refused');
  // The filter survives a snapshot and is cleared by a reset.
  const s = net.saveState();
  drv.wr(0x070, 0);
  assert.equal(net.filter.promisc, true);
  net.loadState(JSON.parse(JSON.stringify(s)));
  assert.equal(net.filter.promisc, false);
});

test('fuzz: random headers, frames and control commands never raise an internal error', () => {
  const { ram, be, dev, drv } = setup();
  drv.init([16, 16, 8], BASE + 0x1000);
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 16777216;
  const base = frame();
  for (let i = 0; i < 3000; i++) {
    const len = Math.floor(rnd() * 1700);
    const buf = new Uint8Array(len);
    for (let k = 0; k < len; k++)
      buf[k] =
        k >= NET_HDR_LEN && k - NET_HDR_LEN < base.length && rnd() < 0.9
          ? base[k - NET_HDR_LEN]!
          : Math.floor(rnd() * 256);
    ram.set(buf, 0x50000);
    const q = i % 3 === 2 ? 2 : 1;
    drv.addChain(
      q,
      q === 2
        ? [
            { addr: BASE + 0x50000, len },
            { addr: BASE + 0x51000, len: Math.floor(rnd() * 3), write: true },
          ]
        : [{ addr: BASE + 0x50000, len }],
    );
    drv.kick(q);
    drv.takeUsed(q);
    if (i % 7 === 0) {
      drv.addChain(0, [{ addr: BASE + 0x60000, len: Math.floor(rnd() * 2000), write: true }]);
      be.deliver(base, rnd() < 0.1 ? 1448 : undefined);
      drv.takeUsed(0);
    }
  }
  assert.equal(dev.lastError, undefined, dev.lastError);
});

test('rx chains held for a large frame survive a snapshot and are used after the restore', () => {
  const a = setup();
  const feats: [number, number] = [(1 << VIRTIO_NET_F_GUEST_TSO4) | (1 << VIRTIO_NET_F_MRG_RXBUF), 1];
  a.drv.init([16, 16], BASE + 0x1000, feats);
  const big = buildTcp(
    MAC,
    MAC,
    1,
    2,
    { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0x10, window: 1 },
    new Uint8Array(4000),
  );
  a.drv.addChain(0, [{ addr: BASE + 0x10000, len: 1536, write: true }]);
  a.drv.addChain(0, [{ addr: BASE + 0x11000, len: 1536, write: true }]);
  a.be.deliver(big, 1448); // holds both chains, needs a third
  const saved = JSON.parse(JSON.stringify(a.dev.saveState()));
  assert.deepEqual(saved.device.held, [0, 1]);
  const b = setup();
  b.ram.set(a.ram);
  b.dev.loadState(saved);
  b.drv.queues[0] = a.drv.queues[0]!; // the guest driver's view of the ring carries over with RAM
  b.drv.addChain(0, [{ addr: BASE + 0x12000, len: 1536, write: true }]);
  b.be.deliver(big, 1448);
  assert.deepEqual(
    b.drv.takeUsed(0).map((u) => u.id),
    [0, 1, 2],
  );
});

const MRG: [number, number] = [(1 << VIRTIO_NET_F_GUEST_TSO4) | (1 << VIRTIO_NET_F_MRG_RXBUF), 1];
const heldOf = (net: VirtioNet) => Number(/held=(\d+)/.exec(net.describe())![1]);
const needsReset = (dev: VirtioMmio) => (dev.status & 0x40) !== 0;

test('rx with MRG_RXBUF: re-posted zero-length chains put the device in NEEDS_RESET instead of being held', () => {
  const { net, dev, drv, be } = setup();
  drv.init([16, 16], BASE + 0x1000, MRG);
  be.deliver(frame()); // waits in the backlog: no buffers yet
  const head = drv.addChain(0, [{ addr: BASE + 0x10000, len: 0, write: true }]);
  drv.kick(0);
  for (let i = 0; i < 1000 && !needsReset(dev); i++) {
    drv.publish(0, head);
    drv.kick(0);
  }
  assert.ok(needsReset(dev), 'a receive chain without writable bytes is a driver error');
  assert.match(dev.lastError ?? '', /rx|receive/);
  assert.ok(heldOf(net) <= 16, `held ${heldOf(net)} chains on a 16-entry queue`);
});

test('rx with MRG_RXBUF: a chain with no writable descriptor, or fewer bytes than the header, is a driver error', () => {
  for (const bufs of [[{ addr: BASE + 0x10000, len: 64 }], [{ addr: BASE + 0x10000, len: 4, write: true }]]) {
    const { dev, drv, be } = setup();
    drv.init([16, 16], BASE + 0x1000, MRG);
    drv.addChain(0, bufs);
    be.deliver(frame());
    assert.ok(needsReset(dev), JSON.stringify(bufs));
  }
});

test('rx with MRG_RXBUF: a frame the whole ring cannot hold is dropped; held chains never exceed the queue', () => {
  const { net, dev, drv, be, ram } = setup();
  drv.init([16, 16], BASE + 0x1000, MRG);
  for (let i = 0; i < 16; i++) drv.addChain(0, [{ addr: BASE + 0x10000 + 128 * i, len: 100, write: true }]);
  const big = buildTcp(
    MAC,
    MAC,
    1,
    2,
    { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0x10, window: 1 },
    new Uint8Array(4000),
  );
  be.deliver(big, 1448); // needs 41 buffers of 100 bytes; the ring has 16
  assert.equal(net.stats.rxDropped, 1);
  assert.ok(heldOf(net) <= 16);
  assert.equal(net.backlogLength, 0);
  assert.equal(needsReset(dev), false);
  be.deliver(frame()); // the held buffers still serve a small frame
  const used = drv.takeUsed(0);
  assert.equal(used.length, 1);
  assert.equal(used[0]!.len, NET_HDR_LEN + frame().length);
  assert.equal(ram[0x10000 + 10], 1, 'num_buffers');
});

test('rx: the backlog is bounded in bytes as well as frames', () => {
  const { net, drv, be } = setup(10_000);
  drv.init([16, 16], BASE + 0x1000, MRG);
  const big = buildTcp(
    MAC,
    MAC,
    1,
    2,
    { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0x10, window: 1 },
    new Uint8Array(60000),
  );
  for (let i = 0; i < 1000; i++) be.deliver(big, 1448);
  assert.ok(net.backlogLength * big.length <= 8 * 1024 * 1024, `backlog ${net.backlogLength} frames`);
  assert.equal(net.backlogLength + net.stats.rxDropped, 1000);
});

/** Places a TSO request (header + frame) in one tx chain; returns the head. */
function postTso(
  s: { ram: Uint8Array; drv: TestDriver },
  frameBytes: Uint8Array,
  gsoSize: number,
  opts: { type?: number; hdrLen?: number; csum?: [number, number] } = {},
) {
  const hdr = new Uint8Array(NET_HDR_LEN);
  hdr[1] = opts.type ?? 1;
  put16le(hdr, 2, opts.hdrLen ?? 54);
  put16le(hdr, 4, gsoSize);
  if (opts.csum) {
    hdr[0] = 1;
    put16le(hdr, 6, opts.csum[0]);
    put16le(hdr, 8, opts.csum[1]);
  }
  // Each request gets its own bytes (several may wait in the ring together), wrapping at the end of RAM.
  const len = NET_HDR_LEN + frameBytes.length;
  let at = nextTso.get(s.ram) ?? 0x20000;
  if (at + len > s.ram.length) at = 0x20000;
  nextTso.set(s.ram, (at + len + 15) & ~15);
  s.ram.set(hdr, at);
  s.ram.set(frameBytes, at + NET_HDR_LEN);
  return s.drv.addChain(1, [{ addr: BASE + at, len }]);
}
const nextTso = new WeakMap<Uint8Array, number>();
function put16le(b: Uint8Array, o: number, v: number) {
  b[o] = v & 255;
  b[o + 1] = v >> 8;
}
const TSO: [number, number] = [(1 << VIRTIO_NET_F_CSUM) | (1 << VIRTIO_NET_F_HOST_TSO4), 1];
const tcpFrame = (n: number) =>
  buildTcp(
    MAC,
    MAC,
    0x0a00020f,
    0x0a000202,
    { srcPort: 5, dstPort: 80, seq: 1, ack: 2, flags: 0x18, window: 9 },
    new Uint8Array(n).map((_, i) => (i * 7) & 255),
  );

test('tx TSO: gso_size below the minimum MSS is dropped and counted, not cut into thousands of frames', () => {
  const s = setup();
  s.drv.init([16, 16], BASE + 0x1000, TSO);
  postTso(s, tcpFrame(4000), 1);
  s.drv.kick(1);
  assert.equal(s.be.sent.length, 0);
  assert.equal(s.net.stats.txDropped, 1);
  assert.equal(s.net.stats.txBadGso, 1);
  assert.equal(s.drv.takeUsed(1).length, 1, 'the chain is returned');
  postTso(s, tcpFrame(4000), 87);
  s.drv.kick(1);
  assert.equal(s.be.sent.length, 0);
  postTso(s, tcpFrame(880), 88);
  s.drv.kick(1);
  assert.equal(s.be.sent.length, 10, 'the minimum itself is accepted');
  assert.equal(s.dev.lastError, undefined);
});

test('tx TSO: unnegotiated gso types, ECN, hdr_len or checksum offsets past the frame and over-MTU segments are dropped', () => {
  const s = setup();
  s.drv.init([16, 16], BASE + 0x1000, TSO);
  const f = tcpFrame(4000);
  postTso(s, f, 1448, { type: 0x81 }); // TCPV4 | ECN (HOST_ECN not offered)
  postTso(s, f, 1448, { type: 3 }); // UDP
  postTso(s, f, 1448, { type: 4 }); // TCPV6
  postTso(s, f, 1448, { hdrLen: f.length + 1 });
  postTso(s, f, 1448, { csum: [f.length - 1, 16] });
  postTso(s, f, 1448, { csum: [14, 16] }); // csum_start not at the TCP header
  postTso(s, f, 9000); // segments larger than the 1518-byte frame limit
  s.drv.kick(1);
  assert.equal(s.be.sent.length, 0);
  assert.equal(s.net.stats.txDropped, 7);
  assert.equal(s.net.stats.txBadGso, 7);
  assert.equal(s.dev.lastError, undefined);
  postTso(s, f, 1448, { csum: [34, 16] }); // what Linux sends
  s.drv.kick(1);
  assert.equal(s.be.sent.length, 3);
});

test('tx TSO: a 64 KiB segment is cut into valid MSS-sized frames carrying every byte', () => {
  const s = setup();
  s.drv.init([16, 16], BASE + 0x1000, TSO);
  const payload = 65535 - 40;
  const f = tcpFrame(payload);
  postTso(s, f, 1448, { csum: [34, 16] });
  s.drv.kick(1);
  assert.equal(s.be.sent.length, Math.ceil(payload / 1448));
  let total = 0;
  let seq = 1;
  for (const seg of s.be.sent) {
    const ip = parseIpv4(seg);
    assert.ok(typeof ip !== 'string', String(ip));
    const t = parseTcp(seg, ip);
    assert.ok(typeof t !== 'string', String(t));
    assert.equal(t.seq, seq);
    assert.deepEqual(t.data, f.subarray(54 + total, 54 + total + t.data.length));
    seq += t.data.length;
    total += t.data.length;
  }
  assert.equal(total, payload);
});

test('tx: segmentation work per notification is bounded; the rest is resumed by poll()', () => {
  const s = setup();
  s.drv.init([16, 16], BASE + 0x1000, TSO);
  const f = tcpFrame(65535 - 40);
  const perFrame = Math.ceil((65535 - 40) / 88);
  for (let i = 0; i < 16; i++) postTso(s, f, 88);
  s.drv.kick(1);
  const first = s.be.sent.length;
  assert.ok(first > 0 && first <= 1024 + perFrame, `first turn sent ${first}`);
  assert.equal(s.net.txPending, true);
  s.drv.kick(1);
  assert.equal(s.be.sent.length, first, 'kicks within one turn share its budget');
  let turns = 1;
  let max = first;
  while (s.net.txPending && turns < 1000) {
    const before = s.be.sent.length;
    s.net.poll();
    max = Math.max(max, s.be.sent.length - before);
    turns++;
  }
  assert.equal(s.be.sent.length, 16 * perFrame);
  assert.equal(s.drv.takeUsed(1).length, 16);
  assert.ok(turns > 4 && max <= 1024 + perFrame, `${turns} turns, at most ${max} frames each`);
  assert.equal(s.net.stats.txFrames, 16 * perFrame);
});

test('tx: work left over by a device that then fails is not pending (the VM may sleep)', () => {
  const s = setup();
  s.drv.init([16, 16], BASE + 0x1000, TSO);
  const f = tcpFrame(65535 - 40);
  for (let i = 0; i < 4; i++) postTso(s, f, 88);
  s.drv.kick(1);
  assert.equal(s.net.txPending, true);
  s.dev.deviceError('test: driver error');
  s.net.poll();
  assert.equal(s.net.txPending, false);
});

/** A backend that takes large TCP segments whole (transmit offload), recording their gso size. */
class OffloadBackend extends LoopBackend {
  readonly gso: Array<number | undefined> = [];
  constructor(readonly transmitOffload = 14 + 65535) {
    super();
  }
  override transmit(frame: Uint8Array, gsoSize?: number): void {
    super.transmit(frame);
    this.gso.push(gsoSize);
  }
}

function setupWith<B extends NetBackend>(be: B) {
  const ram = new Uint8Array(0x80000);
  const irq = new RecordingIrq();
  const net = new VirtioNet(be, { mac: MAC, backlogFrames: 4 });
  const dev = new VirtioMmio({ ram, ramBase: BASE }, irq, net);
  const drv = new TestDriver(dev, ram, BASE);
  return { ram, be, irq, net, dev, drv };
}

/** A TSO request as Linux builds it: IP total length of the whole packet, TCP checksum partial. */
function linuxTso(payload: number): Uint8Array {
  const f = tcpFrame(payload);
  put16(f, 34 + 16, 0xbeef);
  return f;
}

test('tx offload: a backend that opted in gets a 64 KiB segment whole, with its gso size and a valid IP header', () => {
  const be = new OffloadBackend();
  const s = setupWith(be);
  s.drv.init([16, 16], BASE + 0x1000, TSO);
  const f = linuxTso(65535 - 40);
  put16(f, 14 + 2, 0); // some guests leave tot_len 0 for GSO: the frame length counts
  postTso(s, f, 1448, { csum: [34, 16] });
  s.drv.kick(1);
  assert.equal(be.sent.length, 1);
  assert.deepEqual(be.gso, [1448]);
  const out = be.sent[0]!;
  assert.equal(out.length, f.length);
  const ip = parseIpv4(out);
  assert.ok(typeof ip !== 'string', String(ip));
  assert.equal(ip.payloadLen, 65535 - 20);
  assert.deepEqual(out.subarray(54), f.subarray(54), 'payload untouched');
  const t = parseTcp(out, ip, false);
  assert.ok(typeof t !== 'string');
  assert.equal(t.seq, 1);
  assert.equal(s.net.stats.txFrames, 1);
  assert.equal(s.drv.takeUsed(1).length, 1);
  // Frames without GSO still arrive alone, checksummed, with no gso size.
  s.ram.set(new Uint8Array(NET_HDR_LEN), 0x30000);
  s.ram.set(FRAME, 0x30000 + NET_HDR_LEN);
  s.drv.addChain(1, [{ addr: BASE + 0x30000, len: NET_HDR_LEN + FRAME.length }]);
  s.drv.kick(1);
  assert.deepEqual(be.gso, [1448, undefined]);
});

test('tx offload: a switch port or a backend that did not opt in still gets MTU-sized segments', () => {
  const sw = new EthernetSwitch(new ManualTimers());
  const a = sw.port();
  const b = sw.port();
  const heard: Uint8Array[] = [];
  b.connect((f) => heard.push(f.slice()));
  const s = setupWith(a);
  s.drv.init([16, 16], BASE + 0x1000, TSO);
  const payload = 65535 - 40;
  const toB = linuxTso(payload);
  toB.set([0x52, 0x54, 0, 0, 0, 0xbb]); // a station the switch has not seen: flooded to b
  postTso(s, toB, 1448, { csum: [34, 16] });
  s.drv.kick(1);
  assert.equal(heard.length, Math.ceil(payload / 1448));
  for (const seg of heard) {
    assert.ok(seg.length <= 1514);
    const ip = parseIpv4(seg);
    assert.ok(typeof ip !== 'string');
    assert.ok(typeof parseTcp(seg, ip) !== 'string', 'full checksums');
  }
  // A backend that takes less than this request gets it segmented too.
  const small = new OffloadBackend(9000);
  const s2 = setupWith(small);
  s2.drv.init([16, 16], BASE + 0x1000, TSO);
  postTso(s2, linuxTso(payload), 1448, { csum: [34, 16] });
  s2.drv.kick(1);
  assert.equal(small.sent.length, Math.ceil(payload / 1448));
  assert.ok(small.gso.every((g) => g === undefined));
});

test('tx offload: hostile requests are dropped and counted even when the backend takes large frames', () => {
  const be = new OffloadBackend();
  const s = setupWith(be);
  s.drv.init([32, 32], BASE + 0x1000, TSO);
  const f = linuxTso(4000);
  postTso(s, f, 1); // gso_size below the minimum
  postTso(s, f, 87);
  postTso(s, f, 1448, { hdrLen: f.length + 1 }); // hdr_len past the end
  postTso(s, f, 1448, { csum: [f.length - 1, 16] });
  postTso(s, f, 9000); // segments over the MTU
  postTso(s, f, 1448, { type: 3 });
  const udp = FRAME.slice();
  postTso(s, udp, 1448); // not TCP
  const noPayload = tcpFrame(0);
  postTso(s, noPayload, 1448);
  s.drv.kick(1);
  assert.equal(be.sent.length, 0);
  assert.equal(s.net.stats.txDropped, 8);
  assert.equal(s.net.stats.txBadGso, 8);
  // A chain longer than any GSO request is dropped before it is read.
  const big = new Uint8Array(14 + 65535 + 100);
  big.set(linuxTso(65495));
  postTso(s, big, 1448);
  s.drv.kick(1);
  assert.equal(be.sent.length, 0);
  assert.equal(s.net.stats.txDropped, 9);
  assert.equal(s.dev.lastError, undefined);
});

test('tx offload: whole segments are charged to the turn budget by bytes; the rest waits for poll()', () => {
  const be = new OffloadBackend();
  const s = setupWith(be);
  s.drv.init([32, 32], BASE + 0x1000, TSO);
  const f = linuxTso(65535 - 40);
  for (let i = 0; i < 32; i++) postTso(s, f, 1448, { csum: [34, 16] });
  s.drv.kick(1);
  const first = be.sent.length;
  assert.ok(first >= 1 && first <= Math.ceil(TX_TURN_BYTES / f.length) + 1, `first turn sent ${first}`);
  assert.equal(s.net.txPending, true);
  let turns = 1;
  while (s.net.txPending && turns < 100) {
    s.net.poll();
    turns++;
  }
  assert.equal(be.sent.length, 32);
  assert.ok(turns >= 2);
});
