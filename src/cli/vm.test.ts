/**
 * `virtkit vm` through bin/virtkit against a real HTTP server on a unix socket standing in for
 * the daemon's answers: exit statuses and one-line messages for its errors, no daemon at all,
 * bad flags; tables and --output json for its answers; per-verb help.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { VM_VERBS, SNAPSHOT_VERBS, CONNECTION_FLAGS } from './vm-args.ts';
import { VERB_HELP, VM_HELP } from './vm-help.ts';

const BIN = fileURLToPath(new URL('../../bin/virtkit', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vk-cli-'));
const sock = join(dir, 'virtkit.sock');
let server: Server;
const requests: string[] = [];

const VM = {
  name: 'a',
  id: '0a1b2c3d',
  state: 'running',
  memory: 128,
  cpus: 1,
  source: { type: 'default' },
  disks: [],
  nics: [],
  created: '2026-12-07T06:00:00.000Z',
  startedAt: '2026-12-07T06:00:01.000Z',
  pid: 999999,
};

test.before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push(`${req.method} ${req.url}${body ? ` ${body}` : ''}`);
      const send = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.url === '/v1/vms' && req.method === 'GET') send(200, [VM]);
      else if (req.url === '/v1/vms/a') send(200, VM);
      else if (req.url === '/v1/vms/a/start') send(409, { error: { code: 'conflict', message: "VM 'a' is running" } });
      else if (req.url === '/v1/vms/a/pause') send(200, { ...VM, state: 'paused' });
      else if (req.url === '/v1/vms/a/stats')
        send(200, {
          state: 'running',
          'uptime-ms': 4000,
          instructions: 123456789,
          mips: 30.9,
          host: { 'cpu-ms': 2000, rss: 50 << 20 },
          disks: [],
          nics: [],
        });
      else if (req.url === '/v1/vms/boom') send(500, { error: { code: 'internal', message: 'database is locked' } });
      else if (req.url === '/v1/vms' && req.method === 'POST')
        send(422, { error: { code: 'unusable', message: "disk '/no/such.img' does not exist" } });
      else send(404, { error: { code: 'not_found', message: `no such VM` } });
    });
  });
  server.listen(sock);
  await once(server, 'listening');
});
test.after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs bin/virtkit asynchronously (the stand-in server lives in this process). */
function vk(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, VIRTKIT_SOCKET: sock, ...env }, encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ status: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

test('answers: a table by default, the API JSON with --output json', async () => {
  const list = await vk(['vm', 'list']);
  assert.equal(list.status, 0, list.stderr);
  assert.match(
    list.stdout,
    /^NAME +STATE +CPUS +MEMORY +DISKS +UPTIME +PID +ID\na +running +1 +128 MiB +0 +\S+ +999999 +0a1b2c3d\n$/,
  );
  const json = await vk(['vm', 'list', '-o', 'json']);
  assert.deepEqual(JSON.parse(json.stdout), [VM]);
  assert.equal((await vk(['vm', 'list', '--quiet'])).stdout, 'a\n');
  const info = await vk(['vm', '--socket', sock, 'info', 'a', '--output=json']);
  assert.deepEqual(JSON.parse(info.stdout), VM);
  const stats = await vk(['vm', 'stats', 'a']);
  assert.match(stats.stdout, /^NAME .*\na +running +4s +123M +30\.9 +50\.0% +50 MiB/);
  const pause = await vk(['vm', 'pause', 'a']);
  assert.equal(pause.stdout, 'a: paused (pid 999999)\n');
});

test("the daemon's errors: one line each; 404/422 are exit 2, 409/500 exit 1", async () => {
  const cases: [string[], number, RegExp][] = [
    [['vm', 'info', 'nosuch'], 2, /^virtkit vm: no such VM\n$/],
    [['vm', 'start', 'a'], 1, /^virtkit vm: VM 'a' is running\n$/],
    [['vm', 'info', 'boom'], 1, /^virtkit vm: database is locked\n$/],
    [['vm', 'create', 'x', '--disk', '/no/such.img'], 2, /^virtkit vm: disk '\/no\/such\.img' does not exist\n$/],
  ];
  for (const [args, status, re] of cases) {
    const r = await vk(args);
    assert.equal(r.status, status, args.join(' '));
    assert.match(r.stderr, re);
    assert.equal(r.stdout, '');
  }
  // Several names: each refusal is reported, the rest still run, the status is the first failure's.
  const many = await vk(['vm', 'pause', 'nosuch', 'a']);
  assert.equal(many.status, 2);
  assert.equal(many.stderr, 'virtkit vm: nosuch: no such VM\n');
  assert.equal(many.stdout, 'a: paused (pid 999999)\n');
});

test('no daemon: one line saying so and how to start one, exit status 3', async () => {
  const stateDir = join(dir, 'empty-state');
  const r = await vk(['vm', 'list', '--state-dir', stateDir]);
  assert.equal(r.status, 3);
  assert.equal(
    r.stderr,
    `virtkit vm: no daemon reachable at ${stateDir}/virtkit.sock (no such socket): start one with 'virtkit daemon --state-dir ${stateDir}'\n`,
  );
  const d = await vk(['vm', 'info', 'a'], { VIRTKIT_SOCKET: '', XDG_DATA_HOME: join(dir, 'xdg') });
  assert.equal(d.status, 3);
  assert.equal(d.stderr.split('\n').length, 2);
  assert.match(
    d.stderr,
    /no daemon reachable at .*xdg\/virtkit\/virtkit\.sock \(no such socket\): start one with 'virtkit daemon'\n$/,
  );
  const console = await vk(['vm', 'console', 'a', '--socket', join(dir, 'none.sock')]);
  assert.equal(console.status, 3);
  assert.match(console.stderr, /^virtkit vm: no daemon reachable at .*none\.sock \(no such socket\)/);
});

test('bad flags and arguments: exit 2 with a one-line message, before any request', async () => {
  const before = requests.length;
  const cases: [string[], RegExp][] = [
    [['vm'], /^virtkit vm: missing verb \(create, list/],
    [['vm', 'lsit'], /unknown verb 'lsit': did you mean 'list'\?/],
    [['vm', 'create', 'x', '--memroy', '1G'], /unknown option '--memroy': did you mean '--memory'\?/],
    [['vm', 'create'], /create: missing NAME \(usage: virtkit vm create NAME\)/],
    [['vm', 'info', 'a/b'], /invalid VM name 'a\/b'/],
    [['vm', 'list', '-o', 'yaml'], /invalid --output 'yaml'/],
    [['vm', 'shutdown', 'a', '--timeout', 'soon'], /invalid --timeout 'soon'/],
    [['vm', 'clone', 'a', 'b', '--linked', '--full'], /--linked or --full, not both/],
    [['vm', 'import', 'x.ova'], /import: give the new VM a name with --name NAME/],
    [['vm', 'snapshot', 'craete', 'a', 's'], /snapshot: unknown verb 'craete': did you mean 'create'\?/],
    [['vm', 'snapshot', 'create', 'a'], /snapshot create: missing SNAP/],
    [['vm', 'list', '--url', 'ftp://x'], /invalid --url 'ftp:\/\/x'/],
    [['vm', 'stats', '--interval', '1'], /--interval goes with --watch/],
  ];
  for (const [args, re] of cases) {
    const r = await vk(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.equal(requests.length, before);
});

test('--help for vm and for every verb; each help names every flag of its verb', async () => {
  const top = await vk(['vm', '--help']);
  assert.equal(top.status, 0);
  assert.equal(top.stdout.trim(), VM_HELP.trim());
  for (const verb of Object.keys(VM_VERBS)) assert.match(VM_HELP, new RegExp(`^ {2}${verb}\\b`, 'm'), verb);
  for (const [verb, spec] of Object.entries(VM_VERBS)) {
    const r = await vk(['vm', verb, '--help']);
    assert.equal(r.status, 0, verb);
    assert.equal(r.stdout.trim(), VERB_HELP[verb]!.trim());
    assert.match(r.stdout, new RegExp(`^usage: virtkit vm ${verb}\\b`));
    for (const flag of Object.keys({ ...spec, ...CONNECTION_FLAGS }))
      assert.match(r.stdout, new RegExp(`--${flag}\\b`), `${verb} --${flag}`);
  }
  for (const sub of Object.keys(SNAPSHOT_VERBS)) assert.match(VERB_HELP.snapshot!, new RegExp(`^ {2}${sub} NAME`, 'm'));
  assert.equal((await vk(['vm', 'help', 'clone'])).stdout.trim(), VERB_HELP.clone!.trim());
});
