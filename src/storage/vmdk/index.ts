/** The VMDK image format (qemu's name: 'vmdk'). */
import type { ImageFormat } from '../formats.ts';
import { createVmdk } from './create.ts';
import { looksLikeDescriptor } from './descriptor.ts';
import { openVmdk } from './open.ts';
import { hasSparseMagic } from './sparse-header.ts';

export const vmdkFormat: ImageFormat = {
  name: 'vmdk',
  probe(head: Uint8Array): number {
    if (hasSparseMagic(head)) return 100;
    if (head.length >= 4 && head[0] === 0x43 && head[1] === 0x4f && head[2] === 0x57 && head[3] === 0x44) return 100; // COWD
    return looksLikeDescriptor(head) ? 100 : 0;
  },
  open: (store, opts) => openVmdk(store, opts),
  create: (store, size, opts) => createVmdk(store, size, opts),
};
