/**
 * Two `virtkit run` processes on one LAN through a unix socket path (--net socket,path=...):
 * no DHCP server (the boot gives up on it quickly), static addresses, each pings the other, then 20 MB of guest-made random data goes from one to
 * the other with busybox nc and arrives with the same checksum. Both guests boot at the same time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestSession, guestFiles } from './session.ts';

/** Size of the nc transfer, in MB. */
const MB = 20;
const NC_PORT = 5001;

test(
  'two VMs in two processes share a LAN over a socket path: ping, and 20 MB over nc',
  { timeout: 1_500_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'virtkit-lan-'));
    const files = await guestFiles();
    const lan = join(dir, 'lan.sock');
    const a = new GuestSession(['--net', `socket,listen=${lan},mac=52:54:00:12:34:01`], files);
    let b: GuestSession | undefined;
    try {
      // The hub must exist before the second process connects.
      await new Promise((r) => setTimeout(r, 3000));
      b = new GuestSession(['--net', `socket,connect=${lan},mac=52:54:00:12:34:02`], files);
      await Promise.all([a.waitFor(/virtkit:[^\n]*# /, 1_200_000), b.waitFor(/virtkit:[^\n]*# /, 1_200_000)]);
      // No DHCP server on this LAN: the boot-time udhcpc gave up and said so, and the shell came up.
      assert.match(a.out, /eth0: no DHCP answer/);
      assert.match(b.out, /eth0: no DHCP answer/);
      await a.run('ifconfig eth0 192.168.77.1 netmask 255.255.255.0 up');
      await b.run('ifconfig eth0 192.168.77.2 netmask 255.255.255.0 up');
      assert.match(await a.run('ping -c 3 -W 5 192.168.77.2'), /[1-3] packets received/);
      assert.match(await b.run('ping -c 3 -W 5 192.168.77.1'), /[1-3] packets received/);
      assert.match(await b.run('cat /proc/net/arp'), /192\.168\.77\.1\s+0x1\s+0x2\s+52:54:00:12:34:01/);

      // 20 MB from b to a: a listens in the background, b sends a file it made from /dev/urandom.
      // Both files live in the initramfs (RAM): 20 MB each fits in the 256 MB guests.
      // busybox nc stops as soon as its peer half-closes, so the listener keeps the console as
      // stdin (with `< /dev/null` it would half-close at once and b would stop sending). Nothing
      // is typed into a until b's nc is done, which is after a's nc has closed and exited.
      await a.run(`nc -l -p ${NC_PORT} > /tmp/f & sleep 1`);
      const sent = await b.run(
        `dd if=/dev/urandom of=/tmp/f bs=1M count=${MB} 2>/dev/null; md5sum /tmp/f; ` +
          `nc -w 60 192.168.77.1 ${NC_PORT} < /tmp/f; echo nc-exit=$?; sleep 1`,
        900_000,
      );
      const sentSum = /([0-9a-f]{32})\s+\/tmp\/f/.exec(sent)?.[1];
      assert.ok(sentSum, sent);
      assert.match(sent, /nc-exit=0/, 'b sent the whole file');
      // a's nc ends when b's side closes; `wait` returns then.
      const got = await a.run('wait; ls -l /tmp/f; md5sum /tmp/f', 900_000);
      assert.match(got, new RegExp(`\\s${MB * 1024 * 1024}\\s`), `a received all ${MB} MB`);
      assert.match(got, new RegExp(`${sentSum}\\s+/tmp/f`), 'a received the same bytes');
      assert.equal(await b.poweroff(), 0);
      assert.equal(await a.poweroff(), 0);
    } finally {
      a.kill();
      b?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
