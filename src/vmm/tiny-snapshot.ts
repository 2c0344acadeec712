/**
 * Test support: a few-KiB snapshot of a real (bare-metal) VM, for restore tests without a guest.
 * The VM has 16 MiB of RAM, one hart in M-mode at a five-instruction program that powers the
 * board off through the test finisher, and optionally one virtio-blk disk with a write request
 * in flight (which a restore re-issues: what a crafted snapshot would use to write a host file).
 * Platform-neutral; used only by tests.
 */
import { Vm, type VmHost } from './vm.ts';
import { encodeSnapshot } from './snapshot-file.ts';
import { MemoryBackend, TestDriver } from '../virtio/testing.ts';
import { R } from '../virtio/mmio.ts';
import { VIRTIO_BLK_T_OUT } from '../virtio/blk.ts';
import { boardOf } from './testing.ts';

const RAM_BASE = 0x8000_0000;
/** lui t0,0x100; lui t1,0x5; addi t1,t1,0x555; sw t1,0(t0); j . — writes 0x5555 (pass) to 0x100000. */
export const POWEROFF_PROGRAM = new Uint8Array(
  new Uint32Array([0x001002b7, 0x00005337, 0x55530313, 0x0062a023, 0x0000006f]).buffer,
);

export const testHost: VmHost = {
  nowMs: () => 0,
  yieldTo: (fn) => void Promise.resolve().then(fn),
  sleep: (fn) => {
    void Promise.resolve().then(fn);
    return () => {};
  },
};

export interface TinySnapshotOptions {
  /** meta.config as the snapshot should carry it. */
  config: unknown;
  /** Attach a 1 MiB disk; with `inflightWrite`, a write of these bytes (512) to sector 0 is in flight. */
  disk?: boolean;
  inflightWrite?: Uint8Array;
}

export function makeTinySnapshot(o: TinySnapshotOptions): Uint8Array {
  const backend = new MemoryBackend(1 << 20);
  const vm = new Vm(
    {
      memoryBytes: 16 * 1024 * 1024,
      cpus: 1,
      firmware: POWEROFF_PROGRAM,
      disks: o.disk ? [{ backend, serial: 'virtkit0' }] : [],
      translate: false,
    },
    testHost,
    { output: () => {}, stopped: () => {} },
  );
  const m = boardOf(vm);
  if (o.disk && o.inflightWrite) {
    const drv = new TestDriver(m.virtio[0]!, m.bus.ram, RAM_BASE);
    drv.init([16], RAM_BASE + 0x10_0000);
    const hdr = RAM_BASE + 0x20_0000;
    const data = hdr + 0x1000;
    const status = hdr + 0x2000;
    const view = new DataView(m.bus.ram.buffer, m.bus.ram.byteOffset);
    view.setUint32(hdr - RAM_BASE, VIRTIO_BLK_T_OUT, true);
    m.bus.ram.set(o.inflightWrite.subarray(0, 512), data - RAM_BASE);
    m.bus.ram[status - RAM_BASE] = 0xff;
    backend.hold = true; // the request stays in flight: saveState records it
    drv.addChain(0, [
      { addr: hdr, len: 16 },
      { addr: data, len: 512 },
      { addr: status, len: 1, write: true },
    ]);
    drv.wr(R.QueueNotify, 0);
  }
  return encodeSnapshot({ meta: { config: o.config }, machine: m.saveState() }, m.bus.ram);
}
