/**
 * The block walk (src/storage/block-walk.ts) against the other ways it could be written: the
 * loop written out inline (what every format had), a callback per piece, a generator, a cursor
 * reused across requests. Each request walks a 64 KiB-cluster disk; the body either only sums
 * (the walk's own cost) or awaits a resolved promise per piece (what the formats do).
 *
 *   node --import tsx bench/storage/block-walk.ts [requests]
 *
 * Prints requests per second per variant; nothing is asserted (the machine is shared).
 */
import { BlockWalk } from '../../src/storage/block-walk.ts';

const N = Number(process.argv[2] ?? 2_000_000);
const BS = 65536;
let sink = 0;

type Walk = (offset: number, length: number) => void;
type AsyncWalk = (offset: number, length: number) => Promise<void>;

const inline: Walk = (offset, length) => {
  let done = 0;
  while (done < length) {
    const pos = offset + done;
    const index = Math.floor(pos / BS);
    const inBlock = pos - index * BS;
    const n = Math.min(length - done, BS - inBlock);
    sink += index + inBlock + done + n;
    done += n;
  }
};

const cursor: Walk = (offset, length) => {
  for (const w = new BlockWalk(BS, offset, length); w.next(); ) sink += w.index + w.inBlock + w.done + w.length;
};

class ReusableWalk extends BlockWalk {
  reset(offset: number, total: number): this {
    (this as { offset: number }).offset = offset;
    (this as { total: number }).total = total;
    this.done = this.length = 0;
    return this;
  }
}
const shared = new ReusableWalk(BS, 0, 0);
const reused: Walk = (offset, length) => {
  for (const w = shared.reset(offset, length); w.next(); ) sink += w.index + w.inBlock + w.done + w.length;
};

function forEachPiece(
  offset: number,
  length: number,
  bs: number,
  fn: (index: number, inBlock: number, done: number, n: number) => void,
): void {
  let done = 0;
  while (done < length) {
    const pos = offset + done;
    const index = Math.floor(pos / bs);
    const inBlock = pos - index * bs;
    const n = Math.min(length - done, bs - inBlock);
    fn(index, inBlock, done, n);
    done += n;
  }
}
const callback: Walk = (offset, length) => {
  let local = 0;
  forEachPiece(offset, length, BS, (i, b, d, n) => (local += i + b + d + n));
  sink += local;
};

function* pieces(offset: number, length: number, bs: number): Generator<[number, number, number, number]> {
  let done = 0;
  while (done < length) {
    const pos = offset + done;
    const index = Math.floor(pos / bs);
    const inBlock = pos - index * bs;
    const n = Math.min(length - done, bs - inBlock);
    yield [index, inBlock, done, n];
    done += n;
  }
}
const generator: Walk = (offset, length) => {
  for (const [i, b, d, n] of pieces(offset, length, BS)) sink += i + b + d + n;
};

const io = () => Promise.resolve();
const inlineAsync: AsyncWalk = async (offset, length) => {
  let done = 0;
  while (done < length) {
    const pos = offset + done;
    const index = Math.floor(pos / BS);
    const inBlock = pos - index * BS;
    const n = Math.min(length - done, BS - inBlock);
    await io();
    sink += index + inBlock + done + n;
    done += n;
  }
};
const cursorAsync: AsyncWalk = async (offset, length) => {
  for (const w = new BlockWalk(BS, offset, length); w.next(); ) {
    await io();
    sink += w.index + w.inBlock + w.done + w.length;
  }
};
async function forEachPieceAsync(
  offset: number,
  length: number,
  bs: number,
  fn: (index: number, inBlock: number, done: number, n: number) => Promise<void>,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const pos = offset + done;
    const index = Math.floor(pos / bs);
    const inBlock = pos - index * bs;
    const n = Math.min(length - done, bs - inBlock);
    await fn(index, inBlock, done, n);
    done += n;
  }
}
const callbackAsync: AsyncWalk = (offset, length) =>
  forEachPieceAsync(offset, length, BS, async (i, b, d, n) => {
    await io();
    sink += i + b + d + n;
  });
const generatorAsync: AsyncWalk = async (offset, length) => {
  for (const [i, b, d, n] of pieces(offset, length, BS)) {
    await io();
    sink += i + b + d + n;
  }
};

/** Requests: mostly 4 KiB inside one cluster, some 256 KiB spanning several, unaligned. */
const offsets = new Float64Array(4096);
const lengths = new Float64Array(4096);
let seed = 1;
for (let i = 0; i < offsets.length; i++) {
  seed = (seed * 1103515245 + 12345) >>> 0;
  offsets[i] = (seed % (1 << 20)) * 512;
  lengths[i] = i % 8 === 0 ? 256 * 1024 + 512 : 4096;
}

function time(name: string, walk: Walk, n: number): void {
  for (let i = 0; i < 50_000; i++) walk(offsets[i & 4095]!, lengths[i & 4095]!);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) walk(offsets[i & 4095]!, lengths[i & 4095]!);
  const s = (performance.now() - t0) / 1000;
  console.log(`${name.padEnd(20)} ${Math.round(n / s / 1000)}k requests/s`);
}

async function timeAsync(name: string, walk: AsyncWalk, n: number): Promise<void> {
  for (let i = 0; i < 20_000; i++) await walk(offsets[i & 4095]!, lengths[i & 4095]!);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await walk(offsets[i & 4095]!, lengths[i & 4095]!);
  const s = (performance.now() - t0) / 1000;
  console.log(`${name.padEnd(20)} ${Math.round(n / s / 1000)}k requests/s`);
}

for (let round = 0; round < 2; round++) {
  console.log(`-- round ${round + 1}: sum only`);
  time('inline', inline, N);
  time('cursor (per request)', cursor, N);
  time('cursor (reused)', reused, N);
  time('callback', callback, N);
  time('generator', generator, N);
  console.log(`-- round ${round + 1}: await per piece`);
  await timeAsync('inline', inlineAsync, N / 4);
  await timeAsync('cursor (per request)', cursorAsync, N / 4);
  await timeAsync('callback', callbackAsync, N / 4);
  await timeAsync('generator', generatorAsync, N / 4);
}
if (sink === 0.5) console.log(sink);
