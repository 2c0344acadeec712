/** The VHDX image format (qemu-img name 'vhdx'), for the format registry. */
import type { ImageFormat } from '../formats.ts';
import { createVhdx } from './create.ts';
import { VhdxImage } from './image.ts';
import { probeFileId } from './layout.ts';

export const vhdxFormat: ImageFormat = {
  name: 'vhdx',
  probe: (head) => (probeFileId(head) ? 100 : 0),
  open: (store, opts) => VhdxImage.open(store, opts),
  create: (store, size, opts) => createVhdx(store, size, opts),
};

export { VhdxImage } from './image.ts';
