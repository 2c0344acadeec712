import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fragment, MAX_FRAGMENTS, Reassembler } from './ipv4-frag.ts';
import { parseIpv4 } from './ipv4.ts';
import { buildUdp, parseUdp } from './udp.ts';
import { UserNet, GATEWAY_IP } from './user/user-net.ts';
import { FakeHost, FrameSink, GUEST_IP, GUEST_MAC, GW_MAC } from './testing.ts';

const data = new Uint8Array(4000).map((_, i) => (i * 11) & 255);

function parsed(f: Uint8Array) {
  const ip = parseIpv4(f);
  assert.ok(typeof ip !== 'string', String(ip));
  return ip;
}

test('a 4000-byte datagram splits at the MTU and reassembles in any order', () => {
  const whole = buildUdp(GW_MAC, GUEST_MAC, GUEST_IP, 1000, GATEWAY_IP, 2000, data);
  const parts = fragment(whole);
  assert.deepEqual(
    parts.map((p) => p.length - 34),
    [1480, 1480, 1048],
  );
  const r = new Reassembler(() => 0);
  let out: Uint8Array | undefined;
  for (const p of [parts[2]!, parts[0]!, parts[1]!]) {
    const ip = parsed(p);
    assert.equal(ip.fragment, true);
    out = r.add(p, ip);
  }
  assert.ok(out);
  const ip = parsed(out);
  assert.equal(ip.fragment, false);
  const u = parseUdp(out, ip);
  assert.ok(typeof u !== 'string', String(u));
  assert.deepEqual(u.data, data);
  assert.equal(r.pending, 0);
});

test('overlaps, bad lengths and stale partial datagrams are dropped', () => {
  let now = 0;
  const r = new Reassembler(() => now);
  const parts = fragment(buildUdp(GW_MAC, GUEST_MAC, GUEST_IP, 1, GATEWAY_IP, 2, data));
  r.add(parts[0]!, parsed(parts[0]!));
  assert.equal(r.add(parts[0]!, parsed(parts[0]!)), undefined, 'duplicate = overlap');
  assert.equal(r.pending, 0);
  r.add(parts[1]!, parsed(parts[1]!));
  now = 31_000;
  r.add(parts[2]!, parsed(parts[2]!)); // the old piece expired: this one starts a new set
  assert.equal(r.pending, 1);
  assert.ok(r.dropped >= 2);
});

test('user NAT: fragmented UDP from the guest reaches the host whole; large replies come back fragmented', () => {
  const host = new FakeHost();
  const net = new UserNet(host);
  const sink = new FrameSink();
  net.connect(sink.deliver);
  for (const p of fragment(buildUdp(GW_MAC, GUEST_MAC, GUEST_IP, 7000, GATEWAY_IP, 9999, data))) net.transmit(p);
  assert.equal(host.udp.length, 1);
  assert.deepEqual(host.udp[0]!.sent[0]!.data, data);
  host.udp[0]!.onMessage(data, '127.0.0.1', 9999);
  const frames = sink.take();
  assert.equal(frames.length, 3);
  const r = new Reassembler(() => 0);
  let whole: Uint8Array | undefined;
  for (const f of frames) whole = r.add(f.frame, f.ip!) ?? whole;
  const u = parseUdp(whole!, parsed(whole!));
  assert.ok(typeof u !== 'string');
  assert.deepEqual(u.data, data);
});

test('a datagram cut into more pieces than MAX_FRAGMENTS is dropped; one cut for a 576-byte MTU is kept', () => {
  const big = new Uint8Array(60000).map((_, i) => i & 255);
  const whole = buildUdp(GW_MAC, GUEST_MAC, GUEST_IP, 1, GATEWAY_IP, 2, big);
  const tiny = fragment(whole, 28); // 8 payload bytes each: 7502 pieces
  const r = new Reassembler(() => 0);
  let kept = 0;
  for (const p of tiny) {
    assert.equal(r.add(p, parsed(p)), undefined);
    kept = Math.max(kept, r.heldFragments);
  }
  assert.ok(kept <= MAX_FRAGMENTS, `held ${kept} fragments of one datagram`);
  assert.ok(r.dropped >= Math.floor(tiny.length / (MAX_FRAGMENTS + 1)), `${r.dropped} dropped`);
  const r2 = new Reassembler(() => 0);
  let out: Uint8Array | undefined;
  for (const p of fragment(whole, 576)) out = r2.add(p, parsed(p)) ?? out;
  assert.ok(out, 'a 60000-byte datagram in 576-byte fragments reassembles');
});
