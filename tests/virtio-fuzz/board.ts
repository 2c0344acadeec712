/**
 * The fuzz board: the real VirtMachine, driven by the real Vm event-loop driver, with every
 * virtio device kind we have in its slots (virtio-blk over FuzzDisk, virtio-net over LoopNet,
 * a second virtio-net over the user-mode NAT when the host supplies one, virtio-rng,
 * virtio-console, empty slots, and the power button's virtio-input in its own ninth slot). The guest is two instructions (`1: wfi; j 1b`): the fuzzer plays
 * the guest's driver through the board's Bus, so device work interleaves with Vm turns and
 * backend completions on the host's event loop as it does under a real kernel.
 */
import { Vm, type StopReason, type VmHost } from '../../src/vmm/vm.ts';
import { VIRT } from '../../src/machine/fdt.ts';
import type { VirtMachine } from '../../src/machine/virt.ts';
import type { NetBackend } from '../../src/net/types.ts';
import type { VirtioMmio } from '../../src/virtio/mmio.ts';
import { CountingNet, FuzzDisk, LoopNet, type NetCounters } from './backends.ts';
import { GuestDevice, RING_STRIDE } from './guest.ts';
import { Prng } from './prng.ts';

export type Kind = 'blk' | 'net' | 'console' | 'rng' | 'input' | 'empty';

/** One virtio slot as the fuzzer sees it: the driver, and the device behind it (for counters). */
export interface Target {
  kind: Kind;
  name: string;
  slot: number;
  dev: GuestDevice;
  /** The transport (undefined for an empty slot). */
  mmio: VirtioMmio | undefined;
  /** Heads recently published per queue (for re-posting). */
  recent: number[][];
  /** For NICs: the frames counted on the backend side, and the loop backend if it is one. */
  counters?: NetCounters;
  loop?: LoopNet;
  nicIndex?: number;
}

const MiB = 1024 * 1024;
/** Rings of slot i live at RING_BASE + i * RING_AREA; buffer pools at POOL_BASE + i * POOL_SIZE. */
const RING_BASE = 0x100000;
const RING_AREA = 0x10000;
const POOL_BASE = 0x200000;
export const POOL_SIZE = 0x100000;
/** `1: wfi; j 1b` */
const WFI_LOOP = new Uint8Array([0x73, 0x00, 0x50, 0x10, 0x6f, 0xf0, 0xdf, 0xff]);
export const DISK_BYTES = 1 * MiB;

export interface BoardOptions {
  ramMiB: number;
  host: VmHost;
  /** The user-mode NAT as a second NIC's backend, with its clock. */
  nat?: { backend: NetBackend; advance(ms: number): void };
  seed: number;
}

export class FuzzBoard {
  readonly vm: Vm;
  readonly disk = new FuzzDisk(DISK_BYTES);
  readonly loop = new LoopNet();
  readonly natCounter: CountingNet | undefined;
  readonly targets: Target[] = [];
  /** Console output bytes so far, and the last few (for the sane check). */
  consoleBytes = 0;
  consoleTail = '';
  stopped: StopReason | undefined;

  constructor(readonly opts: BoardOptions) {
    const entropy = new Prng(opts.seed ^ 0x5eed);
    this.natCounter = opts.nat ? new CountingNet(opts.nat.backend) : undefined;
    const nics = [{ backend: this.loop }, ...(this.natCounter ? [{ backend: this.natCounter }] : [])];
    this.vm = new Vm(
      {
        memoryBytes: opts.ramMiB * MiB,
        cpus: 1,
        firmware: WFI_LOOP,
        translate: false,
        disks: [{ backend: this.disk, serial: 'fuzz' }],
        nics,
        entropy: (b) => entropy.fill(b),
      },
      opts.host,
      {
        output: (bytes) => {
          this.consoleBytes += bytes.length;
          const tail = bytes.subarray(Math.max(0, bytes.length - 256));
          this.consoleTail = (this.consoleTail + String.fromCharCode(...tail)).slice(-256);
        },
        stopped: (reason) => {
          if (reason.kind !== 'quit') this.stopped = reason;
        },
      },
    );
    const m = this.machine;
    // Slots as VirtMachine fills them: disks, NICs, rng, console, then empty ones; the power
    // button sits after them (slot 8 here, at its own address).
    const kinds: Kind[] = ['blk', ...nics.map((): Kind => 'net'), 'rng', 'console'];
    while (kinds.length < VIRT.virtio.count) kinds.push('empty');
    kinds.push('input');
    const ramBase = m.bus.ramBase;
    let nic = 0;
    kinds.forEach((kind, slot) => {
      const base = kind === 'input' ? VIRT.powerButton.base : VIRT.virtio.base + slot * VIRT.virtio.stride;
      const port = {
        read: (o: number, s: 1 | 2 | 4) => m.bus.read(base + o, s),
        // A real guest writes registers from a running hart, never while the VM sleeps in WFI:
        // the fuzzer, writing from the host, wakes the VM the way that hart's activity would.
        write: (o: number, s: 1 | 2 | 4, v: number) => {
          m.bus.write(base + o, s, v);
          this.vm.wake();
        },
      };
      const nq = { blk: 1, net: 3, console: 2, rng: 1, input: 2, empty: 0 }[kind];
      if (RING_STRIDE * nq > RING_AREA) throw new Error('fuzz board: ring area too small');
      const dev = new GuestDevice(
        `${kind}${slot}`,
        port,
        m.bus.ram,
        ramBase,
        ramBase + RING_BASE + slot * RING_AREA,
        ramBase + POOL_BASE + slot * POOL_SIZE,
        POOL_SIZE,
        nq,
      );
      const t: Target = {
        kind,
        name: dev.name,
        slot,
        dev,
        mmio: kind === 'empty' ? undefined : kind === 'input' ? m.powerButtonMmio : m.virtio[slot],
        recent: [[], [], []],
      };
      if (kind === 'net') {
        t.nicIndex = nic;
        t.counters = nic === 0 ? this.loop : this.natCounter;
        if (nic === 0) t.loop = this.loop;
        t.name = nic === 0 ? `net${slot}(loop)` : `net${slot}(nat)`;
        nic++;
      }
      this.targets.push(t);
    });
    this.vm.start();
  }

  get machine(): VirtMachine {
    return this.vm.machine;
  }

  /** Hands buffered console output to the counter now (the Vm does it once per turn). */
  flushOutput(): void {
    this.machine.flushOutput();
  }

  stop(): void {
    this.vm.stop();
  }
}
