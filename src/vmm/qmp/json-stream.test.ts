import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonStream } from './json-stream.ts';

const enc = (s: string) => new TextEncoder().encode(s);

test('values split across reads, several per read, with or without newlines', () => {
  const s = new JsonStream();
  assert.deepEqual(s.scan('{"execute":'), []);
  assert.deepEqual(s.scan(' "stop", "arguments": {"a": "}{"}}{"b'), [
    { value: { execute: 'stop', arguments: { a: '}{' } } },
  ]);
  assert.deepEqual(s.scan('":[1,2]}\r\n{"c":"\\"}"}  "str" 12 true\n'), [
    { value: { b: [1, 2] } },
    { value: { c: '"}' } },
    { value: 'str' },
    { value: 12 },
    { value: true },
  ]);
});

test('a multi-byte character split between reads is decoded whole', () => {
  const s = new JsonStream();
  const bytes = enc('{"name":"é€"}');
  const got = [...s.feed(bytes.subarray(0, 10)), ...s.feed(bytes.subarray(10))];
  assert.deepEqual(got, [{ value: { name: 'é€' } }]);
});

test('malformed text is a non-fatal parse error and the next value still parses', () => {
  const s = new JsonStream();
  const got = s.scan('garbage\n{"a" 1}\n}\n{"ok":1}');
  assert.equal(got.length, 4);
  for (const g of got.slice(0, 3)) {
    assert.ok('error' in g && !g.fatal && g.error.startsWith('JSON parse error, '), JSON.stringify(g));
  }
  assert.deepEqual(got[3], { value: { ok: 1 } });
  assert.equal(s.failed, false);
});

test('an endless object is cut off at the size bound, and nothing more is taken', () => {
  const s = new JsonStream(1000);
  const chunk = '{"a":"' + 'x'.repeat(300);
  assert.deepEqual(s.scan(chunk), []);
  assert.deepEqual(s.scan('y'.repeat(300)), []);
  const got = s.scan('z'.repeat(500));
  assert.equal(got.length, 1);
  assert.ok('error' in got[0]! && got[0].fatal && /size limit/.test(got[0].error));
  assert.equal(s.failed, true);
  assert.deepEqual(s.scan('"}{"a":1}'), []);
});

test('a 100 MB flood without a newline is refused within the bound, never held whole', () => {
  const s = new JsonStream();
  const block = enc('[' + '"xxxxxxxxxxxxxxxxxxxx",'.repeat(2800));
  let fatal = false;
  let fed = 0;
  while (!fatal && fed < 100 * 1024 * 1024) {
    fed += block.length;
    fatal = s.feed(block).some((i) => 'error' in i && i.fatal);
  }
  assert.ok(fatal);
  assert.ok(fed < 2 * 1024 * 1024, `cut off after ${fed} bytes`);
});

test('nesting deeper than the bound is fatal; a long scalar is bounded too', () => {
  const deep = new JsonStream(1 << 20, 8);
  const got = deep.scan('{"a":' + '['.repeat(8));
  assert.deepEqual(got, [{ error: 'JSON nesting depth limit exceeded', fatal: true }]);
  const long = new JsonStream(100);
  assert.ok(long.scan('9'.repeat(200)).some((i) => 'error' in i && i.fatal));
});

test('whitespace between values is not kept', () => {
  const s = new JsonStream(100);
  for (let i = 0; i < 100; i++) assert.deepEqual(s.scan(' \r\n\t'.repeat(50)), []);
  assert.deepEqual(s.scan('{}'), [{ value: {} }]);
});
