import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HolePuncher } from './hole-puncher.ts';

/** A fake child process: records each range and finishes when told. */
function fake(ok = true) {
  const calls: Array<[number, number]> = [];
  const finish: Array<() => void> = [];
  const run = (o: number, l: number) =>
    new Promise<boolean>((resolve) => {
      calls.push([o, l]);
      finish.push(() => resolve(ok));
    });
  const settle = async () => {
    while (finish.length) {
      finish.shift()!();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { calls, run, settle };
}

describe('HolePuncher', () => {
  it('runs at most two children and merges queued neighbouring ranges into one', async () => {
    if (process.platform !== 'linux') return;
    const f = fake();
    const p = new HolePuncher(-1, f.run);
    const all = [];
    for (let i = 0; i < 100; i++) all.push(p.punch(i * 4096, 4096));
    assert.equal(f.calls.length, 2);
    await f.settle();
    assert.deepEqual(await Promise.all(all), new Array(100).fill(true));
    assert.deepEqual(f.calls, [
      [0, 4096],
      [4096, 4096],
      [8192, 98 * 4096],
    ]);
  });
  it('bounds its queue, and after a failure answers false without running anything', async () => {
    if (process.platform !== 'linux') return;
    const f = fake(false);
    const p = new HolePuncher(-1, f.run);
    const all = [];
    // Disjoint ranges cannot merge: two run, 256 wait, the rest are refused at once.
    for (let i = 0; i < 300; i++) all.push(p.punch(i * 8192, 4096));
    assert.equal(f.calls.length, 2);
    await f.settle();
    assert.ok((await Promise.all(all)).every((ok) => !ok));
    assert.equal(f.calls.length, 2, 'the first failure fails the queued ranges');
    assert.equal(await p.punch(0, 4096), false);
    assert.equal(f.calls.length, 2);
  });
  it('answers false when fallocate cannot run', async () => {
    if (process.platform !== 'linux') return;
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      assert.equal(await new HolePuncher(0).punch(0, 4096), false);
    } finally {
      process.env.PATH = path;
    }
  });
});
