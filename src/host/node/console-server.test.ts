import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleServer, OutputRing } from './console-server.ts';
import { ConsoleLog } from './console-log.ts';

const dir = mkdtempSync(join(tmpdir(), 'vk-console-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const text = (b: Uint8Array) => new TextDecoder().decode(b);

test('the ring keeps the last bytes, oldest first, across wraps and oversized writes', () => {
  const r = new OutputRing(8);
  assert.equal(text(r.contents()), '');
  r.push(new TextEncoder().encode('abc'));
  assert.equal(text(r.contents()), 'abc');
  r.push(new TextEncoder().encode('defgh'));
  assert.equal(text(r.contents()), 'abcdefgh');
  r.push(new TextEncoder().encode('ij'));
  assert.equal(text(r.contents()), 'cdefghij');
  r.push(new TextEncoder().encode('0123456789xyz'));
  assert.equal(text(r.contents()), '56789xyz');
});

test('clients get the ring then live output; their bytes are input; a stopped reader is dropped', async () => {
  const typed: string[] = [];
  const path = join(dir, 'c.sock');
  const srv = await ConsoleServer.listen(path, { input: (b) => typed.push(text(b)) }, 256 * 1024);
  srv.output(new TextEncoder().encode('boot\n'));
  const a = createConnection(path);
  let got = '';
  a.on('data', (b) => (got += b.toString()));
  while (got !== 'boot\n') await new Promise((r) => setTimeout(r, 5));
  srv.output(new TextEncoder().encode('# '));
  a.write('ls\n');
  while ((got as string) !== 'boot\n# ' || typed.join('') !== 'ls\n') await new Promise((r) => setTimeout(r, 5));
  const stuck = createConnection(path);
  stuck.pause();
  while (srv.clientCount < 2) await new Promise((r) => setTimeout(r, 5));
  const chunk = new Uint8Array(16 * 1024).fill(0x78);
  for (let i = 0; i < 1000 && srv.dropped === 0; i++) {
    srv.output(chunk);
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(srv.dropped, 1);
  assert.equal(srv.clientCount, 1);
  a.destroy();
  stuck.destroy();
  await srv.close();
  assert.equal(existsSync(path), false);
});

test('the console log appends, and at its bound starts again after renaming to FILE.1', () => {
  const path = join(dir, 'console.log');
  const warnings: string[] = [];
  const log = new ConsoleLog(path, (m) => warnings.push(m), 10);
  log.write(new TextEncoder().encode('12345'));
  log.write(new TextEncoder().encode('67890'));
  log.write(new TextEncoder().encode('abc'));
  log.close();
  assert.equal(readFileSync(`${path}.1`, 'utf8'), '1234567890');
  assert.equal(readFileSync(path, 'utf8'), 'abc');
  const again = new ConsoleLog(path, (m) => warnings.push(m), 10);
  again.write(new TextEncoder().encode('d'));
  again.close();
  assert.equal(readFileSync(path, 'utf8'), 'abcd');
  assert.deepEqual(warnings, []);
  assert.throws(() => new ConsoleLog(join(dir, 'no', 'x.log'), () => {}), /cannot open .*no such file or directory/);
});
