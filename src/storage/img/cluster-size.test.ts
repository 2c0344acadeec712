import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../memory-store.ts';
import { headerClusterSize } from './cluster-size.ts';

function vmdkHead(grainSectors: number): Uint8Array {
  const b = new Uint8Array(512);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x564d444b, true);
  dv.setUint32(20, grainSectors, true);
  return b;
}

function vhd(dynOffset: number, blockSize: number): Uint8Array {
  const b = new Uint8Array(4096);
  b.set(new TextEncoder().encode('conectix'), 0);
  new DataView(b.buffer).setUint32(20, dynOffset);
  b.set(new TextEncoder().encode('cxsparse'), 512);
  new DataView(b.buffer).setUint32(512 + 32, blockSize);
  return b;
}

test('headerClusterSize reads VMDK grains and VHD blocks, and ignores nonsense', async () => {
  assert.equal(await headerClusterSize('vmdk', new MemoryStore('v', vmdkHead(128))), 65536);
  assert.equal(await headerClusterSize('vmdk', new MemoryStore('v', vmdkHead(0))), undefined);
  assert.equal(await headerClusterSize('vmdk', new MemoryStore('v', new Uint8Array(10))), undefined);
  assert.equal(await headerClusterSize('vpc', new MemoryStore('h', vhd(512, 2 << 20))), 2 << 20);
  // A dynamic-header offset outside the file, or no dynamic header there: unknown.
  assert.equal(await headerClusterSize('vpc', new MemoryStore('h', vhd(1 << 30, 2 << 20))), undefined);
  assert.equal(await headerClusterSize('vpc', new MemoryStore('h', vhd(1024, 2 << 20))), undefined);
  assert.equal(await headerClusterSize('raw', new MemoryStore('r', vhd(512, 4096))), undefined);
});
