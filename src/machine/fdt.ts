/**
 * Flattened device tree (devicetree specification v0.4, chapter 5): a blob writer, plus the
 * tree of the `virt` board as QEMU builds it, so Linux and OpenSBI find the same devices at the
 * same addresses. Layout: 40-byte header, memory reservation map (8-aligned), structure block
 * (4-aligned tokens), strings block (property names, deduplicated).
 */

const FDT_MAGIC = 0xd00dfeed;
const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_END = 9;
const HEADER_SIZE = 40;

/** A growable little byte buffer with big-endian writers (FDT is big-endian). */
class Bytes {
  buf = new Uint8Array(4096);
  len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u32(v: number): void {
    this.ensure(4);
    new DataView(this.buf.buffer).setUint32(this.len, v >>> 0);
    this.len += 4;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  align4(): void {
    while (this.len & 3) this.bytes(Uint8Array.of(0));
  }
}

function ascii(s: string, nul = true): Uint8Array {
  const out = new Uint8Array(s.length + (nul ? 1 : 0));
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7e) throw new RangeError(`FDT strings must be printable ASCII: ${JSON.stringify(s)}`);
    out[i] = c;
  }
  return out;
}

/** Big-endian cells of 64-bit values (exact below 2^53). */
function cells64(values: readonly number[]): number[] {
  const out: number[] = [];
  for (const v of values) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new RangeError(`FDT 64-bit value ${v} is not a non-negative safe integer`);
    out.push(Math.floor(v / 0x1_0000_0000), v % 0x1_0000_0000);
  }
  return out;
}

export class FdtWriter {
  private readonly struct = new Bytes();
  private readonly strings = new Bytes();
  private readonly stringOffsets = new Map<string, number>();
  private readonly reservations: Array<[number, number]> = [];
  private depth = 0;

  beginNode(name: string): this {
    this.struct.u32(FDT_BEGIN_NODE);
    this.struct.bytes(ascii(name));
    this.struct.align4();
    this.depth++;
    return this;
  }

  endNode(): this {
    if (this.depth === 0) throw new Error('FDT: endNode without beginNode');
    this.struct.u32(FDT_END_NODE);
    this.depth--;
    return this;
  }

  prop(name: string, value: Uint8Array): this {
    if (this.depth === 0) throw new Error(`FDT: property ${name} outside a node`);
    let off = this.stringOffsets.get(name);
    if (off === undefined) {
      off = this.strings.len;
      this.strings.bytes(ascii(name));
      this.stringOffsets.set(name, off);
    }
    this.struct.u32(FDT_PROP);
    this.struct.u32(value.length);
    this.struct.u32(off);
    this.struct.bytes(value);
    this.struct.align4();
    return this;
  }

  propEmpty(name: string): this {
    return this.prop(name, new Uint8Array(0));
  }

  propU32(name: string, ...cells: number[]): this {
    const b = new Uint8Array(4 * cells.length);
    const v = new DataView(b.buffer);
    cells.forEach((c, i) => v.setUint32(4 * i, c >>> 0));
    return this.prop(name, b);
  }

  /** Each value as two cells (high, low). */
  propU64(name: string, ...values: number[]): this {
    return this.propU32(name, ...cells64(values));
  }

  /** A string, or a string list (NUL-separated). */
  propString(name: string, ...strs: string[]): this {
    const parts = strs.map((s) => ascii(s));
    const b = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      b.set(p, at);
      at += p.length;
    }
    return this.prop(name, b);
  }

  /** An entry of the memory reservation map. */
  reserve(address: number, size: number): this {
    cells64([address, size]);
    this.reservations.push([address, size]);
    return this;
  }

  finish(bootCpuId = 0): Uint8Array {
    if (this.depth !== 0) throw new Error(`FDT: ${this.depth} node(s) not closed`);
    const rsvOff = HEADER_SIZE; // already 8-aligned
    const rsvSize = 16 * (this.reservations.length + 1);
    const structOff = rsvOff + rsvSize;
    const structSize = this.struct.len + 4; // + FDT_END
    const stringsOff = structOff + structSize;
    const total = stringsOff + this.strings.len;
    const out = new Uint8Array(total);
    const v = new DataView(out.buffer);
    const header = [FDT_MAGIC, total, structOff, stringsOff, rsvOff, 17, 16, bootCpuId, this.strings.len, structSize];
    header.forEach((x, i) => v.setUint32(4 * i, x >>> 0));
    this.reservations.forEach(([a, s], i) => {
      const c = cells64([a, s]);
      c.forEach((x, k) => v.setUint32(rsvOff + 16 * i + 4 * k, x));
    });
    out.set(this.struct.buf.subarray(0, this.struct.len), structOff);
    v.setUint32(structOff + this.struct.len, FDT_END);
    out.set(this.strings.buf.subarray(0, this.strings.len), stringsOff);
    return out;
  }
}

/** Splits an ISA string into riscv,isa-base and riscv,isa-extensions ("g" expands to imafd_zicsr_zifencei). */
export function parseIsa(isa: string): { base: string; extensions: string[] } {
  const m = /^(rv(?:32|64))([a-z]*)((?:_[a-z][a-z0-9]*)*)$/.exec(isa.toLowerCase());
  if (!m || !m[2]!.length || !/^[ige]/.test(m[2]!))
    throw new RangeError(`invalid RISC-V ISA string: ${JSON.stringify(isa)}`);
  const exts: string[] = [];
  const add = (e: string): void => {
    if (!exts.includes(e)) exts.push(e);
  };
  for (const ch of m[2]!) {
    if (ch === 'g') ['i', 'm', 'a', 'f', 'd', 'zicsr', 'zifencei'].forEach(add);
    else add(ch);
  }
  for (const e of m[3]!.split('_').filter(Boolean)) add(e);
  return { base: `${m[1]}${exts[0] === 'e' ? 'e' : 'i'}`, extensions: exts };
}

/** QEMU virt's memory map and interrupt numbers. */
export const VIRT = {
  test: { base: 0x100000, size: 0x1000 },
  rtc: { base: 0x101000, size: 0x1000, irq: 11 },
  clint: { base: 0x2000000, size: 0x10000 },
  plic: { base: 0xc000000, size: 0x600000 },
  uart: { base: 0x10000000, size: 0x100, irq: 10, clock: 3686400 },
  virtio: { base: 0x10001000, stride: 0x1000, size: 0x1000, irq: 1, count: 8 },
  /**
   * virtkit's own: a ninth virtio-mmio slot holding the power button (virtio-input), after
   * QEMU's eight at an address and IRQ QEMU's virt leaves unused, so the eight slots (disks and
   * NICs) and their numbering stay as they were.
   */
  powerButton: { base: 0x10009000, size: 0x1000, irq: 9 },
  dram: { base: 0x80000000 },
} as const;

export const DEFAULT_ISA = 'rv64imafdc_zicsr_zifencei_zicntr_zba_zbb_zbs';

export interface VirtFdtOptions {
  harts: number;
  memorySize: number;
  memoryBase?: number;
  isa?: string;
  mmuType?: 'riscv,sv39' | 'riscv,sv48' | 'riscv,sv57';
  /** Cache-block sizes of Zicbom/Zicboz/Zicbop (riscv,cbom-block-size...), when the CPU has them. */
  cbomBlockSize?: number;
  cbozBlockSize?: number;
  cbopBlockSize?: number;
  bootargs?: string;
  initrd?: { start: number; end: number };
  /** Entropy for /chosen/rng-seed (Linux seeds its RNG early with it). */
  rngSeed?: Uint8Array;
  /** Number of virtio-mmio slots (default 8, like QEMU). */
  virtioSlots?: number;
  /** List the power button's virtio-mmio slot (VIRT.powerButton; default true). */
  powerButton?: boolean;
  /** riscv,ndev of the PLIC (default 95). */
  plicNdev?: number;
  stdoutPath?: string;
  reservations?: Array<{ address: number; size: number }>;
}

/** Builds the `virt` board's device tree blob. */
export function buildVirtFdt(o: VirtFdtOptions): Uint8Array {
  if (!Number.isInteger(o.harts) || o.harts < 1 || o.harts > 512)
    throw new RangeError(`harts ${o.harts} not in [1, 512]`);
  const isa = o.isa ?? DEFAULT_ISA;
  const { base: isaBase, extensions } = parseIsa(isa);
  const memBase = o.memoryBase ?? VIRT.dram.base;
  const hex = (n: number): string => n.toString(16);
  const w = new FdtWriter();
  for (const r of o.reservations ?? []) w.reserve(r.address, r.size);
  let nextPhandle = 1;
  const cpuPhandles: number[] = [];
  const intcPhandles: number[] = [];
  for (let h = 0; h < o.harts; h++) {
    cpuPhandles.push(nextPhandle++);
    intcPhandles.push(nextPhandle++);
  }
  const plicPhandle = nextPhandle++;
  const testPhandle = nextPhandle++;

  w.beginNode('');
  w.propU32('#address-cells', 2).propU32('#size-cells', 2);
  w.propString('compatible', 'riscv-virtio').propString('model', 'riscv-virtio,qemu');

  w.beginNode('chosen');
  if (o.bootargs !== undefined) w.propString('bootargs', o.bootargs);
  w.propString('stdout-path', o.stdoutPath ?? `/soc/serial@${hex(VIRT.uart.base)}`);
  if (o.initrd) {
    w.propU64('linux,initrd-start', o.initrd.start);
    w.propU64('linux,initrd-end', o.initrd.end);
  }
  if (o.rngSeed) w.prop('rng-seed', o.rngSeed);
  w.endNode();

  for (const [name, value] of [
    ['poweroff', 0x5555],
    ['reboot', 0x7777],
  ] as const) {
    w.beginNode(name);
    w.propU32('value', value).propU32('offset', 0).propU32('regmap', testPhandle);
    w.propString('compatible', `syscon-${name}`);
    w.endNode();
  }

  w.beginNode(`memory@${hex(memBase)}`);
  w.propString('device_type', 'memory');
  w.propU64('reg', memBase, o.memorySize);
  w.endNode();

  w.beginNode('cpus');
  w.propU32('#address-cells', 1).propU32('#size-cells', 0);
  w.propU32('timebase-frequency', 10_000_000);
  for (let h = 0; h < o.harts; h++) {
    w.beginNode(`cpu@${hex(h)}`);
    w.propU32('phandle', cpuPhandles[h]!);
    w.propString('device_type', 'cpu');
    w.propU32('reg', h);
    w.propString('status', 'okay');
    w.propString('compatible', 'riscv');
    w.propString('riscv,isa', isa);
    w.propString('riscv,isa-base', isaBase);
    w.propString('riscv,isa-extensions', ...extensions);
    w.propString('mmu-type', o.mmuType ?? 'riscv,sv48');
    if (o.cbomBlockSize !== undefined) w.propU32('riscv,cbom-block-size', o.cbomBlockSize);
    if (o.cbozBlockSize !== undefined) w.propU32('riscv,cboz-block-size', o.cbozBlockSize);
    if (o.cbopBlockSize !== undefined) w.propU32('riscv,cbop-block-size', o.cbopBlockSize);
    w.beginNode('interrupt-controller');
    w.propU32('#interrupt-cells', 1);
    w.propEmpty('interrupt-controller');
    w.propString('compatible', 'riscv,cpu-intc');
    w.propU32('phandle', intcPhandles[h]!);
    w.endNode();
    w.endNode();
  }
  w.beginNode('cpu-map').beginNode('cluster0');
  for (let h = 0; h < o.harts; h++) w.beginNode(`core${h}`).propU32('cpu', cpuPhandles[h]!).endNode();
  w.endNode().endNode();
  w.endNode(); // cpus

  w.beginNode('soc');
  w.propU32('#address-cells', 2).propU32('#size-cells', 2);
  w.propString('compatible', 'simple-bus');
  w.propEmpty('ranges');

  const irqDevice = (name: string, base: number, size: number, irq: number, compatible: string[]): void => {
    w.beginNode(`${name}@${hex(base)}`);
    w.propU32('interrupts', irq);
    w.propU32('interrupt-parent', plicPhandle);
    if (name === 'serial') w.propU32('clock-frequency', VIRT.uart.clock);
    w.propU64('reg', base, size);
    w.propString('compatible', ...compatible);
    w.endNode();
  };
  irqDevice('rtc', VIRT.rtc.base, VIRT.rtc.size, VIRT.rtc.irq, ['google,goldfish-rtc']);
  irqDevice('serial', VIRT.uart.base, VIRT.uart.size, VIRT.uart.irq, ['ns16550a']);

  w.beginNode(`test@${hex(VIRT.test.base)}`);
  w.propU32('phandle', testPhandle);
  w.propU64('reg', VIRT.test.base, VIRT.test.size);
  w.propString('compatible', 'sifive,test1', 'sifive,test0', 'syscon');
  w.endNode();

  // QEMU lists the virtio slots from the last to the first; Linux probes them in this order.
  const slots = o.virtioSlots ?? VIRT.virtio.count;
  for (let i = slots - 1; i >= 0; i--) {
    irqDevice('virtio_mmio', VIRT.virtio.base + VIRT.virtio.stride * i, VIRT.virtio.size, VIRT.virtio.irq + i, [
      'virtio,mmio',
    ]);
  }
  // After QEMU's slots: Linux probes it last, so the other virtio devices keep their numbers.
  if (o.powerButton !== false) {
    const b = VIRT.powerButton;
    irqDevice('virtio_mmio', b.base, b.size, b.irq, ['virtio,mmio']);
  }

  const ext = (codes: number[]): number[] => intcPhandles.flatMap((p) => codes.flatMap((c) => [p, c]));
  w.beginNode(`plic@${hex(VIRT.plic.base)}`);
  w.propU32('phandle', plicPhandle);
  w.propU32('riscv,ndev', o.plicNdev ?? 95);
  w.propU64('reg', VIRT.plic.base, VIRT.plic.size);
  w.propU32('interrupts-extended', ...ext([11, 9]));
  w.propEmpty('interrupt-controller');
  w.propString('compatible', 'sifive,plic-1.0.0', 'riscv,plic0');
  w.propU32('#address-cells', 0);
  w.propU32('#interrupt-cells', 1);
  w.endNode();

  w.beginNode(`clint@${hex(VIRT.clint.base)}`);
  w.propU32('interrupts-extended', ...ext([3, 7]));
  w.propU64('reg', VIRT.clint.base, VIRT.clint.size);
  w.propString('compatible', 'sifive,clint0', 'riscv,clint0');
  w.endNode();

  w.endNode(); // soc
  w.endNode(); // root
  return w.finish(0);
}
