import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dependencyOrder, moduleAliases, moduleDepends, normaliseModuleName } from './modules.ts';

const enc = (s: string) => new TextEncoder().encode(s);

test('moduleDepends reads the depends= modinfo string', () => {
  assert.deepEqual(moduleDepends(enc('\x7fELF junk\0license=GPL\0depends=net_failover,failover\0name=virtio_net\0')), [
    'net_failover',
    'failover',
  ]);
  assert.deepEqual(moduleDepends(enc('\0depends=\0name=virtio_mmio\0')), []);
  assert.deepEqual(moduleDepends(enc('no modinfo here')), []);
});

test('module names normalise dashes to underscores', () => {
  assert.equal(normaliseModuleName('virtio-rng'), 'virtio_rng');
});

const ko = (name: string, depends: string, aliases: string[] = []) =>
  enc(`\x7fELF\0${aliases.map((a) => `alias=${a}\0`).join('')}depends=${depends}\0name=${name}\0`);

test('moduleAliases lists exact alias= names and leaves out wildcard device aliases', () => {
  const ext4 = ko('ext4', 'jbd2', ['fs-ext4', 'ext3', 'fs-ext3']);
  assert.deepEqual(moduleAliases(ext4), ['fs-ext4', 'ext3', 'fs-ext3']);
  assert.deepEqual(moduleAliases(ko('virtio_blk', '', ['virtio:d00000002v*', 'devname:vda'])), ['devname:vda']);
  assert.deepEqual(moduleAliases(enc('no modinfo')), []);
});

test('dependencyOrder puts dependencies first, skips built-in ones and ends cycles', () => {
  const byName = new Map([
    ['ext4', ko('ext4', 'jbd2,mbcache,crc16')],
    ['jbd2', ko('jbd2', '')],
    ['mbcache', ko('mbcache', '')],
    ['crc16', ko('crc16', '')],
    ['vfat', ko('vfat', 'fat,builtin_thing')],
    ['fat', ko('fat', '')],
    ['a', ko('a', 'b')],
    ['b', ko('b', 'a')],
  ]);
  assert.deepEqual(dependencyOrder('ext4', byName), ['jbd2', 'mbcache', 'crc16', 'ext4']);
  assert.deepEqual(dependencyOrder('vfat', byName), ['fat', 'vfat']);
  assert.deepEqual(dependencyOrder('a', byName), ['b', 'a']);
  assert.deepEqual(dependencyOrder('nowhere', byName), []);
});
