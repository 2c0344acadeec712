import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EXT_BASE,
  EXT_DBCN,
  EXT_HSM,
  EXT_IPI,
  EXT_SRST,
  EXT_TIME,
  HartState,
  SBI_ERR_FAILED,
  SBI_ERR_INVALID_PARAM,
  SBI_ERR_NOT_SUPPORTED,
  handleSbiCall,
  type SbiPlatform,
} from './sbi.ts';

function hart(id = 0) {
  return { hartId: id, x: new Int32Array(64) };
}
function set(h: { x: Int32Array }, i: number, v: number) {
  h.x[2 * i] = v | 0;
  h.x[2 * i + 1] = Math.floor(v / 2 ** 32) | 0;
}
function get(h: { x: Int32Array }, i: number) {
  return h.x[2 * i + 1]! * 2 ** 32 + (h.x[2 * i]! >>> 0);
}
function call(h: ReturnType<typeof hart>, p: SbiPlatform, eid: number, fid: number, ...args: number[]) {
  set(h, 17, eid);
  set(h, 16, fid);
  args.forEach((a, i) => set(h, 10 + i, a));
  handleSbiCall(h, p);
  return { err: get(h, 10), value: get(h, 11) };
}

function platform(ram = new Uint8Array(4096)) {
  const log: string[] = [];
  const states = [HartState.Started, HartState.Stopped];
  const out: number[] = [];
  const input = [104, 105];
  const p: SbiPlatform & { room: number } = {
    room: Infinity,
    hartCount: 2,
    setTimer: (id, t) => log.push(`timer ${id} ${t}`),
    sendIpi: (id) => log.push(`ipi ${id}`),
    remoteFence: (id, k) => log.push(`fence ${id} ${k}`),
    hartState: (id) => states[id]!,
    hartStart: (id, addr, opaque) => {
      states[id] = HartState.StartPending;
      log.push(`start ${id} ${addr.toString(16)} ${opaque}`);
    },
    hartStop: (id) => log.push(`stop ${id}`),
    hartSuspend: (id) => log.push(`suspend ${id}`),
    systemReset: (t, r) => log.push(`reset ${t} ${r}`),
    consoleWrite: (b) => {
      const n = Math.min(b.length, p.room);
      for (let i = 0; i < n; i++) out.push(b[i]!);
      return n;
    },
    consoleRead: (max) => new Uint8Array(input.splice(0, max)),
    ramView: (addr, len) =>
      addr >= 0x80000000 && addr + len <= 0x80000000 + ram.length
        ? ram.subarray(addr - 0x80000000, addr - 0x80000000 + len)
        : undefined,
  };
  return { p, log, out, ram };
}

test('base extension reports spec 2.0 and probes extensions', () => {
  const { p } = platform();
  const h = hart();
  assert.deepEqual(call(h, p, EXT_BASE, 0), { err: 0, value: 2 << 24 });
  assert.equal(call(h, p, EXT_BASE, 3, EXT_TIME).value, 1);
  assert.equal(call(h, p, EXT_BASE, 3, 0x12345).value, 0);
  assert.equal(call(h, p, 0x999999, 0).err, SBI_ERR_NOT_SUPPORTED);
});

test('timer, IPI masks and remote fences reach the platform', () => {
  const { p, log } = platform();
  const h = hart();
  call(h, p, EXT_TIME, 0, 123456);
  set(h, 10, -1);
  h.x[21] = -1;
  set(h, 17, EXT_TIME);
  set(h, 16, 0);
  handleSbiCall(h, p); // stime_value = 2^64-1: "no timer"
  assert.equal(call(h, p, EXT_IPI, 0, 0b10, 0).err, 0);
  assert.equal(call(h, p, EXT_IPI, 0, 0, -1).err, 0);
  assert.equal(call(h, p, EXT_IPI, 0, 0b100, 0).err, SBI_ERR_INVALID_PARAM);
  assert.deepEqual(log, ['timer 0 123456', 'timer 0 Infinity', 'ipi 1', 'ipi 0', 'ipi 1']);
});

test('HSM starts a stopped hart, refuses bad addresses and busy harts', () => {
  const { p, log } = platform();
  const h = hart();
  assert.equal(call(h, p, EXT_HSM, 2, 1).value, HartState.Stopped);
  assert.equal(call(h, p, EXT_HSM, 0, 1, 0x10, 7).err, -5);
  assert.equal(call(h, p, EXT_HSM, 0, 1, 0x80000100, 7).err, 0);
  assert.equal(call(h, p, EXT_HSM, 0, 1, 0x80000100, 7).err, -6);
  assert.equal(call(h, p, EXT_HSM, 0, 5, 0x80000100, 7).err, SBI_ERR_INVALID_PARAM);
  assert.deepEqual(log, ['start 1 80000100 7']);
});

test('DBCN writes and reads through guest RAM, rejecting ranges outside it', () => {
  const { p, out, ram } = platform();
  ram.set(new TextEncoder().encode('hello'), 16);
  const h = hart();
  assert.deepEqual(call(h, p, EXT_DBCN, 0, 5, 0x80000010, 0), { err: 0, value: 5 });
  assert.equal(new TextDecoder().decode(new Uint8Array(out)), 'hello');
  assert.deepEqual(call(h, p, EXT_DBCN, 1, 8, 0x80000100, 0), { err: 0, value: 2 });
  assert.deepEqual([...ram.subarray(0x100, 0x102)], [104, 105]);
  assert.equal(call(h, p, EXT_DBCN, 0, 5, 0x1000, 0).err, SBI_ERR_INVALID_PARAM);
  assert.equal(call(h, p, EXT_DBCN, 0, 5000, 0x80000000, 0).err, SBI_ERR_INVALID_PARAM);
});

test('DBCN: a huge write is accepted in part and reports the short count; a full console takes nothing', () => {
  const { p, out, ram } = platform(new Uint8Array(8 * 1024 * 1024));
  for (let i = 0; i < ram.length; i++) ram[i] = i & 0xff;
  const h = hart();
  p.room = 4096;
  assert.deepEqual(call(h, p, EXT_DBCN, 0, 6 * 1024 * 1024, 0x80000100, 0), { err: 0, value: 4096 });
  assert.equal(out.length, 4096);
  assert.equal(out[0], 0);
  assert.equal(out[4095], 0xff);
  p.room = 0;
  assert.deepEqual(call(h, p, EXT_DBCN, 0, 1024 * 1024, 0x80000000, 0), { err: 0, value: 0 });
  assert.equal(out.length, 4096);
  // write_byte and the legacy putchar cannot report a short write: a full console says it failed.
  assert.equal(call(h, p, EXT_DBCN, 2, 0x41).err, SBI_ERR_FAILED);
  assert.equal(call(h, p, 1, 0, 0x41).err, SBI_ERR_FAILED);
  assert.equal(out.length, 4096);
  // Ranges are still checked in full.
  assert.equal(call(h, p, EXT_DBCN, 0, 9 * 1024 * 1024, 0x80000000, 0).err, SBI_ERR_INVALID_PARAM);
});

test('SRST validates type and reason; legacy calls return in a0', () => {
  const { p, log, out } = platform();
  const h = hart();
  assert.equal(call(h, p, EXT_SRST, 0, 7, 0).err, SBI_ERR_INVALID_PARAM);
  assert.equal(call(h, p, EXT_SRST, 0, 0, 0).err, 0);
  call(h, p, 1, 0, 65);
  assert.equal(get(h, 10), 0);
  call(h, p, 2, 0);
  assert.equal(get(h, 10), 104);
  assert.deepEqual(out, [65]);
  assert.deepEqual(log, ['reset 0 0']);
});
