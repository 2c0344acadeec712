import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { NetConfigError, NetSetup, parseNetSpec, wakingBackend } from './netdev.ts';
import type { NetBackend } from '../../../net/types.ts';

test('parses user, hostfwd, restrict, switch, socket and mac options', () => {
  assert.deepEqual(parseNetSpec('user'), { kind: 'user', forwards: [], restrict: false, mac: undefined });
  const u = parseNetSpec('user,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=::2222-10.0.2.15:22,restrict=on');
  assert.equal(u.kind, 'user');
  assert.deepEqual(u.kind === 'user' && u.forwards, [
    { proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 8080, guestPort: 80 },
    { proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 2222, guestPort: 22 },
  ]);
  assert.equal(u.kind === 'user' && u.restrict, true);
  const ud = parseNetSpec('user,hostfwd=udp:127.0.0.1:5353-:53,hostfwd=tcp::5353-:53');
  assert.deepEqual(ud.kind === 'user' && ud.forwards.map((f) => f.proto), ['udp', 'tcp']);
  assert.deepEqual(parseNetSpec('switch=lan0,mac=52:54:00:aa:bb:cc'), {
    kind: 'switch',
    name: 'lan0',
    mac: new Uint8Array([0x52, 0x54, 0, 0xaa, 0xbb, 0xcc]),
  });
  assert.deepEqual(parseNetSpec('socket,path=/tmp/x.sock'), {
    kind: 'socket',
    mode: 'path',
    path: '/tmp/x.sock',
    mac: undefined,
  });
});

test('bad specs are one-line NetConfigErrors', () => {
  for (const bad of [
    'bogus',
    'user,hostfwd=tcp::99999-:80',
    'user,hostfwd=tcp::80-:0',
    'user,hostfwd=tcp:1.2.3:80-:80',
    'user,hostfwd=8080:80',
    'user,restrict=maybe',
    'user,hostfwd=tcp::8080-:80,hostfwd=tcp::8080-:81',
    'user,mac=01:00:5e:00:00:01',
    'user,mac=zz',
    'switch=',
    'switch=a b',
    'socket',
    'socket,listen=/a,connect=/b',
    'socket,bind=/a',
    'user,novalue',
  ]) {
    assert.throws(
      () => parseNetSpec(bad),
      (e: unknown) => e instanceof NetConfigError && !e.message.includes('\n'),
      bad,
    );
  }
});

test('a forwarded port already in use fails the whole setup and releases what it opened', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as AddressInfo).port;
  await assert.rejects(NetSetup.build([parseNetSpec(`user,hostfwd=tcp:127.0.0.1:${port}-:80`)]), /already in use/);
  const ok = await NetSetup.build([parseNetSpec('switch=a'), parseNetSpec('switch=a'), parseNetSpec('user')]);
  assert.equal(ok.nics.length, 3);
  // Two NICs on switch 'a' see each other's broadcasts.
  let got = 0;
  ok.nics[1]!.backend.connect(() => got++);
  ok.nics[0]!.backend.connect(() => {});
  const f = new Uint8Array(60).fill(0xff, 0, 6);
  f[6] = 2;
  ok.nics[0]!.backend.transmit(f);
  assert.equal(got, 1);
  ok.close();
  blocker.close();
});

test('socket,path=: the first setup hosts the LAN, the second joins it', async () => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'virtkit-netdev-'));
  const path = join(dir, 'lan.sock');
  const a = await NetSetup.build([parseNetSpec(`socket,path=${path}`)]);
  const b = await NetSetup.build([parseNetSpec(`socket,path=${path}`)]);
  const got: number[] = [];
  a.nics[0]!.backend.connect((f) => got.push(f[13]!));
  b.nics[0]!.backend.connect(() => {});
  const f = new Uint8Array(60).fill(0xff, 0, 6);
  f[6] = 2;
  f[13] = 42;
  b.nics[0]!.backend.transmit(f);
  const end = Date.now() + 5000;
  while (!got.length && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(got, [42]);
  b.close();
  a.close();
  await rm(dir, { recursive: true, force: true });
});

test('the waking wrapper passes transmit offload through: the capability and each gso size', () => {
  const got: Array<[number, number | undefined]> = [];
  const inner: NetBackend = {
    transmitOffload: 65549,
    transmit: (f, gso) => got.push([f.length, gso]),
    connect: () => {},
    close: () => {},
  };
  const w = wakingBackend(inner, () => {});
  assert.equal(w.transmitOffload, 65549);
  w.transmit(new Uint8Array(3000), 1448);
  w.transmit(new Uint8Array(60));
  assert.deepEqual(got, [
    [3000, 1448],
    [60, undefined],
  ]);
});

test("hostfwd is read field by field as QEMU does: 'tcp:8080-:80' has no host address, not host address 'tcp'", () => {
  const fwd = (t: string) => {
    const s = parseNetSpec(`user,hostfwd=${t}`);
    return s.kind === 'user' ? s.forwards[0] : undefined;
  };
  assert.deepEqual(fwd('tcp:8080-:80'), { proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 8080, guestPort: 80 });
  assert.deepEqual(fwd('udp:5353-:53'), { proto: 'udp', hostAddr: '127.0.0.1', hostPort: 5353, guestPort: 53 });
  assert.deepEqual(fwd('tcp::8080-10.0.2.15:80'), {
    proto: 'tcp',
    hostAddr: '127.0.0.1',
    hostPort: 8080,
    guestPort: 80,
  });
  assert.deepEqual(fwd('tcp:0.0.0.0:8080-:80'), { proto: 'tcp', hostAddr: '0.0.0.0', hostPort: 8080, guestPort: 80 });
  assert.deepEqual(fwd(':127.0.0.1:8080-:80'), { proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 8080, guestPort: 80 });
  assert.deepEqual(fwd('8080-:80'), { proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 8080, guestPort: 80 });
});

test('hostfwd errors say what is expected', () => {
  const form = /expected \[tcp\|udp\]:\[HOSTADDR\]:HOSTPORT-\[GUESTADDR\]:GUESTPORT, e\.g\. tcp::8080-:80/;
  assert.throws(() => parseNetSpec('user,hostfwd=8080:80'), form);
  assert.throws(() => parseNetSpec('user,hostfwd=sctp:1.2.3.4:80-:80'), /protocol 'sctp' is not tcp or udp/);
  assert.throws(() => parseNetSpec('user,hostfwd=tcp:host:80-:80'), /bad host address 'host' \(an IPv4 address/);
  assert.throws(
    () => parseNetSpec('user,hostfwd=tcp::99999-:80'),
    /bad host port '99999' \(expected a port number 1\.\.65535\)/,
  );
  assert.throws(() => parseNetSpec('bogus'), /hostfwd=\[tcp\|udp\]:\[HOSTADDR\]/);
});

test('bad text is a NetConfigError of input; a busy port or an absent socket is a runtime one', async () => {
  try {
    parseNetSpec('user,hostfwd=x');
    assert.fail('parsed');
  } catch (e) {
    assert.ok(e instanceof NetConfigError && !e.runtime);
  }
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as AddressInfo).port;
  await assert.rejects(
    NetSetup.build([parseNetSpec(`user,hostfwd=tcp::${port}-:80`)]),
    (e: unknown) => e instanceof NetConfigError && e.runtime && /already in use/.test(e.message),
  );
  blocker.close();
  await assert.rejects(
    NetSetup.build([parseNetSpec('socket,connect=/nonexistent/virtkit.sock')]),
    (e: unknown) => e instanceof NetConfigError && e.runtime && /no such file or directory/.test(e.message),
  );
});
