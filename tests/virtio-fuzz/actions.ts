/**
 * One random guest (or host) action per fuzz step: valid and broken init sequences, register
 * writes at every offset and width, device requests, wild chains, re-posted in-flight heads,
 * avail.idx jumps, interrupt-suppression fields, resets mid-I/O, config-space writes, and host
 * events (disk completions, frames from the wire, NAT timers, console input, link flaps).
 * Each returns one line for the action log.
 */
import {
  R,
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FAILED,
  STATUS_FEATURES_OK,
  VIRTIO_F_VERSION_1,
} from '../../src/virtio/mmio.ts';
import type { FuzzBoard, Target } from './board.ts';
import { DISK_BYTES } from './board.ts';
import { wildChain } from './chains.ts';
import type { Buf } from './guest.ts';
import type { Prng } from './prng.ts';
import { blkRequest, consoleBufs, inputBufs, netCtrl, netRx, netTx, rngBufs, tcpFrame } from './requests.ts';

const REGS = Object.values(R);
const VERSION_1_HI = 1 << (VIRTIO_F_VERSION_1 - 32);
const MRG_RXBUF = 1 << 15;

function interesting(rng: Prng): number {
  return rng.pick([
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    15,
    0x80,
    0xff,
    0x100,
    0xffff,
    0x10000,
    0x7fffffff,
    0x80000000,
    0xffffffff,
    rng.u32(),
  ]);
}

/** A random feature choice: everything, a subset, garbage, or without VERSION_1. */
export function randFeatures(rng: Prng, t: Target): [number, number] {
  const [lo, hi] = t.dev.deviceFeatures();
  switch (rng.weighted({ all: 35, subset: 45, junk: 10, noVersion: 10 })) {
    case 'all':
      return [lo, hi];
    case 'subset': {
      let l = (lo & (rng.u32() | rng.u32())) >>> 0;
      if (t.kind === 'net') l = rng.chance(0.5) ? l | MRG_RXBUF : l & ~MRG_RXBUF;
      return [(l & lo) >>> 0, hi];
    }
    case 'junk':
      return [rng.u32(), rng.u32()];
    default:
      return [lo, hi & ~VERSION_1_HI];
  }
}

function randQueueSize(rng: Prng, max: number): number {
  if (rng.chance(0.05)) return rng.pick([0, 3, max * 2, 0xffff, rng.u32()]);
  let n = 1;
  const top = Math.max(0, Math.log2(max));
  n <<= rng.int(top + 1);
  return n;
}

function post(rng: Prng, t: Target, qi: number, r: { bufs: Buf[]; what: string }, kick = rng.chance(0.85)): string {
  const q = t.dev.queues[qi];
  if (!q) return `${r.what} (queue ${qi} not set up)`;
  const head = t.dev.addChain(qi, r.bufs);
  remember(t, qi, head);
  if (kick) t.dev.kick(qi);
  return `${r.what} q${qi} head=${head}${kick ? ' kick' : ''}`;
}

function remember(t: Target, qi: number, head: number): void {
  const list = t.recent[qi]!;
  list.push(head);
  if (list.length > 64) list.shift();
}

/** A device-specific request on one of its queues. */
function request(rng: Prng, t: Target): string {
  const d = t.dev;
  switch (t.kind) {
    case 'blk': {
      const n = rng.range(1, 4);
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(post(rng, t, 0, blkRequest(rng, d, DISK_BYTES / 512), i === n - 1));
      return out.join('; ');
    }
    case 'net': {
      const which = rng.weighted({ tx: 45, rx: 40, ctrl: 15 });
      const mac = t.mmio ? t.mmio.device.config.subarray(0, 6) : new Uint8Array(6);
      if (which === 'tx') return post(rng, t, 1, netTx(rng, d, mac));
      if (which === 'ctrl') return post(rng, t, 2, netCtrl(rng, d));
      const n = rng.range(1, 8);
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(post(rng, t, 0, netRx(rng, d), i === n - 1));
      return out.join('; ');
    }
    case 'console': {
      const rx = rng.chance(0.4);
      return post(rng, t, rx ? 0 : 1, consoleBufs(rng, d, rx));
    }
    case 'rng':
      return post(rng, t, 0, rngBufs(rng, d));
    case 'input': {
      if (rng.chance(0.3)) return post(rng, t, 1, inputBufs(rng, d, false));
      const n = rng.range(1, 8);
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(post(rng, t, 0, inputBufs(rng, d, true), i === n - 1));
      return out.join('; ');
    }
    default:
      return 'no device';
  }
}

/**
 * Makes the device live, posts one request that will stay in the device (a disk read the
 * backend holds; an rx chain with no writable bytes while a frame waits for room), then
 * re-publishes that head again and again, well past QueueNumMax re-posts in total.
 */
function flood(rng: Prng, t: Target, board: FuzzBoard): string {
  const d = t.dev;
  if (t.kind !== 'blk' && t.kind !== 'net') return 'flood: not a blk/net device';
  if ((d.status & 0x4f) !== 0x0f || !d.queues[0]) {
    const [lo, hi] = d.deviceFeatures();
    d.init(
      [lo, hi],
      Array.from({ length: d.numQueues }, (_, i) => randQueueSize(rng, d.maxSize(i) || 1)),
    );
  }
  const q = d.queues[0];
  if (!q) return 'flood: queue 0 not set up';
  let head: number;
  if (t.kind === 'blk') {
    head = d.addChain(0, blkRequest(rng, d, DISK_BYTES / 512).bufs, false);
  } else {
    head = d.addChain(0, [{ addr: d.poolBase, len: rng.chance(0.5) ? 0 : 64, write: rng.chance(0.5) }], false);
    const f = tcpFrame(rng, 1000, new Uint8Array([2, 0, 0, 0, 0, 1]));
    f.set(board.machine.nics[t.nicIndex!]!.mac, 0);
    if (t.loop) t.loop.inject(f);
  }
  remember(t, 0, head);
  const max = t.mmio?.queues[0]?.maxSize ?? q.size;
  const rounds = Math.min(600, Math.ceil((max + 8) / q.size) + 1);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < q.size; i++) d.publish(0, head);
    d.kick(0);
  }
  return `flood q0 head=${head}: ${rounds}x${q.size} re-posts (status ${d.status})`;
}

/** A host-side event for this device's backend. */
function hostEvent(rng: Prng, t: Target, board: FuzzBoard): string {
  switch (t.kind) {
    case 'blk': {
      const p = rng.pick([0, 0.5, 1]);
      board.disk.pump(rng, p);
      return `disk pump p=${p} (pending ${board.disk.pendingCount})`;
    }
    case 'net': {
      const nic = board.machine.nics[t.nicIndex!]!;
      if (rng.chance(0.05)) {
        nic.setLink(!nic.linkUp);
        return `link ${nic.linkUp ? 'up' : 'down'}`;
      }
      if (!t.loop) {
        const ms = rng.pick([1, 100, 5000, 120000]);
        board.opts.nat?.advance(ms);
        return `nat timers +${ms}ms`;
      }
      const n = rng.range(1, 8);
      const mac = nic.mac;
      for (let i = 0; i < n; i++) {
        const echo = t.loop.echo.shift();
        if (echo && rng.chance(0.5)) {
          t.loop.inject(echo);
        } else if (rng.chance(0.4)) {
          const f = tcpFrame(rng, rng.range(1000, 65000), new Uint8Array([2, 0, 0, 0, 0, 1]));
          f.set(mac, 0);
          t.loop.inject(f, rng.pick([1, 8, 536, 1448, rng.int(0x10000)]));
        } else {
          const f = rng.fill(new Uint8Array(rng.chance(0.9) ? rng.range(14, 1518) : rng.range(0, 70000)));
          if (rng.chance(0.7)) f.set(rng.chance(0.5) ? mac : new Uint8Array([255, 255, 255, 255, 255, 255]), 0);
          t.loop.inject(f);
        }
      }
      return `wire -> ${n} frames (rxMax ${t.loop.rxMax})`;
    }
    case 'console': {
      const bytes = rng.fill(new Uint8Array(rng.range(1, 300)));
      const took = board.machine.console.pushInput(bytes);
      return `console input ${bytes.length} (took ${took})`;
    }
    case 'input': {
      const n = rng.chance(0.1) ? rng.range(10, 40) : rng.range(1, 3);
      let took = 0;
      for (let i = 0; i < n; i++) if (board.vm.pressPowerButton()) took++;
      return `power button x${n} (pressed ${took}, pending ${board.machine.powerButton.pendingEvents})`;
    }
    default:
      return 'no host event';
  }
}

/** Runs one random action on target `t`; returns its log line. */
export function randomAction(rng: Prng, t: Target, board: FuzzBoard): string {
  const d = t.dev;
  const nq = d.numQueues;
  const a = rng.weighted({
    init: 8,
    initBad: 3,
    regWrite: 10,
    regRead: 3,
    request: 32,
    wild: 10,
    repost: 5,
    flood: 1.5,
    availJump: 3,
    suppress: 2,
    kick: 5,
    reset: 4,
    config: 3,
    consume: 5,
    host: 8,
  });
  switch (a) {
    case 'init': {
      const f = randFeatures(rng, t);
      const sizes = Array.from({ length: nq }, (_, i) => randQueueSize(rng, d.maxSize(i) || 1));
      const ok = d.init(f, sizes);
      return `init f=${f[0].toString(16)}/${f[1].toString(16)} sizes=${sizes.join(',')} -> ${ok ? 'ok' : 'refused'} status=${d.status}`;
    }
    case 'initBad': {
      const f = randFeatures(rng, t);
      d.negotiate(f);
      const steps: string[] = [];
      for (let i = 0; i < nq; i++)
        if (rng.chance(0.6)) steps.push(`q${i}:${d.setupQueue(i, randQueueSize(rng, d.maxSize(i) || 1)).size}`);
      const st = rng.pick([
        STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK,
        STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK,
        STATUS_FAILED,
        rng.int(256),
      ]);
      d.wr(R.Status, st);
      return `initBad ${steps.join(' ')} status:=${st} -> ${d.status}`;
    }
    case 'regWrite': {
      const off = rng.chance(0.7) ? rng.pick(REGS) + rng.pick([0, 0, 0, 1, 2, 3]) : rng.int(0x1000);
      const size = rng.pick([4, 4, 4, 1, 2] as const);
      const v = interesting(rng);
      d.port.write(off, size, v);
      return `write 0x${off.toString(16)}/${size} = 0x${v.toString(16)}`;
    }
    case 'regRead': {
      const off = rng.chance(0.7) ? rng.pick(REGS) : rng.int(0x1000);
      const size = rng.pick([4, 1, 2] as const);
      return `read 0x${off.toString(16)}/${size} -> 0x${d.port.read(off, size).toString(16)}`;
    }
    case 'request':
      return request(rng, t);
    case 'wild': {
      if (nq === 0) return 'wild: no queues';
      const qi = rng.int(nq);
      const s = wildChain(rng, d, qi);
      if (d.queues[qi]) remember(t, qi, (d.queues[qi]!.nextDesc + d.queues[qi]!.size - 1) % d.queues[qi]!.size);
      if (rng.chance(0.85)) d.kick(qi);
      return s;
    }
    case 'repost': {
      if (nq === 0) return 'repost: no queues';
      const qi = rng.int(nq);
      const heads = t.recent[qi]!;
      if (!d.queues[qi] || heads.length === 0) return `repost q${qi}: nothing`;
      const n = rng.range(1, Math.min(heads.length, 16));
      for (let i = 0; i < n; i++) d.publish(qi, rng.pick(heads));
      d.kick(qi);
      return `repost q${qi} ${n} heads`;
    }
    case 'flood':
      return flood(rng, t, board);
    case 'availJump': {
      if (nq === 0) return 'availJump: no queues';
      const qi = rng.int(nq);
      const q = d.queues[qi];
      if (!q) return `availJump q${qi}: not set up`;
      const idx = rng.pick([
        q.availIdx + q.size + 1,
        q.availIdx + rng.int(q.size + 1),
        rng.int(0x10000),
        q.availIdx - 1,
      ]);
      d.setAvailIdx(qi, idx);
      d.kick(qi);
      return `avail.idx q${qi} := ${idx & 0xffff}`;
    }
    case 'suppress': {
      if (nq === 0) return 'suppress: no queues';
      const qi = rng.int(nq);
      const flags = rng.pick([0, 1, rng.int(0x10000)]);
      const ev = rng.int(0x10000);
      d.setSuppression(qi, flags, ev);
      return `suppress q${qi} flags=${flags} used_event=${ev}`;
    }
    case 'kick': {
      const qi = rng.chance(0.9) ? rng.int(Math.max(1, nq)) : rng.pick([nq, 0xffff, 0xffffffff]);
      d.kick(qi);
      return `kick ${qi}`;
    }
    case 'reset': {
      const pending = board.disk.pendingCount;
      d.reset();
      const re = rng.chance(0.6);
      if (re)
        d.init(
          randFeatures(rng, t),
          Array.from({ length: nq }, (_, i) => randQueueSize(rng, d.maxSize(i) || 1)),
        );
      return `reset${re ? ' + init' : ''} (disk ops pending ${pending})`;
    }
    case 'config': {
      const off = R.Config + rng.int(64);
      const size = rng.pick([1, 2, 4] as const);
      const v = interesting(rng);
      d.port.write(off, size, v);
      return `config 0x${off.toString(16)}/${size} = 0x${v.toString(16)}`;
    }
    case 'consume': {
      let n = 0;
      for (let i = 0; i < nq; i++) n += d.takeUsed(i).length;
      const s = d.ackInterrupt();
      return `consume ${n} used, isr=${s}`;
    }
    default:
      return hostEvent(rng, t, board);
  }
}
