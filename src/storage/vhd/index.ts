/** The VHD image format (qemu's name: 'vpc'). */
import type { ImageFormat } from '../formats.ts';
import { createVhd } from './create.ts';
import { hasFooterCookie } from './footer.ts';
import { openVhd } from './open.ts';

export const vpcFormat: ImageFormat = {
  name: 'vpc',
  // Dynamic and differencing disks start with a footer copy; a fixed disk only has the footer at
  // its end, which the first bytes cannot show (qemu probes it as raw too).
  probe(head: Uint8Array): number {
    return hasFooterCookie(head) ? 100 : 0;
  },
  open: (store, opts) => openVhd(store, opts),
  create: (store, size, opts) => createVhd(store, size, opts),
};
