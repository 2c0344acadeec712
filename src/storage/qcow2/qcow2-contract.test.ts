/**
 * The shared BlockBackend contract over qcow2 in several shapes (cluster sizes, refcount
 * widths, v2/v3, extended L2, a backing file), each in memory; after each run the image must
 * also pass our own check with no leaks or corruptions.
 */
import assert from 'node:assert/strict';
import { runBlockBackendContract } from '../contract/block-backend-contract.ts';
import { MemoryStore } from '../memory-store.ts';
import { rawFormat } from '../raw.ts';
import type { BlockBackend } from '../types.ts';
import { openQcow2, qcow2Format } from './format.ts';

interface Shape {
  name: string;
  options: Record<string, string>;
  backing?: boolean;
}

const shapes: Shape[] = [
  { name: '64k clusters, refcount 16', options: {} },
  { name: '512-byte clusters, refcount 1', options: { cluster_size: '512', refcount_bits: '1' } },
  {
    name: '4k clusters, refcount 64, lazy refcounts',
    options: { cluster_size: '4096', refcount_bits: '64', lazy_refcounts: 'on' },
  },
  { name: '2M clusters, refcount 8', options: { cluster_size: '2M', refcount_bits: '8' } },
  { name: 'compat 0.10, 16k clusters', options: { compat: '0.10', cluster_size: '16k' } },
  {
    name: 'extended L2, 32k clusters, refcount 2',
    options: { extended_l2: 'on', cluster_size: '32k', refcount_bits: '2' },
  },
  { name: 'backing file, 4k clusters, refcount 4', options: { cluster_size: '4k', refcount_bits: '4' }, backing: true },
  { name: 'v2 with backing file, 8k clusters', options: { compat: '0.10', cluster_size: '8k' }, backing: true },
  { name: 'extended L2 with backing file', options: { extended_l2: 'on', cluster_size: '64k' }, backing: true },
];

for (const shape of shapes) {
  runBlockBackendContract(
    `qcow2 ${shape.name}`,
    async (size) => {
      let initial: Uint8Array | undefined;
      let backingStore: MemoryStore | undefined;
      if (shape.backing) {
        initial = new Uint8Array(size).map((_, i) => (i % 4096 < 3000 ? (i * 13 + 5) & 0xff : 0));
        backingStore = new MemoryStore('base.raw', initial, true);
      }
      const openBacking = async (): Promise<BlockBackend> => rawFormat.open(backingStore!, { readOnly: true });
      let store = new MemoryStore('disk.qcow2');
      await qcow2Format.create!(store, size, {
        options: shape.options,
        backingFile: shape.backing ? 'base.raw' : undefined,
        backingFormat: shape.backing ? 'raw' : undefined,
      });
      const open = async (readOnly: boolean): Promise<BlockBackend> => {
        const s = readOnly ? store.readOnlyView() : store;
        return openQcow2(s, { readOnly, openBacking, l2CacheTables: 4, refcountCacheBlocks: 2 });
      };
      return {
        backend: await open(false),
        reopen: open,
        initial,
        async dispose() {
          const img = await openQcow2(store.readOnlyView(), { readOnly: true, openBacking });
          const r = await img.check();
          await img.close();
          assert.equal(r.corruptions, 0, r.messages.join('\n'));
          assert.equal(r.leaks, 0, r.messages.join('\n'));
          store = new MemoryStore();
        },
      };
    },
    { ops: 200 },
  );
}
