import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { CursorQueries, HostConsole, InputGate, PIPED_LINE_MAX, PipedInput, StreamOutput } from './console.ts';

function fakeTty() {
  const s = new PassThrough() as unknown as NodeJS.ReadStream & { rawMode: boolean };
  s.isTTY = true;
  s.rawMode = false;
  s.setRawMode = (m: boolean) => {
    s.rawMode = m;
    return s;
  };
  return s;
}

test('Ctrl-A escapes are interpreted on a TTY and the rest reaches the guest', () => {
  const got: number[] = [];
  const events: string[] = [];
  const tty = fakeTty();
  const c = new HostConsole(
    {
      input: (b) => got.push(...b),
      quit: () => events.push('quit'),
      snapshot: () => events.push('snap'),
      powerButton: () => events.push('power'),
    },
    tty,
    new PassThrough() as unknown as NodeJS.WriteStream,
  );
  c.feed(new Uint8Array([0x61, 0x01, 0x73, 0x62, 0x01, 0x01, 0x01]));
  c.feed(new Uint8Array([0x70, 0x01]));
  c.feed(new Uint8Array([0x78, 0x63]));
  assert.deepEqual(got, [0x61, 0x62, 0x01, 0x63]);
  assert.deepEqual(events, ['snap', 'power', 'quit']);
});

test('piped input passes through untouched, Ctrl-A included', () => {
  const got: number[] = [];
  const pipe = new PassThrough() as unknown as NodeJS.ReadStream;
  const c = new HostConsole({ input: (b) => got.push(...b), quit: () => {}, snapshot: () => {} }, pipe);
  c.feed(new Uint8Array([0x01, 0x78]));
  assert.deepEqual(got, [0x01, 0x78]);
});

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A PipedInput whose typed lines are collected as strings. */
function typer(booted = false) {
  const typed: string[] = [];
  const p = new PipedInput((b) => typed.push(dec(b)), booted);
  return { p, typed };
}

test('piped lines wait for the first prompt, then go one per prompt', () => {
  const { p, typed } = typer();
  p.push(enc('echo a\nech'));
  p.push(enc('o b\nreboot -f\n'));
  p.output(enc('[    0.1] Linux version 6.1\r\nStarting shell\r\n'));
  assert.deepEqual(typed, []);
  p.output(enc('virtkit:/# \x1b[6n'));
  assert.deepEqual(typed, ['echo a\n']);
  // A terminal query or the echo of the typed characters, before any newline, is not an answer.
  p.output(enc('\x1b[6n'));
  p.output(enc('echo a'));
  assert.deepEqual(typed, ['echo a\n']);
  p.output(enc('\r\na\r\nvirtkit:/# '));
  assert.deepEqual(typed, ['echo a\n', 'echo b\n']);
  // A command with no output: its echo and the prompt arrive in one chunk.
  p.output(enc('echo b\r\nvirtkit:/# '));
  assert.deepEqual(typed, ['echo a\n', 'echo b\n', 'reboot -f\n']);
  assert.equal(p.pendingBytes, 0);
});

test("after a reboot the rest waits for the new boot's first prompt, and idleness does not release it", () => {
  const { p, typed } = typer();
  p.push(enc('reboot -f\necho @@B\npoweroff -f\n'));
  p.output(enc('\r\n/ # '));
  assert.deepEqual(typed, ['reboot -f\n']);
  p.output(enc('reboot -f\r\n[   9.0] reboot: Restarting system\r\n'));
  p.rebooted();
  p.idle();
  p.output(enc('[    0.0] Linux version 6.1\r\n'));
  assert.deepEqual(typed, ['reboot -f\n']);
  assert.ok(p.waiting);
  p.output(enc('/ # '));
  assert.deepEqual(typed, ['reboot -f\n', 'echo @@B\n']);
  p.end();
  assert.equal(p.done, false, 'the last line has not been typed');
  p.output(enc('echo @@B\r\n@@B\r\n/ # '));
  assert.deepEqual(typed, ['reboot -f\n', 'echo @@B\n', 'poweroff -f\n']);
});

test('a long output is answered only by the prompt at its end', () => {
  const { p, typed } = typer(true);
  p.push(enc('cat big\nnext\n'));
  assert.deepEqual(typed, ['cat big\n'], 'a booted guest takes the first line at once');
  p.output(enc('cat big\r\n'));
  for (let i = 0; i < 200; i++) p.output(enc(`line ${i} of a long file\r\n`));
  assert.deepEqual(typed, ['cat big\n']);
  p.output(enc('$ '));
  assert.deepEqual(typed, ['cat big\n', 'next\n']);
});

test('a program reading lines without a prompt gets the next line when the guest idles', () => {
  const { p, typed } = typer(true);
  p.push(enc('cat > /tmp/x\nhello\n'));
  p.output(enc('cat > /tmp/x\r\n'));
  assert.deepEqual(typed, ['cat > /tmp/x\n']);
  p.idle();
  assert.deepEqual(typed, ['cat > /tmp/x\n', 'hello\n']);
});

test('an unfinished last line is typed at end of input; done once it is answered', () => {
  const { p, typed } = typer(true);
  p.push(enc('uname'));
  assert.deepEqual(typed, []);
  assert.equal(p.pendingBytes, 5);
  p.end();
  assert.deepEqual(typed, ['uname']);
  assert.equal(p.done, false);
  p.output(enc('uname\r\nLinux\r\n# '));
  assert.equal(p.done, true);
});

test('a line longer than the cap is typed in capped pieces, not held whole', () => {
  const { p, typed } = typer(true);
  p.push(new Uint8Array(3 * PIPED_LINE_MAX + 10).fill(0x61));
  assert.equal(typed.length, 1);
  assert.equal(typed[0]!.length, PIPED_LINE_MAX);
  assert.ok(p.pendingBytes <= 2 * PIPED_LINE_MAX + 10);
  p.idle();
  p.idle();
  p.push(enc('\n'));
  p.idle();
  assert.deepEqual(
    typed.map((t) => t.length),
    [PIPED_LINE_MAX, PIPED_LINE_MAX, PIPED_LINE_MAX, 11],
  );
});

test('piped input is paused while too much of it waits for the guest, and resumed once typed', async () => {
  const pipe = new PassThrough({ highWaterMark: 64 * 1024 }) as unknown as NodeJS.ReadStream & PassThrough;
  const typed: Uint8Array[] = [];
  const p = new PipedInput((b) => {
    typed.push(b);
    gate.update();
  }, true);
  const c = new HostConsole(
    {
      input: (b) => {
        p.push(b);
        gate.update();
      },
      quit: () => {},
      snapshot: () => {},
    },
    pipe,
  );
  const HIGH = 256 * 1024;
  const gate = new InputGate(() => p.pendingBytes, c, HIGH);
  c.start();
  const line = enc('x'.repeat(99) + '\n');
  let written = 0;
  // The writer keeps going until the pipe pushes back, as a shell pipeline would.
  for (let round = 0; round < 200; round++) {
    while (pipe.write(line)) written += line.length;
    written += line.length;
    await new Promise((r) => setImmediate(r));
    if (gate.paused && pipe.writableLength >= 64 * 1024) break;
  }
  assert.ok(gate.paused, 'the pipe was paused');
  assert.ok(p.pendingBytes <= HIGH + 64 * 1024, `${p.pendingBytes} bytes held`);
  assert.ok(written >= p.pendingBytes + 64 * 1024, 'the rest waits in the pipe');
  // The guest answers every typed line with a prompt: the backlog drains and reading resumes.
  for (let i = 0; i < 10_000 && p.pendingBytes > HIGH / 4; i++) p.output(enc('\r\n# '));
  assert.equal(gate.paused, false, 'reading resumed');
  c.stop();
});

test('guest output to a slow stream holds the VM until the stream drains', async () => {
  const pending: (() => void)[] = [];
  const got: number[] = [];
  const slow = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _enc, cb) {
      got.push(...chunk);
      pending.push(cb);
    },
  });
  const events: string[] = [];
  const out = new StreamOutput(slow, { hold: () => events.push('hold'), release: () => events.push('release') });
  out.write(new Uint8Array(10));
  assert.deepEqual(events, []);
  out.write(new Uint8Array(10));
  assert.deepEqual(events, ['hold']);
  out.write(new Uint8Array(10));
  assert.deepEqual(events, ['hold'], 'held once');
  while (pending.length) {
    pending.shift()!();
    await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(events, ['hold', 'release']);
  assert.equal(got.length, 30);
});

test('a console stream that fails releases the VM and drops later output', async () => {
  const events: string[] = [];
  const broken = new Writable({
    highWaterMark: 4,
    write(_chunk, _enc, cb) {
      setImmediate(() => cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })));
    },
  });
  const out = new StreamOutput(broken, { hold: () => events.push('hold'), release: () => events.push('release') });
  out.write(new Uint8Array(10));
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(events, ['hold', 'release']);
  out.write(new Uint8Array(10));
  assert.deepEqual(events, ['hold', 'release'], 'later output is dropped without holding the VM');
});

test('cursor-position queries are removed from piped output and answered with the tracked column', () => {
  const replies: string[] = [];
  const q = new CursorQueries((b) => replies.push(dec(b)));
  assert.equal(dec(q.filter(enc('boot\r\nvirtkit:/# \x1b[6n'))), 'boot\r\nvirtkit:/# ');
  assert.deepEqual(replies, ['\x1b[1;12R']);
  // Split across chunks, after colour escapes (no column), a tab and a backspace.
  assert.equal(dec(q.filter(enc('\r\n\x1b[1;32mab\x1b[0m\tx\b'))), '\r\n\x1b[1;32mab\x1b[0m\tx\b');
  assert.equal(dec(q.filter(enc('\x1b'))), '');
  assert.equal(dec(q.filter(enc('[6'))), '');
  assert.equal(dec(q.filter(enc('n$ '))), '$ ');
  assert.deepEqual(replies, ['\x1b[1;12R', '\x1b[1;9R']);
  // Near misses are output unchanged, including a prefix that turns out not to be a query.
  assert.equal(dec(q.filter(enc('\x1b[6m\x1b\x1b[5n\x1b[\x1b[6n'))), '\x1b[6m\x1b\x1b[5n\x1b[');
  assert.equal(replies.length, 3);
  assert.equal(dec(q.filter(enc('\x1b[6'))), '');
  assert.equal(dec(q.flush()), '\x1b[6');
  assert.equal(replies.length, 3);
});

test('a terminal that hangs up ends the input and stops without throwing', () => {
  const tty = fakeTty();
  const events: string[] = [];
  const c = new HostConsole(
    { input: () => {}, quit: () => {}, snapshot: () => {}, end: () => events.push('end') },
    tty,
    new PassThrough() as unknown as NodeJS.WriteStream,
  );
  const stderr = process.stderr.write;
  process.stderr.write = () => true; // the start-up banner
  try {
    c.start();
  } finally {
    process.stderr.write = stderr;
  }
  tty.setRawMode = () => {
    throw Object.assign(new Error('setRawMode EIO'), { code: 'EIO' });
  };
  tty.emit('error', Object.assign(new Error('read EIO'), { code: 'EIO' }));
  assert.deepEqual(events, ['end']);
  assert.doesNotThrow(() => c.stop());
  tty.emit('error', Object.assign(new Error('read EIO'), { code: 'EIO' }));
  assert.deepEqual(events, ['end']);
});

test('a cursor query printed after input was sent, before the guest answered it, is removed but not answered', () => {
  const replies: string[] = [];
  const q = new CursorQueries((b) => replies.push(dec(b)));
  q.filter(enc('virtkit:/# '));
  q.inputSent(); // typed at the prompt; the prompt's query comes in the next chunk
  assert.equal(dec(q.filter(enc('\x1b[6necho hi'))), 'echo hi');
  assert.deepEqual(replies, []);
  assert.equal(dec(q.filter(enc('\r\nhi\r\nvirtkit:/# \x1b[6n'))), '\r\nhi\r\nvirtkit:/# ');
  assert.deepEqual(replies, ['\x1b[1;12R']);
});
