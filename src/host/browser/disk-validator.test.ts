import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkValidator,
  decodeValidator,
  DISK_VALIDATOR_FORMAT,
  DiskChangedError,
  validatorOf,
  type DiskValidator,
} from './disk-validator.ts';

const headers = (h: Record<string, string>) => new Headers(h);
const v = (o: Omit<DiskValidator, 'format'>): DiskValidator => ({ format: DISK_VALIDATOR_FORMAT, ...o });

test('validatorOf records the ETag and Last-Modified a server gives, or nothing', () => {
  assert.deepEqual(validatorOf(headers({ etag: '"a-1"', 'last-modified': 'Tue, 01 Dec 2026 10:00:00 GMT' })), {
    format: 1,
    etag: '"a-1"',
    lastModified: 'Tue, 01 Dec 2026 10:00:00 GMT',
  });
  assert.deepEqual(validatorOf(headers({ etag: 'W/"x"' })), { format: 1, etag: 'W/"x"' });
  assert.equal(validatorOf(headers({})), undefined);
  // An absurdly long header is not kept (the record must stay small).
  assert.equal(validatorOf(headers({ etag: '"' + 'x'.repeat(5000) + '"' })), undefined);
});

test('checkValidator compares ETags (weakly), else Last-Modified, else nothing', () => {
  const changed = (a: DiskValidator | undefined, b: DiskValidator | undefined) => {
    try {
      checkValidator(a, b, 'disk d');
      return false;
    } catch (e) {
      assert.ok(e instanceof DiskChangedError);
      assert.match(e.message, /^disk d changed on the server since the snapshot was saved/);
      return true;
    }
  };
  assert.equal(changed(v({ etag: '"1"' }), v({ etag: '"1"' })), false);
  assert.equal(changed(v({ etag: '"1"' }), v({ etag: 'W/"1"' })), false);
  assert.equal(changed(v({ etag: '"1"' }), v({ etag: '"2"' })), true);
  // The ETag decides when both have one, even if the dates differ.
  assert.equal(changed(v({ etag: '"1"', lastModified: 'a' }), v({ etag: '"1"', lastModified: 'b' })), false);
  const t1 = 'Tue, 01 Dec 2026 10:00:00 GMT';
  assert.equal(changed(v({ etag: '"1"', lastModified: t1 }), v({ lastModified: t1 })), false);
  assert.equal(changed(v({ lastModified: t1 }), v({ lastModified: 'Tuesday, 01-Dec-26 10:00:00 GMT' })), false);
  assert.equal(changed(v({ lastModified: t1 }), v({ lastModified: 'Tue, 01 Dec 2026 10:00:01 GMT' })), true);
  // No common validator, or none on one side: only the size was checked.
  assert.equal(changed(v({ etag: '"1"' }), v({ lastModified: t1 })), false);
  assert.equal(changed(undefined, v({ etag: '"1"' })), false);
  assert.equal(changed(v({ etag: '"1"' }), undefined), false);
  assert.throws(
    () => checkValidator(v({ etag: '"1"' }), v({ etag: '"2"' }), 'the file', 'opened'),
    /^DiskChangedError: the file changed on the server since it was opened \(ETag "1", now "2"\)$/,
  );
});

test('decodeValidator accepts absent and current records and refuses others naming the disk', () => {
  assert.equal(decodeValidator(undefined, 'disk d'), undefined);
  assert.deepEqual(decodeValidator({ format: 1, etag: '"e"' }, 'disk d'), { format: 1, etag: '"e"' });
  const refused = (value: unknown, why: RegExp) =>
    assert.throws(
      () => decodeValidator(value, 'disk d'),
      (e: Error) =>
        e instanceof DiskChangedError && /^disk d: the snapshot's record/.test(e.message) && why.test(e.message),
    );
  refused(null, /is not a record/);
  refused('x', /is not a record/);
  refused({ etag: '"e"' }, /has no format number/);
  refused({ format: 2, etag: '"e"' }, /uses format 2; this page reads format 1/);
  refused({ format: 1, etag: 5 }, /bad etag/);
  refused({ format: 1, lastModified: 'x'.repeat(2000) }, /bad lastModified/);
});
