import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { HostConsole } from './console.ts';

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
    { input: (b) => got.push(...b), quit: () => events.push('quit'), snapshot: () => events.push('snap') },
    tty,
    new PassThrough() as unknown as NodeJS.WriteStream,
  );
  c.feed(new Uint8Array([0x61, 0x01, 0x73, 0x62, 0x01, 0x01, 0x01]));
  c.feed(new Uint8Array([0x78, 0x63]));
  assert.deepEqual(got, [0x61, 0x62, 0x01, 0x63]);
  assert.deepEqual(events, ['snap', 'quit']);
});

test('piped input passes through untouched, Ctrl-A included', () => {
  const got: number[] = [];
  const pipe = new PassThrough() as unknown as NodeJS.ReadStream;
  const c = new HostConsole({ input: (b) => got.push(...b), quit: () => {}, snapshot: () => {} }, pipe);
  c.feed(new Uint8Array([0x01, 0x78]));
  assert.deepEqual(got, [0x01, 0x78]);
});
