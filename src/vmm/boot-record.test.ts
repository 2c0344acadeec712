import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BOOT_RECORD_VERSION, BootRecordError, parseBootRecord } from './boot-record.ts';

const ref = (path: string) => ({ path, size: 1234, sha256: 'ab'.repeat(32) });

test('a valid record parses, unknown fields dropped', () => {
  const r = parseBootRecord({ version: 1, kernel: ref('/k'), initrd: ref('/i'), extra: 5 });
  assert.deepEqual(r, { version: BOOT_RECORD_VERSION, kernel: ref('/k'), initrd: ref('/i') });
  assert.deepEqual(parseBootRecord({ version: 1, firmware: ref('/fw') }), { version: 1, firmware: ref('/fw') });
});

test('a snapshot without a record (older virtkit) cannot reboot, and says so', () => {
  assert.throws(() => parseBootRecord(undefined), /records no boot files \(saved by an older virtkit/);
});

test('malformed records are refused naming the field', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['text', /boot record is not an object/],
    [{ version: 2, kernel: ref('/k') }, /version 2/],
    [{ version: 1 }, /names no kernel or firmware/],
    [{ version: 1, initrd: ref('/i'), firmware: ref('/f') }, /initrd but no kernel/],
    [{ version: 1, kernel: 7 }, /kernel record is not an object/],
    [{ version: 1, kernel: { ...ref('/k'), path: '' } }, /kernel record has no valid path/],
    [{ version: 1, kernel: { ...ref('/k'), size: -1 } }, /kernel record has an invalid size/],
    [{ version: 1, kernel: { ...ref('/k'), size: 2 ** 60 } }, /invalid size/],
    [{ version: 1, kernel: ref('/k'), initrd: { ...ref('/i'), sha256: 'xyz' } }, /initrd record has an invalid sha256/],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => parseBootRecord(input),
      (e: unknown) => e instanceof BootRecordError && message.test(e.message),
    );
  }
});
