/**
 * `virtkit run --net` errors: one line on stderr, nothing booted; exit status 2 for bad input, 1 for
 * a host resource that is busy or absent (a forwarded port in use, a socket nobody listens on).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { ensureGuest, virtkit } from '../support/virtkit.ts';

test(
  'bad --net specs exit 2, a forwarded port already in use exit 1, with a one-line message',
  { timeout: 120_000 },
  async () => {
    ensureGuest();
    for (const spec of ['bogus', 'user,hostfwd=tcp::70000-:80', 'user,restrict=perhaps', 'socket,listen=']) {
      const r = await virtkit(['run', '--net', spec], '', 60_000);
      assert.equal(r.code, 2, `${spec}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /--net/);
    }
    const blocker = createServer();
    await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', res));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const r = await virtkit(['run', '--net', `user,hostfwd=tcp:127.0.0.1:${port}-:80`], '', 60_000);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr.trim(), new RegExp(`^virtkit run: hostfwd 127\\.0\\.0\\.1:${port}: port already in use \\(by another program or another forward\\)$`));
      // More NICs than virtio slots: refused, and the forward's listener does not keep the process alive.
      const probe = createServer();
      await new Promise<void>((res) => probe.listen(0, '127.0.0.1', res));
      const free = (probe.address() as AddressInfo).port;
      await new Promise((res) => probe.close(res));
      const many = Array.from({ length: 7 }, (_, i) => ['--net', i ? 'user' : `user,hostfwd=tcp::${free}-:80`]).flat();
      const m = await virtkit(['run', ...many], '', 60_000);
      assert.equal(m.code, 2, m.stderr);
      assert.match(m.stderr, /virtio slots/);
      const c = await virtkit(['run', '--net', 'socket,connect=/nonexistent/virtkit.sock'], '', 60_000);
      assert.equal(c.code, 1, c.stderr);
      assert.match(c.stderr, /: no such file or directory$/m);
    } finally {
      blocker.close();
    }
  },
);
