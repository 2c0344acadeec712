/**
 * virtio-blk (device ID 2) over a BlockBackend (virtio 1.x, section 5.2).
 *
 * Requests are parsed synchronously when the driver kicks the queue and submitted to the backend
 * as promises; each completes later by writing the status byte, pushing the used entry and
 * raising the interrupt.
 *
 * Data: writes go to the backend zero-copy (views of guest RAM). Reads land in a host bounce
 * buffer and are copied into guest RAM only when they complete and the queue's epoch is
 * unchanged: after a device reset, a queue reset (QueueReady = 0) or DEVICE_NEEDS_RESET the
 * guest may already have reused that memory, so a stale read must not write it (QEMU drains its
 * I/O on reset to the same effect). Stale completions never touch RAM, the used ring or the
 * interrupt line.
 *
 * Reset does not block the vCPU that wrote Status = 0 (there is no way to stall it here), but
 * the device starts no new request until every stale one has finished, so the disk sees the
 * old driver's writes before the new driver's requests, as after QEMU's drain.
 *
 * Bounds, whatever the driver posts: at most queue-size requests in flight (the virtqueue
 * refuses a head that is still in flight), at most `maxRequestBytes` of data per request
 * (larger writes fail with IOERR before reaching the disk; a larger read is served in pieces of
 * that size through one bounce buffer, since U-Boot reads a whole extent, tens of MiB, in one
 * request and splits nothing by seg_max/size_max) and at most `maxInflightBytes` of
 * data in flight in all (requests beyond wait in the ring until earlier ones finish; reads are
 * charged their bounce buffer's size). So bounce memory is at most maxInflightBytes in flight
 * plus BLK_BOUNCE_POOL_BYTES idle.
 *
 * Snapshot: saveState() records the heads of in-flight requests; loadState() re-reads those
 * chains from the restored RAM and re-issues them (reads and writes are idempotent).
 */
import type { BlockBackend } from '../storage/types.ts';
import { StateReader } from '../memory/state.ts';
import type { VirtioDeviceModel, VirtioMmio } from './mmio.ts';
import { DescChain, VirtioError } from './virtqueue.ts';
import { BouncePool } from './bounce-pool.ts';
import { newLatencyHistogram, observeLatency, type LatencyHistogram } from './latency.ts';

export const VIRTIO_ID_BLOCK = 2;

export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;

export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;

export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

const SECTOR = 512;
const ID_BYTES = 20;

/**
 * Default cap on the data of one request: 8 MiB, six times Linux's default max_sectors_kb
 * (1280 KiB; older kernels 512 KiB). Bigger writes fail with IOERR; bigger reads go through an
 * 8 MiB bounce buffer piece by piece. It bounds one bounce buffer, since every descriptor may
 * point at the same guest memory.
 */
export const BLK_MAX_REQUEST_BYTES = 8 << 20;
/**
 * Default cap on the data of all requests in flight (read bounce buffers plus writes): 64 MiB,
 * deep enough to keep a disk busy (Linux keeps well under this in flight for a boot or a copy).
 */
export const BLK_MAX_INFLIGHT_BYTES = 64 << 20;
/** Idle read bounce buffers kept per disk for reuse (see bounce-pool.ts). */
export const BLK_BOUNCE_POOL_BYTES = 32 << 20;

export interface VirtioBlkOptions {
  /** Serial number returned by GET_ID (at most 20 bytes). */
  serial?: string;
  /** Present the disk read-only even if the backend is writable. */
  readOnly?: boolean;
  queueSize?: number;
  /** size_max: largest single segment in bytes. */
  sizeMax?: number;
  /** seg_max: most data segments per request (default queueSize - 2, like QEMU). */
  segMax?: number;
  maxDiscardSectors?: number;
  maxDiscardSeg?: number;
  maxWriteZeroesSectors?: number;
  maxWriteZeroesSeg?: number;
  /** Largest data transfer of one request (default BLK_MAX_REQUEST_BYTES). */
  maxRequestBytes?: number;
  /** Most data bytes in flight over all requests (default BLK_MAX_INFLIGHT_BYTES). */
  maxInflightBytes?: number;
  /**
   * Start no disk I/O before this settles: a rebooted board passes the old board's drain, so
   * the old guest's writes reach the disk before the new guest's requests.
   */
  startAfter?: Promise<unknown>;
  /** A clock in milliseconds (fractions welcome) for the latency histograms; without one none is measured. */
  nowMs?: () => number;
}

interface Request {
  chain: DescChain;
  /** The queue epoch the request was started in; another epoch means it is stale. */
  epoch: number;
  /** Data bytes charged against maxInflightBytes. */
  bytes: number;
  /** A read's data, copied into guest RAM on completion if the request is not stale. */
  bounce: Uint8Array | null;
  /** Bytes written into the chain before the status byte. */
  written: number;
  /** When it was submitted (the nowMs clock), and whether it is a read or write to time. */
  t0: number;
  timed: 0 | 'rd' | 'wr';
}

/** Guest I/O counted for `x-virtkit-query-stats` (requests started, whatever their outcome). */
export interface VirtioBlkStats {
  rdBytes: number;
  wrBytes: number;
  rdOps: number;
  wrOps: number;
  /** Time from submission to the backend until completion of reads and writes that reached it. */
  rdLatency: LatencyHistogram;
  wrLatency: LatencyHistogram;
}

export class VirtioBlk implements VirtioDeviceModel {
  readonly stats: VirtioBlkStats = {
    rdBytes: 0,
    wrBytes: 0,
    rdOps: 0,
    wrOps: 0,
    rdLatency: newLatencyHistogram(),
    wrLatency: newLatencyHistogram(),
  };
  private readonly nowMs: (() => number) | undefined;
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly queueSizes: readonly number[];
  readonly features: readonly [number, number];
  readonly config = new Uint8Array(60);
  readonly readOnly: boolean;
  private transport!: VirtioMmio;
  /** Requests submitted to the backend and not finished, current and stale. */
  private readonly inflight = new Set<Request>();
  /** The queue epoch last seen; `live` requests belong to it, `stale` ones to earlier epochs. */
  private epoch = 0;
  private live = 0;
  private stale = 0;
  private bytesInFlight = 0;
  /** Chains popped (heads in flight) but not started: over the byte budget, or re-read after a restore. */
  private readonly waiting: DescChain[] = [];
  /** Set when work was held back (stale requests, budget, startAfter): retried as requests finish. */
  private deferred = false;
  private blocked = false;
  private readonly maxRequest: number;
  private readonly maxInflight: number;
  private readonly hdr = new Uint8Array(16);
  private readonly hdrView = new DataView(this.hdr.buffer);
  private reqType = 0;
  private reqSector = 0;
  private readonly serial: Uint8Array;
  private readonly limits: { discardSectors: number; discardSeg: number; wzSectors: number; wzSeg: number };
  private readonly capacity: number;
  private readonly bounces = new BouncePool(BLK_BOUNCE_POOL_BYTES);
  /** Reusable chains (at most a queue's worth). */
  private readonly spares: DescChain[] = [];
  /** Called when all in-flight requests are done (see drain()). */
  private drainWaiters: Array<() => void> = [];

  constructor(
    private readonly backend: BlockBackend,
    opts: VirtioBlkOptions = {},
  ) {
    const qsize = opts.queueSize ?? 256;
    this.queueSizes = [qsize];
    this.maxRequest = opts.maxRequestBytes ?? BLK_MAX_REQUEST_BYTES;
    this.nowMs = opts.nowMs;
    // One request is always let through when nothing is in flight, so the bound is the larger of the two.
    this.maxInflight = opts.maxInflightBytes ?? BLK_MAX_INFLIGHT_BYTES;
    if (opts.startAfter) {
      this.blocked = true;
      const go = (): void => {
        this.blocked = false;
        this.resume();
      };
      opts.startAfter.then(go, go);
    }
    this.readOnly = opts.readOnly === true || backend.readOnly;
    // The serial is ASCII in practice (QEMU truncates to 20 bytes too); other characters become '?'.
    this.serial = Uint8Array.from((opts.serial ?? '').slice(0, ID_BYTES), (ch) =>
      ch.charCodeAt(0) < 0x80 ? ch.charCodeAt(0) : 0x3f,
    );
    this.limits = {
      discardSectors: opts.maxDiscardSectors ?? 0x3fffff,
      discardSeg: opts.maxDiscardSeg ?? 1,
      wzSectors: opts.maxWriteZeroesSectors ?? 0x3fffff,
      wzSeg: opts.maxWriteZeroesSeg ?? 1,
    };
    let f =
      (1 << VIRTIO_BLK_F_SEG_MAX) |
      (1 << VIRTIO_BLK_F_BLK_SIZE) |
      (1 << VIRTIO_BLK_F_FLUSH) |
      (1 << VIRTIO_BLK_F_DISCARD) |
      (1 << VIRTIO_BLK_F_WRITE_ZEROES);
    if (opts.sizeMax !== undefined) f |= 1 << VIRTIO_BLK_F_SIZE_MAX;
    if (this.readOnly) f |= 1 << VIRTIO_BLK_F_RO;
    this.features = [f >>> 0, 0];

    this.capacity = Math.floor(backend.size / SECTOR);
    const c = new DataView(this.config.buffer);
    c.setUint32(0, this.capacity % 0x1_0000_0000, true);
    c.setUint32(4, Math.floor(this.capacity / 0x1_0000_0000), true);
    c.setUint32(8, opts.sizeMax ?? 0, true);
    c.setUint32(12, opts.segMax ?? qsize - 2, true);
    c.setUint32(20, SECTOR, true); // blk_size
    c.setUint16(34, 1, true); // num_queues
    c.setUint32(36, this.limits.discardSectors, true);
    c.setUint32(40, this.limits.discardSeg, true);
    c.setUint32(44, 1, true); // discard_sector_alignment (sectors)
    c.setUint32(48, this.limits.wzSectors, true);
    c.setUint32(52, this.limits.wzSeg, true);
    c.setUint8(56, 1); // write_zeroes_may_unmap
  }

  attach(transport: VirtioMmio): void {
    this.transport = transport;
  }

  reset(): void {
    // The transport reset the queue first: in-flight requests are stale now.
    this.sync();
    this.wakeDrain();
  }

  /** Number of requests submitted to the backend and not yet finished (including stale ones). */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Resolves once no request is in flight (call before saveState for a snapshot without re-issue). */
  drain(): Promise<void> {
    if (this.inflight.size === 0) return Promise.resolve();
    return new Promise((res) => this.drainWaiters.push(res));
  }

  private wakeDrain(): void {
    if (this.inflight.size !== 0) return;
    for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Catches up with the queue's epoch: requests from an earlier one become stale, waiting chains are dropped. */
  private sync(): void {
    const epoch = this.transport.queues[0]!.epoch;
    if (epoch === this.epoch) return;
    this.epoch = epoch;
    this.stale += this.live;
    this.live = 0;
    for (const c of this.waiting) this.recycle(c);
    this.waiting.length = 0;
  }

  private recycle(chain: DescChain): void {
    if (this.spares.length < this.queueSizes[0]!) this.spares.push(chain);
  }

  queueNotify(index: number): void {
    if (index === 0) this.pump();
  }

  /** Starts as many requests as the rules allow. Throws VirtioError for a malformed chain. */
  private pump(): void {
    const q = this.transport.queues[0]!;
    this.sync();
    if (this.stale > 0 || this.blocked) {
      this.deferred = true;
      return;
    }
    for (;;) {
      let chain = this.waiting[0];
      if (!chain) {
        chain = this.spares.pop() ?? new DescChain();
        if (!q.pop(chain)) {
          this.spares.push(chain);
          return;
        }
      }
      const bytes = this.parse(chain);
      if (this.bytesInFlight > 0 && this.bytesInFlight + bytes > this.maxInflight) {
        if (this.waiting[0] !== chain) this.waiting.push(chain);
        this.deferred = true;
        return;
      }
      if (this.waiting[0] === chain) this.waiting.shift();
      this.submit(chain, bytes);
    }
  }

  /** Retries held-back work once nothing stale is in flight. */
  private resume(): void {
    if (!this.deferred || this.stale > 0 || this.blocked || !this.transport.live) return;
    this.deferred = false;
    this.transport.guard(() => this.pump());
  }

  /**
   * Reads the request header into reqType/reqSector; returns what the request costs against
   * maxInflightBytes: the data bytes it moves, a read's bounce buffer size, 0 if it moves no data
   * or is too large and will fail at once. Throws VirtioError for a malformed chain.
   */
  private parse(chain: DescChain): number {
    if (chain.readBytes < 16 || chain.writeBytes < 1) {
      throw new VirtioError(`virtio-blk request at head ${chain.head} lacks its header or status byte`);
    }
    chain.copyOut(this.transport.mem.ram, 0, this.hdr);
    this.reqType = this.hdrView.getUint32(0, true);
    this.reqSector = this.hdrView.getUint32(8, true) + this.hdrView.getUint32(12, true) * 0x1_0000_0000;
    if (this.reqType === VIRTIO_BLK_T_IN) {
      const bytes = chain.writeBytes - 1;
      return BouncePool.capacity(Math.min(bytes, this.maxRequest));
    }
    if (this.reqType === VIRTIO_BLK_T_OUT) {
      const bytes = chain.readBytes - 16;
      return bytes <= this.maxRequest ? bytes : 0;
    }
    return 0;
  }

  /** Starts the request parse() just read. */
  private submit(chain: DescChain, bytes: number): void {
    const type = this.reqType;
    const req: Request = { chain, epoch: this.epoch, bytes, bounce: null, written: 0, t0: 0, timed: 0 };
    if (this.nowMs && (type === VIRTIO_BLK_T_IN || type === VIRTIO_BLK_T_OUT)) {
      req.t0 = this.nowMs();
      req.timed = type === VIRTIO_BLK_T_IN ? 'rd' : 'wr';
    }
    let p: Promise<number> | number;
    try {
      p = this.start(req, type, this.reqSector);
    } catch {
      p = VIRTIO_BLK_S_IOERR; // a backend that throws synchronously is still just an I/O error
    }
    if (type === VIRTIO_BLK_T_IN) req.written = chain.writeBytes - 1;
    else if (type === VIRTIO_BLK_T_GET_ID) req.written = Math.min(ID_BYTES, chain.writeBytes - 1);
    if (typeof p === 'number') {
      this.complete(chain, p, req.written);
      this.recycle(chain);
      return;
    }
    this.inflight.add(req);
    this.live++;
    this.bytesInFlight += bytes;
    p.then(
      (status) => status,
      () => VIRTIO_BLK_S_IOERR,
    ).then((status) => this.finish(req, status));
  }

  /** A backend operation settled: deliver it if it is still current, then start what waited. */
  private finish(req: Request, status: number): void {
    if (!this.inflight.delete(req)) return;
    // Only requests that went to the backend are timed (an instant refusal completes in submit()).
    if (req.timed && this.nowMs)
      observeLatency(req.timed === 'rd' ? this.stats.rdLatency : this.stats.wrLatency, (this.nowMs() - req.t0) * 1000);
    this.bytesInFlight -= req.bytes;
    this.sync();
    if (req.epoch === this.epoch) {
      this.live--;
      this.transport.guard(() => {
        if (req.bounce && status === VIRTIO_BLK_S_OK) {
          req.chain.copyIn(this.transport.mem.ram, 0, req.bounce.subarray(0, req.written));
        }
        this.complete(req.chain, status, req.written);
      });
    } else {
      this.stale--; // dropped: the guest may have reused the chain's memory since
    }
    // A failed read's buffer is not reused: part of the backend's work might still be writing it.
    if (req.bounce && status === VIRTIO_BLK_S_OK) this.bounces.give(req.bounce);
    req.bounce = null;
    this.recycle(req.chain);
    this.resume();
    this.wakeDrain();
  }

  private start(req: Request, type: number, sector: number): Promise<number> | number {
    const chain = req.chain;
    const ram = this.transport.mem.ram;
    switch (type) {
      case VIRTIO_BLK_T_IN:
        return this.rw(req, sector, chain.writeBytes - 1, false);
      case VIRTIO_BLK_T_OUT:
        return this.readOnly ? VIRTIO_BLK_S_IOERR : this.rw(req, sector, chain.readBytes - 16, true);
      case VIRTIO_BLK_T_FLUSH:
        return this.transport.hasFeature(VIRTIO_BLK_F_FLUSH)
          ? this.backend.flush().then(() => VIRTIO_BLK_S_OK)
          : VIRTIO_BLK_S_UNSUPP;
      case VIRTIO_BLK_T_GET_ID: {
        const n = Math.min(ID_BYTES, chain.writeBytes - 1);
        chain.copyIn(ram, 0, new Uint8Array(n));
        chain.copyIn(ram, 0, this.serial.subarray(0, n));
        return VIRTIO_BLK_S_OK;
      }
      case VIRTIO_BLK_T_DISCARD:
      case VIRTIO_BLK_T_WRITE_ZEROES:
        return this.ranges(chain, type);
      default:
        return VIRTIO_BLK_S_UNSUPP;
    }
  }

  /** Checks a sector range; returns the byte offset or -1 if it is not inside the disk. */
  private byteRange(sector: number, bytes: number): number {
    if (!Number.isSafeInteger(sector) || sector > this.capacity) return -1;
    const off = sector * SECTOR;
    return off + bytes <= this.capacity * SECTOR ? off : -1;
  }

  private rw(req: Request, sector: number, bytes: number, isWrite: boolean): Promise<number> | number {
    if (bytes % SECTOR !== 0 || (isWrite && bytes > this.maxRequest)) return VIRTIO_BLK_S_IOERR;
    let pos = this.byteRange(sector, bytes);
    if (pos < 0) return VIRTIO_BLK_S_IOERR;
    if (isWrite) {
      this.stats.wrOps++;
      this.stats.wrBytes += bytes;
    } else {
      this.stats.rdOps++;
      this.stats.rdBytes += bytes;
    }
    if (bytes === 0) return VIRTIO_BLK_S_OK;
    if (!isWrite && bytes > this.maxRequest) return this.readInPieces(req, pos, bytes);
    if (!isWrite) {
      // Into a bounce buffer, copied to the guest in finish() only if the request is still current.
      const buf = this.bounces.take(bytes);
      req.bounce = buf;
      return this.backend.read(pos, buf.subarray(0, bytes)).then(() => VIRTIO_BLK_S_OK);
    }
    // Writes read guest RAM directly: one that outlives a reset may still reach the disk (it was
    // issued), which is allowed for a request the driver never saw complete.
    const ops: Promise<void>[] = [];
    req.chain.readSegments(this.transport.mem.ram, 16, bytes, (seg) => {
      ops.push(this.backend.write(pos, seg));
      pos += seg.length;
    });
    const all = ops.length === 1 ? ops[0]! : Promise.all(ops);
    return all.then(() => VIRTIO_BLK_S_OK);
  }

  /**
   * A read bigger than maxRequest (U-Boot loading a kernel): one bounce buffer of maxRequest bytes,
   * each piece copied into the guest's buffers as it arrives while the request is still current
   * (a reset stops it: no byte reaches guest RAM after). finish() has nothing left to copy.
   */
  private async readInPieces(req: Request, pos: number, bytes: number): Promise<number> {
    const buf = this.bounces.take(this.maxRequest);
    for (let done = 0; done < bytes;) {
      const n = Math.min(this.maxRequest, bytes - done);
      await this.backend.read(pos + done, buf.subarray(0, n));
      if (req.epoch !== this.epoch) return VIRTIO_BLK_S_IOERR;
      const piece = buf.subarray(0, n);
      const at = done;
      this.transport.guard(() => req.chain.copyIn(this.transport.mem.ram, at, piece));
      done += n;
    }
    this.bounces.give(buf);
    return VIRTIO_BLK_S_OK;
  }

  /** DISCARD / WRITE_ZEROES: a list of 16-byte {sector, num_sectors, flags} segments. */
  private ranges(chain: DescChain, type: number): Promise<number> | number {
    const discard = type === VIRTIO_BLK_T_DISCARD;
    if (!this.transport.hasFeature(discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES))
      return VIRTIO_BLK_S_UNSUPP;
    if (this.readOnly) return VIRTIO_BLK_S_IOERR;
    const payload = chain.readBytes - 16;
    const maxSeg = discard ? this.limits.discardSeg : this.limits.wzSeg;
    const maxSectors = discard ? this.limits.discardSectors : this.limits.wzSectors;
    if (payload === 0 || payload % 16 !== 0) return VIRTIO_BLK_S_IOERR;
    if (payload / 16 > maxSeg) return VIRTIO_BLK_S_UNSUPP;
    const ram = this.transport.mem.ram;
    const seg = new Uint8Array(16);
    const v = new DataView(seg.buffer);
    const ops: Array<[number, number]> = [];
    for (let at = 16; at < chain.readBytes; at += 16) {
      chain.copyOut(ram, at, seg);
      const sector = v.getUint32(0, true) + v.getUint32(4, true) * 0x1_0000_0000;
      const n = v.getUint32(8, true);
      const flags = v.getUint32(12, true);
      // Only WRITE_ZEROES may carry the UNMAP flag (bit 0); other bits are reserved.
      if (flags & ~(discard ? 0 : 1)) return VIRTIO_BLK_S_UNSUPP;
      if (n > maxSectors) return VIRTIO_BLK_S_IOERR;
      const off = this.byteRange(sector, n * SECTOR);
      if (off < 0) return VIRTIO_BLK_S_IOERR;
      ops.push([off, n * SECTOR]);
    }
    return Promise.all(
      ops.map(([off, len]) => (discard ? this.backend.discard(off, len) : this.backend.writeZeroes(off, len))),
    ).then(() => VIRTIO_BLK_S_OK);
  }

  private readonly statusByte = new Uint8Array(1);

  private complete(chain: DescChain, status: number, written: number): void {
    this.statusByte[0] = status;
    chain.copyIn(this.transport.mem.ram, chain.writeBytes - 1, this.statusByte);
    this.transport.queues[0]!.complete(chain, written + 1);
    this.transport.notifyUsed(0);
  }

  saveState(): object {
    this.sync();
    const heads: number[] = [];
    for (const r of this.inflight) if (r.epoch === this.epoch) heads.push(r.chain.head);
    for (const c of this.waiting) heads.push(c.head);
    return { version: 1, generation: this.epoch, inflight: heads };
  }

  /** Re-issues the requests that were in flight when the state was saved (within the same bounds). */
  loadState(state: unknown): void {
    const r = StateReader.of(state, 'virtio-blk', 1);
    const q = this.transport.queues[0]!;
    const heads = r.ints('inflight', 0, q.maxSize - 1, q.maxSize);
    this.sync(); // the transport reset the queue: anything still in flight here is stale
    if (!this.transport.live) return;
    this.transport.guard(() => {
      for (const head of heads) {
        const chain = this.spares.pop() ?? new DescChain();
        q.readChain(head, chain); // a head listed twice is refused here
        this.waiting.push(chain);
      }
      this.pump();
    });
  }
}
