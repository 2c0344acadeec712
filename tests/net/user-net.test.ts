/**
 * User-mode networking end to end, with one boot of the default guest:
 * DHCP (udhcpc gets 10.0.2.15, route and resolv.conf), ping to the gateway, DNS through
 * 10.0.2.3, an HTTP download of a multi-MB file from a server this test runs on 127.0.0.1
 * (reached as 10.0.2.2) with a matching checksum, an upload the other way, and port forwarding
 * from a host port to busybox httpd in the guest. All host traffic stays on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { GuestSession, guestFiles } from './session.ts';

/** 20 MB, the target size; each MB costs about a second of guest time at current speeds. */
const BIG = 20 * 1024 * 1024;
/** About 4 MB of text. */
const UPLOAD_LINES = 600_000;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

test(
  'user NAT: DHCP, ping, DNS, 20 MB download, upload, port forwarding to guest httpd',
  { timeout: 1_500_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'virtkit-net-'));
    const big = randomBytes(BIG);
    const bigSha = createHash('sha256').update(big).digest('hex');
    let uploadSha = '';
    const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-length': String(big.length) });
        res.end(big);
      } else if (req.url === '/upload' && req.method === 'POST') {
        const h = createHash('sha256');
        req.on('data', (d) => h.update(d));
        req.on('end', () => {
          uploadSha = h.digest('hex');
          res.end(`host-sha ${uploadSha}\n`);
        });
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    const fwd = await freePort();
    const s = new GuestSession(['--net', `user,hostfwd=tcp:127.0.0.1:${fwd}-:8080`], await guestFiles(dir));
    try {
      await s.waitFor(/virtkit:[^\n]*# /, 900_000);
      const dhcp = await s.run('udhcpc -i eth0 -n -q -t 5');
      assert.match(dhcp, /lease of 10\.0\.2\.15 obtained from 10\.0\.2\.2/);
      const cfg = await s.run('ifconfig eth0; route -n; cat /etc/resolv.conf');
      assert.match(cfg, /inet addr:10\.0\.2\.15/);
      assert.match(cfg, /0\.0\.0\.0\s+10\.0\.2\.2\s+0\.0\.0\.0\s+UG/);
      assert.match(cfg, /nameserver 10\.0\.2\.3/);
      assert.match(await s.run('ping -c 2 10.0.2.2'), /2 packets received/);
      assert.match(await s.run('nslookup localhost 10.0.2.3'), /Address:\s*10\.0\.2\.2/);

      const dl = await s.run(`wget -q -O - http://10.0.2.2:${port}/big | sha256sum`, 900_000);
      assert.match(dl, new RegExp(`${bigSha}\\s+-`), 'the guest got the file intact');

      const up = await s.run(
        // Text: busybox wget --post-file sends the file as a C string (up to the first NUL byte).
        `seq 1 ${UPLOAD_LINES} > /tmp/up; sha256sum /tmp/up; ` +
          `wget -q -O - --post-file=/tmp/up http://10.0.2.2:${port}/upload`,
        600_000,
      );
      const guestSha = /([0-9a-f]{64})\s+\/tmp\/up/.exec(up)?.[1];
      assert.ok(guestSha, up);
      assert.equal(uploadSha, guestSha, 'the host received the guest file intact');

      await s.run('mkdir -p /www && echo guest-page-ok > /www/index.html && httpd -p 8080 -h /www');
      const res = await fetch(`http://127.0.0.1:${fwd}/index.html`);
      assert.equal(res.status, 200);
      assert.equal((await res.text()).trim(), 'guest-page-ok');

      assert.equal(await s.poweroff(), 0);
    } finally {
      s.kill();
      srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
