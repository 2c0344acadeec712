import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { modprobeEntries, modprobeScript } from './modprobe.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const ko = (name: string, depends: string, aliases: string[] = []) =>
  enc(`\x7fELF\0${aliases.map((a) => `alias=${a}\0`).join('')}depends=${depends}\0name=${name}\0`);

const byName = new Map([
  ['crc32c_generic', ko('crc32c_generic', '', ['crypto-crc32c', 'crc32c'])],
  ['ext4', ko('ext4', 'jbd2,crc16', ['fs-ext4', 'fs-ext2'])],
  ['jbd2', ko('jbd2', '')],
  ['crc16', ko('crc16', '')],
  ['vfat', ko('vfat', 'fat', ['fs-vfat'])],
  ['fat', ko('fat', '')],
]);

test('modprobeEntries: the names the kernel asks for (fs-ext4, crypto-crc32c) load the closure in order', () => {
  const entries = modprobeEntries(['crc32c_generic', 'ext4', 'vfat', 'built_in_one'], byName);
  const find = (n: string) => entries.find((e) => e.names.includes(n))?.load;
  assert.deepEqual(find('fs-ext4'), ['jbd2', 'crc16', 'ext4']);
  assert.deepEqual(find('fs-ext2'), ['jbd2', 'crc16', 'ext4']);
  assert.deepEqual(find('crypto-crc32c'), ['crc32c_generic']);
  assert.deepEqual(find('crc32c-generic'), ['crc32c_generic']);
  assert.deepEqual(find('fs-vfat'), ['fat', 'vfat']);
  assert.deepEqual(find('jbd2'), ['jbd2'], 'each dependency can be loaded by name too');
  assert.equal(find('built_in_one'), undefined);
  assert.equal(new Set(entries.map((e) => e.load.at(-1))).size, entries.length, 'one entry per module');
});

test('modprobeScript is valid sh and leaves out names that would need quoting', () => {
  const script = modprobeScript([
    ...modprobeEntries(['ext4'], byName),
    { names: ['bad;name', 'ok-name'], load: ['ok'] },
    { names: ['x'], load: ['$(reboot)'] },
  ]);
  assert.match(script, /^ext4\|fs-ext4\|fs-ext2\) set -- jbd2 crc16 ext4 ;;$/m);
  assert.match(script, /^ok-name\) set -- ok ;;$/m);
  assert.doesNotMatch(script, /bad;name|reboot/);
  const r = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
