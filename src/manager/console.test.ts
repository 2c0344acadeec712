/**
 * The console bridge with real sockets: a unix socket standing in for the VM's console.sock
 * (it floods output and records input) and real WebSocket connections. One typist, watchers'
 * bytes dropped, a viewer that stops reading is dropped with 1008 while another keeps going.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { attachConsole, CLOSE_TYPIST_TAKEN, VIEWER_BUFFER_MAX } from './console.ts';
import type { Manager } from './manager.ts';
import type { VmRow } from './db.ts';

const root = mkdtempSync(join(tmpdir(), 'vk-console-'));
after(() => rmSync(root, { recursive: true, force: true }));

const vm = { id: 'c0ffee', name: 'con' } as VmRow;
const mgr = { dir: { vmDir: (id: string) => join(root, id) } } as unknown as Manager;
mkdirSync(join(root, vm.id));

/** The VM side: every client gets `greeting`; input is collected. */
function fakeVm(greeting: string): Promise<{ server: Server; clients: Socket[]; input: () => string }> {
  const clients: Socket[] = [];
  let input = '';
  const server = createServer((s) => {
    clients.push(s);
    s.on('data', (b) => (input += b.toString()));
    s.on('error', () => {});
    s.write(greeting);
  });
  return new Promise((resolve) =>
    server.listen(join(root, vm.id, 'console.sock'), () => resolve({ server, clients, input: () => input })),
  );
}

/** A WebSocket server whose connections are bridged to the fake VM's console. */
function bridge(): Promise<{ wss: WebSocketServer; url: string }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', (ws, req) => attachConsole(mgr, vm, ws, req.url?.includes('type') ? 'type' : 'watch'));
  return new Promise((resolve) =>
    wss.on('listening', () => {
      const addr = wss.address() as { port: number };
      resolve({ wss, url: `ws://127.0.0.1:${addr.port}/` });
    }),
  );
}

function client(url: string) {
  const ws = new WebSocket(url);
  const c = { ws, text: '', closed: new Promise<number>((r) => ws.on('close', (code) => r(code))) };
  ws.on('message', (m: Buffer) => (c.text += m.toString()));
  ws.on('error', () => {});
  return c;
}

const until = async (what: string, fn: () => boolean) => {
  const deadline = Date.now() + 20_000;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('one typist, many watchers: only the typist reaches the VM; a second typist gets 4409', async () => {
  const v = await fakeVm('login: ');
  const { wss, url } = await bridge();
  try {
    const typist = client(`${url}?mode=type`);
    const watcher = client(`${url}?mode=watch`);
    await until('both see the greeting', () => typist.text === 'login: ' && watcher.text === 'login: ');
    const second = client(`${url}?mode=type`);
    assert.equal(await second.closed, CLOSE_TYPIST_TAKEN);
    watcher.ws.send(Buffer.from('from-watcher\n'));
    typist.ws.send(Buffer.from('root\n'));
    await until('the typed line', () => v.input().includes('root\n'));
    for (const s of v.clients) s.write('# ');
    await until('output to both', () => typist.text.endsWith('# ') && watcher.text.endsWith('# '));
    assert.ok(!v.input().includes('from-watcher'));
    // The typist leaves: another may type now.
    typist.ws.close();
    await typist.closed;
    const next = client(`${url}?mode=type`);
    await until('the new typist connected', () => next.text === 'login: ');
    next.ws.send(Buffer.from('again\n'));
    await until('the new typist typed', () => v.input().includes('again\n'));
    next.ws.close();
    watcher.ws.close();
  } finally {
    wss.close();
    for (const s of v.clients) s.destroy();
    v.server.close();
  }
});

test('a viewer that stops reading is dropped (1008); a reading viewer is not', async () => {
  const v = await fakeVm('');
  const { wss, url } = await bridge();
  try {
    const slow = client(url);
    const fast = client(url);
    await until('two console connections', () => v.clients.length === 2);
    await new Promise<void>((r) => (slow.ws.readyState === slow.ws.OPEN ? r() : slow.ws.once('open', () => r())));
    slow.ws.pause(); // stops reading its socket: the server's send buffer grows
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    let sent = 0;
    // Flood every console connection until the slow viewer is dropped (bounded by 8x the limit).
    let dropped: number | undefined;
    void slow.closed.then((code) => (dropped = code));
    while (dropped === undefined && sent < 8 * VIEWER_BUFFER_MAX + 16 * 1024 * 1024) {
      for (const s of v.clients) if (!s.destroyed) s.write(chunk);
      sent += chunk.length;
      await new Promise((r) => setImmediate(r));
    }
    slow.ws.resume();
    assert.equal(await slow.closed, 1008);
    await until('the fast viewer got everything sent to it', () => fast.text.length >= sent - chunk.length);
    assert.equal(fast.ws.readyState, fast.ws.OPEN);
    fast.ws.close();
  } finally {
    wss.close();
    for (const s of v.clients) s.destroy();
    v.server.close();
  }
});
