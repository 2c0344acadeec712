/**
 * Moving a running VM out of its process into a "browser tab" and back, through a real daemon,
 * with this test as the tab: it takes the snapshot and reads and writes the disk through the block
 * protocol, then sends the snapshot back and the VM resumes where it was (same boot id, its disk
 * holding what was written before the move). The refusals: a VM that is not running (409), the
 * daemon's start/resume while the VM is in the tab (409 naming the tab), requests without or
 * with another session, out-of-range block requests, garbage and oversized uploads (400), a
 * snapshot whose disk has changed since (400, the VM stays in the tab). Finally a tab that goes
 * silent: the lease ends and the VM is stopped, its disk keeping the tab's writes.
 * One boot of the default guest (a 2-core machine: one VM at a time).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { TestDaemon, guestShell, until } from './harness.ts';
import { openImageFile } from '../../src/host/node/open-image.ts';

const LEASE_S = 20;
const d = new TestDaemon();
before(() => {
  process.env['VIRTKIT_BROWSER_LEASE_S'] = String(LEASE_S);
  return d.start();
});
after(() => d.cleanup());

interface Raw {
  status: number;
  body: Buffer;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One request over the daemon's socket with a binary body and answer. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string | number> = {},
  body?: Uint8Array,
  declared?: number,
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        let json: unknown;
        try {
          json = JSON.parse(b.toString('utf8'));
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: b, json });
        if (declared !== undefined) req.destroy();
      });
    });
    req.on('error', (e) => (declared !== undefined ? undefined : reject(e)));
    if (body) req.write(body);
    // A declared length larger than what is sent: the answer must come before the rest would.
    if (declared === undefined) req.end();
  });
}

const octet = (session: string) => ({ 'content-type': 'application/octet-stream', 'x-virtkit-session': session });

test(
  'a running VM moves out to a tab and back; its disk goes with it; bad requests are refused',
  { timeout: 900_000 },
  async () => {
    const c = await d.req('POST', '/v1/vms', { name: 'mv', memory: 128, disks: [{ size: 16 }] });
    assert.equal(c.status, 201, c.text);

    // Not running: nothing to move.
    const early = await d.req('POST', '/v1/vms/mv/browser');
    assert.equal(early.status, 409, early.text);
    assert.match(early.body.error.message, /VM 'mv' is stopped: cannot move.*running or paused/);

    assert.equal((await d.req('POST', '/v1/vms/mv/start')).status, 200);
    await guestShell(
      d,
      'mv',
      'echo moved-42 | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null; echo wrote-$((1+1))',
      /wrote-2/,
    );
    const bootId = /([0-9a-f-]{36})/.exec(
      await guestShell(d, 'mv', 'cat /proc/sys/kernel/random/boot_id', /[0-9a-f-]{36}/),
    )![1]!;

    const mv = await d.req('POST', '/v1/vms/mv/browser');
    assert.equal(mv.status, 200, mv.text);
    const session = mv.body.session as string;
    assert.match(session, /^[0-9a-f]{32}$/);
    assert.deepEqual(mv.body.disks, [{ index: 0, size: 16 << 20, format: 'qcow2', readonly: false }]);
    assert.equal(mv.body.lease, LEASE_S);
    assert.equal(mv.body.paused, false);
    assert.equal((await d.req('GET', '/v1/vms/mv')).body.state, 'in-browser');
    // The daemon holds the disk (its image lock) while the VM is away: nobody else may write it.
    await assert.rejects(openImageFile(c.body.disks[0].path as string), /lock/i);

    // No double running: the daemon refuses to start, resume or stop it, and says where it is.
    for (const verb of ['start', 'resume', 'stop']) {
      const r = await d.req('POST', `/v1/vms/mv/${verb}`);
      assert.equal(r.status, 409, r.text);
      assert.match(r.body.error.message, /in-browser.*browser tab/);
    }
    // A second move, or one with the session missing or wrong.
    assert.equal((await d.req('POST', '/v1/vms/mv/browser')).status, 409);
    assert.equal((await raw('GET', '/v1/vms/mv/browser/snapshot')).status, 400);
    assert.equal(
      (await raw('GET', '/v1/vms/mv/browser/snapshot', { 'x-virtkit-session': 'ab'.repeat(16) })).status,
      409,
    );

    const snap = await raw('GET', '/v1/vms/mv/browser/snapshot', { 'x-virtkit-session': session });
    assert.equal(snap.status, 200);
    assert.equal(snap.body.length, mv.body.snapshot.size);
    assert.equal(snap.body.subarray(0, 6).toString('latin1'), 'VKSNAP');

    // The block protocol: reads see what the guest wrote before the move.
    const sector = await raw('GET', '/v1/vms/mv/browser/disks/0?offset=0&length=512', { 'x-virtkit-session': session });
    assert.equal(sector.status, 200);
    assert.equal(sector.body.subarray(0, 9).toString('latin1'), 'moved-42\n');
    for (const [q, re] of [
      ['0?offset=0&length=2097152', /length 2097152: 1\.\.1048576/],
      ['0?offset=16776704&length=1024', /past the end of disk 0 \(16777216 bytes\)/],
      ['3?offset=0&length=512', /disk 3: the VM has 1 disk/],
      ['0?offset=-1&length=512', /querystring.offset/],
    ] as const) {
      const r = await raw('GET', `/v1/vms/mv/browser/disks/${q}`, { 'x-virtkit-session': session });
      assert.equal(r.status, 400, r.body.toString());
      assert.match(r.json.error.message, re);
    }
    const big = await raw('PUT', '/v1/vms/mv/browser/disks/0?offset=0', octet(session), new Uint8Array((1 << 20) + 1));
    assert.equal(big.status, 400);
    assert.match(big.json.error.message, /larger than the 1048576 bytes/);

    // A write changes the disk: the snapshot no longer matches it (400, and the VM stays in the tab).
    const marker = Buffer.from('tab-was-here');
    assert.equal((await raw('PUT', '/v1/vms/mv/browser/disks/0?offset=8192', octet(session), marker)).status, 204);
    assert.equal((await raw('POST', '/v1/vms/mv/browser/disks/0/flush', { 'x-virtkit-session': session })).status, 204);
    const mismatch = await raw('POST', '/v1/vms/mv/browser/return', octet(session), snap.body);
    assert.equal(mismatch.status, 400, mismatch.body.toString());
    assert.match(mismatch.json.error.message, /refused: disk 0 .* is not the disk it was saved with/);
    assert.equal((await d.req('GET', '/v1/vms/mv')).body.state, 'in-browser');

    // Garbage and oversized uploads.
    const garbage = await raw(
      'POST',
      '/v1/vms/mv/browser/return',
      octet(session),
      Buffer.from('not a snapshot at all'),
    );
    assert.equal(garbage.status, 400);
    assert.match(garbage.json.error.message, /refused: not a virtkit snapshot/);
    const truncated = await raw('POST', '/v1/vms/mv/browser/return', octet(session), snap.body.subarray(0, 4000));
    assert.equal(truncated.status, 400);
    assert.match(truncated.json.error.message, /refused: snapshot is truncated/);
    const huge = await raw(
      'POST',
      '/v1/vms/mv/browser/return',
      { ...octet(session), 'content-length': (128 << 20) + (16 << 20) + 1 },
      new Uint8Array(1024),
      (128 << 20) + (16 << 20) + 1,
    );
    assert.equal(huge.status, 400);
    assert.match(huge.json.error.message, /the snapshot is larger than the 150994944 bytes allowed/);
    // One upload at a time: a second one while the first is still coming in is refused.
    const slow = request({
      socketPath: d.socket,
      method: 'POST',
      path: '/v1/vms/mv/browser/return',
      headers: { ...octet(session), 'content-length': 1 << 20 },
    });
    slow.on('error', () => {});
    slow.on('response', (res) => res.resume());
    slow.write(new Uint8Array(1024));
    await new Promise((r) => setTimeout(r, 500));
    const second = await raw('POST', '/v1/vms/mv/browser/return', octet(session), new Uint8Array(16));
    slow.destroy();
    assert.equal(second.status, 409, second.body.toString());
    assert.match(second.json.error.message, /one upload at a time/);
    await new Promise((r) => setTimeout(r, 500));
    const json = await d.req('POST', '/v1/vms/mv/browser/return', {});
    assert.equal(json.status, 400);

    // The tab undoes its write (zeros, as the guest never wrote there): the snapshot matches again.
    const zero = await raw(
      'POST',
      '/v1/vms/mv/browser/disks/0/zero',
      { 'content-type': 'application/json', 'x-virtkit-session': session },
      Buffer.from(JSON.stringify({ offset: 8192, length: 512 })),
    );
    assert.equal(zero.status, 204, zero.body.toString());
    // Paused in the tab: paused back on the daemon.
    const back = await raw('POST', '/v1/vms/mv/browser/return?paused=true', octet(session), snap.body);
    assert.equal(back.status, 200, back.body.toString());
    assert.equal(back.json.state, 'paused');
    assert.equal((await d.req('POST', '/v1/vms/mv/resume')).status, 200);
    // The session is over.
    assert.equal((await raw('GET', '/v1/vms/mv/browser/snapshot', { 'x-virtkit-session': session })).status, 409);

    // The same boot, the disk as it was: read past the page cache.
    const after = await guestShell(
      d,
      'mv',
      'echo 3 > /proc/sys/vm/drop_caches; cat /proc/sys/kernel/random/boot_id; head -c 9 /dev/vda; echo read-$((2+3))',
      /read-5/,
    );
    assert.ok(after.includes(bootId), `same boot id ${bootId} after the return:\n${after}`);
    assert.match(after, /moved-42/);
    const events = (await d.req('GET', '/v1/vms/mv/events')).body as { state: string; reason: string | null }[];
    assert.ok(events.some((e) => e.state === 'in-browser' && /moved to a browser tab/.test(e.reason ?? '')));
    assert.ok(events.some((e) => /back from a browser tab/.test(e.reason ?? '')));

    // A tab that goes silent: after the lease the VM is stopped, its disk with what the tab wrote.
    const mv2 = await d.req('POST', '/v1/vms/mv/browser');
    assert.equal(mv2.status, 200, mv2.text);
    assert.equal(
      (await raw('PUT', '/v1/vms/mv/browser/disks/0?offset=0', octet(mv2.body.session), Buffer.from('tab-wrote-this')))
        .status,
      204,
    );
    await until(
      'the lease to end',
      async () => (await d.req('GET', '/v1/vms/mv')).body.state === 'stopped',
      LEASE_S * 1000 + 60_000,
    );
    const stopped = (await d.req('GET', '/v1/vms/mv')).body;
    assert.match(stopped.reason, /the browser tab went away \(no request for 20 s\)/);
    assert.equal((await d.req('POST', '/v1/vms/mv/start')).status, 200);
    await guestShell(d, 'mv', 'head -c 14 /dev/vda; echo; echo read-$((3+4))', /tab-wrote-this[\s\S]*read-7/);

    // DELETE takes a VM back from its tab at once; deleting the VM (force) does the same first.
    assert.equal((await d.req('POST', '/v1/vms/mv/browser')).status, 200);
    const del = await d.req('DELETE', '/v1/vms/mv/browser');
    assert.equal(del.status, 204, del.text);
    const taken = (await d.req('GET', '/v1/vms/mv')).body;
    assert.equal(taken.state, 'stopped');
    assert.match(taken.reason, /taken back from the browser tab without its RAM/);
    assert.equal((await d.req('DELETE', '/v1/vms/mv/browser')).status, 409);

    // The daemon stops (or is killed) while the VM is in a tab: the tab loses its disks, and the
    // VM is recorded stopped (at the stop, or by the next daemon). A move needs no booted guest.
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      assert.equal((await d.req('POST', '/v1/vms/mv/start')).status, 200);
      assert.equal((await d.req('POST', '/v1/vms/mv/browser')).status, 200);
      await d.stop(signal);
      await d.start();
      const vm = (await d.req('GET', '/v1/vms/mv')).body;
      assert.equal(vm.state, 'stopped', `after ${signal}`);
      assert.match(
        vm.reason,
        signal === 'SIGTERM' ? /the daemon stopped while the VM ran in a browser tab/ : /the daemon restarted while/,
      );
    }

    assert.equal((await d.req('POST', '/v1/vms/mv/start')).status, 200);
    assert.equal((await d.req('POST', '/v1/vms/mv/browser')).status, 200);
    assert.equal((await d.req('DELETE', '/v1/vms/mv')).status, 409, 'in a tab: delete needs force');
    assert.equal((await d.req('DELETE', '/v1/vms/mv?force=true')).status, 204);
    assert.equal((await d.req('GET', '/v1/vms/mv')).status, 404);
  },
);
