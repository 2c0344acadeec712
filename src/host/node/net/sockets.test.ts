import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserNet, GATEWAY_IP } from '../../../net/user/user-net.ts';
import { FrameSink, GuestTcpEndpoint, guestUdp } from '../../../net/testing.ts';
import { NodeUserNetHost, listenForwards } from './sockets.ts';
import { StreamClient, StreamHub } from './stream-socket.ts';

const until = async (cond: () => boolean, what: string, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** A UserNet on real host sockets whose guest side routes TCP segments to test endpoints. */
function guestNet() {
  const net = new UserNet(new NodeUserNetHost());
  const sink = new FrameSink();
  const endpoints = new Map<number, GuestTcpEndpoint>();
  net.connect((f) => {
    sink.deliver(f);
    const r = sink.frames.at(-1)!;
    if (r.tcp) endpoints.get(r.tcp.dstPort)?.segment(r.tcp);
  });
  const tx = (f: Uint8Array) => {
    net.transmit(f);
    net.flush();
  };
  return { net, sink, endpoints, tx };
}

test('guest TCP through the NAT to a server on 127.0.0.1 (via 10.0.2.2): 2 MB each way, then FIN', async () => {
  const payload = new Uint8Array(2 * 1024 * 1024).map((_, i) => (i * 7) & 255);
  let got = 0;
  const srv = createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d) => (got += d.length));
    s.on('end', () => s.end());
    s.write(payload);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  const g = guestNet();
  const ep = new GuestTcpEndpoint(g.tx, GATEWAY_IP, port, 40123);
  g.endpoints.set(40123, ep);
  ep.connect();
  await until(() => ep.established, 'the handshake');
  ep.send(new Uint8Array(100_000));
  await until(() => got === 100_000, 'guest data at the server');
  await until(() => ep.received.reduce((n, b) => n + b.length, 0) === payload.length, 'server data at the guest');
  assert.deepEqual(Buffer.concat(ep.received), Buffer.from(payload));
  ep.close();
  await until(() => ep.finReceived, 'the FIN from the server');
  g.net.close();
  srv.close();
});

test('port forwarding: a host client reaches a guest service; UDP and DNS go through host sockets', async () => {
  const g = guestNet();
  const servers = await listenForwards(g.net, [{ proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 0, guestPort: 80 }]);
  const hostPort = servers[0]!.port;
  const ep = new GuestTcpEndpoint(g.tx, GATEWAY_IP, 0, 80);
  g.endpoints.set(80, ep);
  const client = connect(hostPort, '127.0.0.1');
  let reply = '';
  client.on('data', (d) => (reply += d));
  client.write('hello guest');
  await until(() => ep.text() === 'hello guest', 'client bytes at the guest');
  ep.send(new TextEncoder().encode('hello host'));
  await until(() => reply === 'hello host', 'guest bytes at the client');
  // A forward on a port already in use fails cleanly.
  await assert.rejects(
    listenForwards(g.net, [{ proto: 'tcp', hostAddr: '127.0.0.1', hostPort, guestPort: 81 }]),
    /already in use/,
  );
  // UDP: an echo server on 127.0.0.1.
  const echo = createSocket('udp4');
  echo.on('message', (m, r) => echo.send(m, r.port, r.address));
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
  const uport = echo.address().port;
  g.tx(guestUdp(GATEWAY_IP, 5000, uport, new TextEncoder().encode('udp!')));
  await until(() => g.sink.frames.some((f) => f.udp?.dstPort === 5000), 'the UDP echo');
  const u = g.sink.frames.find((f) => f.udp?.dstPort === 5000)!;
  assert.equal(new TextDecoder().decode(u.udp!.data), 'udp!');
  assert.equal(u.ip!.src, GATEWAY_IP);
  // DNS through the host resolver: localhost is the host, 10.0.2.2 from the guest.
  const q = new Uint8Array([
    0,
    9,
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    9,
    ...new TextEncoder().encode('localhost'),
    0,
    0,
    1,
    0,
    1,
  ]);
  g.tx(guestUdp(0x0a000203, 5001, 53, q));
  await until(() => g.sink.frames.some((f) => f.udp?.dstPort === 5001), 'the DNS answer');
  const a = g.sink.frames.find((f) => f.udp?.dstPort === 5001)!.udp!.data;
  assert.deepEqual([...a.subarray(a.length - 4)], [10, 0, 2, 2]);
  // UDP forwarding: a host datagram reaches the guest port, the guest's answer comes back.
  const [ufwd] = await listenForwards(g.net, [{ proto: 'udp', hostAddr: '127.0.0.1', hostPort: 0, guestPort: 53 }]);
  const peer = createSocket('udp4');
  const answers: string[] = [];
  peer.on('message', (m) => answers.push(String(m)));
  await new Promise<void>((r) => peer.bind(0, '127.0.0.1', r));
  peer.send('question', ufwd!.port, '127.0.0.1');
  await until(() => g.sink.frames.some((f) => f.udp?.dstPort === 53), 'the forwarded datagram');
  const fq = g.sink.frames.find((f) => f.udp?.dstPort === 53)!;
  assert.equal(new TextDecoder().decode(fq.udp!.data), 'question');
  g.tx(guestUdp(GATEWAY_IP, 53, fq.udp!.srcPort, new TextEncoder().encode('answer')));
  await until(() => answers.length === 1, 'the answer at the host peer');
  assert.equal(answers[0], 'answer');
  peer.close();
  ufwd!.close();
  client.destroy();
  echo.close();
  for (const s of servers) s.close();
  g.net.close();
});

test('stream hub: processes on one unix socket path share a LAN; stale socket files are reused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'virtkit-net-'));
  const path = join(dir, 'lan.sock');
  const hub = await StreamHub.listen(path);
  const local = hub.port();
  const a = await StreamClient.connect(path);
  const b = await StreamClient.connect(path);
  const got: Record<string, number[]> = { local: [], a: [], b: [] };
  local.connect((f) => got.local!.push(f[13]!));
  a.connect((f) => got.a!.push(f[13]!));
  b.connect((f) => got.b!.push(f[13]!));
  const frame = (src: number, dst: number | 'bcast', tag: number) => {
    const f = new Uint8Array(60);
    if (dst === 'bcast') f.fill(0xff, 0, 6);
    else f.set([2, 0, 0, 0, 0, dst]);
    f.set([2, 0, 0, 0, 0, src], 6);
    f[13] = tag;
    return f;
  };
  a.transmit(frame(1, 'bcast', 1));
  await until(() => got.local!.length === 1 && got.b!.length === 1, 'the broadcast');
  b.transmit(frame(2, 1, 2));
  await until(() => got.a!.length === 1, 'the unicast');
  assert.deepEqual(got, { local: [1], a: [2], b: [1] });
  await assert.rejects(StreamHub.listen(path), /in use/);
  a.close();
  b.close();
  hub.close();
  await rm(dir, { recursive: true, force: true });
});
