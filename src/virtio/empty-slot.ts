/**
 * An unoccupied virtio-mmio slot, as QEMU's `virt` board shows its unused ones: the magic value
 * and version are there, DeviceID is 0, so Linux's virtio_mmio skips it quietly (an unmapped
 * slot would read a magic of 0 and log an error).
 */
import type { MmioDevice } from '../memory/mmio.ts';
import { subRead } from '../memory/state.ts';
import { R, VIRTIO_MMIO_MAGIC, VIRTIO_VENDOR_QEMU } from './mmio.ts';

export class EmptyVirtioSlot implements MmioDevice {
  read(offset: number, size: 1 | 2 | 4): number {
    const word = offset & ~3;
    const v =
      word === R.MagicValue ? VIRTIO_MMIO_MAGIC : word === R.Version ? 2 : word === R.VendorID ? VIRTIO_VENDOR_QEMU : 0;
    return subRead(v, offset, size);
  }

  write(): void {}
}
