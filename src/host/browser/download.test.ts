import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { download, DownloadError, type Progress } from './download.ts';

let server: Server;
let base: string;
const body = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31) & 0xff);

before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/ok') {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    } else if (req.url === '/truncated') {
      // Promises more than it sends, then hangs up.
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, 1000), () => res.destroy());
    } else if (req.url === '/empty') {
      res.writeHead(200, { 'content-length': 0 }).end();
    } else res.writeHead(404, 'Not Found').end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test('downloads whole with progress up to the total', async () => {
  const seen: Progress[] = [];
  const got = await download(`${base}/ok`, 'kernel', { onProgress: (p) => seen.push(p) });
  assert.deepEqual(got, body);
  assert.deepEqual(seen.at(-1), { loaded: body.length, total: body.length });
  assert.equal(seen[0]!.loaded, 0);
});

test('a missing file, a cut transfer, an empty file, an unreachable server and an oversized body are named', async () => {
  const fails = async (url: string, re: RegExp, maxBytes?: number) =>
    assert.rejects(
      download(url, 'initrd', maxBytes ? { maxBytes } : {}),
      (e) => e instanceof DownloadError && re.test(e.message),
    );
  await fails(`${base}/missing`, /initrd URL .*\/missing: not found \(HTTP 404 Not Found\)/);
  await fails(`${base}/truncated`, /initrd .*\/truncated is truncated: (the transfer broke off after|got) \d+/);
  await fails(`${base}/empty`, /\/empty is empty/);
  await fails('http://127.0.0.1:9/x', /cannot reach initrd URL http:\/\/127\.0\.0\.1:9\/x/);
  await fails(`${base}/ok`, /is 300000 bytes, more than the 1000 accepted/, 1000);
});
