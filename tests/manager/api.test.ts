/**
 * The manager's API against a real daemon on a temporary state directory: definitions (create,
 * list, get, patch, delete), validation of every kind of bad request (each its 4xx with a message
 * naming the problem, the database and the files unchanged afterwards), the unix socket's mode,
 * the TCP token, the OpenAPI document and the one-daemon-per-directory rule. No VM is started.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, TestDaemon, httpRequest } from './harness.ts';

const d = new TestDaemon();
before(() => d.start(['--listen', '127.0.0.1:0']));
after(() => d.cleanup());

const vmDirs = () => readdirSync(join(d.stateDir, 'vms')).sort();

test('the state directory: socket 0600, token 0600, pid file; a second daemon on it refuses with a clear message', () => {
  assert.equal(statSync(d.socket).mode & 0o777, 0o600);
  assert.equal(statSync(join(d.stateDir, 'token')).mode & 0o777, 0o600);
  assert.match(d.token(), /^[0-9a-f]{64}$/);
  assert.ok(existsSync(join(d.stateDir, 'daemon.pid')));
  const second = spawnSync(process.execPath, [BIN, 'daemon', '--state-dir', d.stateDir], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(second.status, 1);
  assert.match(
    second.stderr,
    /another virtkit daemon \(pid \d+\) is using .*; stop it first or give another --state-dir/,
  );
});

test('TCP needs the bearer token: 401 without or with a wrong one, 200 with it', async () => {
  const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(d.log)![1]);
  const tcp = { host: '127.0.0.1', port };
  const none = await httpRequest(tcp, 'GET', '/v1/vms');
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, 'unauthorized');
  const wrong = await httpRequest(tcp, 'GET', '/v1/vms', undefined, { authorization: `Bearer ${'0'.repeat(64)}` });
  assert.equal(wrong.status, 401);
  const ok = await httpRequest(tcp, 'GET', '/v1/version', undefined, { authorization: `Bearer ${d.token()}` });
  assert.equal(ok.status, 200);
  assert.match(ok.body.version, /^\d+\.\d+\.\d+/);
});

test('create, get, list, patch and delete a definition; owned disks live in the VM directory and go with it', async () => {
  const before = vmDirs();
  const c = await d.req('POST', '/v1/vms', {
    name: 'web-1',
    memory: 128,
    cpus: 2,
    disks: [{ size: 64 }],
    nics: [{ hostfwd: ['tcp::18080-:80'] }],
  });
  assert.equal(c.status, 201, c.text);
  assert.equal(c.body.name, 'web-1');
  assert.equal(c.body.state, 'stopped');
  assert.equal(c.body.memory, 128);
  assert.deepEqual(c.body.source, { type: 'default' });
  assert.equal(c.body.disks.length, 1);
  assert.equal(c.body.disks[0].owned, true);
  assert.equal(c.body.disks[0].format, 'qcow2');
  assert.ok(c.body.disks[0].path.startsWith(join(d.stateDir, 'vms', c.body.id)));
  assert.ok(existsSync(c.body.disks[0].path));
  assert.deepEqual((await d.req('GET', '/v1/vms/web-1')).body, c.body);
  assert.ok((await d.req('GET', '/v1/vms')).body.some((v: { name: string }) => v.name === 'web-1'));

  const p = await d.req('PATCH', '/v1/vms/web-1', { memory: 256, append: 'console=ttyS0 quiet' });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.body.memory, 256);
  assert.equal(p.body.append, 'console=ttyS0 quiet');

  const del = await d.req('DELETE', '/v1/vms/web-1');
  assert.equal(del.status, 204);
  assert.equal((await d.req('GET', '/v1/vms/web-1')).status, 404);
  assert.ok(!existsSync(c.body.disks[0].path));
  assert.deepEqual(vmDirs(), before);
});

test('a disk by path keeps its file when the VM is deleted; an image source gets an owned overlay', async () => {
  const raw = join(d.root, 'data.raw');
  writeFileSync(raw, Buffer.alloc(1 << 20));
  const c = await d.req('POST', '/v1/vms', { name: 'by-path', disks: [{ path: raw, readonly: true }] });
  assert.equal(c.status, 201, c.text);
  assert.deepEqual(c.body.disks, [{ path: raw, format: 'raw', owned: false, readonly: true }]);
  const img = await d.req('POST', '/v1/vms', { name: 'from-image', source: { type: 'image', path: raw } });
  assert.equal(img.status, 201, img.text);
  assert.equal(img.body.disks[0].owned, true);
  assert.equal(img.body.disks[0].backing, raw);
  assert.equal((await d.req('DELETE', '/v1/vms/by-path')).status, 204);
  assert.equal((await d.req('DELETE', '/v1/vms/from-image')).status, 204);
  assert.ok(existsSync(raw));
});

test('bad requests: each its 4xx with a message naming the problem; the database and files unchanged', async () => {
  const keep = await d.req('POST', '/v1/vms', { name: 'keep', disks: [{ size: 16 }] });
  assert.equal(keep.status, 201);
  const listBefore = (await d.req('GET', '/v1/vms')).body;
  const dirsBefore = vmDirs();
  const diskBefore = statSync(keep.body.disks[0].path);

  const cases: Array<[string, string, unknown, number, RegExp]> = [
    ['POST', '/v1/vms', '{"name": "x",', 400, /not valid JSON/],
    ['POST', '/v1/vms', { name: 'x', colour: 'red' }, 400, /body: unknown field 'colour'/],
    ['POST', '/v1/vms', { name: 'x', memory: '512' }, 400, /body\.memory: must be integer/],
    ['POST', '/v1/vms', { name: 'x', cpus: 1.5 }, 400, /body\.cpus: must be integer/],
    ['POST', '/v1/vms', { name: 'x', memory: 1e12 }, 400, /body\.memory: must be <= 4096/],
    ['POST', '/v1/vms', { name: 'x', disks: [{ size: 1e15 }] }, 400, /body\.disks\[0\]\.size: must be <= 1048576/],
    ['POST', '/v1/vms', { name: 'x', disks: [{ size: 1, path: '/x' }] }, 400, /body\.disks\[0\]: expected \{path/],
    [
      'POST',
      '/v1/vms',
      { name: 'x', disks: Array(7).fill({ size: 1 }) },
      400,
      /body\.disks: must NOT have more than 6 items/,
    ],
    [
      'POST',
      '/v1/vms',
      { name: 'x', disks: Array(4).fill({ size: 1 }), nics: [{}, {}, {}] },
      400,
      /do not fit: a VM has 6 virtio slots/,
    ],
    ['POST', '/v1/vms', { name: 'a/b' }, 400, /body\.name: not a valid name/],
    ['POST', '/v1/vms', { name: '..' }, 400, /body\.name: not a valid name/],
    ['POST', '/v1/vms', { name: 'x'.repeat(64) }, 400, /body\.name: not a valid name/],
    ['POST', '/v1/vms', {}, 400, /body: missing field 'name'/],
    ['POST', '/v1/vms', [], 400, /body: must be object/],
    ['POST', '/v1/vms', { name: 'x', source: { type: 'kernel' } }, 400, /body\.source: missing field 'kernel'/],
    ['POST', '/v1/vms', { name: 'x', source: { type: 'floppy' } }, 400, /body\.source\.type/],
    ['POST', '/v1/vms', { name: 'x', source: { type: 'kernel', kernel: 'vmlinux' } }, 400, /must be an absolute path/],
    [
      'POST',
      '/v1/vms',
      { name: 'x', source: { type: 'kernel', kernel: '/nonexistent/Image' } },
      422,
      /source\.kernel '\/nonexistent\/Image': no such file/,
    ],
    ['POST', '/v1/vms', { name: 'x', disks: [{ path: '/nonexistent.qcow2' }] }, 422, /disks\[0\]\.path .*no such file/],
    [
      'POST',
      '/v1/vms',
      { name: 'x', nics: [{ hostfwd: ['tcp::80-:99999'] }] },
      400,
      /nics\[0\]\.hostfwd\[0\] 'tcp::80-:99999': bad guest port '99999'/,
    ],
    [
      'POST',
      '/v1/vms',
      { name: 'x', nics: [{ hostfwd: ['tcp::80-:80,restrict=on'] }] },
      400,
      /hostfwd\[0\]: must match pattern/,
    ],
    [
      'POST',
      '/v1/vms',
      { name: 'x', nics: [{ hostfwd: ['tcp::8080-:80'] }, { hostfwd: ['tcp::8080-:22'] }] },
      400,
      /body\.nics\[1\]\.hostfwd\[0\]: host port tcp:127\.0\.0\.1:8080 is forwarded twice/,
    ],
    ['POST', '/v1/vms', { name: 'keep' }, 409, /a VM named 'keep' exists/],
    ['GET', '/v1/vms/..%2F..%2Fetc', undefined, 400, /params\.name: not a valid name/],
    ['GET', '/v1/vms/ghost', undefined, 404, /VM 'ghost' does not exist/],
    ['PATCH', '/v1/vms/keep', {}, 400, /must NOT have fewer than 1 properties/],
    ['PATCH', '/v1/vms/keep', { disks: [] }, 400, /unknown field 'disks'/],
    ['PATCH', '/v1/vms/keep', { cpus: 0 }, 400, /body\.cpus: must be >= 1/],
    ['DELETE', '/v1/vms/keep?force=maybe', undefined, 400, /querystring\.force: must be one of/],
    ['DELETE', '/v1/vms/keep?colour=red', undefined, 400, /querystring: unknown field 'colour'/],
    ['POST', '/v1/vms/keep/stop', undefined, 409, /VM 'keep' is stopped: cannot stop it/],
    ['POST', '/v1/vms/keep/pause', undefined, 409, /is stopped: cannot pause/],
    ['POST', '/v1/vms/keep/resume', undefined, 409, /is stopped: cannot resume/],
    ['POST', '/v1/vms/keep/shutdown', { timeout: 0 }, 400, /body\.timeout: must be >= 1/],
    ['POST', '/v1/vms/keep/shutdown', {}, 409, /is stopped: cannot shut down/],
    ['POST', '/v1/vms/keep/start', { now: true }, 400, /unknown field 'now'/],
    ['POST', '/v1/vms/keep/clone', { name: 'c' }, 400, /missing field 'mode'/],
    ['POST', '/v1/vms/keep/clone', { name: 'keep', mode: 'full' }, 409, /a VM named 'keep' exists/],
    ['POST', '/v1/vms/keep/snapshots/nope/revert', undefined, 404, /snapshot 'nope' of VM 'keep' does not exist/],
    ['POST', '/v1/vms/import', { path: '/nonexistent.ova', name: 'imp' }, 422, /no such file/],
    ['POST', '/v1/vms/keep/export', { path: 'relative.ova' }, 400, /must be an absolute path/],
    ['GET', '/v1/vms/keep/console', undefined, 409, /VM 'keep' is stopped: its console is there only while it runs/],
    ['GET', '/v1/nothing', undefined, 404, /no route GET \/v1\/nothing/],
  ];
  for (const [method, path, body, status, message] of cases) {
    const r = await d.req(method, path, body);
    assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
    assert.equal(typeof r.body?.error?.code, 'string', r.text);
    assert.match(r.body.error.message, message, `${method} ${path} ${JSON.stringify(body)}`);
  }
  assert.deepEqual((await d.req('GET', '/v1/vms')).body, listBefore);
  assert.deepEqual(vmDirs(), dirsBefore);
  const diskAfter = statSync(keep.body.disks[0].path);
  assert.equal(diskAfter.size, diskBefore.size);
  assert.equal(diskAfter.mtimeMs, diskBefore.mtimeMs);
  assert.equal((await d.req('DELETE', '/v1/vms/keep')).status, 204);
});

test('the OpenAPI document is generated from the route schemas', async () => {
  const r = await d.req('GET', '/openapi.json');
  assert.equal(r.status, 200);
  assert.match(r.body.openapi, /^3\./);
  for (const p of ['/v1/vms', '/v1/vms/{name}', '/v1/vms/{name}/start', '/v1/vms/{name}/snapshots', '/v1/events'])
    assert.ok(r.body.paths[p], `missing ${p}`);
  const create = r.body.paths['/v1/vms'].post.requestBody.content['application/json'].schema;
  assert.equal(create.additionalProperties, false);
  assert.ok(create.properties.memory);
});

test('SIGTERM closes the API and exits 0, removing the socket and pid file', async () => {
  const other = new TestDaemon();
  try {
    await other.start();
    assert.equal(await other.stop('SIGTERM'), 0);
    assert.ok(!existsSync(other.socket));
    assert.ok(!existsSync(join(other.stateDir, 'daemon.pid')));
    assert.ok(existsSync(join(other.stateDir, 'virtkit.db')));
  } finally {
    await other.cleanup();
  }
});

test('GET /v1/events streams lifecycle notes as server-sent events; GET /v1/vms/{name}/events lists the stored ones', async () => {
  const { request } = await import('node:http');
  const got: string[] = [];
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request({ socketPath: d.socket, path: '/v1/events' }, resolve);
    req.on('error', reject);
    req.end();
  });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /text\/event-stream/);
  res.on('data', (c: Buffer) => got.push(c.toString()));
  assert.equal((await d.req('POST', '/v1/vms', { name: 'ev' })).status, 201);
  const stored = await d.req('GET', '/v1/vms/ev/events?limit=5');
  assert.equal(stored.status, 200);
  assert.deepEqual(
    stored.body.map((e: { state: string; reason: string }) => [e.state, e.reason]),
    [['stopped', 'created']],
  );
  assert.equal((await d.req('GET', '/v1/vms/ev/events?limit=0')).status, 400);
  assert.equal((await d.req('DELETE', '/v1/vms/ev')).status, 204);
  const deadline = Date.now() + 10_000;
  while (!/"state":"deleted"/.test(got.join('')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  res.destroy();
  const text = got.join('');
  assert.match(
    text,
    /event: state\nid: \d+\ndata: \{"id":\d+,"vm":"ev","state":"stopped","previous":"stopped","reason":"created"/,
  );
  assert.match(
    text,
    /event: state\nid: 0\ndata: \{"id":0,"vm":"ev","state":"deleted","previous":"stopped","reason":"deleted"/,
  );
});
