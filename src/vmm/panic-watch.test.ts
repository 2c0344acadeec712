import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PanicWatch } from './panic-watch.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const LINE = '[   1.0] Kernel panic - not syncing: Attempted to kill init!\r\n';

test('the panic line is seen whole, and split across chunks at every point', () => {
  assert.equal(new PanicWatch().feed(enc(`boot...\r\n${LINE}`)), true);
  for (let cut = 0; cut <= LINE.length; cut++) {
    const w = new PanicWatch();
    w.feed(enc('K'.repeat(40)));
    assert.equal(w.feed(enc(LINE.slice(0, cut))) || w.feed(enc(LINE.slice(cut))), true, `cut at ${cut}`);
  }
  // One byte at a time.
  const w = new PanicWatch();
  let seen = false;
  for (const c of LINE) seen = w.feed(enc(c));
  assert.equal(seen, true);
});

test('near misses are not a panic', () => {
  const w = new PanicWatch();
  assert.equal(w.feed(enc('Kernel panic - not syncin')), false);
  assert.equal(w.feed(enc('g'.replace('g', 'G'))), false);
  assert.equal(w.feed(enc('Kernel panic - not sync')), false);
  assert.equal(w.feed(enc('Kernel panics are bad\r\n')), false);
});
