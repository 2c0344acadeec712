import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { bearerFromProtocols, registerWebConsole, selectProtocol } from './web-console.ts';

test('the token subprotocol is read from the offer, and never selected', () => {
  assert.equal(bearerFromProtocols('virtkit.console, virtkit.bearer.abc123'), 'abc123');
  assert.equal(bearerFromProtocols(['virtkit.console', 'virtkit.bearer.abc123']), 'abc123');
  assert.equal(bearerFromProtocols('virtkit.console'), undefined);
  assert.equal(bearerFromProtocols('virtkit.bearer.'), undefined);
  assert.equal(bearerFromProtocols(undefined), undefined);
  assert.equal(selectProtocol(new Set(['virtkit.bearer.abc', 'virtkit.console'])), 'virtkit.console');
  assert.equal(selectProtocol(new Set(['virtkit.bearer.abc'])), false);
});

test('an installed package serves the prebuilt web/dist files; a missing bundle is a 500 naming the fix', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vk-webconsole-'));
  try {
    mkdirSync(join(root, 'console'));
    writeFileSync(join(root, 'console', 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(root, 'console', 'style.css'), 'body{}');
    const app = Fastify();
    registerWebConsole(app, { root });
    assert.equal((await app.inject('/')).body, '<!doctype html><title>t</title>');
    const missing = await app.inject('/assets/console.js');
    assert.equal(missing.statusCode, 500);
    assert.match(missing.body, /web console is not available: .*console\.js.*npm run build/s);
    // Once built, the next request finds it (a failure is not remembered).
    mkdirSync(join(root, 'dist'));
    writeFileSync(join(root, 'dist', 'console.js'), 'console.log(1)');
    writeFileSync(join(root, 'dist', 'console.css'), '.x{}');
    const js = await app.inject('/assets/console.js');
    assert.equal(js.statusCode, 200);
    assert.equal(js.body, 'console.log(1)');
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.equal((await app.inject('/assets/console.css')).body, '.x{}');
    // The VM worker's bundle is read on its own: one missing file fails only its own route.
    assert.equal((await app.inject('/assets/worker.js')).statusCode, 500);
    writeFileSync(join(root, 'dist', 'worker.js'), 'onmessage=null');
    const w = await app.inject('/assets/worker.js');
    assert.equal(w.body, 'onmessage=null');
    assert.match(String(w.headers['content-security-policy']), /'unsafe-eval'/);
    await app.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
