import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TSO_SEGMENTS, MIN_GSO_SIZE, segmentTcp } from './tso.ts';
import { buildTcp, parseTcp, ACK, PSH, FIN } from './tcp.ts';
import { parseIpv4 } from './ipv4.ts';
import { concat } from './testing.ts';

const A = new Uint8Array([2, 0, 0, 0, 0, 1]);
const B = new Uint8Array([2, 0, 0, 0, 0, 2]);

test('a 5000-byte TCP frame becomes MSS-sized segments with valid checksums and consecutive sequence numbers', () => {
  const data = new Uint8Array(5000).map((_, i) => (i * 13) & 255);
  const big = buildTcp(
    A,
    B,
    0x0a00020f,
    0x0a000202,
    { srcPort: 1, dstPort: 2, seq: 0xfffff000, ack: 9, flags: ACK | PSH | FIN, window: 500 },
    data,
  );
  const segs: Uint8Array[] = [];
  assert.equal(
    segmentTcp(big, 1448, (s) => segs.push(s)),
    true,
  );
  assert.equal(segs.length, 4);
  const parsed = segs.map((s) => {
    const ip = parseIpv4(s);
    assert.ok(typeof ip !== 'string', String(ip));
    const t = parseTcp(s, ip);
    assert.ok(typeof t !== 'string', String(t));
    return t;
  });
  assert.deepEqual(
    parsed.map((t) => t.data.length),
    [1448, 1448, 1448, 656],
  );
  assert.deepEqual(
    parsed.map((t) => t.seq),
    [0xfffff000, 0xfffff5a8, 0xfffffb50, 0x000000f8],
  );
  assert.deepEqual(
    parsed.map((t) => t.flags),
    [ACK, ACK, ACK, ACK | PSH | FIN],
  );
  assert.deepEqual(concat(parsed.map((t) => t.data)), data);
});

test('non-TCP, truncated and zero-payload frames are refused', () => {
  const small = buildTcp(A, B, 1, 2, { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: ACK, window: 1 });
  assert.equal(
    segmentTcp(small, 1448, () => assert.fail()),
    false,
  );
  assert.equal(
    segmentTcp(small.subarray(0, 30), 1448, () => assert.fail()),
    false,
  );
  const udp = small.slice();
  udp[23] = 17;
  assert.equal(
    segmentTcp(udp, 1448, () => assert.fail()),
    false,
  );
  const withData = buildTcp(
    A,
    B,
    1,
    2,
    { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: ACK, window: 1 },
    new Uint8Array(10),
  );
  assert.equal(
    segmentTcp(withData, 0, () => assert.fail()),
    false,
  );
});

test('gso sizes below MIN_GSO_SIZE, segments longer than maxFrame and too many segments are refused', () => {
  const f = buildTcp(
    A,
    B,
    1,
    2,
    { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: ACK, window: 1 },
    new Uint8Array(65535 - 40),
  );
  assert.equal(MIN_GSO_SIZE, 88);
  assert.equal(
    segmentTcp(f, MIN_GSO_SIZE - 1, () => assert.fail()),
    false,
  );
  assert.equal(
    segmentTcp(f, 1, () => assert.fail()),
    false,
  );
  let n = 0;
  assert.equal(
    segmentTcp(f, MIN_GSO_SIZE, () => n++),
    true,
  );
  assert.equal(n, MAX_TSO_SEGMENTS);
  assert.equal(
    segmentTcp(f, 1500, () => assert.fail(), 1518),
    false,
  );
  assert.equal(
    segmentTcp(f, 1448, () => n++, 1518),
    true,
  );
});
