/**
 * CPU models (`virtkit run --cpu`, like QEMU's -cpu): which optional extensions a hart implements.
 *
 * - `rv64gc`: the hart as it was before RVA22 support: RV64GC + Zicntr, Zba/Zbb/Zbs, Sstc,
 *   Sv39/Sv48. Snapshots made before the CPU model was recorded restore as this model.
 * - `rva22`: the RVA22U64/RVA22S64 profile's mandatory set (plus Zbb/Zba/Zbs, Sstc, which it
 *   lists too): Zicbom/Zicboz/Zicbop, Zfhmin, Zihintpause, Zkt, Svpbmt, Svinval and the
 *   Sstvecd/Sstvala/Sscounterenw properties.
 * - `max` (the default): everything implemented: RVA22 plus Zfh, Zicond, Zbc, Zbkb, Zbkc, Zbkx,
 *   Svnapot and Sv57.
 *
 * A feature that is off is absent as the specification describes an absent extension: its
 * instructions are illegal, its PTE bits reserved (page fault), its satp mode ignored. The
 * decoder decodes every extension; the instructions check the hart's flags when they execute
 * (none of them is on the integer hot path).
 */
export type CpuModel = 'rv64gc' | 'rva22' | 'max';

export const CPU_MODELS: readonly CpuModel[] = ['rv64gc', 'rva22', 'max'];
export const DEFAULT_CPU_MODEL: CpuModel = 'max';
/** The model of snapshots that did not record one (they were made by the rv64gc hart). */
export const LEGACY_CPU_MODEL: CpuModel = 'rv64gc';

/** Feature bits (CpuConfig.ext). */
export const X_ZICBOM = 1 << 0;
export const X_ZICBOZ = 1 << 1;
export const X_ZFHMIN = 1 << 2;
export const X_ZFH = 1 << 3;
export const X_ZICOND = 1 << 4;
export const X_ZBC = 1 << 5;
export const X_ZBKB = 1 << 6;
export const X_ZBKC = 1 << 7;
export const X_ZBKX = 1 << 8;
export const X_SVPBMT = 1 << 9;
export const X_SVNAPOT = 1 << 10;
export const X_SVINVAL = 1 << 11;
export const X_SV57 = 1 << 12;

export interface CpuConfig {
  model: CpuModel;
  /** X_* bits. */
  ext: number;
  /** The ISA string for the device tree (`riscv,isa`; split into isa-base/isa-extensions). */
  isa: string;
  mmuType: 'riscv,sv48' | 'riscv,sv57';
}

const BASE = 'rv64imafdc_zicsr_zifencei_zicntr';
const RVA22_EXT = X_ZICBOM | X_ZICBOZ | X_ZFHMIN | X_SVPBMT | X_SVINVAL;
const MAX_EXT = RVA22_EXT | X_ZFH | X_ZICOND | X_ZBC | X_ZBKB | X_ZBKC | X_ZBKX | X_SVNAPOT | X_SV57;

/**
 * Extension names in the order the ISA naming rules want them (Z* by category letter, then S*),
 * each with the features it needs; Zicbop, Zihintpause and Zkt need nothing (hints, timing).
 */
const NAMES: ReadonlyArray<readonly [string, number, 'rva22' | 'max']> = [
  ['zicbom', X_ZICBOM, 'rva22'],
  ['zicbop', 0, 'rva22'],
  ['zicboz', X_ZICBOZ, 'rva22'],
  ['zicond', X_ZICOND, 'max'],
  ['zihintpause', 0, 'rva22'],
  ['zfh', X_ZFH, 'max'],
  ['zfhmin', X_ZFHMIN, 'rva22'],
  ['zba', 0, 'rva22'],
  ['zbb', 0, 'rva22'],
  ['zbc', X_ZBC, 'max'],
  ['zbkb', X_ZBKB, 'max'],
  ['zbkc', X_ZBKC, 'max'],
  ['zbkx', X_ZBKX, 'max'],
  ['zbs', 0, 'rva22'],
  ['zkt', 0, 'rva22'],
  ['sstc', 0, 'rva22'],
  ['svinval', X_SVINVAL, 'rva22'],
  ['svnapot', X_SVNAPOT, 'max'],
  ['svpbmt', X_SVPBMT, 'rva22'],
];

export function cpuConfig(model: CpuModel): CpuConfig {
  if (model === 'rv64gc') {
    return { model, ext: 0, isa: `${BASE}_zba_zbb_zbs_sstc`, mmuType: 'riscv,sv48' };
  }
  const ext = model === 'max' ? MAX_EXT : RVA22_EXT;
  const names = NAMES.filter(([, , from]) => from === 'rva22' || model === 'max').map(([n]) => n);
  return { model, ext, isa: `${BASE}_${names.join('_')}`, mmuType: model === 'max' ? 'riscv,sv57' : 'riscv,sv48' };
}

/** Parses a --cpu value; throws a RangeError naming the accepted models. */
export function parseCpuModel(s: string): CpuModel {
  const m = s.toLowerCase();
  if ((CPU_MODELS as readonly string[]).includes(m)) return m as CpuModel;
  throw new RangeError(`unknown CPU model '${s}' (expected ${CPU_MODELS.join(', ')})`);
}
