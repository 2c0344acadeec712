/** The VHD image format (qemu's name: 'vpc'). */
import type { ImageFormat } from '../formats.ts';
import { createVhd } from './create.ts';
import { hasFooterCookie, isFixedVhdTail } from './footer.ts';
import { openVhd } from './open.ts';

export const vpcFormat: ImageFormat = {
  name: 'vpc',
  // Dynamic and differencing disks start with a footer copy. A fixed disk (what Hyper-V and Azure
  // use) only has the footer at its end: qemu probes it as raw, and then a conversion copies the
  // footer into the guest's disk and a resize cuts it off. We recognise it by a valid fixed footer
  // in the last 512 bytes whose size matches the file exactly. That footer is the guest's last
  // sector of a raw disk, so it scores below every signature at the start of a file: a qcow2 or
  // VHDX whose last cluster holds guest data shaped like a footer stays what its header says.
  probe(head: Uint8Array, storeSize: number, tail?: Uint8Array): number {
    if (hasFooterCookie(head)) return 100;
    return isFixedVhdTail(tail, storeSize) ? 50 : 0;
  },
  open: (store, opts) => openVhd(store, opts),
  create: (store, size, opts) => createVhd(store, size, opts),
};
