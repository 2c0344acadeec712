/** L1/L2 entry decoding at host offsets whose low 32 bits have the top bit set (files past 2 GiB). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeL1, readL1, readL2, writeL2 } from './l2-entry.ts';

describe('qcow2 table entries', () => {
  for (const host of [0x80000000, 0xfffffe00, 0x1_80010000, 2 ** 52 + 0x8000_0000]) {
    it(`round-trips host offset 0x${host.toString(16)}`, () => {
      const l1 = new DataView(encodeL1(host, true).buffer);
      assert.deepEqual(readL1(l1, 0), { offset: host, copied: true });
      for (const ext of [false, true]) {
        const dv = new DataView(new ArrayBuffer(32));
        writeL2(dv, 1, ext, host, false, false, 1, 0);
        const e = readL2(dv, 1, ext, 16);
        assert.equal(e.host, host);
        assert.equal(e.compressed, false);
      }
    });
  }
});
