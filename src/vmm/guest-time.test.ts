import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GAP_CAP_MS, GuestTime, TURN_CAP_MS } from './guest-time.ts';

/** A GuestTime on a host clock the test moves by hand. */
function fixture(): { t: GuestTime; host: { ms: number } } {
  const host = { ms: 1000 };
  return { t: new GuestTime(() => host.ms), host };
}

test('on a host that runs the VM without pause, guest time is host time', () => {
  const { t, host } = fixture();
  const start = t.now();
  for (let i = 0; i < 1000; i++) {
    t.beginTurn();
    host.ms += 8; // a whole turn
    assert.equal(t.now(), start + (i + 1) * 8 + i * 0.25);
    t.endTurn(false);
    host.ms += 0.25; // the event loop between turns
  }
  assert.equal(t.heldBackMs, 0);
});

test('a turn the host interrupted counts as at most TURN_CAP_MS', () => {
  const { t, host } = fixture();
  t.beginTurn();
  const g0 = t.now();
  host.ms += 500; // descheduled mid-turn
  assert.equal(t.now(), g0 + TURN_CAP_MS);
  t.endTurn(false);
  assert.equal(t.heldBackMs, 500 - TURN_CAP_MS);
});

test('a gap between turns of a runnable VM counts as at most GAP_CAP_MS; a sleep counts in full', () => {
  const { t, host } = fixture();
  t.beginTurn();
  host.ms += 1;
  t.endTurn(false);
  const g = t.now();
  host.ms += 300; // another process had the core
  t.beginTurn();
  assert.equal(t.now(), g + GAP_CAP_MS);
  host.ms += 1;
  t.endTurn(true); // every hart waits: the VM sleeps
  const s = t.now();
  host.ms += 40; // the timer sleep
  assert.equal(t.now(), s + 40, 'sleeping guests see real time (readers between turns too)');
  t.beginTurn();
  assert.equal(t.now(), s + 40);
});

test('a paused VM: guest time stands until it runs again', () => {
  const { t, host } = fixture();
  t.beginTurn();
  host.ms += 3;
  t.endTurn(true); // it was sleeping when paused
  host.ms += 5;
  t.hold();
  const g = t.now();
  host.ms += 60_000;
  t.beginTurn();
  assert.equal(t.now(), g + GAP_CAP_MS);
});

test('guest time never goes back and never runs ahead of host time', () => {
  const { t, host } = fixture();
  const h0 = host.ms;
  let last = t.now();
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 1000) / 100;
  for (let i = 0; i < 5000; i++) {
    const step = i % 4;
    if (step === 0) t.beginTurn();
    else if (step === 3) t.endTurn(rnd() < 3);
    else if (rnd() < 0.5) t.hold();
    host.ms += rnd();
    const g = t.now();
    assert.ok(g >= last, `went back at step ${i}: ${g} < ${last}`);
    assert.ok(g - 1000 <= host.ms - h0 + 1e-9, `ran ahead at step ${i}`);
    last = g;
  }
});
