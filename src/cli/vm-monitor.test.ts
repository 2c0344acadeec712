/**
 * `virtkit vm stats --watch` and `vm events --follow` through bin/virtkit against a real HTTP
 * server on a unix socket standing in for the daemon: samples until interrupted (SIGINT ends it
 * with status 0), stored events then streamed ones without loss or repeats, and the end of the
 * stream reported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/virtkit', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vk-monitor-'));
const sock = join(dir, 'virtkit.sock');
let server: Server;
let statsCalls = 0;
let stream: ServerResponse | undefined;
const streamOpen: Array<() => void> = [];

const ev = (vm: string, previous: string, state: string, second: number, reason: string | null = null) => ({
  id: second,
  vm,
  state,
  previous,
  reason,
  time: `2026-12-07T06:00:0${second}.000Z`,
});

test.before(async () => {
  server = createServer((req, res) => {
    const send = (value: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (req.url === '/v1/vms/a/stats') {
      statsCalls++;
      send({
        state: 'running',
        'uptime-ms': statsCalls * 1000,
        instructions: statsCalls * 1e6,
        mips: 1,
        host: { 'cpu-ms': statsCalls * 100, rss: 1 << 20 },
      });
    } else if (req.url === '/v1/vms/a/events')
      send([ev('a', 'stopped', 'starting', 1), ev('a', 'starting', 'running', 2)]);
    else if (req.url === '/v1/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': virtkit events\n\n');
      stream = res;
      // An event that happens while the client reads the stored ones: sent on the stream too.
      res.write(`event: state\nid: 2\ndata: ${JSON.stringify(ev('a', 'starting', 'running', 2))}\n\n`);
      for (const f of streamOpen.splice(0)) f();
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not-found', message: 'no such VM' } }));
    }
  });
  server.listen(sock);
  await once(server, 'listening');
});
test.after(() => {
  stream?.destroy();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'vm', ...args], { env: { ...process.env, VIRTKIT_SOCKET: sock } });
  const r = { stdout: '', stderr: '', status: undefined as number | null | undefined };
  child.stdout.on('data', (c: Buffer) => (r.stdout += c));
  child.stderr.on('data', (c: Buffer) => (r.stderr += c));
  const closed = new Promise<void>((resolve) => child.on('close', (s) => ((r.status = s), resolve())));
  const until = async (cond: () => boolean) => {
    while (!cond()) {
      if (r.status !== undefined) throw new Error(`ended early (${r.status}): ${r.stdout} ${r.stderr}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  };
  return { child, r, closed, until };
}

test('stats --watch samples until SIGINT (status 0); JSON is one document a line', async () => {
  const p = start(['stats', 'a', '--watch', '--interval', '0.1', '--output', 'json']);
  await p.until(() => p.r.stdout.split('\n').filter(Boolean).length >= 3);
  p.child.kill('SIGINT');
  await p.closed;
  assert.equal(p.r.status, 0, p.r.stderr);
  const lines = p.r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.ok(lines.length >= 3);
  assert.equal(lines[0].name, 'a');
  assert.ok(lines[1].instructions > lines[0].instructions);
  // Into a pipe, the table is appended per sample, CPU over the last interval (10%: 100 ms per 1000 ms).
  const t = start(['stats', 'a', '--watch', '--interval', '0.1']);
  await t.until(() => (t.r.stdout.match(/^a +running/gm) ?? []).length >= 2);
  t.child.kill('SIGINT');
  await t.closed;
  assert.equal(t.r.status, 0);
  assert.match(t.r.stdout.split('\n\n')[1]!, /^NAME .*\na +running +\d+s +\S+ +1\.0 +10\.0%/);
});

test('events --follow: the stored events, then streamed ones, none twice; the end of the stream is status 1', async () => {
  const opened = new Promise<void>((r) => streamOpen.push(r));
  const p = start(['events', 'a', '--follow']);
  await opened;
  await p.until(() => p.r.stdout.split('\n').length >= 3);
  stream!.write(`event: state\nid: 3\ndata: ${JSON.stringify(ev('b', 'running', 'paused', 3))}\n\n`); // another VM: not shown
  stream!.write(
    `event: state\nid: 4\ndata: ${JSON.stringify(ev('a', 'running', 'crashed', 4, 'killed by SIGKILL'))}\n\n`,
  );
  await p.until(() => p.r.stdout.includes('crashed'));
  stream!.end();
  await p.closed;
  assert.equal(
    p.r.stdout,
    [
      '2026-12-07T06:00:01.000Z  a  stopped -> starting',
      '2026-12-07T06:00:02.000Z  a  starting -> running',
      '2026-12-07T06:00:04.000Z  a  running -> crashed  (killed by SIGKILL)',
      '',
    ].join('\n'),
  );
  assert.equal(p.r.status, 1);
  assert.equal(p.r.stderr, 'virtkit vm: the daemon ended the event stream\n');
});
