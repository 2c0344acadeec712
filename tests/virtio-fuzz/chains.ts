/**
 * Random descriptor chains: addresses inside, outside and straddling guest RAM, lengths from 0
 * to 4 GiB, the same RAM aliased many times, loops and wild indices in `next`, indirect tables
 * (nested, mis-sized, combined with NEXT), wrong flag orders, chains longer than the queue.
 */
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../../src/virtio/virtqueue.ts';
import type { Buf, GuestDevice } from './guest.ts';
import type { Prng } from './prng.ts';

/** Guest RAM below this is the tiny guest's code: the fuzzer's buffers never point there. */
export const RESERVED_LOW = 0x10000;

/** A length for a buffer: mostly small, sometimes enormous. */
export function randLen(rng: Prng, ramSize: number): number {
  switch (rng.weighted({ zero: 3, tiny: 15, small: 30, sector: 15, page: 10, big: 8, ram: 3, huge: 3 })) {
    case 'zero':
      return 0;
    case 'tiny':
      return rng.range(1, 16);
    case 'small':
      return rng.range(17, 2000);
    case 'sector':
      return 512 * rng.range(1, 32);
    case 'page':
      return 4096 * rng.range(1, 16);
    case 'big':
      return rng.range(65536, 1 << 20);
    case 'ram':
      return ramSize - RESERVED_LOW - rng.int(4096);
    default:
      return rng.pick([0xffffffff, 0x80000000, 0x7fffffff, ramSize + 1]);
  }
}

/** An address for a buffer of `len` bytes: usually in the device's pool, sometimes anywhere at all. */
export function randAddr(rng: Prng, dev: GuestDevice, len: number): number {
  const ramBase = dev.ramBase;
  const ramEnd = ramBase + dev.ram.length;
  switch (rng.weighted({ pool: 70, ram: 12, ring: 3, outside: 6, straddle: 5, high: 4 })) {
    case 'pool': {
      const room = dev.poolSize - Math.min(len, dev.poolSize);
      return dev.poolBase + rng.int(room + 1);
    }
    case 'ram':
      return ramBase + RESERVED_LOW + rng.int(dev.ram.length - RESERVED_LOW);
    case 'ring':
      return dev.ringArea + rng.int(0x4000 * dev.numQueues);
    case 'outside':
      return rng.pick([0, 0x1000, ramBase - 16, ramEnd, ramEnd + 0x1000, 0x10001000]);
    case 'straddle':
      return ramEnd - rng.int(Math.min(len, 1 << 20) + 1);
    default:
      return rng.range(1, 0xffffffff) * 0x1_0000_0000 + rng.u32();
  }
}

/** n buffers, all over the same large stretch of RAM (the amplification shape). */
export function aliasingBufs(rng: Prng, dev: GuestDevice, n: number, write: boolean): Buf[] {
  const whole = rng.chance(0.5);
  const addr = whole ? dev.ramBase + RESERVED_LOW : dev.poolBase;
  const len = whole ? dev.ram.length - RESERVED_LOW : dev.poolSize;
  return Array.from({ length: n }, () => ({ addr, len, write }));
}

/** Random buffers for a plain chain (readable ones first unless `shuffle`). */
export function randBufs(rng: Prng, dev: GuestDevice, n: number, writable: number, shuffle = false): Buf[] {
  const bufs: Buf[] = [];
  for (let i = 0; i < n; i++) {
    const len = randLen(rng, dev.ram.length);
    bufs.push({ addr: randAddr(rng, dev, len), len, write: shuffle ? rng.chance(0.5) : i >= n - writable });
  }
  return bufs;
}

/**
 * Writes a wild chain into queue `qi`'s descriptor table starting at the driver's cursor and
 * publishes its head. Returns a description for the action log.
 */
export function wildChain(rng: Prng, dev: GuestDevice, qi: number): string {
  const q = dev.queues[qi];
  if (!q) return 'no queue';
  const n = rng.chance(0.1) ? q.size + rng.range(1, 4) : rng.range(1, Math.min(8, q.size + 1));
  const head = q.nextDesc % q.size;
  const how = rng.weighted({ seq: 40, loop: 10, wildNext: 10, flags: 15, indirect: 20, alias: 5 });
  for (let k = 0; k < n; k++) {
    const i = (head + k) % q.size;
    const last = k === n - 1;
    const len = randLen(rng, dev.ram.length);
    let addr = randAddr(rng, dev, len);
    let flags = (last ? 0 : VIRTQ_DESC_F_NEXT) | (rng.chance(0.5) ? VIRTQ_DESC_F_WRITE : 0);
    let next = (i + 1) % q.size;
    let dlen = len;
    if (how === 'loop' && last) {
      flags |= VIRTQ_DESC_F_NEXT;
      next = head;
    } else if (how === 'wildNext' && rng.chance(0.5)) {
      next = rng.chance(0.5) ? rng.int(0x10000) : q.size + rng.int(4);
    } else if (how === 'flags') {
      flags = rng.int(0x10000);
      if (rng.chance(0.5)) next = rng.int(q.size);
    } else if (how === 'alias') {
      addr = dev.ramBase + RESERVED_LOW;
      dlen = dev.ram.length - RESERVED_LOW;
    } else if (how === 'indirect' && k === 0) {
      const entries = rng.chance(0.1) ? rng.range(1025, 2048) : rng.range(1, 16);
      addr = dev.poolBase + rng.int(dev.poolSize - 16 * 16);
      dlen = rng.chance(0.8) ? 16 * entries : rng.int(0x10000);
      flags =
        VIRTQ_DESC_F_INDIRECT | (rng.chance(0.1) ? VIRTQ_DESC_F_NEXT : 0) | (rng.chance(0.2) ? VIRTQ_DESC_F_WRITE : 0);
      const m = Math.min(entries, 16);
      for (let j = 0; j < m; j++) {
        const l = randLen(rng, dev.ram.length);
        const f =
          (j < m - 1 ? VIRTQ_DESC_F_NEXT : 0) |
          (rng.chance(0.5) ? VIRTQ_DESC_F_WRITE : 0) |
          (rng.chance(0.05) ? VIRTQ_DESC_F_INDIRECT : 0);
        const nx = rng.chance(0.1) ? rng.int(64) : j + 1;
        dev.setDesc(addr, j, randAddr(rng, dev, l), l, f, nx);
      }
    }
    dev.setDesc(q.desc, i, addr, dlen, flags, next);
  }
  q.nextDesc = (q.nextDesc + n) % q.size;
  dev.publish(qi, head);
  return `wild chain q${qi} head=${head} n=${n} ${how}`;
}
