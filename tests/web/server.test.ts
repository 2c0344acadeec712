/** `virtkit web`'s HTTP server: static app files, the guest, /files/, and HTTP Range requests. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRange } from '../../src/host/node/http/static-files.ts';
import { startWebServer, type WebServer } from '../../src/host/node/http/web-server.ts';
import { HttpStore } from '../../src/storage/http-store.ts';

let dir: string;
let web: WebServer;
const kernel = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 13) & 0xff);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'virtkit-web-server-'));
  mkdirSync(join(dir, 'app/dist'), { recursive: true });
  mkdirSync(join(dir, 'files'));
  writeFileSync(join(dir, 'app/index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(dir, 'app/dist/main.js'), 'void 0;');
  writeFileSync(join(dir, 'secret.txt'), 'do not serve');
  writeFileSync(join(dir, 'Image'), kernel);
  writeFileSync(join(dir, 'files/disk.raw'), kernel.subarray(0, 70_000));
  web = await startWebServer({
    port: 0,
    webRoot: join(dir, 'app'),
    kernel: join(dir, 'Image'),
    filesDir: join(dir, 'files'),
    append: 'console=ttyS0 quiet',
  });
});
after(async () => {
  await web.close();
  rmSync(dir, { recursive: true, force: true });
});

test('parseRange follows RFC 9110 for single ranges', () => {
  assert.equal(parseRange(undefined, 100), undefined);
  assert.deepEqual(parseRange('bytes=0-9', 100), [0, 9]);
  assert.deepEqual(parseRange('bytes=90-', 100), [90, 99]);
  assert.deepEqual(parseRange('bytes=95-200', 100), [95, 99]);
  assert.deepEqual(parseRange('bytes=-10', 100), [90, 99]);
  assert.equal(parseRange('bytes=100-', 100), 'bad');
  assert.equal(parseRange('bytes=5-2', 100), 'bad');
  assert.equal(parseRange('bytes=0-1,4-5', 100), 'bad');
  assert.equal(parseRange('items=0-1', 100), 'bad');
});

test('serves the app, the default configuration and the kernel with ranges', async () => {
  const index = await fetch(web.url);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type')!, /text\/html/);
  assert.equal((await fetch(web.url + 'dist/main.js')).status, 200);
  assert.deepEqual(await (await fetch(web.url + 'virtkit.json')).json(), {
    kernel: 'guest/Image',
    append: 'console=ttyS0 quiet',
  });
  const part = await fetch(web.url + 'guest/Image', { headers: { Range: 'bytes=1000-1999' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), 'bytes 1000-1999/200000');
  assert.deepEqual(new Uint8Array(await part.arrayBuffer()), kernel.subarray(1000, 2000));
  const whole = await fetch(web.url + 'guest/Image');
  assert.equal(whole.headers.get('content-length'), '200000');
  assert.equal((await whole.arrayBuffer()).byteLength, 200_000);
  const bad = await fetch(web.url + 'guest/Image', { headers: { Range: 'bytes=300000-' } });
  assert.equal(bad.status, 416);
  assert.equal(bad.headers.get('content-range'), 'bytes */200000');
  const head = await fetch(web.url + 'guest/Image', { method: 'HEAD' });
  assert.equal(head.headers.get('accept-ranges'), 'bytes');
});

test('no initrd route without an initrd, nothing outside the served directories, no writes', async () => {
  assert.equal((await fetch(web.url + 'guest/initramfs.cpio')).status, 404);
  for (const p of [
    'files/../secret.txt',
    'files/%2e%2e/secret.txt',
    'dist/..%2f..%2fsecret.txt',
    'files/nope',
    'Image',
  ])
    assert.equal((await fetch(web.url + p)).status, 404, p);
  assert.equal((await fetch(web.url + 'files/disk.raw', { method: 'PUT', body: 'x' })).status, 405);
});

test('an HttpStore reads a served disk image lazily', async () => {
  const store = await HttpStore.open(web.url + 'files/disk.raw', { blockSize: 4096 });
  assert.equal(await store.size(), 70_000);
  const b = new Uint8Array(100);
  await store.read(69_950, b);
  assert.deepEqual(b.subarray(0, 50), kernel.subarray(69_950, 70_000));
  assert.ok(b.subarray(50).every((x) => x === 0));
});

test('full and range answers carry the same ETag and Last-Modified, and a rewrite of the same size changes them', async () => {
  const url = web.url + 'files/disk.raw';
  const whole = await fetch(url);
  await whole.arrayBuffer();
  const part = await fetch(url, { headers: { Range: 'bytes=0-0' } });
  await part.arrayBuffer();
  assert.equal(whole.status, 200);
  assert.equal(part.status, 206);
  const etag = whole.headers.get('etag');
  assert.match(etag ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/);
  assert.equal(part.headers.get('etag'), etag);
  const modified = whole.headers.get('last-modified');
  assert.ok(modified && !Number.isNaN(Date.parse(modified)), `Last-Modified ${modified}`);
  assert.equal(part.headers.get('last-modified'), modified);

  // Same size, other contents and time: another ETag (the page's snapshots rely on it).
  const path = join(dir, 'files/disk.raw');
  writeFileSync(path, kernel.subarray(1, 70_001));
  utimesSync(path, new Date(Date.parse(modified) + 5000), new Date(Date.parse(modified) + 5000));
  const after = await fetch(url, { headers: { Range: 'bytes=0-0' } });
  await after.arrayBuffer();
  assert.equal(after.headers.get('content-range'), 'bytes 0-0/70000');
  assert.notEqual(after.headers.get('etag'), etag);
  assert.notEqual(after.headers.get('last-modified'), modified);
  writeFileSync(path, kernel.subarray(0, 70_000));
});
