/**
 * User-mode networking end to end, with one boot of the default guest:
 * DHCP at boot (the guest's init gets 10.0.2.15, route and resolv.conf), ping to the gateway, DNS through
 * 10.0.2.3, an HTTP download of a multi-MB file from a server this test runs on 127.0.0.1
 * (reached as 10.0.2.2) with a matching checksum, an upload the other way, and port forwarding
 * from a host port to busybox httpd in the guest. Through the forwarded ports, 20 MB goes host ->
 * guest (into busybox nc) and back guest -> host (from httpd), and 200 short HTTP connections in
 * a row leave no host sockets open and no runaway memory in the virtkit process.
 * All host traffic stays on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type AddressInfo } from 'node:net';
import { get } from 'node:http';
import { GuestSession, guestFiles } from './session.ts';

/** 20 MB, the target size; each MB costs about a second of guest time at current speeds. */
const BIG = 20 * 1024 * 1024;
/** About 4 MB of text. */
const UPLOAD_LINES = 600_000;

/** Sequential short connections through the forward in the leak check. */
const SHORT_CONNS = 200;

/** Sends `data` to 127.0.0.1:port, half-closes, and resolves once the peer has closed too. */
function sendAll(port: number, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = connect({ port, host: '127.0.0.1' }, () => c.end(data));
    c.on('error', reject);
    c.resume();
    c.on('close', (hadError) => (hadError ? reject(new Error('connection failed')) : resolve()));
  });
}

/** GETs http://127.0.0.1:port/path on a fresh connection (no keep-alive); returns status and body. */
function httpGet(port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Open sockets of process `pid` (entries of /proc/PID/fd that are sockets). */
function socketCount(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // The fd closed while we looked.
    }
  }
  return n;
}

/** Resident memory of process `pid` in bytes. */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

test(
  'user NAT: DHCP, ping, DNS, 20 MB download, upload, port forwarding (20 MB each way, 200 connections)',
  { timeout: 1_500_000 },
  async (t) => {
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
    const fwdNc = await freePort();
    const s = new GuestSession(
      ['--net', `user,hostfwd=tcp:127.0.0.1:${fwd}-:8080,hostfwd=tcp:127.0.0.1:${fwdNc}-:9000`],
      await guestFiles(),
    );
    try {
      const prompt = await s.waitFor(/virtkit:[^\n]*# /, 900_000);
      // The guest's init asked for the lease before the shell started: nobody runs udhcpc here.
      const boot = s.out.slice(0, prompt.index);
      assert.match(boot, /udhcpc: eth0 10\.0\.2\.15\/255\.255\.255\.0 router 10\.0\.2\.2 dns 10\.0\.2\.3/);
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

      // Host -> guest through the forward: 20 MB into busybox nc, which exits when the host closes.
      // Its stdin is /dev/null (it half-closes at once; the host keeps sending regardless), so it
      // never reads the console. The upload file goes first: guest RAM holds the files.
      const toGuest = randomBytes(BIG);
      const toGuestMd5 = createHash('md5').update(toGuest).digest('hex');
      await s.run('rm -f /tmp/up; nc -l -p 9000 < /dev/null > /tmp/in & sleep 1');
      await sendAll(fwdNc, toGuest);
      const inSum = await s.run('wait; ls -l /tmp/in; md5sum /tmp/in', 900_000);
      assert.match(inSum, new RegExp(`\\s${BIG}\\s`), 'the guest received all 20 MB');
      assert.match(inSum, new RegExp(`${toGuestMd5}\\s+/tmp/in`), 'the guest received the bytes intact');

      // Guest -> host through the forward: httpd serves the same 20 MB back.
      await s.run('mv /tmp/in /www/big');
      const back = await httpGet(fwd, '/big');
      assert.equal(back.status, 200);
      assert.equal(back.body.length, BIG);
      assert.equal(createHash('md5').update(back.body).digest('hex'), toGuestMd5, 'the host got the file intact');
      await s.run('rm /www/big');

      // Many short connections: sockets and memory of the virtkit process stay bounded.
      const pid = s.child.pid!;
      const warm = await httpGet(fwd, '/index.html');
      assert.equal(warm.status, 200);
      const socketsBefore = socketCount(pid);
      const rssBefore = rss(pid);
      for (let i = 0; i < SHORT_CONNS; i++) {
        const r = await httpGet(fwd, '/index.html');
        assert.equal(r.status, 200, `request ${i}`);
        assert.equal(r.body.toString().trim(), 'guest-page-ok', `request ${i}`);
      }
      // Give the last connections' closes time to reach the host side.
      await new Promise((r) => setTimeout(r, 3000));
      const socketsAfter = socketCount(pid);
      const rssAfter = rss(pid);
      t.diagnostic(
        `virtkit sockets ${socketsBefore} -> ${socketsAfter}, RSS ${rssBefore >> 20} -> ${rssAfter >> 20} MiB`,
      );
      assert.ok(
        socketsAfter <= socketsBefore + 5,
        `virtkit holds ${socketsAfter} sockets after ${SHORT_CONNS} connections (${socketsBefore} before)`,
      );
      assert.ok(
        rssAfter <= rssBefore + 128 * 1024 * 1024,
        `virtkit RSS grew from ${rssBefore} to ${rssAfter} bytes over ${SHORT_CONNS} connections`,
      );

      assert.equal(await s.poweroff(), 0);
    } finally {
      s.kill();
      srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
