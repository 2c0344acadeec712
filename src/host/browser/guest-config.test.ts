import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, configFromJson, configFromQuery, parseMemory } from './guest-config.ts';

const BASE = 'http://127.0.0.1:8080/app/index.html';

test('query parameters give absolute URLs and defaults', () => {
  const q = new URLSearchParams(
    'kernel=guest/Image&initrd=/i.cpio&disk=d.qcow2,format=qcow2,rw&disk=http://x/y.raw&cpus=2',
  );
  assert.deepEqual(configFromQuery(q, BASE), {
    kernel: 'http://127.0.0.1:8080/app/guest/Image',
    initrd: 'http://127.0.0.1:8080/i.cpio',
    append: 'console=ttyS0',
    memoryMiB: 512,
    cpus: 2,
    disks: [
      { url: 'http://127.0.0.1:8080/app/d.qcow2', format: 'qcow2', writable: true },
      { url: 'http://x/y.raw', writable: false },
    ],
  });
  assert.equal(configFromQuery(new URLSearchParams('autostart=1'), BASE), undefined);
});

test('mistakes name the field', () => {
  const bad = (q: string, re: RegExp) =>
    assert.throws(
      () => configFromQuery(new URLSearchParams(q), BASE),
      (e) => e instanceof ConfigError && re.test(e.message),
    );
  bad('kernel=k&memory=lots', /memory: 'lots'/);
  bad('kernel=k&memory=8M', /outside 16M\.\.4G/);
  bad('kernel=k&cpus=9', /cpus: '9'/);
  bad('kernel=k&disk=d.img,format=zip', /unknown option 'format=zip'/);
  bad('disk=d.img', /'disk' was given without 'kernel'/);
  bad('kernel=http://[bad', /kernel: .* is not a valid URL/);
});

test('a JSON config resolves URLs against its own address and is checked', () => {
  const cfg = configFromJson(
    { kernel: 'Image', memory: '1G', disks: [{ url: 'disk.vmdk', format: 'vmdk' }] },
    'http://h/guests/a.json',
  );
  assert.equal(cfg.kernel, 'http://h/guests/Image');
  assert.equal(cfg.memoryMiB, 1024);
  assert.deepEqual(cfg.disks, [{ url: 'http://h/guests/disk.vmdk', format: 'vmdk', writable: false }]);
  assert.throws(() => configFromJson([], BASE), /JSON object/);
  assert.throws(() => configFromJson({ initrd: 'x' }, BASE), /"kernel" \(a URL\) is required/);
  assert.throws(() => configFromJson({ kernel: 'k', colour: 1 }, BASE), /unknown field 'colour'/);
  assert.throws(() => configFromJson({ kernel: 'k', disks: [{}] }, BASE), /disks\[0\] needs a "url"/);
  assert.equal(parseMemory('256'), 256);
  assert.equal(parseMemory('2GiB'), 2048);
});
