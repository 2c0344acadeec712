import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StateError, StateReader } from '../memory/state.ts';
import { BOOT_RECORD_VERSION, readBootRecord } from './boot-record.ts';

const ref = (path: string) => ({ path, size: 1234, sha256: 'ab'.repeat(32) });

test('a valid record reads, unknown fields dropped', () => {
  const r = readBootRecord({ version: 1, kernel: ref('/k'), initrd: ref('/i'), extra: 5 });
  assert.deepEqual(r, { version: BOOT_RECORD_VERSION, kernel: ref('/k'), initrd: ref('/i') });
  assert.deepEqual(readBootRecord({ version: 1, firmware: ref('/fw') }), { version: 1, firmware: ref('/fw') });
});

test('a record as virtkit 0.1 snapshots hold it (version 1, JSON) still reads', () => {
  const saved = JSON.parse(
    `{"version":1,"kernel":{"path":"/home/u/.cache/virtkit/guest/Image","size":24662528,"sha256":"${'0f'.repeat(32)}"},` +
      `"initrd":{"path":"/home/u/.cache/virtkit/guest/initramfs.cpio","size":12201984,"sha256":"${'e1'.repeat(32)}"}}`,
  ) as unknown;
  const r = readBootRecord(new StateReader('snapshot', saved, undefined, 'meta.config.boot'));
  assert.equal(r.kernel?.size, 24662528);
  assert.equal(r.initrd?.path, '/home/u/.cache/virtkit/guest/initramfs.cpio');
});

test('a snapshot without a record (older virtkit) cannot reboot, and says so', () => {
  assert.throws(
    () => readBootRecord(new StateReader('snapshot', undefined, undefined, 'meta.config.boot')),
    /^StateError: snapshot: meta\.config\.boot: the snapshot records no boot files \(saved by an older virtkit/,
  );
});

test('malformed records are refused naming the field', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['text', /^snapshot: meta\.config\.boot: expected an object, got "text"/],
    [{ version: 2, kernel: ref('/k') }, /meta\.config\.boot\.version: unsupported state version 2 \(expected 1\)/],
    [{ version: 1 }, /meta\.config\.boot: names no kernel or firmware/],
    [{ version: 1, initrd: ref('/i'), firmware: ref('/f') }, /meta\.config\.boot\.initrd: has an initrd but no kernel/],
    [{ version: 1, kernel: 7 }, /meta\.config\.boot\.kernel: expected an object, got 7/],
    [{ version: 1, kernel: { ...ref('/k'), path: '' } }, /meta\.config\.boot\.kernel\.path: is empty/],
    [{ version: 1, kernel: { ...ref('/k'), path: 'x'.repeat(5000) } }, /kernel\.path: expected a string of at most 4096/],
    [{ version: 1, kernel: { ...ref('/k'), size: -1 } }, /meta\.config\.boot\.kernel\.size: expected an integer/],
    [{ version: 1, kernel: { ...ref('/k'), size: 2 ** 60 } }, /kernel\.size: expected an integer/],
    [{ version: 1, kernel: ref('/k'), initrd: { ...ref('/i'), sha256: 'xyz' } }, /initrd\.sha256: expected 64 lower-case hex/],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => readBootRecord(new StateReader('snapshot', input, undefined, 'meta.config.boot')),
      (e: unknown) => e instanceof StateError && message.test(e.message),
      String(message),
    );
  }
});
