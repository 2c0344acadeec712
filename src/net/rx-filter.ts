/**
 * The receive filter a virtio-net driver programs through the control queue (virtio 1.x
 * 5.1.6.5): promiscuous and all-multicast modes and the unicast/multicast MAC tables. Frames to
 * other stations are dropped in the device, not in the guest, which matters on a switch where
 * unknown unicast floods. Until the driver programs it the filter is promiscuous, as QEMU's is.
 */
import { macKey } from './bytes.ts';

/** Entries per table; a longer table makes that class of address pass unfiltered (as QEMU does). */
export const MAC_TABLE_ENTRIES = 64;

export interface RxFilterState {
  promisc: boolean;
  allmulti: boolean;
  unicast: number[];
  multicast: number[];
  uniOverflow: boolean;
  multiOverflow: boolean;
}

export class RxFilter {
  promisc = true;
  allmulti = false;
  private unicast = new Set<number>();
  private multicast = new Set<number>();
  private uniOverflow = false;
  private multiOverflow = false;

  reset(): void {
    this.promisc = true;
    this.allmulti = false;
    this.unicast.clear();
    this.multicast.clear();
    this.uniOverflow = this.multiOverflow = false;
  }

  /**
   * Applies a VIRTIO_NET_CTRL_MAC_TABLE_SET payload: le32 count + MACs (unicast), then the same
   * for multicast. Returns false if the payload is malformed (the command then fails).
   */
  setTables(p: Uint8Array): boolean {
    const read = (at: number): { set: Set<number>; overflow: boolean; end: number } | undefined => {
      if (at + 4 > p.length) return undefined;
      const n = (p[at]! | (p[at + 1]! << 8) | (p[at + 2]! << 16) | (p[at + 3]! << 24)) >>> 0;
      const end = at + 4 + 6 * n;
      if (n > 0x10000 || end > p.length) return undefined;
      const set = new Set<number>();
      if (n <= MAC_TABLE_ENTRIES) for (let i = 0; i < n; i++) set.add(macKey(p, at + 4 + 6 * i));
      return { set, overflow: n > MAC_TABLE_ENTRIES, end };
    };
    const uni = read(0);
    if (!uni) return false;
    const multi = read(uni.end);
    if (!multi || multi.end !== p.length) return false;
    this.unicast = uni.set;
    this.uniOverflow = uni.overflow;
    this.multicast = multi.set;
    this.multiOverflow = multi.overflow;
    return true;
  }

  /** Whether a frame to destination dst[0..6) is for this NIC with MAC `mac`. */
  accepts(dst: Uint8Array, mac: Uint8Array): boolean {
    if (this.promisc) return true;
    if (dst[0]! & 1) {
      if ((dst[0]! & dst[1]! & dst[2]! & dst[3]! & dst[4]! & dst[5]!) === 0xff) return true;
      return this.allmulti || this.multiOverflow || this.multicast.has(macKey(dst, 0));
    }
    const k = macKey(dst, 0);
    return k === macKey(mac, 0) || this.uniOverflow || this.unicast.has(k);
  }

  save(): RxFilterState {
    return {
      promisc: this.promisc,
      allmulti: this.allmulti,
      unicast: [...this.unicast],
      multicast: [...this.multicast],
      uniOverflow: this.uniOverflow,
      multiOverflow: this.multiOverflow,
    };
  }

  load(s: RxFilterState): void {
    this.promisc = s.promisc;
    this.allmulti = s.allmulti;
    this.unicast = new Set(s.unicast);
    this.multicast = new Set(s.multicast);
    this.uniOverflow = s.uniOverflow;
    this.multiOverflow = s.multiOverflow;
  }
}
