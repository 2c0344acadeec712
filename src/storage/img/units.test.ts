import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseImgSize, sizeToStr } from './units.ts';

test('sizeToStr prints like qemu-img', () => {
  assert.equal(sizeToStr(0), '0 B');
  assert.equal(sizeToStr(4096), '4 KiB');
  assert.equal(sizeToStr(344064), '336 KiB');
  assert.equal(sizeToStr(67108864), '64 MiB');
  assert.equal(sizeToStr(1265664), '1.21 MiB');
  assert.equal(sizeToStr(1000 * 1024), '0.977 MiB');
  assert.equal(sizeToStr(999), '999 B');
  assert.equal(sizeToStr(2 ** 40), '1 TiB');
});

test('parseImgSize understands suffixes and rejects junk', () => {
  assert.equal(parseImgSize('4096'), 4096);
  assert.equal(parseImgSize('64k'), 65536);
  assert.equal(parseImgSize('1.5M'), 1572864);
  assert.equal(parseImgSize('2G'), 2 * 1024 ** 3);
  assert.equal(parseImgSize('1T'), 1024 ** 4);
  assert.equal(parseImgSize('512b'), 512);
  assert.equal(parseImgSize('lots'), undefined);
  assert.equal(parseImgSize('-1'), undefined);
  assert.equal(parseImgSize('12Q'), undefined);
  assert.ok(parseImgSize('9999E')! > Number.MAX_SAFE_INTEGER);
});
