import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFilefrag } from './img-holes.ts';

const SAMPLE = `Filesystem type is: ef53
File size of /tmp/x.raw is 1073741824 (1073741824 blocks of 1 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0: 104857600..109051903: 28659679232..28663873535: 4194304:  104857600:
   1: 209715200..218103807:          0..   8388607: 8388608:            : unknown_loc,delalloc,last
/tmp/x.raw: 2 extents found
`;

test('parseFilefrag reads extents, including delayed-allocation ones', () => {
  assert.deepEqual(parseFilefrag(SAMPLE), [
    { offset: 104857600, length: 4194304 },
    { offset: 209715200, length: 8388608 },
  ]);
  assert.deepEqual(parseFilefrag('/tmp/e.raw: 0 extents found\n'), []);
  assert.deepEqual(parseFilefrag('/tmp/e.raw: 1 extent found\n   0: 0..4095: 10..4105: 4096: last\n'), [
    { offset: 0, length: 4096 },
  ]);
});

test('parseFilefrag refuses incomplete or foreign output', () => {
  // The summary counts physically merged extents, so it may be smaller than the list.
  assert.equal(parseFilefrag(SAMPLE.replace('2 extents', '1 extent'))?.length, 2);
  // Without the kernel's "last" flag the list may be cut short: trust nothing.
  assert.equal(parseFilefrag(SAMPLE.replace('delalloc,last', 'delalloc')), undefined);
  assert.equal(parseFilefrag(SAMPLE.replace(/.*extents found\n/, '')), undefined);
  assert.equal(parseFilefrag('FIBMAP: Operation not permitted\n'), undefined);
  assert.equal(parseFilefrag(''), undefined);
});
