import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checksum, parseIp, ipToString, parseMac, macToString } from './bytes.ts';
import { parseIpv4 } from './ipv4.ts';
import { buildTcp, parseTcp, SYN, ACK } from './tcp.ts';
import { buildUdp, parseUdp } from './udp.ts';
import { parseDnsQuery } from './dns.ts';
import { parseDhcp } from './dhcp.ts';

const A = new Uint8Array([2, 0, 0, 0, 0, 1]);
const B = new Uint8Array([2, 0, 0, 0, 0, 2]);

test('Internet checksum matches the RFC 1071 example', () => {
  // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, checksum 220d.
  assert.equal(checksum(new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0, 8), 0x220d);
  assert.equal(ipToString(parseIp('10.0.2.15')!), '10.0.2.15');
  assert.equal(parseIp('10.0.2.256'), undefined);
  assert.equal(macToString(parseMac('52:54:00:12:34:5a')!), '52:54:00:12:34:5a');
  assert.equal(parseMac('52:54:00:12:34'), undefined);
});

test('TCP and UDP round-trip with options and checksums; corruption is detected', () => {
  const f = buildTcp(
    A,
    B,
    0x0a00020f,
    0x0a000202,
    { srcPort: 1, dstPort: 2, seq: 0xfffffff0, ack: 5, flags: SYN | ACK, window: 1000, mss: 1400, wscale: 7 },
    new Uint8Array([1, 2, 3]),
  );
  const ip = parseIpv4(f);
  assert.ok(typeof ip !== 'string');
  const t = parseTcp(f, ip);
  assert.ok(typeof t !== 'string');
  assert.deepEqual(
    [t.seq, t.ack, t.flags, t.window, t.mss, t.wscale, [...t.data]],
    [0xfffffff0, 5, SYN | ACK, 1000, 1400, 7, [1, 2, 3]],
  );
  f[f.length - 1] ^= 1;
  assert.equal(parseTcp(f, ip), 'tcp: bad checksum');
  const u = buildUdp(A, B, 1, 2, 3, 4, new Uint8Array(9));
  const uip = parseIpv4(u);
  assert.ok(typeof uip !== 'string');
  assert.ok(typeof parseUdp(u, uip) !== 'string');
  u[20] ^= 0x40; // IP header byte: header checksum fails
  assert.equal(parseIpv4(u), 'ipv4: bad header checksum');
});

test('truncated and inconsistent headers are rejected with a reason', () => {
  const f = buildUdp(A, B, 1, 2, 3, 4, new Uint8Array(9));
  assert.equal(parseIpv4(f.subarray(0, 20)), 'ipv4: truncated header');
  const bad = f.slice();
  bad[16] = 0x10; // total length 4096+ beyond the frame
  assert.match(String(parseIpv4(bad)), /total length|checksum/);
  assert.equal(parseDnsQuery(new Uint8Array(5)), 'dns: truncated header');
  const q = new Uint8Array(20);
  q[5] = 1;
  q[12] = 0xc0; // a compression pointer in a question
  assert.match(String(parseDnsQuery(q)), /compressed/);
  assert.equal(parseDhcp(new Uint8Array(100)), 'dhcp: truncated');
});
