import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { HttpStore } from './http-store.ts';

const content = new Uint8Array(300_000).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
let server: Server;
let base = '';
let requests = 0;

before(async () => {
  server = createServer((req, res) => {
    requests++;
    if (req.url === '/hugelength') {
      res.writeHead(206, { 'content-range': 'bytes 0-0/99999999999999999999' });
      res.end(Buffer.from(content.subarray(0, 1)));
      return;
    }
    if (req.url === '/wholefile' && req.headers.range !== 'bytes=0-0') {
      // Claims a partial answer but sends everything: must be refused, not buffered.
      res.writeHead(206, {
        'content-range': `bytes 0-4095/${content.length}`,
        'content-length': String(content.length),
      });
      res.end(Buffer.from(content));
      return;
    }
    if (req.url === '/norange') {
      res.writeHead(200, { 'content-length': String(content.length) });
      res.end(Buffer.from(content));
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!m) {
      res.writeHead(200);
      res.end(Buffer.from(content));
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]), content.length - 1);
    res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${content.length}` });
    res.end(Buffer.from(content.subarray(start, end + 1)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  assert.ok(addr && typeof addr === 'object');
  base = `http://127.0.0.1:${addr.port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

describe('HttpStore', () => {
  it('learns the size and reads arbitrary ranges, zero past the end', async () => {
    const s = await HttpStore.open(`${base}/disk`, { blockSize: 4096, cacheBlocks: 8 });
    assert.equal(await s.size(), content.length);
    for (const [off, len] of [
      [0, 10],
      [4090, 20],
      [123_457, 50_000],
      [content.length - 5, 5],
    ] as const) {
      const buf = new Uint8Array(len);
      await s.read(off, buf);
      assert.deepEqual(buf, content.subarray(off, off + len));
    }
    const tail = new Uint8Array(10);
    await s.read(content.length - 4, tail);
    assert.deepEqual(tail.subarray(0, 4), content.subarray(content.length - 4));
    assert.deepEqual(tail.subarray(4), new Uint8Array(6));
  });
  it('caches blocks', async () => {
    const s = await HttpStore.open(`${base}/disk`, { blockSize: 4096 });
    const buf = new Uint8Array(100);
    await s.read(8192, buf);
    const n = requests;
    await s.read(8200, buf);
    assert.equal(requests, n);
  });
  it('is read-only', async () => {
    const s = await HttpStore.open(`${base}/disk`);
    assert.equal(s.readOnly, true);
    await assert.rejects(s.write(0, new Uint8Array(1)), { code: 'read-only' });
    await assert.rejects(s.truncate(0), { code: 'read-only' });
  });
  it('refuses servers without range support', async () => {
    await assert.rejects(HttpStore.open(`${base}/norange`), { code: 'unsupported' });
  });

  it('refuses a hostile server: an impossible total length, a body larger than the range', async () => {
    await assert.rejects(HttpStore.open(`${base}/hugelength`), { code: 'too-large' });
    const s = await HttpStore.open(`${base}/wholefile`, { blockSize: 4096 });
    await assert.rejects(s.read(0, new Uint8Array(10)), (e: unknown) => {
      assert.equal((e as { code?: string }).code, 'io');
      assert.match((e as Error).message, /announced/);
      return true;
    });
  });
});
