/**
 * virtio-blk (device ID 2) over a BlockBackend (virtio 1.x, section 5.2).
 *
 * Requests are parsed synchronously when the driver kicks the queue and submitted to the backend
 * as promises; each completes later by writing the status byte, pushing the used entry and
 * raising the interrupt. Data moves zero-copy: backend reads/writes get views of guest RAM.
 * A reset bumps `generation`, so completions of requests from before the reset are dropped.
 *
 * Snapshot: saveState() records the heads of in-flight requests; loadState() re-reads those
 * chains from the restored RAM and re-issues them (reads and writes are idempotent).
 */
import type { BlockBackend } from '../storage/types.ts';
import { StateReader } from '../devices/state.ts';
import type { VirtioDeviceModel, VirtioMmio } from './mmio.ts';
import { DescChain, VirtioError } from './virtqueue.ts';

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
}

interface Inflight {
  chain: DescChain;
}

export class VirtioBlk implements VirtioDeviceModel {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly queueSizes: readonly number[];
  readonly features: readonly [number, number];
  readonly config = new Uint8Array(60);
  readonly readOnly: boolean;
  private transport!: VirtioMmio;
  private generation = 0;
  private readonly inflight = new Set<Inflight>();
  private readonly hdr = new Uint8Array(16);
  private readonly hdrView = new DataView(this.hdr.buffer);
  private readonly serial: Uint8Array;
  private readonly limits: { discardSectors: number; discardSeg: number; wzSectors: number; wzSeg: number };
  private readonly capacity: number;
  private spare: DescChain | null = null;
  /** Called when all in-flight requests are done (see drain()). */
  private drainWaiters: Array<() => void> = [];

  constructor(
    private readonly backend: BlockBackend,
    opts: VirtioBlkOptions = {},
  ) {
    const qsize = opts.queueSize ?? 256;
    this.queueSizes = [qsize];
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
    this.generation++;
    this.inflight.clear();
    this.wakeDrain();
  }

  /** Number of requests submitted to the backend and not yet completed. */
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

  queueNotify(index: number): void {
    if (index !== 0) return;
    const q = this.transport.queues[0]!;
    for (;;) {
      const chain = this.spare ?? new DescChain();
      this.spare = null;
      if (!q.pop(chain)) {
        this.spare = chain;
        return;
      }
      this.submit(chain);
    }
  }

  /** Parses one request and starts it. Throws VirtioError for a malformed chain. */
  private submit(chain: DescChain): void {
    const ram = this.transport.mem.ram;
    if (chain.readBytes < 16 || chain.writeBytes < 1) {
      throw new VirtioError(`virtio-blk request at head ${chain.head} lacks its header or status byte`);
    }
    chain.copyOut(ram, 0, this.hdr);
    const type = this.hdrView.getUint32(0, true);
    const sector = this.hdrView.getUint32(8, true) + this.hdrView.getUint32(12, true) * 0x1_0000_0000;
    const req: Inflight = { chain };
    const gen = this.generation;
    let written = 0; // bytes written before the status byte
    let p: Promise<number> | number;
    try {
      p = this.start(chain, type, sector);
    } catch {
      p = VIRTIO_BLK_S_IOERR; // a backend that throws synchronously is still just an I/O error
    }
    if (type === VIRTIO_BLK_T_IN) written = chain.writeBytes - 1;
    else if (type === VIRTIO_BLK_T_GET_ID) written = Math.min(ID_BYTES, chain.writeBytes - 1);
    if (typeof p === 'number') {
      this.complete(chain, p, written);
      return;
    }
    this.inflight.add(req);
    p.then(
      (status) => status,
      () => VIRTIO_BLK_S_IOERR,
    ).then((status) => {
      if (gen !== this.generation || !this.inflight.delete(req)) return;
      this.transport.guard(() => this.complete(chain, status, written));
      this.wakeDrain();
    });
  }

  private start(chain: DescChain, type: number, sector: number): Promise<number> | number {
    const ram = this.transport.mem.ram;
    switch (type) {
      case VIRTIO_BLK_T_IN:
        return this.rw(chain, sector, chain.writeBytes - 1, false);
      case VIRTIO_BLK_T_OUT:
        return this.readOnly ? VIRTIO_BLK_S_IOERR : this.rw(chain, sector, chain.readBytes - 16, true);
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

  private rw(chain: DescChain, sector: number, bytes: number, isWrite: boolean): Promise<number> | number {
    if (bytes % SECTOR !== 0) return VIRTIO_BLK_S_IOERR;
    let pos = this.byteRange(sector, bytes);
    if (pos < 0) return VIRTIO_BLK_S_IOERR;
    if (bytes === 0) return VIRTIO_BLK_S_OK;
    const ram = this.transport.mem.ram;
    const ops: Promise<void>[] = [];
    const visit = (seg: Uint8Array): void => {
      ops.push(isWrite ? this.backend.write(pos, seg) : this.backend.read(pos, seg));
      pos += seg.length;
    };
    if (isWrite) chain.readSegments(ram, 16, bytes, visit);
    else chain.writeSegments(ram, 0, bytes, visit);
    const all = ops.length === 1 ? ops[0]! : Promise.all(ops);
    return all.then(() => VIRTIO_BLK_S_OK);
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
    return { version: 1, generation: this.generation, inflight: [...this.inflight].map((r) => r.chain.head) };
  }

  /** Re-issues the requests that were in flight when the state was saved. */
  loadState(state: unknown): void {
    const r = StateReader.of(state, 'virtio-blk', 1);
    const q = this.transport.queues[0]!;
    const heads = r.ints('inflight', 0, q.maxSize - 1, q.maxSize);
    this.generation++;
    this.inflight.clear();
    if (!this.transport.live) return;
    for (const head of heads) {
      this.transport.guard(() => {
        const chain = new DescChain();
        q.readChain(head, chain);
        this.submit(chain);
      });
    }
  }
}
