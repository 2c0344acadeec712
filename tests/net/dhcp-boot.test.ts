/**
 * The default guest brings its NIC up by DHCP at boot: with `--net user` the shell starts with
 * 10.0.2.15/24 and a default route through 10.0.2.2 without anyone running udhcpc, and wget
 * reaches an HTTP server this test runs on the host's 127.0.0.1 (as 10.0.2.2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ensureGuest, virtkit } from '../support/virtkit.ts';

test('--net user: the guest has its lease at the prompt and wget reaches the host', { timeout: 900_000 }, async () => {
  ensureGuest();
  const srv: Server = createServer((req, res) => {
    res.writeHead(req.url === '/hello' ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(req.url === '/hello' ? 'hello from the host\n' : '');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  try {
    const r = await virtkit(
      ['run', '--memory', '256M', '--net', 'user'],
      [
        'ip addr show eth0 | sed "s/^/@@A /"',
        'ip route | sed "s/^/@@R /"',
        'sed "s/^/@@N /" /etc/resolv.conf',
        `wget -q -O - http://10.0.2.2:${port}/hello | sed "s/^/@@W /"`,
        'poweroff -f',
        '',
      ].join('\n'),
    );
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal}\n${r.stderr}\n${r.stdout.slice(-3000)}`);
    assert.match(r.stdout, /@@A\s+inet 10\.0\.2\.15\/24 /);
    assert.match(r.stdout, /@@R default via 10\.0\.2\.2 dev eth0/);
    assert.match(r.stdout, /@@N nameserver 10\.0\.2\.3/);
    assert.match(r.stdout, /@@W hello from the host/);
    assert.doesNotMatch(r.stdout, /no DHCP answer/);
  } finally {
    await new Promise((res) => srv.close(res));
  }
});
