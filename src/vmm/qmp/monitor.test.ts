/**
 * The QMP engine against a plain target: every answer below is the one qemu-system-riscv64
 * gave for the same input (see tests/qmp/compat.test.ts for the live comparison).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_QUEUED, QmpError, QmpMonitor } from './monitor.ts';
import { registerStandardCommands } from './commands.ts';
import { qmpVersion, type QmpRunState, type QmpTarget } from './target.ts';

class FakeTarget implements QmpTarget {
  version = qmpVersion('0.1.0', 'virtkit 0.1.0');
  name?: string;
  state: QmpRunState = 'running';
  button = false;
  quits = 0;
  resets = 0;
  status = () => this.state;
  stop() {
    const was = this.state === 'running';
    this.state = 'paused';
    return was;
  }
  cont() {
    const was = this.state !== 'running';
    this.state = 'running';
    return was;
  }
  pressPowerButton = () => this.button;
  reset = () => this.resets++ >= 0;
  quit = () => void this.quits++;
}

/** A client: everything the monitor sends, parsed (with timestamps replaced for comparison). */
function client(m: QmpMonitor) {
  const got: Record<string, unknown>[] = [];
  let closed = false;
  const c = m.connect({
    send: (t) => {
      assert.ok(t.endsWith('\r\n'));
      got.push(JSON.parse(t) as Record<string, unknown>);
    },
    close: () => (closed = true),
  });
  const say = (text: string) => {
    got.length = 0;
    c.feed(new TextEncoder().encode(text));
    return got.map((g) => ('timestamp' in g ? { ...g, timestamp: 'T' } : g));
  };
  return { c, got, say, closed: () => closed };
}

function setup() {
  const t = new FakeTarget();
  const m = new QmpMonitor(t, () => 1_700_000_000_123_456);
  registerStandardCommands(m);
  return { t, m };
}

test('greeting, negotiation, and the answers before and after it', () => {
  const { m } = setup();
  const { got, say } = client(m);
  assert.deepEqual(got, [
    { QMP: { version: { qemu: { major: 0, minor: 1, micro: 0 }, package: 'virtkit 0.1.0' }, capabilities: [] } },
  ]);
  assert.deepEqual(say('{"execute":"query-status","id":1}'), [
    { id: 1, error: { class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'" } },
  ]);
  assert.deepEqual(say('{"execute":"nope"}'), [
    { error: { class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'" } },
  ]);
  assert.deepEqual(say('{"execute":"qmp_capabilities","arguments":{"foo":1}}'), [
    { error: { class: 'GenericError', desc: "Parameter 'foo' is unexpected" } },
  ]);
  assert.deepEqual(say('{"execute":"qmp_capabilities","arguments":{"enable":"x"},"id":2}'), [
    { id: 2, error: { class: 'GenericError', desc: "Invalid parameter type for 'enable', expected: array" } },
  ]);
  assert.deepEqual(say('{"execute":"qmp_capabilities","id":"x"}'), [{ return: {}, id: 'x' }]);
  assert.deepEqual(say('{"execute":"qmp_capabilities"}'), [
    { error: { class: 'CommandNotFound', desc: 'Capabilities negotiation is already complete, command ignored' } },
  ]);
  assert.deepEqual(say('{"execute":"query-status","id":{"a":[1]}}'), [
    { return: { status: 'running', singlestep: false, running: true }, id: { a: [1] } },
  ]);
});

test("malformed requests get QEMU's GenericError texts, with the id when there is one", () => {
  const { m } = setup();
  const { say } = client(m);
  say('{"execute":"qmp_capabilities"}');
  const err = (desc: string, id?: unknown) => [
    { ...(id !== undefined ? { id } : {}), error: { class: 'GenericError', desc } },
  ];
  assert.deepEqual(say('{"id":3}'), err("QMP input lacks member 'execute'", 3));
  assert.deepEqual(say('{"execute":"stop","id":7,"foo":1}'), err("QMP input member 'foo' is unexpected", 7));
  assert.deepEqual(say('{"execute":1}'), err("QMP input member 'execute' must be a string"));
  assert.deepEqual(say('{"execute":"stop","arguments":[1]}'), err("QMP input member 'arguments' must be an object"));
  assert.deepEqual(say('[1,2]'), err('QMP input must be a JSON object'));
  assert.deepEqual(say('"str"'), err('QMP input must be a JSON object'));
  assert.deepEqual(say('{"execute":"stop","arguments":{"x":1},"id":7}'), err("Parameter 'x' is unexpected", 7));
  assert.deepEqual(say('{"execute":"nope","id":5}'), [
    { id: 5, error: { class: 'CommandNotFound', desc: 'The command nope has not been found' } },
  ]);
  const parse = say('garbage\n');
  assert.equal(parse.length, 1);
  assert.match((parse[0]!.error as { desc: string }).desc, /^JSON parse error, /);
  assert.deepEqual(say('{"execute":"query-name"}'), [{ return: {} }]);
});

test('argument checks: missing, wrong type, unexpected (declared members first)', () => {
  const { m } = setup();
  m.register('x-test', {
    args: { path: { type: 'string' }, n: { type: 'integer', optional: true } },
    run: (a) => ({ path: a.path }),
  });
  const { say } = client(m);
  say('{"execute":"qmp_capabilities"}');
  const desc = (text: string) => (say(text)[0]!.error as { desc: string } | undefined)?.desc;
  assert.equal(desc('{"execute":"x-test","arguments":{}}'), "Parameter 'path' is missing");
  assert.equal(
    desc('{"execute":"x-test","arguments":{"path":1}}'),
    "Invalid parameter type for 'path', expected: string",
  );
  assert.equal(
    desc('{"execute":"x-test","arguments":{"path":"/","n":1.5}}'),
    "Invalid parameter type for 'n', expected: integer",
  );
  assert.equal(desc('{"execute":"x-test","arguments":{"a":1,"path":"/"}}'), "Parameter 'a' is unexpected");
  assert.deepEqual(say('{"execute":"x-test","arguments":{"path":"/","n":2}}'), [{ return: { path: '/' } }]);
});

test("stop, cont, reset, powerdown and quit send QEMU's events before their answers", async () => {
  const { m, t } = setup();
  t.name = 'vm1';
  const a = client(m);
  const b = client(m); // never negotiates: gets no events
  a.say('{"execute":"qmp_capabilities"}');
  assert.deepEqual(a.say('{"execute":"query-name"}'), [{ return: { name: 'vm1' } }]);
  assert.deepEqual(a.say('{"execute":"stop"}'), [{ timestamp: 'T', event: 'STOP' }, { return: {} }]);
  assert.deepEqual(a.say('{"execute":"stop"}'), [{ return: {} }]);
  assert.deepEqual(a.say('{"execute":"query-status"}'), [
    { return: { status: 'paused', singlestep: false, running: false } },
  ]);
  assert.deepEqual(a.say('{"execute":"cont"}'), [{ timestamp: 'T', event: 'RESUME' }, { return: {} }]);
  assert.deepEqual(a.say('{"execute":"system_reset"}'), [
    { timestamp: 'T', event: 'RESET', data: { guest: false, reason: 'host-qmp-system-reset' } },
    { return: {} },
  ]);
  assert.equal(t.resets, 1);
  assert.deepEqual(a.say('{"execute":"system_powerdown"}'), [
    { error: { class: 'GenericError', desc: 'this machine has no power button' } },
  ]);
  t.button = true;
  assert.deepEqual(a.say('{"execute":"system_powerdown"}'), [{ timestamp: 'T', event: 'POWERDOWN' }, { return: {} }]);
  assert.deepEqual(a.say('{"execute":"quit"}'), [
    { timestamp: 'T', event: 'SHUTDOWN', data: { guest: false, reason: 'host-qmp-quit' } },
    { return: {} },
  ]);
  assert.equal(t.quits, 0); // only once the answer is out
  await Promise.resolve();
  assert.equal(t.quits, 1);
  assert.deepEqual(b.got.slice(1), []);
  // The timestamp is QEMU's split of the wall clock.
  m.emit('X');
  assert.deepEqual(a.got.at(-1), { timestamp: { seconds: 1_700_000_000, microseconds: 123_456 }, event: 'X' });
});

test('SHUTDOWN is sent once; cont after a shutdown needs a reset, as in QEMU', () => {
  const { m, t } = setup();
  const a = client(m);
  a.say('{"execute":"qmp_capabilities"}');
  m.emit('SHUTDOWN', { guest: true, reason: 'guest-shutdown' });
  m.emit('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' });
  assert.equal(a.got.filter((g) => g.event === 'SHUTDOWN').length, 1);
  t.state = 'shutdown';
  assert.deepEqual(a.say('{"execute":"cont"}'), [
    { error: { class: 'GenericError', desc: 'Resetting the Virtual Machine is required' } },
  ]);
});

test('query-commands lists every registered command', () => {
  const { m } = setup();
  const a = client(m);
  a.say('{"execute":"qmp_capabilities"}');
  const names = (a.say('{"execute":"query-commands"}')[0]!.return as { name: string }[]).map((c) => c.name).sort();
  assert.deepEqual(names, [
    'cont',
    'qmp_capabilities',
    'query-commands',
    'query-name',
    'query-status',
    'query-version',
    'quit',
    'stop',
    'system_powerdown',
    'system_reset',
  ]);
});

test('async commands answer in order, a failing one with its error; input pauses while too many wait', async () => {
  const { m } = setup();
  const releases: (() => void)[] = [];
  m.register('x-slow', { run: () => new Promise<void>((r) => releases.push(r)) });
  m.register('x-fail', {
    run: async () => {
      throw new QmpError('GenericError', 'it failed');
    },
  });
  const got: string[] = [];
  let paused = 0;
  let resumed = 0;
  const c = m.connect({
    send: (t) => got.push(t.trim()),
    close: () => {},
    pauseInput: () => paused++,
    resumeInput: () => resumed++,
  });
  const feed = (s: string) => c.feed(new TextEncoder().encode(s));
  feed('{"execute":"qmp_capabilities"}');
  got.length = 0;
  feed('{"execute":"x-slow","id":1}' + '{"execute":"query-name"}'.repeat(MAX_QUEUED));
  assert.deepEqual(got, []);
  assert.equal(paused, 1);
  releases.shift()!();
  await new Promise((r) => setImmediate(r));
  assert.equal(got.length, MAX_QUEUED + 1);
  assert.equal(got[0], '{"return":{},"id":1}');
  assert.equal(resumed, 1);
  got.length = 0;
  feed('{"execute":"x-fail","id":2}{"execute":"query-name","id":3}');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, ['{"id":2,"error":{"class":"GenericError","desc":"it failed"}}', '{"return":{},"id":3}']);
});

test('a value past the size bound is answered, then the client is cut off', () => {
  const { m } = setup();
  const a = client(m);
  a.say('{"execute":"qmp_capabilities"}');
  const chunk = new TextEncoder().encode('{"execute":"' + 'x'.repeat(64 * 1024));
  let n = 0;
  while (!a.closed() && n++ < 100) a.c.feed(chunk);
  assert.ok(a.closed());
  assert.ok(n <= 17, `closed after ${n} chunks`);
  assert.match((a.got.at(-1)!.error as { desc: string }).desc, /size limit/);
  const count = a.got.length;
  m.emit('STOP'); // a dropped client gets nothing more
  assert.equal(a.got.length, count);
});
