/**
 * Device requests as a driver would build them, with random (often wrong) fields: virtio-blk
 * requests of every type, virtio-net transmit frames with random virtio_net_hdr/GSO fields,
 * receive buffers of every size (including none writable), control commands, console and rng
 * buffers. Each writes its payload into the device's buffer pool and returns the chain.
 */
import type { Buf, GuestDevice } from './guest.ts';
import type { Prng } from './prng.ts';
import { aliasingBufs, randAddr, randLen } from './chains.ts';

/** A stretch of the device's pool for `len` bytes (pieces of the pool overlap: buffers alias freely). */
export function poolBuf(rng: Prng, dev: GuestDevice, len: number): number {
  return dev.poolBase + rng.int(Math.max(1, dev.poolSize - len));
}

/** Splits [addr, addr+len) into 1..3 buffers. */
function split(rng: Prng, addr: number, len: number, write: boolean): Buf[] {
  const parts = len < 2 ? 1 : rng.range(1, 3);
  const out: Buf[] = [];
  let at = 0;
  for (let p = 0; p < parts; p++) {
    const n = p === parts - 1 ? len - at : rng.int(len - at + 1);
    out.push({ addr: addr + at, len: n, write });
    at += n;
  }
  return out;
}

function le(bytes: Uint8Array, at: number, v: number, n: number): void {
  for (let i = 0; i < n; i++) bytes[at + i] = Math.floor(v / 2 ** (8 * i)) & 0xff;
}

export const BLK_T = { in: 0, out: 1, flush: 4, getId: 8, discard: 11, writeZeroes: 13 } as const;

/** A virtio-blk request; returns its buffers (header, data, status). */
export function blkRequest(rng: Prng, dev: GuestDevice, capacity: number): { bufs: Buf[]; what: string } {
  const kind = rng.weighted({ in: 40, out: 25, flush: 5, getId: 5, discard: 5, writeZeroes: 5, junk: 5 });
  const type = kind === 'junk' ? rng.u32() : BLK_T[kind];
  const sector = rng.chance(0.85) ? rng.int(capacity) : rng.pick([capacity, capacity - 1, 2 ** 32, 2 ** 53, rng.u32()]);
  const hdr = new Uint8Array(16);
  le(hdr, 0, type, 4);
  le(hdr, 8, sector, 8);
  const hdrAddr = poolBuf(rng, dev, 16);
  dev.put(hdrAddr, hdr);
  const bufs: Buf[] = [{ addr: hdrAddr, len: 16 }];
  let dataLen = 512 * rng.range(0, 16) + (rng.chance(0.05) ? rng.range(1, 511) : 0);
  if (kind === 'getId') dataLen = rng.pick([20, 1, 0, 64]);
  if (kind === 'discard' || kind === 'writeZeroes') {
    const segs = rng.range(0, 3);
    const seg = new Uint8Array(16 * segs);
    for (let s = 0; s < segs; s++) {
      le(seg, 16 * s, rng.chance(0.8) ? rng.int(capacity) : rng.u32(), 8);
      le(seg, 16 * s + 8, rng.chance(0.8) ? rng.range(0, 64) : rng.u32(), 4);
      le(seg, 16 * s + 12, rng.chance(0.8) ? 0 : rng.u32(), 4);
    }
    const at = poolBuf(rng, dev, seg.length);
    dev.put(at, seg);
    if (seg.length) bufs.push({ addr: at, len: seg.length });
  } else if (dataLen > 0 && kind !== 'flush') {
    const write = kind !== 'out';
    if (rng.chance(0.05)) bufs.push(...aliasingBufs(rng, dev, rng.range(2, 5), write));
    else bufs.push(...split(rng, poolBuf(rng, dev, dataLen), dataLen, write));
  }
  if (rng.chance(0.95))
    bufs.push({ addr: poolBuf(rng, dev, 1), len: rng.chance(0.95) ? 1 : rng.range(0, 4), write: true });
  return { bufs, what: `blk ${kind} sector=${sector} data=${dataLen}` };
}

export const NET_HDR_LEN = 12;

/** An Ethernet + IPv4 + TCP frame carrying `payload` bytes (checksums left for the device or wrong). */
export function tcpFrame(rng: Prng, payload: number, src: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + 20 + 20 + payload);
  f.set([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02], 0);
  f.set(src.subarray(0, 6), 6);
  f[12] = 0x08;
  f[14] = 0x45;
  le16be(f, 16, 40 + payload);
  le16be(f, 18, rng.int(0x10000));
  f[22] = 64;
  f[23] = 6;
  f.set([10, 0, 2, 15, 10, 0, 2, 2], 26);
  le16be(f, 34, 40000 + rng.int(100));
  le16be(f, 36, rng.pick([80, 22, 5555]));
  le16be(f, 38, rng.int(0x10000));
  f[46] = 0x50;
  f[47] = rng.pick([0x10, 0x18, 0x19, 0x02, 0x04, rng.int(256)]);
  le16be(f, 48, 0xffff);
  f.fill(rng.int(256), 54);
  return f;
}

function le16be(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

/** A transmit chain: virtio_net_hdr (random flags, GSO type/size, csum fields) + a frame. */
export function netTx(rng: Prng, dev: GuestDevice, mac: Uint8Array): { bufs: Buf[]; what: string } {
  const kind = rng.weighted({ tcp: 35, tso: 30, random: 15, tiny: 10, alias: 10 });
  let frame: Uint8Array;
  if (kind === 'tcp' || kind === 'tso') {
    const payload = kind === 'tso' ? rng.pick([rng.range(1, 65000), 65481, 60000, 1 << 14]) : rng.int(1460);
    frame = tcpFrame(rng, payload, mac);
  } else if (kind === 'tiny') frame = rng.fill(new Uint8Array(rng.int(20)));
  else frame = rng.fill(new Uint8Array(rng.range(14, 2000)));
  const hdr = new Uint8Array(NET_HDR_LEN);
  const gso =
    kind === 'tso'
      ? rng.chance(0.85)
        ? 1
        : rng.pick([0, 3, 4, 5, 0x81, rng.int(256)])
      : rng.chance(0.9)
        ? 0
        : rng.int(256);
  hdr[0] = rng.chance(0.5) ? 1 : rng.chance(0.9) ? 0 : rng.int(256); // NEEDS_CSUM
  hdr[1] = gso;
  le(hdr, 2, rng.chance(0.7) ? 54 : rng.int(0x10000), 2); // hdr_len
  const gsoSize = rng.weighted({ one: 20, tiny: 15, mss: 50, wild: 15 });
  le(
    hdr,
    4,
    gsoSize === 'one'
      ? 1
      : gsoSize === 'tiny'
        ? rng.range(0, 16)
        : gsoSize === 'mss'
          ? rng.pick([88, 536, 1448, 1460])
          : rng.int(0x10000),
    2,
  );
  le(hdr, 6, rng.chance(0.8) ? 34 : rng.int(0x10000), 2); // csum_start
  le(hdr, 8, rng.chance(0.8) ? 16 : rng.int(0x10000), 2); // csum_offset
  const at = poolBuf(rng, dev, NET_HDR_LEN + frame.length);
  dev.put(at, hdr);
  dev.put(at + NET_HDR_LEN, frame);
  let bufs: Buf[];
  if (kind === 'alias') bufs = aliasingBufs(rng, dev, rng.range(2, 6), false);
  else if (rng.chance(0.5))
    bufs = [{ addr: at, len: NET_HDR_LEN }, ...split(rng, at + NET_HDR_LEN, frame.length, false)];
  else bufs = split(rng, at, NET_HDR_LEN + frame.length, false);
  return { bufs, what: `net tx ${kind} frame=${frame.length} gso=${gso}/${hdr[4]! | (hdr[5]! << 8)}` };
}

/** A receive buffer chain: sizes from nothing writable to 64 KiB (mergeable or not). */
export function netRx(rng: Prng, dev: GuestDevice): { bufs: Buf[]; what: string } {
  const kind = rng.weighted({ none: 20, zeroLen: 10, small: 15, mtu: 30, big: 15, split: 10 });
  let bufs: Buf[];
  if (kind === 'none') bufs = [{ addr: poolBuf(rng, dev, 64), len: rng.range(0, 64) }];
  else if (kind === 'zeroLen') bufs = [{ addr: poolBuf(rng, dev, 1), len: 0, write: true }];
  else if (kind === 'small') bufs = [{ addr: poolBuf(rng, dev, 64), len: rng.range(1, 64), write: true }];
  else if (kind === 'mtu') bufs = [{ addr: poolBuf(rng, dev, 1526), len: rng.pick([1526, 2048, 1514]), write: true }];
  else if (kind === 'big') bufs = [{ addr: poolBuf(rng, dev, 65562), len: 65562, write: true }];
  else bufs = split(rng, poolBuf(rng, dev, 4096), rng.range(0, 4096), true);
  return { bufs, what: `net rx ${kind}` };
}

/** A control-queue command: class, command, data, ack byte. */
export function netCtrl(rng: Prng, dev: GuestDevice): { bufs: Buf[]; what: string } {
  const len = rng.pick([2, 3, 8, rng.range(0, 600), 20000]);
  const cmd = rng.fill(new Uint8Array(len));
  if (len > 0) cmd[0] = rng.chance(0.8) ? rng.int(2) : cmd[0]!;
  if (len > 1) cmd[1] = rng.chance(0.8) ? rng.int(2) : cmd[1]!;
  const at = poolBuf(rng, dev, len);
  dev.put(at, cmd);
  const bufs: Buf[] = [{ addr: at, len }];
  if (rng.chance(0.9)) bufs.push({ addr: poolBuf(rng, dev, 1), len: 1, write: true });
  return { bufs, what: `net ctrl ${cmd[0]}/${cmd[1]} len=${len}` };
}

/** Console transmit data (sometimes the amplifying shape) or receive buffers. */
export function consoleBufs(rng: Prng, dev: GuestDevice, rx: boolean): { bufs: Buf[]; what: string } {
  if (rng.chance(0.08)) {
    const n = rng.range(2, 6);
    return { bufs: aliasingBufs(rng, dev, n, rx), what: `console ${rx ? 'rx' : 'tx'} aliasing x${n}` };
  }
  const len = rng.chance(0.8) ? rng.range(0, 256) : randLen(rng, dev.ram.length);
  const at = rng.chance(0.9) ? poolBuf(rng, dev, len) : randAddr(rng, dev, len);
  if (!rx && len <= 256) dev.put(at, rng.fill(new Uint8Array(len)));
  return { bufs: split(rng, at, len, rx), what: `console ${rx ? 'rx' : 'tx'} len=${len}` };
}

/** Writable buffers for the entropy device. */
export function rngBufs(rng: Prng, dev: GuestDevice): { bufs: Buf[]; what: string } {
  if (rng.chance(0.08)) return { bufs: aliasingBufs(rng, dev, rng.range(2, 6), true), what: 'rng aliasing' };
  const len = rng.chance(0.7) ? rng.range(0, 4096) : randLen(rng, dev.ram.length);
  const at = rng.chance(0.9) ? poolBuf(rng, dev, len) : randAddr(rng, dev, len);
  return { bufs: split(rng, at, len, true), what: `rng len=${len}` };
}

/** virtio-input: an eventq buffer (mostly the 8 bytes an event needs) or a statusq chain. */
export function inputBufs(rng: Prng, dev: GuestDevice, eventq: boolean): { bufs: Buf[]; what: string } {
  if (rng.chance(0.05)) return { bufs: aliasingBufs(rng, dev, rng.range(2, 6), eventq), what: 'input aliasing' };
  const len = eventq ? (rng.chance(0.8) ? 8 : rng.pick([0, 1, 7, 9, 64, rng.range(0, 4096)])) : rng.range(0, 64);
  const at = rng.chance(0.95) ? poolBuf(rng, dev, len) : randAddr(rng, dev, len);
  return { bufs: split(rng, at, len, eventq), what: `input ${eventq ? 'event' : 'status'} len=${len}` };
}
