import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserNet, GATEWAY_IP, DNS_IP, TOTAL_SND_HIGH } from './user-net.ts';
import {
  FakeHost,
  FakeTcpSocket,
  FrameSink,
  guestTcp,
  guestUdp,
  GUEST_IP,
  GUEST_MAC,
  GW_MAC,
  concat,
} from '../testing.ts';
import { ACK, FIN, PSH, RST, SYN, seqAdd, seqDiff, type TcpSegment } from '../tcp.ts';
import { ARP_REPLY, ARP_REQUEST, buildArp, parseArp } from '../arp.ts';
import { BROADCAST_MAC, checksum, get16, get32, parseIp, put16 } from '../bytes.ts';
import { buildUdp } from '../udp.ts';
import { ipv4Frame, IP_PAYLOAD, PROTO_ICMP } from '../ipv4.ts';
import { RCV_BUF, SND_HIGH } from './tcp-conn.ts';

function setup(opts = {}) {
  const host = new FakeHost();
  const net = new UserNet(host, opts);
  const sink = new FrameSink();
  net.connect(sink.deliver);
  return { host, net, sink };
}

const EXT = parseIp('93.184.216.34')!;

/** Runs the guest's side of an outbound handshake; returns the SYN-ACK and the fake host socket. */
function handshake(env: ReturnType<typeof setup>, dst = EXT, port = 80, gport = 40000, wscale?: number) {
  const { host, net, sink } = env;
  net.transmit(
    guestTcp(dst, { srcPort: gport, dstPort: port, seq: 1000, ack: 0, flags: SYN, window: 64240, mss: 1460, wscale }),
  );
  const sock = host.tcp.at(-1)!;
  assert.equal(sink.take().length, 0, 'no SYN-ACK before the host connects');
  sock.h.onConnect();
  const [synAck] = sink.tcp();
  assert.ok(synAck);
  assert.equal(synAck.flags, SYN | ACK);
  assert.equal(synAck.ack, 1001);
  const una = seqAdd(synAck.seq, 1);
  net.transmit(guestTcp(dst, { srcPort: gport, dstPort: port, seq: 1001, ack: una, flags: ACK, window: 64240 }));
  return { sock, synAck, una };
}

test('ARP: answers for the gateway and the DNS server, not for others', () => {
  const { net, sink } = setup();
  net.transmit(buildArp(ARP_REQUEST, BROADCAST_MAC, GUEST_MAC, GUEST_IP, new Uint8Array(6), GATEWAY_IP));
  net.transmit(buildArp(ARP_REQUEST, BROADCAST_MAC, GUEST_MAC, GUEST_IP, new Uint8Array(6), DNS_IP));
  net.transmit(buildArp(ARP_REQUEST, BROADCAST_MAC, GUEST_MAC, GUEST_IP, new Uint8Array(6), parseIp('10.0.2.99')!));
  const out = sink.take();
  assert.equal(out.length, 2);
  const a = parseArp(out[0]!.frame);
  assert.ok(typeof a !== 'string');
  assert.equal(a.op, ARP_REPLY);
  assert.equal(a.senderIp, GATEWAY_IP);
  assert.deepEqual(a.senderMac, GW_MAC);
  assert.equal(a.targetIp, GUEST_IP);
  assert.deepEqual(out[0]!.frame.subarray(0, 6), GUEST_MAC);
});

function dhcpMessage(type: number, xid: number, requested?: number): Uint8Array {
  const b = new Uint8Array(300);
  b[0] = 1;
  b[1] = 1;
  b[2] = 6;
  b.set([0x12, 0x34, 0x56, 0x78], 4);
  b[4] = xid;
  b.set(GUEST_MAC, 28);
  b.set([0x63, 0x82, 0x53, 0x63], 236);
  let i = 240;
  b.set([53, 1, type], i);
  i += 3;
  if (requested !== undefined) {
    b.set([50, 4, requested >>> 24, (requested >>> 16) & 255, (requested >>> 8) & 255, requested & 255], i);
    i += 6;
  }
  b[i] = 255;
  return b;
}

function dhcpOptions(b: Uint8Array): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  let i = 240;
  while (b[i] !== 255) {
    m.set(b[i]!, b.subarray(i + 2, i + 2 + b[i + 1]!));
    i += 2 + b[i + 1]!;
  }
  return m;
}

test('DHCP: DISCOVER -> OFFER 10.0.2.15, REQUEST -> ACK with router, DNS, mask and lease; wrong address -> NAK', () => {
  const { net, sink } = setup();
  const send = (body: Uint8Array) => net.transmit(buildUdp(BROADCAST_MAC, GUEST_MAC, 0, 68, 0xffffffff, 67, body));
  send(dhcpMessage(1, 7));
  const [offer] = sink.take();
  assert.ok(offer?.udp);
  const o = offer.udp.data;
  assert.equal(o[0], 2);
  assert.equal(o[4], 7, 'same xid');
  assert.equal(get32(o, 16), GUEST_IP, 'yiaddr 10.0.2.15');
  let opts = dhcpOptions(o);
  assert.deepEqual([...opts.get(53)!], [2]);
  send(dhcpMessage(3, 8, GUEST_IP));
  const [ack] = sink.take();
  opts = dhcpOptions(ack!.udp!.data);
  assert.deepEqual([...opts.get(53)!], [5]);
  assert.equal(get32(opts.get(3)!, 0), GATEWAY_IP);
  assert.equal(get32(opts.get(6)!, 0), DNS_IP);
  assert.equal(get32(opts.get(1)!, 0), 0xffffff00);
  assert.equal(get32(opts.get(51)!, 0), 86400);
  send(dhcpMessage(3, 9, parseIp('10.0.2.77')));
  const [nak] = sink.take();
  assert.deepEqual([...dhcpOptions(nak!.udp!.data).get(53)!], [6]);
});

test('ICMP: echo to the gateway is answered with the same id, sequence and data', () => {
  const { net, sink } = setup();
  const f = ipv4Frame(GW_MAC, GUEST_MAC, GUEST_IP, GATEWAY_IP, PROTO_ICMP, 16);
  f.set([8, 0, 0, 0, 0x12, 0x34, 0, 5, 1, 2, 3, 4, 5, 6, 7, 8], IP_PAYLOAD);
  put16(f, IP_PAYLOAD + 2, checksum(f, IP_PAYLOAD, f.length));
  net.transmit(f);
  const [r] = sink.take();
  assert.ok(r?.ip);
  assert.equal(r.ip.src, GATEWAY_IP);
  assert.equal(r.frame[IP_PAYLOAD], 0);
  assert.deepEqual(r.frame.subarray(IP_PAYLOAD + 4), f.subarray(IP_PAYLOAD + 4));
  assert.equal(checksum(r.frame, IP_PAYLOAD, r.frame.length), 0);
});

function dnsQuery(name: string, type = 1, id = 0x4242): Uint8Array {
  const labels = name.split('.').flatMap((l) => [l.length, ...new TextEncoder().encode(l)]);
  const b = new Uint8Array(12 + labels.length + 5);
  put16(b, 0, id);
  put16(b, 2, 0x0100);
  put16(b, 4, 1);
  b.set(labels, 12);
  put16(b, 12 + labels.length + 1, type);
  put16(b, 12 + labels.length + 3, 1);
  return b;
}

test('DNS at 10.0.2.3: A records from the host resolver, NXDOMAIN, SERVFAIL, empty AAAA', async () => {
  const { host, net, sink } = setup();
  host.names.set('example.test', ['192.0.2.7', '192.0.2.8']);
  host.names.set('localhost', ['127.0.0.1']);
  net.transmit(guestUdp(DNS_IP, 5353, 53, dnsQuery('example.test')));
  net.transmit(guestUdp(DNS_IP, 5354, 53, dnsQuery('missing.test')));
  net.transmit(guestUdp(DNS_IP, 5355, 53, dnsQuery('fail.test')));
  net.transmit(guestUdp(DNS_IP, 5356, 53, dnsQuery('example.test', 28)));
  net.transmit(guestUdp(DNS_IP, 5357, 53, dnsQuery('localhost')));
  await new Promise((r) => setImmediate(r));
  const out = sink.take().map((r) => r.udp!);
  const byPort = new Map(out.map((u) => [u.dstPort, u.data]));
  const a = byPort.get(5353)!;
  assert.equal(get16(a, 0), 0x4242);
  assert.equal(a[3]! & 15, 0);
  assert.equal(get16(a, 6), 2, 'two answers');
  assert.equal(get32(a, a.length - 4), parseIp('192.0.2.8'));
  assert.equal(byPort.get(5354)![3]! & 15, 3);
  assert.equal(byPort.get(5355)![3]! & 15, 2);
  assert.equal(get16(byPort.get(5356)!, 6), 0);
  const l = byPort.get(5357)!;
  assert.equal(get32(l, l.length - 4), GATEWAY_IP, 'the host loopback is 10.0.2.2 from the guest');
});

test('UDP NAT: 10.0.2.2 maps to 127.0.0.1, replies come back, mappings are reused and time out', () => {
  const { host, net, sink } = setup();
  net.transmit(guestUdp(GATEWAY_IP, 7000, 9999, new TextEncoder().encode('ping')));
  net.transmit(guestUdp(GATEWAY_IP, 7000, 9999, new TextEncoder().encode('again')));
  assert.equal(host.udp.length, 1);
  const s = host.udp[0]!;
  assert.deepEqual(
    s.sent.map((m) => [m.ip, m.port, new TextDecoder().decode(m.data)]),
    [
      ['127.0.0.1', 9999, 'ping'],
      ['127.0.0.1', 9999, 'again'],
    ],
  );
  s.onMessage(new TextEncoder().encode('pong'), '127.0.0.1', 9999);
  const [r] = sink.take();
  assert.equal(r!.ip!.src, GATEWAY_IP);
  assert.equal(r!.udp!.srcPort, 9999);
  assert.equal(r!.udp!.dstPort, 7000);
  assert.equal(new TextDecoder().decode(r!.udp!.data), 'pong');
  host.timers.advance(200_000);
  assert.equal(s.closed, true);
  assert.equal(net.udpCount, 0);
});

test('TCP outbound: handshake, data both ways, FIN both ways', () => {
  const env = setup();
  const { net, sink, host } = env;
  const { sock, una } = handshake(env, EXT, 80, 40000, 7);
  assert.equal(sock.ip, '93.184.216.34');
  assert.equal(sock.port, 80);
  // guest -> host
  const req = new TextEncoder().encode('GET / HTTP/1.0\r\n\r\n');
  net.transmit(
    guestTcp(EXT, { srcPort: 40000, dstPort: 80, seq: 1001, ack: una, flags: ACK | PSH, window: 1000 }, req),
  );
  net.flush();
  assert.equal(sock.text(), 'GET / HTTP/1.0\r\n\r\n');
  const [ack] = sink.tcp();
  assert.equal(ack!.ack, 1001 + req.length);
  // host -> guest: 4000 bytes, window 1000 << 7 allows it all, in MSS-sized segments
  const body = new Uint8Array(4000).map((_, i) => i & 255);
  sock.h.onData(body);
  const segs = sink.tcp();
  assert.deepEqual(
    segs.map((s) => s.data.length),
    [1460, 1460, 1080],
  );
  assert.equal(segs[0]!.seq, una);
  assert.deepEqual(concat(segs.map((s) => s.data)), body);
  const end = seqAdd(una, 4000);
  net.transmit(
    guestTcp(EXT, { srcPort: 40000, dstPort: 80, seq: 1001 + req.length, ack: end, flags: ACK, window: 1000 }),
  );
  // host FIN -> guest FIN; guest FIN -> host end
  sock.h.onEnd();
  const [fin] = sink.tcp();
  assert.equal(fin!.flags & FIN, FIN);
  assert.equal(fin!.seq, end);
  const gseq = 1001 + req.length;
  net.transmit(
    guestTcp(EXT, { srcPort: 40000, dstPort: 80, seq: gseq, ack: seqAdd(end, 1), flags: ACK | FIN, window: 1000 }),
  );
  assert.equal(sock.ended, true);
  const [lastAck] = sink.tcp();
  assert.equal(lastAck!.ack, gseq + 1);
  sock.h.onClose();
  host.timers.advance(5000);
  assert.equal(net.tcpCount, 0);
});

test('TCP: refused connect answers RST, segments for unknown connections get RST, restrict=on refuses', () => {
  const env = setup();
  const { net, sink, host } = env;
  net.transmit(guestTcp(EXT, { srcPort: 40001, dstPort: 81, seq: 5, ack: 0, flags: SYN, window: 100 }));
  host.tcp[0]!.h.onClose('ECONNREFUSED');
  const [rst] = sink.tcp();
  assert.equal(rst!.flags, RST | ACK);
  assert.equal(rst!.ack, 6);
  net.transmit(guestTcp(EXT, { srcPort: 40002, dstPort: 81, seq: 5, ack: 77, flags: ACK, window: 100 }));
  const [rst2] = sink.tcp();
  assert.equal(rst2!.flags, RST);
  assert.equal(rst2!.seq, 77);
  const r = setup({ restrict: true });
  r.net.transmit(guestTcp(EXT, { srcPort: 40003, dstPort: 80, seq: 5, ack: 0, flags: SYN, window: 100 }));
  assert.equal(r.host.tcp.length, 0);
  assert.equal(r.sink.tcp()[0]!.flags, RST | ACK);
  r.net.transmit(guestTcp(GATEWAY_IP, { srcPort: 40003, dstPort: 80, seq: 5, ack: 0, flags: SYN, window: 100 }));
  assert.equal(r.host.tcp[0]!.ip, '127.0.0.1', 'the host stays reachable with restrict=on');
});

test('TCP: unacknowledged data is retransmitted by the timer with backoff, then the connection resets', () => {
  const env = setup();
  const { net, sink, host } = env;
  const { sock, una } = handshake(env);
  sock.h.onData(new TextEncoder().encode('hello'));
  const [first] = sink.tcp();
  assert.equal(new TextDecoder().decode(first!.data), 'hello');
  host.timers.advance(1100);
  const [again] = sink.tcp();
  assert.equal(again!.seq, una);
  assert.equal(new TextDecoder().decode(again!.data), 'hello');
  // The guest acknowledges: no more retransmissions.
  net.transmit(
    guestTcp(EXT, { srcPort: 40000, dstPort: 80, seq: 1001, ack: seqAdd(una, 5), flags: ACK, window: 5000 }),
  );
  host.timers.advance(10_000);
  assert.equal(sink.tcp().length, 0);
  // A silent guest: retransmissions back off and the connection is reset in the end.
  sock.h.onData(new TextEncoder().encode('more'));
  host.timers.advance(600_000);
  const segs = sink.tcp();
  assert.ok(segs.length >= 5);
  assert.equal(segs.at(-1)!.flags & RST, RST);
  assert.equal(sock.destroyed, true);
  assert.equal(net.tcpCount, 0);
});

test('TCP flow control: the guest window limits sends, a full host buffer closes our window', () => {
  const env = setup();
  const { net, sink } = env;
  net.transmit(
    guestTcp(EXT, { srcPort: 40000, dstPort: 80, seq: 1000, ack: 0, flags: SYN, window: 3000, mss: 1000, wscale: 0 }),
  );
  const { host } = env;
  const sock = host.tcp[0]!;
  sock.h.onConnect();
  const una = seqAdd(sink.tcp()[0]!.seq, 1);
  net.transmit(guestTcp(EXT, { srcPort: 40000, dstPort: 80, seq: 1001, ack: una, flags: ACK, window: 3000 }));
  sock.h.onData(new Uint8Array(10_000));
  assert.deepEqual(
    sink.tcp().map((s) => s.data.length),
    [1000, 1000, 1000],
    'no more than the 3000-byte window',
  );
  // The guest acks 2000 and shrinks its window to 0: nothing more goes out until it opens.
  net.transmit(
    guestTcp(EXT, { srcPort: 40000, dstPort: 80, seq: 1001, ack: seqAdd(una, 3000), flags: ACK, window: 0 }),
  );
  assert.equal(sink.tcp().length, 0);
  net.transmit(
    guestTcp(EXT, { srcPort: 40000, dstPort: 80, seq: 1001, ack: seqAdd(una, 3000), flags: ACK, window: 2000 }),
  );
  assert.deepEqual(
    sink.tcp().map((s) => s.data.length),
    [1000, 1000],
  );
  // Host back-pressure: lots of host data pauses the host socket.
  sock.h.onData(new Uint8Array(SND_HIGH));
  assert.equal(sock.paused, true);
  // Guest -> host: once the host holds RCV_BUF bytes our window closes and further data is not acked.
  sock.bufferedBytes = RCV_BUF;
  let seq = 1001;
  const chunk = new Uint8Array(1000);
  let acked = 0;
  let last: TcpSegment | undefined;
  for (let i = 0; i < 400; i++) {
    net.transmit(
      guestTcp(EXT, { srcPort: 40000, dstPort: 80, seq, ack: seqAdd(una, 3000), flags: ACK, window: 2000 }, chunk),
    );
    net.flush();
    last = sink.tcp().at(-1)!;
    if (last.ack !== seqAdd(seq, 1000)) break;
    seq += 1000;
    acked += 1000;
  }
  assert.ok(acked >= RCV_BUF - 1000 && acked <= RCV_BUF + 1000, `accepted what the window offered (${acked})`);
  const partial = seqDiff(last!.ack, seq);
  assert.ok(partial >= 0 && partial < 1000, 'bytes beyond the window are not acknowledged');
  assert.equal(last!.window, 0);
  assert.equal(sock.text().length, acked + partial);
  // The host drains: a window update goes out.
  sock.drain();
  const upd = sink.tcp().at(-1)!;
  assert.ok(upd.window > 0);
});

test('port forwarding: a host connection opens a TCP connection to the guest port from 10.0.2.2', () => {
  const env = setup();
  const { net, sink } = env;
  let sock!: FakeTcpSocket;
  assert.equal(
    net.forwardTcp(22, (h) => (sock = new FakeTcpSocket('127.0.0.1', 0, h))),
    true,
  );
  assert.equal(sock.paused, true, 'the host socket waits for the guest handshake');
  const segs = sink.tcp().filter((s) => s.dstPort === 22);
  const syn = segs[0]!;
  assert.equal(syn.flags, SYN);
  assert.equal(syn.mss, 1460);
  net.transmit(
    guestTcp(GATEWAY_IP, {
      srcPort: 22,
      dstPort: syn.srcPort,
      seq: 500,
      ack: seqAdd(syn.seq, 1),
      flags: SYN | ACK,
      window: 5000,
      mss: 1460,
    }),
  );
  const [ack] = sink.tcp();
  assert.equal(ack!.ack, 501);
  assert.equal(sock.paused, false);
  net.transmit(
    guestTcp(
      GATEWAY_IP,
      { srcPort: 22, dstPort: syn.srcPort, seq: 501, ack: seqAdd(syn.seq, 1), flags: ACK | PSH, window: 5000 },
      new TextEncoder().encode('SSH-2.0'),
    ),
  );
  assert.equal(sock.text(), 'SSH-2.0');
});

test('SYN flood and half-open connections stay bounded; the table limit answers RST', () => {
  const env = setup({ maxTcpConnections: 64, maxPendingConnects: 16 });
  const { net, host } = env;
  for (let i = 0; i < 5000; i++) {
    net.transmit(guestTcp(EXT, { srcPort: 1024 + i, dstPort: 80, seq: i, ack: 0, flags: SYN, window: 100 }));
  }
  assert.equal(host.tcp.length, 16, 'connects in flight are capped');
  assert.ok(net.tcpCount <= 64);
  // Half-open connections time out.
  host.timers.advance(60_000);
  assert.equal(net.tcpCount, 0);
  assert.ok(host.tcp.every((s) => s.destroyed));
});

test('stray segments: RST to unknown ports, data before the handshake completes is ignored', () => {
  const env = setup();
  const { net, sink, host } = env;
  net.transmit(guestTcp(EXT, { srcPort: 40000, dstPort: 80, seq: 1000, ack: 0, flags: SYN, window: 100 }));
  net.transmit(
    guestTcp(EXT, { srcPort: 40000, dstPort: 80, seq: 1001, ack: 1, flags: ACK, window: 100 }, new Uint8Array(10)),
  );
  assert.equal(host.tcp[0]!.written.length, 0);
  assert.equal(sink.take().length, 0);
});

test('receive offload: with a NIC that takes large frames, host data goes out in window-sized TCP segments', () => {
  const host = new FakeHost();
  const net = new UserNet(host);
  const got: Array<{ len: number; gso?: number }> = [];
  const sink = new FrameSink();
  net.connect((f, gso) => {
    sink.deliver(f);
    got.push({ len: f.length, gso });
  });
  net.setReceiveOffload(65535);
  const env = { host, net, sink };
  const { sock, una } = handshake(env, EXT, 80, 40000, 7);
  void una;
  got.length = 0;
  sock.h.onData(new Uint8Array(100_000));
  // The guest window is 64240 << 7: two frames, the first as large as the NIC takes.
  assert.deepEqual(
    got.map((g) => [g.len - 54, g.gso]),
    [
      [65481, 1460],
      [100_000 - 65481, 1460],
    ],
  );
});

test('UDP port forwarding: each host peer gets its own 10.0.2.2 port; guest replies go back to that peer', () => {
  const { net, sink } = setup();
  const replies: string[] = [];
  net.forwardUdp('127.0.0.1:5000', 53, new TextEncoder().encode('q1'), (d) =>
    replies.push(`A:${new TextDecoder().decode(d)}`),
  );
  net.forwardUdp('127.0.0.1:5001', 53, new TextEncoder().encode('q2'), (d) =>
    replies.push(`B:${new TextDecoder().decode(d)}`),
  );
  const [a, b] = sink.take();
  assert.equal(a!.ip!.src, GATEWAY_IP);
  assert.equal(a!.udp!.dstPort, 53);
  assert.notEqual(a!.udp!.srcPort, b!.udp!.srcPort);
  net.transmit(guestUdp(GATEWAY_IP, 53, b!.udp!.srcPort, new TextEncoder().encode('r2')));
  net.transmit(guestUdp(GATEWAY_IP, 53, a!.udp!.srcPort, new TextEncoder().encode('r1')));
  net.transmit(guestUdp(GATEWAY_IP, 54, a!.udp!.srcPort, new TextEncoder().encode('wrong source port')));
  assert.deepEqual(replies, ['B:r2', 'A:r1']);
});

test('a guest that keeps its window closed is probed at least every second and never reset', () => {
  const env = setup();
  const { net, sink, host } = env;
  const { sock, una } = handshake(env);
  net.transmit(guestTcp(EXT, { srcPort: 40000, dstPort: 80, seq: 1001, ack: una, flags: ACK, window: 0 }));
  sock.h.onData(new Uint8Array(5000));
  assert.equal(sink.tcp().length, 0, 'nothing fits a closed window');
  let probes = 0;
  for (let t = 0; t < 600; t++) {
    host.timers.advance(1000);
    for (const s of sink.tcp()) {
      assert.equal(s.flags & RST, 0);
      probes++;
      // The guest answers every probe: still no room.
      net.transmit(guestTcp(EXT, { srcPort: 40000, dstPort: 80, seq: 1001, ack: una, flags: ACK, window: 0 }));
    }
  }
  assert.ok(probes >= 300, `probes: ${probes}`);
  assert.equal(net.tcpCount, 1);
  assert.equal(sock.destroyed, false);
  // The window opens: the data flows at once.
  net.transmit(guestTcp(EXT, { srcPort: 40000, dstPort: 80, seq: 1001, ack: una, flags: ACK, window: 8000 }));
  const sent = sink.tcp().reduce((n, s) => n + s.data.length, 0);
  assert.ok(sent >= 4999, `sent ${sent}`);
});

test('host data buffered towards the guest is bounded across connections; paused sockets resume once the guest acks', () => {
  const env = setup();
  const chunk = new Uint8Array(SND_HIGH - 1); // just under the per-connection limit
  const conns: Array<ReturnType<typeof handshake>> = [];
  // What the guest has received, per guest port: the sequence number it can acknowledge.
  const ends = new Map<number, number>();
  const collect = () => {
    for (const t of env.sink.tcp())
      if (t.data.length && t.dstPort !== 30000) ends.set(t.dstPort, seqAdd(t.seq, t.data.length));
  };
  const n = Math.ceil(TOTAL_SND_HIGH / chunk.length) + 8;
  for (let i = 0; i < n; i++) {
    const c = handshake(env, EXT, 80, 20000 + i);
    if (!c.sock.paused) c.sock.h.onData(chunk); // a paused socket delivers nothing
    collect();
    conns.push(c);
  }
  const buffered = env.net.tcpBufferedBytes;
  assert.ok(buffered <= TOTAL_SND_HIGH + chunk.length, `${buffered} bytes buffered`);
  assert.ok(conns.filter((c) => c.sock.paused).length >= 8);
  // Connections opened over the budget start paused...
  const small = handshake(env, EXT, 80, 30000);
  assert.equal(small.sock.paused, true);
  // ...and resume once the guest has acknowledged enough on the others.
  collect();
  for (let round = 0; round < 100 && ends.size; round++) {
    for (const [port, ack] of ends)
      env.net.transmit(guestTcp(EXT, { srcPort: port, dstPort: 80, seq: 1001, ack, flags: ACK, window: 64240 }));
    ends.clear();
    env.net.flush();
    collect();
  }
  assert.equal(env.net.tcpBufferedBytes, 0);
  assert.equal(small.sock.paused, false, 'resumed when the total fell');
  assert.equal(conns.filter((c) => c.sock.paused).length, 0);
});

/** A guest TCP frame as a TSO-capable NIC hands it over: the TCP checksum left partial. */
function partialTcp(t: Parameters<typeof guestTcp>[1], data: Uint8Array): Uint8Array {
  const f = guestTcp(EXT, t, data);
  put16(f, 34 + 16, 0x1234); // pseudo-header sum or anything: the backend must not check it
  return f;
}

test('transmit offload: a 64 KiB segment with a partial checksum is taken whole, acknowledged, and every byte reaches the host in order', () => {
  const env = setup();
  const { net, sink } = env;
  assert.ok((net.transmitOffload ?? 0) >= 14 + 65535, 'the NAT opts in');
  const { sock, una } = handshake(env, EXT, 80, 40000, 7);
  sink.take();
  const body = new Uint8Array(3 * 65495).map((_, i) => (i * 13 + (i >> 9)) & 255);
  let seq = 1001;
  for (let i = 0; i < 3; i++) {
    const part = body.subarray(i * 65495, (i + 1) * 65495);
    const f = partialTcp({ srcPort: 40000, dstPort: 80, seq, ack: una, flags: ACK | PSH, window: 1000 }, part);
    assert.equal(f.length, 14 + 65535);
    net.transmit(f, 1448);
    seq += part.length;
  }
  net.flush();
  assert.deepEqual(concat(sock.written), body);
  const acks = sink.tcp();
  assert.equal(acks.length, 1, 'one ACK for the batch');
  assert.equal(acks[0]!.ack, seq);
  assert.equal(net.drops.size, 0, [...net.drops].join());
});

test('transmit offload: a large segment is trimmed to our window; the rest is not acknowledged', () => {
  const env = setup();
  const { net, sink } = env;
  const { sock, una } = handshake(env, EXT, 80, 40000, 7);
  sink.take();
  let seq = 1001;
  for (let i = 0; i < 5; i++) {
    const f = partialTcp(
      { srcPort: 40000, dstPort: 80, seq, ack: una, flags: ACK, window: 1000 },
      new Uint8Array(65495).fill(i),
    );
    net.transmit(f, 1448);
    seq += 65495;
  }
  net.flush();
  const written = sock.written.reduce((n, w) => n + w.length, 0);
  assert.equal(written, RCV_BUF, 'the host gets exactly what the window allowed');
  const last = sink.tcp().at(-1)!;
  assert.equal(last.ack, 1001 + RCV_BUF);
  assert.equal(last.window, 0);
});

test('transmit offload: without gsoSize frames keep the MTU limit and checksum check; offloaded frames must be whole TCP segments', () => {
  const env = setup();
  const { net, sink } = env;
  const { sock, una } = handshake(env, EXT, 80, 40000, 7);
  sink.take();
  const t = { srcPort: 40000, dstPort: 80, seq: 1001, ack: una, flags: ACK, window: 1000 };
  net.transmit(partialTcp(t, new Uint8Array(100))); // partial checksum without the offload contract
  net.transmit(guestTcp(EXT, t, new Uint8Array(4000))); // valid, but above the 1518-byte frame limit
  const udp = guestUdp(GATEWAY_IP, 5000, 53, new Uint8Array(4000));
  net.transmit(udp, 1448); // offload is for TCP only
  const frag = partialTcp(t, new Uint8Array(4000));
  put16(frag, 14 + 6, 0x2000); // more fragments
  put16(frag, 14 + 10, 0);
  put16(frag, 14 + 10, checksum(frag, 14, 34));
  net.transmit(frag, 1448);
  const huge = new Uint8Array(14 + 65535 + 1);
  huge.set(partialTcp(t, new Uint8Array(65495)));
  net.transmit(huge, 1448); // longer than the NAT takes
  net.flush();
  assert.equal(sock.written.length, 0);
  assert.equal(net.drops.get('tcp: bad checksum'), 1);
  assert.equal(net.drops.get('ethernet: bad frame length'), 2);
  assert.equal(net.drops.get('offload: not a whole TCP segment'), 2);
  assert.equal(net.udpCount, 0);
});
