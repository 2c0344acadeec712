/** makeEmpty (what commit leaves of an overlay): every mapping goes, references are counted right. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from '../memory-store.ts';
import { openQcow2, qcow2Format } from './format.ts';

const MiB = 1 << 20;

async function image(extendedL2 = false) {
  const mem = new MemoryStore('e.qcow2');
  const options: Record<string, string> = { cluster_size: '65536' };
  if (extendedL2) options['extended_l2'] = 'on';
  await qcow2Format.create!(mem, 1024 * MiB, { options });
  return { mem, img: await openQcow2(mem, {}) };
}

for (const extendedL2 of [false, true]) {
  test(`makeEmpty drops every cluster and table of the active layer${extendedL2 ? ' (extended L2)' : ''}`, async () => {
    const { mem, img } = await image(extendedL2);
    // Data in two L2 tables (each maps 512 MiB), a zeroed run, and a partial cluster.
    await img.write(0, new Uint8Array(3 * 65536).fill(1));
    await img.write(600 * MiB + 100, new Uint8Array(5000).fill(2));
    await img.writeZeroes(MiB, 4 * 65536);
    await img.makeEmpty();
    const buf = new Uint8Array(65536);
    for (const at of [0, 600 * MiB]) {
      await img.read(at, buf);
      assert.ok(
        buf.every((x) => x === 0),
        `reads zeros at ${at}`,
      );
      assert.equal((await img.blockStatus(at, 65536)).data, false);
    }
    const r = await img.check();
    assert.deepEqual([r.corruptions, r.leaks], [0, 0], 'every dropped cluster was freed');
    assert.ok(img.l1.every((e) => e === 0));
    await img.close();
    const again = await openQcow2(mem, {});
    assert.ok(again.l1.every((e) => e === 0));
    await again.close();
  });
}

test('makeEmpty leaves what a snapshot shares alone', async () => {
  const { mem, img } = await image();
  const data = new Uint8Array(2 * 65536).fill(7);
  await img.write(65536, data);
  await img.createSnapshot('keep');
  await img.write(10 * MiB, new Uint8Array(65536).fill(8)); // copies the shared L2 table
  await img.makeEmpty();
  let r = await img.check();
  assert.deepEqual([r.corruptions, r.leaks], [0, 0]);
  await img.applySnapshot('keep');
  const back = new Uint8Array(data.length);
  await img.read(65536, back);
  assert.deepEqual(back, data);
  r = await img.check();
  assert.deepEqual([r.corruptions, r.leaks], [0, 0]);
  await img.close();
  const again = await openQcow2(mem, {});
  await again.read(65536, back);
  assert.deepEqual(back, data);
  await again.close();
});
