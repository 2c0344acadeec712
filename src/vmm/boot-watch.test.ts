/**
 * The boot watch on U-Boot's console output as virtkit recorded it (fixtures/uboot-*.txt: Debian's
 * u-boot-qemu 2025.01 qemu-riscv64_smode behind OpenSBI 1.6, from the banner to the prompt or to
 * "Starting kernel"), whole and cut into small chunks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BootWatch } from './boot-watch.ts';

const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`./fixtures/uboot-${name}.txt`, import.meta.url)));
const OPENSBI = new TextEncoder().encode('\r\nOpenSBI v1.6\r\n' + 'Platform Name : riscv-virtio,qemu\r\n'.repeat(60));
const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Feeds OpenSBI's banner then the transcript, `step` bytes at a time; returns what the watch said and when. */
function watch(transcript: Uint8Array, step: number, then?: Uint8Array) {
  const w = new BootWatch();
  const all = new Uint8Array(OPENSBI.length + transcript.length);
  all.set(OPENSBI);
  all.set(transcript, OPENSBI.length);
  let why: string | undefined;
  let at = -1;
  for (let i = 0; i < all.length && why === undefined; i += step) {
    why = w.feed(all.subarray(i, i + step));
    if (why !== undefined) at = Math.min(all.length, i + step);
  }
  if (then) assert.equal(w.feed(then), undefined);
  return { why, at, end: all.length };
}

const cases: [string, RegExp][] = [
  ['nopt', /^the disk has no partition table \(U-Boot: "\*\* No partition table - virtio 0 \*\*"\)$/],
  ['noconf', /^no \/extlinux\/extlinux\.conf or \/boot\/extlinux\/extlinux\.conf on partition virtio 0:1/],
  [
    'nokern',
    /^the kernel of extlinux\.conf's label 'l0', \/boot\/Image-missing, is not on the disk \(U-Boot: "\*\* File not found \/boot\/Image-missing \*\*"\)$/,
  ],
  ['corrupt', /^no partition holds a filesystem U-Boot can read .*damaged or unformatted/],
];

for (const [name, want] of cases)
  test(`U-Boot giving up (${name}) is seen at its prompt, in one chunk or many`, () => {
    for (const step of [1 << 20, 4096, 7, 1]) {
      const r = watch(fixture(name), step);
      assert.match(r.why ?? '(nothing)', want, `step ${step}`);
      assert.equal(r.at, r.end, `step ${step}: seen before the prompt`);
    }
  });

test('a successful boot: the watch switches off at "Starting kernel", whatever Linux prints later', () => {
  for (const step of [1 << 20, 13]) {
    const r = watch(fixture('good'), step, bytes('\r\nHit any key to stop autoboot:  0 \r\nfoo\r\n=> '));
    assert.equal(r.why, undefined);
  }
});

test('a key pressed during the countdown: the prompt is wanted, the watch switches off', () => {
  const head = new TextDecoder('latin1').decode(fixture('nokern')).split('Hit any key')[0]!;
  const stopped = bytes(`${head}Hit any key to stop autoboot:  2 \b\b\b 0 \r\n=> `);
  assert.equal(watch(stopped, 5).why, undefined);
  // ... and stays off when the person's own boot command fails later.
  const w = new BootWatch();
  assert.equal(w.feed(stopped), undefined);
  assert.equal(w.feed(bytes('boot\r\n** No partition table - virtio 0 **\r\n=> ')), undefined);
});

test('without U-Boot (the built-in SBI, a kernel straight away) the watch never fires and stops looking', () => {
  const w = new BootWatch();
  const linux = bytes('[    0.000000] Linux version 6.12\r\n'.repeat(3000));
  assert.equal(w.feed(linux), undefined);
  assert.equal(w.feed(fixture('nopt')), undefined, 'a U-Boot transcript printed by a running Linux');
});
