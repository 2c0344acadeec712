import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserNet, GATEWAY_IP, DNS_IP } from './user/user-net.ts';
import { FakeHost, FrameSink, guestTcp, guestUdp, prng, GUEST_MAC, GUEST_IP } from './testing.ts';
import { ACK, FIN, PSH, RST, SYN } from './tcp.ts';
import { buildArp, ARP_REQUEST } from './arp.ts';
import { BROADCAST_MAC, put16, checksum } from './bytes.ts';
import { EthernetSwitch } from './switch.ts';

/** Valid frames of every kind the stack handles, as seeds for mutation. */
function seeds(): Uint8Array[] {
  const dhcp = new Uint8Array(300);
  dhcp.set([1, 1, 6], 0);
  dhcp.set(GUEST_MAC, 28);
  dhcp.set([0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255], 236);
  const dns = new Uint8Array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 1, 0, 1]);
  const out = [
    buildArp(ARP_REQUEST, BROADCAST_MAC, GUEST_MAC, GUEST_IP, new Uint8Array(6), GATEWAY_IP),
    guestUdp(0xffffffff, 68, 67, dhcp),
    guestUdp(DNS_IP, 3333, 53, dns),
    guestUdp(GATEWAY_IP, 3334, 9, new Uint8Array(40)),
    guestTcp(0x5db8d822, {
      srcPort: 4000,
      dstPort: 80,
      seq: 1,
      ack: 0,
      flags: SYN,
      window: 1000,
      mss: 1460,
      wscale: 7,
    }),
    guestTcp(
      0x5db8d822,
      { srcPort: 4000, dstPort: 80, seq: 2, ack: 77, flags: ACK | PSH, window: 1000 },
      new Uint8Array(100),
    ),
    guestTcp(GATEWAY_IP, { srcPort: 4001, dstPort: 22, seq: 2, ack: 77, flags: FIN | ACK, window: 1000 }),
    guestTcp(GATEWAY_IP, { srcPort: 4001, dstPort: 22, seq: 2, ack: 77, flags: RST, window: 0 }),
  ];
  const icmp = guestUdp(GATEWAY_IP, 1, 2, new Uint8Array(16));
  icmp[23] = 1; // protocol ICMP
  icmp[34] = 8;
  put16(icmp, 24, 0);
  put16(icmp, 24, checksum(icmp, 14, 34));
  out.push(icmp);
  return out;
}

function mutate(f: Uint8Array, rnd: () => number): Uint8Array {
  const r = rnd();
  if (r < 0.1) return Uint8Array.from({ length: Math.floor(rnd() * 1600) }, () => Math.floor(rnd() * 256));
  let g = f.slice();
  if (r < 0.3) g = g.subarray(0, Math.floor(rnd() * g.length));
  const flips = 1 + Math.floor(rnd() * 6);
  for (let i = 0; i < flips && g.length; i++) g[Math.floor(rnd() * g.length)] = Math.floor(rnd() * 256);
  if (r > 0.8 && g.length > 40) {
    // Keep the IP header checksum right so deeper layers see the mutation.
    put16(g, 24, 0);
    const hl = ((g[14]! & 15) * 4) | 0;
    if (hl >= 20 && 14 + hl <= g.length) put16(g, 24, checksum(g, 14, 14 + hl));
  }
  return g;
}

test('fuzz: 20000 random and mutated frames never throw, every reply is well-formed, tables stay bounded', async () => {
  const host = new FakeHost();
  const net = new UserNet(host, { maxTcpConnections: 128, maxUdpMappings: 32 });
  const sink = new FrameSink(); // throws on any malformed frame the stack emits
  net.connect(sink.deliver);
  const rnd = prng(0x5eed);
  const base = seeds();
  for (let i = 0; i < 20000; i++) {
    net.transmit(mutate(base[Math.floor(rnd() * base.length)]!, rnd));
    if (i % 50 === 0) {
      net.flush();
      // Let host sockets do things too: connect, send, close.
      const s = host.tcp[Math.floor(rnd() * host.tcp.length)];
      if (s) {
        const k = rnd();
        if (k < 0.4) s.h.onConnect();
        else if (k < 0.7) s.h.onData(new Uint8Array(Math.floor(rnd() * 5000)));
        else if (k < 0.85) s.h.onEnd();
        else s.h.onClose(k < 0.9 ? 'ECONNRESET' : undefined);
      }
      host.timers.advance(Math.floor(rnd() * 3000));
    }
    if (sink.frames.length > 1000) sink.take();
  }
  await new Promise((r) => setImmediate(r));
  for (const k of net.drops.keys()) assert.doesNotMatch(k, /^internal/);
  assert.ok(net.tcpCount <= 128);
  assert.ok(net.udpCount <= 32);
  assert.ok(net.drops.size > 3, 'the fuzzer reached several validation paths');
  host.timers.advance(10 * 60_000);
  assert.equal(net.tcpCount, 0, 'everything times out eventually');
  net.close();
});

test('fuzz: frames handed over whole (transmit offload, checksum unchecked) never throw and stay bounded', async () => {
  const host = new FakeHost();
  const net = new UserNet(host, { maxTcpConnections: 64, maxUdpMappings: 16 });
  const sink = new FrameSink();
  net.connect(sink.deliver);
  const rnd = prng(0x0ff10ad);
  const base = seeds();
  const big = guestTcp(
    0x5db8d822,
    { srcPort: 4000, dstPort: 80, seq: 2, ack: 77, flags: ACK, window: 1000 },
    new Uint8Array(65495),
  );
  base.push(big, big.subarray(0, 20000));
  for (let i = 0; i < 4000; i++) {
    const f = mutate(base[Math.floor(rnd() * base.length)]!, rnd);
    net.transmit(f, rnd() < 0.8 ? 88 + Math.floor(rnd() * 9000) : Math.floor(rnd() * 100));
    if (i % 40 === 0) {
      net.flush();
      const s = host.tcp[Math.floor(rnd() * host.tcp.length)];
      if (s && rnd() < 0.5) s.h.onConnect();
      else s?.drain();
      host.timers.advance(Math.floor(rnd() * 3000));
    }
    if (sink.frames.length > 1000) sink.take();
  }
  await new Promise((r) => setImmediate(r));
  for (const k of net.drops.keys()) assert.doesNotMatch(k, /^internal/);
  assert.ok(net.tcpCount <= 64);
  for (const s of host.tcp) assert.ok(s.bufferedBytes <= 256 * 1024, 'writes stay within our window');
  net.close();
});

test('fragment floods cost bounded memory', () => {
  const host = new FakeHost();
  const net = new UserNet(host);
  net.connect(() => {});
  for (let i = 0; i < 10000; i++) {
    const f = guestUdp(GATEWAY_IP, 1000, 2000, new Uint8Array(64));
    put16(f, 20, 0x2000 | (i & 0x1fff)); // MF + offset
    put16(f, 24, 0);
    put16(f, 24, checksum(f, 14, 34));
    net.transmit(f);
  }
  assert.ok(net.fragmentsPending <= 64, 'partial datagrams are bounded');
  assert.equal(host.udp.length, 0, 'no fragment set was ever complete');
});

test('fuzz: a switch survives random frames', () => {
  const sw = new EthernetSwitch(host0());
  const ports = [sw.port(), sw.port(), sw.port()];
  let n = 0;
  for (const p of ports) p.connect(() => n++);
  const rnd = prng(7);
  for (let i = 0; i < 5000; i++) {
    const f = Uint8Array.from({ length: Math.floor(rnd() * 100) }, () => Math.floor(rnd() * 256));
    ports[i % 3]!.transmit(f);
  }
  assert.ok(n > 0);
  assert.ok(sw.macCount <= 4096);
});

function host0() {
  return { now: () => 0 };
}
