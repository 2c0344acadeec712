import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FnBuilder, I32, I64, W, moduleBytes, sleb32, sleb64, uleb } from './emit.ts';
import { wasmApi } from './api.ts';

const WebAssembly = wasmApi!;

function instance(bytes: Uint8Array, imports: Record<string, Record<string, unknown>> = {}) {
  assert.ok(WebAssembly.validate(bytes), 'module validates');
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), imports).exports;
}

test('LEB128 encodings match the spec examples and edge values', () => {
  const u = (v: number) => {
    const o: number[] = [];
    uleb(o, v);
    return o;
  };
  const s32 = (v: number) => {
    const o: number[] = [];
    sleb32(o, v);
    return o;
  };
  const s64 = (lo: number, hi: number) => {
    const o: number[] = [];
    sleb64(o, lo, hi);
    return o;
  };
  assert.deepEqual(u(0), [0]);
  assert.deepEqual(u(127), [0x7f]);
  assert.deepEqual(u(128), [0x80, 0x01]);
  assert.deepEqual(u(624485), [0xe5, 0x8e, 0x26]);
  assert.deepEqual(u(2 ** 32), [0x80, 0x80, 0x80, 0x80, 0x10]);
  assert.throws(() => u(-1), /non-negative/);
  assert.deepEqual(s32(0), [0]);
  assert.deepEqual(s32(-1), [0x7f]);
  assert.deepEqual(s32(63), [0x3f]);
  assert.deepEqual(s32(64), [0xc0, 0x00]);
  assert.deepEqual(s32(-64), [0x40]);
  assert.deepEqual(s32(-65), [0xbf, 0x7f]);
  assert.deepEqual(s32(-123456), [0xc0, 0xbb, 0x78]);
  assert.deepEqual(s32(-0x80000000), [0x80, 0x80, 0x80, 0x80, 0x78]);
  assert.deepEqual(s64(-1, -1), [0x7f]);
  assert.deepEqual(s64(0, -0x80000000), [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f]);
  assert.deepEqual(s64(-1, 0x7fffffff), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]);
});

test('i64 constants of every shape round-trip through a compiled function', () => {
  const vals: [number, number][] = [
    [0, 0],
    [1, 0],
    [-1, -1],
    [0x7fffffff, 0],
    [-0x80000000, -1],
    [-0x80000000, 0],
    [0, 1],
    [0x12345678, -0x6543210f],
    [0, -0x80000000],
    [-1, 0x7fffffff],
  ];
  const funcs = vals.map(([lo, hi], i) => {
    const f = new FnBuilder([], [I64]);
    f.i64(lo, hi).end();
    return { fn: f, exportAs: `c${i}` };
  });
  const ex = instance(moduleBytes({ funcs }));
  vals.forEach(([lo, hi], i) => {
    const got = (ex[`c${i}`] as () => bigint)();
    assert.equal(BigInt.asIntN(64, got), BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0)), `c${i}`);
  });
});

test('a loop with locals, br_if and i64 arithmetic computes a sum', () => {
  // sum(n) = n + (n-1) + ... + 1, as i64, with an i32 counter.
  const f = new FnBuilder([I32], [I64]);
  const acc = f.local(I64);
  f.open(W.block).open(W.loop);
  f.get(0).op(W.i32_eqz).brIf(1);
  f.get(acc).get(0).op(W.i64_extend_i32_u, W.i64_add).set(acc);
  f.get(0).i32(1).op(W.i32_sub).set(0);
  f.br(0).end().end();
  f.get(acc).end();
  const ex = instance(moduleBytes({ funcs: [{ fn: f, exportAs: 'sum' }] }));
  assert.equal((ex.sum as (n: number) => bigint)(100000), 5000050000n);
});

test('br_table dispatches, if/else selects, imported memory is read and written', () => {
  const mem = new WebAssembly.Memory({ initial: 1, maximum: 1 });
  const f = new FnBuilder([I32], [I32]);
  // switch (p) { case 0: return 10; case 1: return 20; default: store p at 8, return load(8)+1 }
  f.open(W.block).open(W.block).open(W.block);
  f.get(0).brTable([0, 1], 2);
  f.end().i32(10).op(W.return);
  f.end().i32(20).op(W.return);
  f.end();
  f.i32(0).get(0).mem(W.i32_store, 2, 8);
  f.i32(0).mem(W.i32_load, 2, 8).i32(1).op(W.i32_add);
  f.end();
  const g = new FnBuilder([I32], [I32]);
  g.get(0).op(W.i32_eqz).open(W.if, I32).i32(7).op(W.else).i32(9).end().end();
  const ex = instance(
    moduleBytes({
      memory: { module: 'm', name: 'mem', min: 1 },
      funcs: [
        { fn: f, exportAs: 'sw' },
        { fn: g, exportAs: 'ie' },
      ],
    }),
    {
      m: { mem },
    },
  );
  const sw = ex.sw as (p: number) => number;
  assert.equal(sw(0), 10);
  assert.equal(sw(1), 20);
  assert.equal(sw(77), 78);
  assert.equal(new Int32Array(mem.buffer)[2], 77);
  assert.equal((ex.ie as (v: number) => number)(0), 7);
  assert.equal((ex.ie as (v: number) => number)(3), 9);
});

test('imported functions are called; a malformed body does not validate', () => {
  const f = new FnBuilder([I32], [I32]);
  f.get(0).call(0).i32(1).op(W.i32_add).end();
  const bytes = moduleBytes({
    imports: [{ module: 'h', name: 'twice', params: [I32], results: [I32] }],
    funcs: [{ fn: f, exportAs: 'f' }],
  });
  const ex = instance(bytes, { h: { twice: (v: number) => v * 2 } });
  assert.equal((ex.f as (v: number) => number)(20), 41);
  const bad = new FnBuilder([], [I32]);
  bad.op(W.i64_const, 0).end(); // an i64 where the result is i32
  assert.equal(WebAssembly.validate(moduleBytes({ funcs: [{ fn: bad }] })), false);
});

test('an imported table: call_indirect reaches a function another module exported, checking its type', () => {
  const api = WebAssembly as unknown as {
    Table: new (d: { element: string; initial: number }) => { set(i: number, v: unknown): void };
  };
  const table = new api.Table({ element: 'anyfunc', initial: 4 });
  const callee = new FnBuilder([I32], [I32]);
  callee.get(0).i32(3).op(W.i32_mul).end();
  table.set(2, instance(moduleBytes({ funcs: [{ fn: callee, exportAs: 'triple' }] })).triple);
  const tab = { module: 'm', name: 'tab', min: 1 };
  // Type 0 of the calling module is (i32) -> i32 (its first function's), as the callee's.
  const first = new FnBuilder([I32], [I32]);
  first.get(0).end();
  const caller = new FnBuilder([I32, I32], [I32]);
  caller.get(0).get(1).callIndirect(0).end();
  const b = instance(moduleBytes({ table: tab, funcs: [{ fn: first }, { fn: caller, exportAs: 'call' }] }), {
    m: { tab: table },
  });
  assert.equal((b.call as (v: number, i: number) => number)(14, 2), 42);
  // Type 0 () -> i32 does not match: the engine traps instead of calling.
  const other = new FnBuilder([], [I32]);
  other.i32(0).end();
  const wrong = new FnBuilder([I32], [I32]);
  wrong.get(0).callIndirect(0).end();
  const c = instance(moduleBytes({ table: tab, funcs: [{ fn: other }, { fn: wrong, exportAs: 'call' }] }), {
    m: { tab: table },
  });
  assert.throws(() => (c.call as (i: number) => number)(2), /signature|indirect call/i);
});
