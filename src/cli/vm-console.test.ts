/**
 * `virtkit vm console` through bin/virtkit against a real WebSocket server on a unix socket
 * standing in for the daemon's console route: a tiny line-echoing "shell" that prompts with
 * "~ # " and ESC[6n as busybox does. Piped input is typed at prompts and the client detaches once
 * the last line is answered; Ctrl-] ends the input; a silent console gets one Enter; --watch
 * sends nothing; the daemon's refusals (409 before the upgrade, 4409 for a second typist) are
 * one-line errors. The real console is exercised in tests/manager/e2e.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';

const BIN = fileURLToPath(new URL('../../bin/virtkit', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vk-console-'));
const sock = join(dir, 'virtkit.sock');
const PROMPT = '~ # \x1b[6n';

/** What each connection of the test saw: its URL and every byte typed into it. */
const sessions: { url: string; typed: string }[] = [];
let behaviour: (ws: WebSocket, session: { url: string; typed: string }) => void;

let server: Server;
const wss = new WebSocketServer({ noServer: true });
test.before(async () => {
  server = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not-found', message: 'no such route' } }));
  });
  server.on('upgrade', (req, socket, head) => {
    if (req.url!.startsWith('/v1/vms/stopped/')) {
      const body = JSON.stringify({
        error: { code: 'wrong-state', message: "VM 'stopped' is stopped: its console is there only while it runs" },
      });
      socket.end(
        `HTTP/1.1 409 Conflict\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = { url: req.url!, typed: '' };
      sessions.push(session);
      behaviour(ws, session);
    });
  });
  server.listen(sock);
  await once(server, 'listening');
});
test.after(() => {
  wss.close();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A line-at-a-time shell: echoes what is typed, answers `echo X` with X, then prompts again. */
function shell(ws: WebSocket, session: { typed: string }, greeting = `booting...\r\n${PROMPT}`): void {
  if (greeting) ws.send(Buffer.from(greeting));
  let line = '';
  ws.on('message', (m: Buffer) => {
    session.typed += m.toString('latin1');
    for (const ch of m.toString('latin1')) {
      if (ch !== '\n' && ch !== '\r') {
        line += ch;
        continue;
      }
      const cmd = line;
      line = '';
      const answer = /^echo (.*)$/.exec(cmd);
      ws.send(Buffer.from(`${cmd}\r\n${answer ? `${answer[1]}\r\n` : ''}${PROMPT}`));
    }
  });
}

function run(args: string[], input: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'vm', 'console', ...args], {
      env: { ...process.env, VIRTKIT_SOCKET: sock },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('latin1')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('latin1')));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}

test('piped input is typed a line at a time at each prompt; the client detaches after the last answer', async () => {
  behaviour = (ws, s) => shell(ws, s);
  const r = await run(['vm1'], 'echo one\necho two\n');
  assert.equal(r.status, 0, r.stderr);
  const s = sessions.at(-1)!;
  assert.equal(s.url, '/v1/vms/vm1/console?mode=type');
  assert.equal(s.typed, 'echo one\necho two\n');
  // The answers, and no cursor query (ESC[6n) in output that is not a terminal.
  assert.equal(r.stdout, 'booting...\r\n~ # echo one\r\none\r\n~ # echo two\r\ntwo\r\n~ # ');
  assert.equal(r.stderr, '');
});

test('Ctrl-] in piped input ends it: nothing after it is typed', async () => {
  behaviour = (ws, s) => shell(ws, s);
  const r = await run(['vm1'], 'echo one\n\x1decho never\n');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(sessions.at(-1)!.typed, 'echo one\n');
});

test('a console silent since its VM started gets one Enter, then the input is typed at the prompt', async () => {
  behaviour = (ws, s) => shell(ws, s, '');
  const r = await run(['restored'], 'echo hi\n');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(sessions.at(-1)!.typed, '\recho hi\n');
  assert.match(r.stdout, /^hi\r$/m);
});

test('--watch connects as a watcher, types nothing, and ends when the console closes', async () => {
  behaviour = (ws, s) => {
    shell(ws, s);
    setTimeout(() => ws.close(1000, "the console of 'vm1' closed (the VM stopped)"), 50);
  };
  const r = await run(['vm1', '--watch'], 'echo not-typed\n');
  assert.equal(r.status, 0, r.stderr);
  const s = sessions.at(-1)!;
  assert.equal(s.url, '/v1/vms/vm1/console?mode=watch');
  assert.equal(s.typed, '');
  assert.match(r.stdout, /^booting\.\.\./);
});

test("the daemon's refusals: a second typist (4409), a VM not running (409), a console gone (4404)", async () => {
  behaviour = (ws) => ws.close(4409, "VM 'vm1' already has a typist; watch with ?mode=watch");
  const taken = await run(['vm1'], 'echo x\n');
  assert.equal(taken.status, 1);
  assert.equal(taken.stderr, "virtkit vm: another client is typing on vm1's console (watch it with --watch)\n");
  const stopped = await run(['stopped'], '');
  assert.equal(stopped.status, 1);
  assert.equal(stopped.stderr, "virtkit vm: VM 'stopped' is stopped: its console is there only while it runs\n");
  behaviour = (ws) => ws.close(4404, "console of 'vm1' unavailable: connect ENOENT");
  const gone = await run(['vm1'], 'echo x\n');
  assert.equal(gone.status, 1);
  assert.equal(gone.stderr, "virtkit vm: console of 'vm1' unavailable: connect ENOENT\n");
});

test('on a terminal: keys go to the guest as typed (raw mode), Ctrl-] detaches and restores the terminal', async () => {
  behaviour = (ws, s) => shell(ws, s);
  // script(1) gives the client a real pseudo-terminal; `stty -g` before and after shows the
  // terminal's settings are restored.
  const child = spawn(
    'script',
    ['-qec', `stty -g; '${process.execPath}' '${BIN}' vm console vm1; echo "rc=$?"; stty -g`, '/dev/null'],
    {
      env: { ...process.env, VIRTKIT_SOCKET: sock },
    },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('latin1')));
  const closed = once(child, 'close');
  const deadline = Date.now() + 60_000;
  const waitFor = async (what: () => boolean) => {
    while (!what()) {
      if (child.exitCode !== null) throw new Error(`script ended early: ${out}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(
          `no progress on the terminal: ${JSON.stringify(out)} typed ${JSON.stringify(sessions.at(-1)?.typed)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await waitFor(() => out.includes('~ # '));
  const s = sessions.at(-1)!;
  child.stdin.write('echo one\r');
  // (the terminal turns each \n of the output into \r\n)
  await waitFor(() => s.typed === 'echo one\r' && /one\r+\n~ # /.test(out));
  child.stdin.write('\x1d');
  await waitFor(() => /rc=\d+/.test(out));
  child.stdin.end();
  await closed;
  assert.match(out, /rc=0/);
  assert.match(out, /\[virtkit: vm1's console; Ctrl-\] detaches\]/);
  assert.match(out, /\[virtkit: detached\]/);
  const settings = out.split(/\r?\n/).filter((l) => /^[0-9a-f]+(:[0-9a-f]+){10,}$/.test(l.trim()));
  assert.equal(settings.length, 2, out);
  assert.equal(settings[0], settings[1]);
  assert.equal(s.typed, 'echo one\r'); // Ctrl-] itself is not sent
});
