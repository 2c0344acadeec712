/**
 * Two `virtkit run` processes on one LAN through a unix socket path (--net socket,path=...):
 * static addresses, and each pings the other. Both guests boot at the same time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestSession, guestFiles } from './session.ts';

test(
  'two VMs in two processes share a LAN over a socket path and ping each other',
  { timeout: 1_500_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'virtkit-lan-'));
    const files = await guestFiles(dir);
    const lan = join(dir, 'lan.sock');
    const a = new GuestSession(['--net', `socket,listen=${lan},mac=52:54:00:12:34:01`], files);
    let b: GuestSession | undefined;
    try {
      // The hub must exist before the second process connects.
      await new Promise((r) => setTimeout(r, 3000));
      b = new GuestSession(['--net', `socket,connect=${lan},mac=52:54:00:12:34:02`], files);
      await Promise.all([a.waitFor(/virtkit:[^\n]*# /, 1_200_000), b.waitFor(/virtkit:[^\n]*# /, 1_200_000)]);
      await a.run('ifconfig eth0 192.168.77.1 netmask 255.255.255.0 up');
      await b.run('ifconfig eth0 192.168.77.2 netmask 255.255.255.0 up');
      assert.match(await a.run('ping -c 3 -W 5 192.168.77.2'), /[1-3] packets received/);
      assert.match(await b.run('ping -c 3 -W 5 192.168.77.1'), /[1-3] packets received/);
      assert.match(await b.run('cat /proc/net/arp'), /192\.168\.77\.1\s+0x1\s+0x2\s+52:54:00:12:34:01/);
      assert.equal(await b.poweroff(), 0);
      assert.equal(await a.poweroff(), 0);
    } finally {
      a.kill();
      b?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
