/**
 * The physical address space of a board: one RAM region plus memory-mapped devices.
 *
 * - RAM lives in one buffer (a WebAssembly.Memory's when the engine allows it, so a later wasm JIT
 *   can share it) with typed-array views that the harts use directly on their fast paths. The host
 *   is assumed little-endian, like every platform Node.js and browsers run on.
 * - Devices see offsets from their base, in 1/2/4-byte accesses: the hart splits an 8-byte device
 *   access into two 4-byte ones (low word first). Overlapping regions are rejected when the board
 *   is built.
 * - The bus keeps the shared "code page" flags: a RAM page whose instructions some hart has
 *   pre-decoded. Harts never cache a write translation for such a page, so every store to it takes
 *   the slow path, which calls codeWritten() and drops the stale decodings in every hart.
 */
import type { MmioDevice } from './mmio.ts';

/** What the bus needs from a hart to keep pre-decoded code coherent with memory. */
export interface CodeCacheClient {
  /** The RAM page (index from ramBase, 4 KiB pages) became a code page: forget write translations to it. */
  dropWriteTranslations(ramPage: number): void;
  /** The RAM page was written: forget its decoded instructions. */
  dropDecodedPage(ramPage: number): void;
}

export interface DeviceRegion {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  readonly end: number;
  readonly dev: MmioDevice;
}

/** The part of a WebAssembly.Memory the core uses (it is compiled without DOM/Node typings). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
declare const WebAssembly: {
  Memory: new (desc: { initial: number; maximum: number }) => WasmMemory;
};

const WASM_PAGE = 65536;
/**
 * Bytes of per-hart state (registers, TLB; riscv/state-layout.ts) that each hart may place in the
 * RAM's WebAssembly.Memory, right after RAM, so code translated to WebAssembly (riscv/wasm/)
 * reaches it with plain loads and stores. Room for HART_STATE_SLOTS harts (the board's maximum).
 */
export const HART_STATE_BYTES = 256 * 1024;
const HART_STATE_SLOTS = 8;

/** Where a hart's state lives: `offset` into `buffer`; `inMemory` when that is the wasm memory. */
export interface HartStateArea {
  readonly buffer: ArrayBuffer;
  readonly offset: number;
  readonly inMemory: boolean;
}

function allocateRam(size: number): { buf: ArrayBuffer; memory?: WasmMemory; stateBase: number } {
  if (size % WASM_PAGE === 0 && size <= 0x1_0000_0000 && typeof WebAssembly !== 'undefined') {
    // With the hart-state area when it fits below 4 GiB (wasm32's limit), else RAM alone.
    const sizes = [size + HART_STATE_SLOTS * HART_STATE_BYTES, size].filter((s) => s <= 0x1_0000_0000);
    for (const total of sizes) {
      try {
        const pages = total / WASM_PAGE;
        const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
        return { buf: memory.buffer, memory, stateBase: total > size ? size : -1 };
      } catch {
        // Address-space reservation can fail (ulimit, many live memories): plain memory works the same.
      }
    }
  }
  return { buf: new ArrayBuffer(size), stateBase: -1 };
}

export class Bus {
  readonly ramBase: number;
  readonly ramSize: number;
  readonly ram: Uint8Array;
  /** Other views of the same RAM bytes, for aligned accesses. */
  readonly ramI8: Int8Array;
  readonly ramU16: Uint16Array;
  readonly ramI16: Int16Array;
  readonly ramI32: Int32Array;
  /** One byte per 4 KiB RAM page: 1 when some hart holds decoded instructions for it. */
  readonly codePages: Uint8Array;
  /** The WebAssembly.Memory holding RAM at offset 0, when the engine gave one. */
  readonly memory: WasmMemory | undefined;
  /** Offset of the hart-state area in `memory` (-1: none), and the slots handed out. */
  private readonly stateBase: number;
  private stateSlots = 0;
  private readonly regions: DeviceRegion[] = [];
  private readonly clients: CodeCacheClient[] = [];

  constructor(ramBase: number, ramSize: number) {
    if (!Number.isSafeInteger(ramBase) || ramBase < 0 || ramBase % 4096 !== 0) {
      throw new Error(`bus: RAM base ${ramBase} must be a non-negative multiple of 4096`);
    }
    if (!Number.isSafeInteger(ramSize) || ramSize <= 0 || ramSize % 4096 !== 0 || ramSize > 0x1_0000_0000) {
      throw new Error(`bus: RAM size ${ramSize} must be a positive multiple of 4096, at most 4 GiB`);
    }
    this.ramBase = ramBase;
    this.ramSize = ramSize;
    const { buf, memory, stateBase } = allocateRam(ramSize);
    this.memory = memory;
    this.stateBase = stateBase;
    this.ram = new Uint8Array(buf, 0, ramSize);
    this.ramI8 = new Int8Array(buf, 0, ramSize);
    this.ramU16 = new Uint16Array(buf, 0, ramSize >>> 1);
    this.ramI16 = new Int16Array(buf, 0, ramSize >>> 1);
    this.ramI32 = new Int32Array(buf, 0, ramSize >>> 2);
    this.codePages = new Uint8Array(ramSize >>> 12);
  }

  /**
   * HART_STATE_BYTES of zeroed memory for one hart's state: a slot of the wasm memory after RAM
   * while there are free ones, else a buffer of its own (the hart then cannot run wasm code).
   */
  hartStateArea(): HartStateArea {
    if (this.stateBase >= 0 && this.stateSlots < HART_STATE_SLOTS) {
      const offset = this.stateBase + this.stateSlots++ * HART_STATE_BYTES;
      return { buffer: this.ram.buffer as ArrayBuffer, offset, inMemory: true };
    }
    return { buffer: new ArrayBuffer(HART_STATE_BYTES), offset: 0, inMemory: false };
  }

  /** Maps a device at [base, base+size). Throws if the range overlaps RAM or another device. */
  addDevice(name: string, base: number, size: number, dev: MmioDevice): void {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(size) || base < 0 || size <= 0) {
      throw new Error(`bus: device ${name}: bad range base=${base} size=${size}`);
    }
    const end = base + size;
    if (base < this.ramBase + this.ramSize && this.ramBase < end) {
      throw new Error(`bus: device ${name} at 0x${base.toString(16)} overlaps RAM`);
    }
    for (const r of this.regions) {
      if (base < r.end && r.base < end) {
        throw new Error(`bus: device ${name} at 0x${base.toString(16)} overlaps ${r.name} at 0x${r.base.toString(16)}`);
      }
    }
    this.regions.push({ name, base, size, end, dev });
    this.regions.sort((a, b) => a.base - b.base);
  }

  /** The device region holding [addr, addr+size), or undefined. */
  findDevice(addr: number, size: number): DeviceRegion | undefined {
    const rs = this.regions;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!;
      if (addr >= r.base && addr + size <= r.end) return r;
    }
    return undefined;
  }

  /** The memory map, for the FDT and diagnostics. */
  devices(): readonly DeviceRegion[] {
    return this.regions;
  }

  /** True when [addr, addr+size) lies inside RAM. */
  isRam(addr: number, size: number): boolean {
    return addr >= this.ramBase && addr + size <= this.ramBase + this.ramSize;
  }

  /**
   * Physical read of 1, 2 or 4 bytes (unsigned result), for loaders, DMA and slow paths.
   * Returns -1 when nothing is mapped there (the caller raises an access fault).
   */
  read(addr: number, size: 1 | 2 | 4): number {
    const off = addr - this.ramBase;
    if (off >= 0 && off + size <= this.ramSize) {
      const m = this.ram;
      if (size === 1) return m[off]!;
      if (size === 2) return m[off]! | (m[off + 1]! << 8);
      return (m[off]! | (m[off + 1]! << 8) | (m[off + 2]! << 16) | (m[off + 3]! << 24)) >>> 0;
    }
    const r = this.findDevice(addr, size);
    if (r === undefined) return -1;
    return r.dev.read(addr - r.base, size);
  }

  /** Physical write of 1, 2 or 4 bytes. Returns false when nothing is mapped there. */
  write(addr: number, size: 1 | 2 | 4, value: number): boolean {
    const off = addr - this.ramBase;
    if (off >= 0 && off + size <= this.ramSize) {
      const m = this.ram;
      m[off] = value;
      if (size >= 2) m[off + 1] = value >>> 8;
      if (size === 4) {
        m[off + 2] = value >>> 16;
        m[off + 3] = value >>> 24;
      }
      if (this.codePages[off >>> 12] !== 0) this.codeWritten(off >>> 12);
      return true;
    }
    const r = this.findDevice(addr, size);
    if (r === undefined) return false;
    r.dev.write(addr - r.base, size, value);
    return true;
  }

  /** Registers a hart so that its decoded-code cache stays coherent with stores from anyone. */
  attach(client: CodeCacheClient): void {
    this.clients.push(client);
  }

  /** A hart decoded instructions from this RAM page: from now on every store to it takes a slow path. */
  markCode(ramPage: number): void {
    if (this.codePages[ramPage] !== 0) return;
    this.codePages[ramPage] = 1;
    for (const c of this.clients) c.dropWriteTranslations(ramPage);
  }

  /** A store hit a code page: every hart forgets its decodings of it. */
  codeWritten(ramPage: number): void {
    this.codePages[ramPage] = 0;
    for (const c of this.clients) c.dropDecodedPage(ramPage);
  }

  /**
   * For device models and loaders that write RAM directly (DMA, image loading): keeps pre-decoded
   * instructions coherent with the new bytes. Cheap when the range holds no code.
   */
  notifyWrite(addr: number, len: number): void {
    const start = Math.max(addr - this.ramBase, 0);
    const end = Math.min(addr - this.ramBase + len, this.ramSize);
    for (let p = start >>> 12; p < end / 4096; p++) {
      if (this.codePages[p] !== 0) this.codeWritten(p);
    }
  }
}
