import { test } from 'node:test';
import assert from 'node:assert/strict';
import { moduleDepends, normaliseModuleName } from './modules.ts';

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
