/**
 * After every episode: reset every device, check that no device writes guest RAM once reset
 * (a canary over every buffer the episode gave virtio-blk, while its cancelled I/O completes),
 * then a fresh driver init and one ordinary request per device, which must work.
 */
import { R, VIRTIO_MMIO_MAGIC } from '../../src/virtio/mmio.ts';
import { buildArp, ARP_REQUEST } from '../../src/net/arp.ts';
import { CANARY } from './backends.ts';
import type { FuzzBoard, Target } from './board.ts';
import { DISK_BYTES } from './board.ts';
import { RESERVED_LOW } from './chains.ts';
import type { GuestDevice, UsedEntry } from './guest.ts';
import type { Prng } from './prng.ts';
import { BLK_T, NET_HDR_LEN } from './requests.ts';

export interface Problem {
  check: string;
  message: string;
}

type Tick = () => Promise<void>;

/** Resets every device, then runs the backend's cancelled I/O to completion and checks the canary. */
export async function quiesceAndCheckDma(board: FuzzBoard, tick: Tick): Promise<Problem[]> {
  for (const t of board.targets) t.dev.reset();
  for (const t of board.targets) for (const l of t.recent) l.length = 0;
  for (const nic of board.machine.nics) if (!nic.linkUp) nic.setLink(true);
  const blk = board.targets.find((t) => t.kind === 'blk')!;
  const ram = blk.dev.ram;
  const lo = RESERVED_LOW;
  const ranges: Array<[number, number]> = [];
  for (const [addr, len] of blk.dev.dmaRanges) {
    const s = Math.max(lo, addr - blk.dev.ramBase);
    const e = Math.min(ram.length, addr - blk.dev.ramBase + len);
    if (e > s) ranges.push([s, e]);
  }
  blk.dev.clearDma();
  // Merge overlapping ranges so the canary costs at most one pass over RAM.
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  const hadPending = board.disk.pendingCount;
  if (hadPending === 0) {
    await tick();
    return [];
  }
  for (const [s, e] of merged) ram.fill(CANARY, s, e);
  board.disk.completeAll();
  await tick();
  await tick();
  for (const [s, e] of merged) {
    for (let i = s; i < e; i++) {
      if (ram[i] !== CANARY) {
        return [
          {
            check: 'blk-dma-after-reset',
            message:
              `guest RAM at 0x${(blk.dev.ramBase + i).toString(16)} changed after every device was reset ` +
              `(${hadPending} disk operations were still pending at the reset and completed afterwards)`,
          },
        ];
      }
    }
  }
  return [];
}

/** Polls `dev`'s queue until `want` used entries arrived (a bounded number of event-loop turns). */
async function waitUsed(
  board: FuzzBoard,
  dev: GuestDevice,
  qi: number,
  want: number,
  tick: Tick,
): Promise<UsedEntry[]> {
  const got: UsedEntry[] = [];
  for (let i = 0; i < 20 && got.length < want; i++) {
    board.disk.completeAll();
    got.push(...dev.takeUsed(qi));
    if (got.length < want) await tick();
  }
  return got;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function hdr(type: number, sector: number): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setUint32(8, sector % 2 ** 32, true);
  v.setUint32(12, Math.floor(sector / 2 ** 32), true);
  return h;
}

/** Fresh init (every offered feature; mergeable rx buffers as `mergeable` says) with small queues. */
function freshInit(t: Target, mergeable: boolean): string | undefined {
  const [offered, hi] = t.dev.deviceFeatures();
  const lo = t.kind === 'net' && !mergeable ? offered & ~(1 << 15) : offered;
  const sizes = Array.from({ length: t.dev.numQueues }, () => 16);
  if (!t.dev.init([lo >>> 0, hi], sizes)) return `fresh init refused (status ${t.dev.status})`;
  const st = t.dev.status;
  if ((st & 0x4f) !== 0x0f) return `fresh init left status 0x${st.toString(16)} (${t.mmio?.lastError ?? ''})`;
  return undefined;
}

async function saneBlk(board: FuzzBoard, t: Target, rng: Prng, tick: Tick): Promise<string | undefined> {
  const d = t.dev;
  const sector = rng.int(DISK_BYTES / 512 - 4);
  const data = rng.fill(new Uint8Array(1024));
  // Fixed, disjoint places in the pool: header, status byte, data.
  const h = d.poolBase + 0x400;
  const st = d.poolBase + 0x800;
  const buf = d.poolBase + 0x1000;
  d.put(h, hdr(BLK_T.out, sector));
  d.put(buf, data);
  d.put(st, new Uint8Array([0xff]));
  d.addChain(0, [
    { addr: h, len: 16 },
    { addr: buf, len: 1024 },
    { addr: st, len: 1, write: true },
  ]);
  d.kick(0);
  let used = await waitUsed(board, d, 0, 1, tick);
  if (used.length !== 1 || d.get(st, 1)[0] !== 0)
    return `write of sector ${sector}: used=${JSON.stringify(used)} status=${d.get(st, 1)[0]}`;
  // Read back what was written, and the next sector (whatever the episode left there).
  d.put(h, hdr(BLK_T.in, sector));
  d.put(buf, new Uint8Array(1536));
  d.put(st, new Uint8Array([0xff]));
  d.addChain(0, [
    { addr: h, len: 16 },
    { addr: buf, len: 1536, write: true },
    { addr: st, len: 1, write: true },
  ]);
  d.kick(0);
  used = await waitUsed(board, d, 0, 1, tick);
  if (used.length !== 1 || d.get(st, 1)[0] !== 0)
    return `read of sector ${sector}: used=${JSON.stringify(used)} status=${d.get(st, 1)[0]}`;
  if (used[0]!.len !== 1537) return `read of sector ${sector}: used.len ${used[0]!.len}, expected 1537`;
  const got = d.get(buf, 1536);
  if (!equal(got.subarray(0, 1024), data)) return `read of sector ${sector} does not return the bytes just written`;
  const disk = board.disk.data.subarray(sector * 512 + 1024, sector * 512 + 1536);
  if (!equal(got.subarray(1024), disk)) return `read of sector ${sector + 2} does not match the disk`;
  return undefined;
}

async function saneNet(board: FuzzBoard, t: Target, rng: Prng, tick: Tick): Promise<string | undefined> {
  const d = t.dev;
  const nic = board.machine.nics[t.nicIndex!]!;
  const rxAt = d.poolBase + 0x10000;
  d.put(rxAt, new Uint8Array(8 * 2048));
  for (let i = 0; i < 8; i++) d.addChain(0, [{ addr: rxAt + 2048 * i, len: 2048, write: true }]);
  d.kick(0);
  const counters = t.counters!;
  const before = counters.framesOut;
  let frame: Uint8Array;
  if (t.loop) {
    frame = rng.fill(new Uint8Array(60));
    frame.set(nic.mac, 6);
    frame[0] = 0x02; // unicast
  } else {
    frame = buildArp(ARP_REQUEST, new Uint8Array(6).fill(255), nic.mac, 0x0a00020f, new Uint8Array(6), 0x0a000202);
  }
  const txAt = d.poolBase + 0x8000;
  d.put(txAt, new Uint8Array(NET_HDR_LEN));
  d.put(txAt + NET_HDR_LEN, frame);
  d.addChain(1, [{ addr: txAt, len: NET_HDR_LEN + frame.length }]);
  d.kick(1);
  const txUsed = await waitUsed(board, d, 1, 1, tick);
  if (txUsed.length !== 1) return `tx frame not returned (used ${txUsed.length}); ${nic.describe()}`;
  if (counters.framesOut !== before + 1 || !counters.lastFrame || !equal(counters.lastFrame, frame))
    return `tx frame did not reach the backend intact (${counters.framesOut - before} frames)`;
  // Something for the guest: an echo from the wire, or the NAT's ARP reply.
  let expect: (bytes: Uint8Array) => boolean;
  if (t.loop) {
    const echo = rng.fill(new Uint8Array(64));
    echo.set(nic.mac, 0);
    echo.set([2, 0, 0, 0, 0, 9], 6);
    t.loop.inject(echo);
    expect = (b) => equal(b.subarray(NET_HDR_LEN, NET_HDR_LEN + 64), echo);
  } else {
    expect = (b) => b[NET_HDR_LEN + 12] === 0x08 && b[NET_HDR_LEN + 13] === 0x06 && b[NET_HDR_LEN + 21] === 2;
  }
  for (let i = 0; i < 5; i++) {
    for (const u of d.takeUsed(0)) {
      if (u.id < 8 && expect(d.get(rxAt + 2048 * u.id, 2048))) return undefined;
    }
    await tick();
  }
  return `no frame received; ${nic.describe()}`;
}

async function saneConsole(board: FuzzBoard, t: Target, rng: Prng, tick: Tick): Promise<string | undefined> {
  const d = t.dev;
  const word = `sane-${rng.int(1e9)}`;
  const txAt = d.poolBase + 0x100;
  d.put(txAt, new TextEncoder().encode(word));
  d.addChain(1, [{ addr: txAt, len: word.length }]);
  d.kick(1);
  const used = await waitUsed(board, d, 1, 1, tick);
  board.flushOutput();
  if (used.length !== 1 || !board.consoleTail.includes(word))
    return `tx "${word}" did not come out (used ${used.length})`;
  // Input: drain what the episode typed, then our word must arrive last.
  const rxAt = d.poolBase + 0x10000;
  for (let i = 0; i < 3; i++) d.addChain(0, [{ addr: rxAt + 8192 * i, len: 8192, write: true }]);
  d.kick(0);
  const took = board.machine.console.pushInput(new TextEncoder().encode(word));
  if (took !== word.length) return `console input refused after the guest drained it (took ${took})`;
  const rx = await waitUsed(board, d, 0, 1, tick);
  let text = '';
  for (const u of rx) text += String.fromCharCode(...d.get(rxAt + 8192 * u.id, Math.min(u.len, 8192)));
  if (!text.endsWith(word)) return `console input "${word}" did not arrive (got ${rx.length} buffers)`;
  return undefined;
}

async function saneRng(board: FuzzBoard, t: Target, _rng: Prng, tick: Tick): Promise<string | undefined> {
  const d = t.dev;
  const at = d.poolBase + 0x100;
  d.put(at, new Uint8Array(64));
  d.addChain(0, [{ addr: at, len: 64, write: true }]);
  d.kick(0);
  const used = await waitUsed(board, d, 0, 1, tick);
  if (used.length !== 1 || used[0]!.len !== 64) return `64-byte request: used=${JSON.stringify(used)}`;
  if (d.get(at, 64).every((b) => b === 0)) return 'returned 64 zero bytes';
  return undefined;
}

async function saneInput(board: FuzzBoard, t: Target, _rng: Prng, tick: Tick): Promise<string | undefined> {
  const d = t.dev;
  const at = d.poolBase + 0x100;
  d.put(at, new Uint8Array(32).fill(0xee));
  const where = new Map<number, number>();
  for (let i = 0; i < 4; i++) where.set(d.addChain(0, [{ addr: at + 8 * i, len: 8, write: true }]), at + 8 * i);
  d.kick(0);
  if (!board.vm.pressPowerButton()) return `press refused (status ${d.status})`;
  const used = await waitUsed(board, d, 0, 4, tick);
  if (used.length !== 4 || used.some((u) => u.len !== 8)) return `a press: used=${JSON.stringify(used)}`;
  // KEY_POWER down, SYN_REPORT, KEY_POWER up, SYN_REPORT (le16 type, le16 code, le32 value).
  const ev = (type: number, code: number, value: number) => [type, 0, code, 0, value, 0, 0, 0];
  const want = [...ev(1, 116, 1), ...ev(0, 0, 0), ...ev(1, 116, 0), ...ev(0, 0, 0)];
  const got = used.flatMap((u) => [...d.get(where.get(u.id) ?? at, 8)]);
  if (!equal(new Uint8Array(got), new Uint8Array(want))) return `events ${JSON.stringify(got)}`;
  return undefined;
}

function saneEmpty(t: Target): string | undefined {
  const magic = t.dev.port.read(R.MagicValue, 4);
  const id = t.dev.port.read(R.DeviceID, 4);
  if (magic !== VIRTIO_MMIO_MAGIC || id !== 0) return `magic 0x${magic.toString(16)} device id ${id}`;
  return undefined;
}

/** One ordinary request per device after a fresh init; a problem per device that fails. */
export async function saneRequests(board: FuzzBoard, rng: Prng, tick: Tick): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const t of board.targets) {
    let why: string | undefined;
    if (t.kind === 'empty') why = saneEmpty(t);
    else why = freshInit(t, rng.chance(0.5));
    if (!why) {
      if (t.kind === 'blk') why = await saneBlk(board, t, rng, tick);
      else if (t.kind === 'net') why = await saneNet(board, t, rng, tick);
      else if (t.kind === 'console') why = await saneConsole(board, t, rng, tick);
      else if (t.kind === 'rng') why = await saneRng(board, t, rng, tick);
      else if (t.kind === 'input') why = await saneInput(board, t, rng, tick);
    }
    if (why) problems.push({ check: `sane-${t.kind}`, message: `${t.name}: ${why}` });
  }
  return problems;
}
