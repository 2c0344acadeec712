/**
 * A NIC with its cable pulled: the network backend of a VM's NICs while it lives in a browser tab
 * (a tab has no network to give it). The virtio-net device stays, so the restored guest's driver
 * and the saved device state find what they expect; what the guest sends is dropped and nothing
 * arrives. Back in the daemon the NIC has its user-mode network again.
 */
import type { NetBackend } from '../../net/types.ts';

export class UnpluggedNic implements NetBackend {
  /** Frames the guest sent into the void (for tests and diagnostics). */
  dropped = 0;

  transmit(): void {
    this.dropped++;
  }

  connect(): void {
    // nothing will ever be delivered
  }

  close(): void {}
}
