/**
 * ELF64 loader for RISC-V executables (bare-metal test programs, firmware, vmlinux).
 *
 *   const image = parseElf(bytes);              // validates headers, segments, symbol table
 *   loadElf(image, bytes, ram, ramBase);         // copies PT_LOAD segments into guest RAM by p_paddr
 *   image.entry; image.symbols.get('tohost');    // entry point and symbol lookup (by virtual address)
 *   image.toPhysical(image.symbols.get('tohost')!) // where that symbol lives in guest RAM
 *
 * Everything a malformed file could get wrong is an ElfError naming the problem (never a
 * RangeError from a DataView, never an allocation sized by the file). Addresses are JavaScript
 * numbers: an executable whose entry or segments lie above 2^53 is refused (no RISC-V board we
 * model has memory there).
 */

export type ElfErrorKind =
  | 'truncated'
  | 'bad-magic'
  | 'elf32'
  | 'big-endian'
  | 'bad-version'
  | 'not-riscv'
  | 'not-executable'
  | 'bad-header'
  | 'bad-segment'
  | 'segment-outside-ram'
  | 'overlap'
  | 'bad-section'
  | 'bad-entry';

export class ElfError extends Error {
  constructor(
    readonly kind: ElfErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ElfError';
  }
}

export const EM_RISCV = 243;
const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const ET_EXEC = 2;
const ET_DYN = 3;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;

export interface ElfSegment {
  /** Byte offset of the segment's contents in the file. */
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  /** p_flags: 1 = X, 2 = W, 4 = R. */
  flags: number;
}

export interface ElfImage {
  entry: number;
  /** PT_LOAD segments with a non-zero memory size, in file order. */
  segments: ElfSegment[];
  /** Symbol name -> st_value (a virtual address for code and data symbols). */
  symbols: Map<string, number>;
  /** e_flags (RVC, float ABI, ...). */
  flags: number;
  /** Maps a virtual address inside a loaded segment to its physical address (identity otherwise). */
  toPhysical(vaddr: number): number;
}

/** 2^53: addresses at or above this cannot be held exactly in a number. */
const ADDR_LIMIT = 2 ** 53;

function u64(view: DataView, at: number, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v >= BigInt(ADDR_LIMIT)) throw new ElfError('bad-header', `${what} 0x${v.toString(16)} is out of range`);
  return Number(v);
}

/** Reads a NUL-terminated string from a string table; bounded by the table's end. */
function cstring(bytes: Uint8Array, start: number, end: number): string {
  let i = start;
  while (i < end && bytes[i] !== 0) i++;
  if (i >= end) throw new ElfError('bad-section', 'symbol name runs past the end of its string table');
  let s = '';
  for (let j = start; j < i; j++) s += String.fromCharCode(bytes[j]!);
  return s;
}

export function parseElf(bytes: Uint8Array): ElfImage {
  if (bytes.length < 16) throw new ElfError('truncated', `file is too short for an ELF header (${bytes.length} bytes)`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfError('bad-magic', 'not an ELF file (bad magic number)');
  }
  if (bytes[4] === 1) throw new ElfError('elf32', 'ELFCLASS32 (32-bit) executables are not supported; need ELF64');
  if (bytes[4] !== 2) throw new ElfError('bad-header', `unknown ELF class ${bytes[4]}`);
  if (bytes[5] === 2)
    throw new ElfError('big-endian', 'big-endian ELF files are not supported; RISC-V is little-endian');
  if (bytes[5] !== 1) throw new ElfError('bad-header', `unknown ELF data encoding ${bytes[5]}`);
  if (bytes[6] !== 1) throw new ElfError('bad-version', `unknown ELF identification version ${bytes[6]}`);
  if (bytes.length < EHDR_SIZE) throw new ElfError('truncated', `file is too short for an ELF64 header`);

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(16, true);
  const machine = view.getUint16(18, true);
  if (machine !== EM_RISCV) throw new ElfError('not-riscv', `not a RISC-V executable (e_machine ${machine})`);
  if (type !== ET_EXEC && type !== ET_DYN) throw new ElfError('not-executable', `not an executable (e_type ${type})`);
  if (view.getUint32(20, true) !== 1) throw new ElfError('bad-version', 'unknown ELF version');
  const entry = u64(view, 24, 'entry point');
  const phoff = u64(view, 32, 'program header offset');
  const shoff = u64(view, 40, 'section header offset');
  const flags = view.getUint32(48, true);
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  const shentsize = view.getUint16(58, true);
  const shnum = view.getUint16(60, true);

  if (phnum === 0) throw new ElfError('bad-header', 'no program headers (nothing to load)');
  if (phnum === 0xffff) throw new ElfError('bad-header', 'extended program header count is not supported');
  if (phentsize < PHDR_SIZE) throw new ElfError('bad-header', `program header entry size ${phentsize} is too small`);
  if (phoff + phnum * phentsize > bytes.length) throw new ElfError('truncated', 'program headers run past the end');

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (view.getUint32(at, true) !== PT_LOAD) continue;
    const seg: ElfSegment = {
      flags: view.getUint32(at + 4, true),
      offset: u64(view, at + 8, `segment ${i} offset`),
      vaddr: u64(view, at + 16, `segment ${i} virtual address`),
      paddr: u64(view, at + 24, `segment ${i} physical address`),
      filesz: u64(view, at + 32, `segment ${i} file size`),
      memsz: u64(view, at + 40, `segment ${i} memory size`),
    };
    if (seg.filesz > seg.memsz) {
      throw new ElfError('bad-segment', `segment ${i}: file size ${seg.filesz} exceeds memory size ${seg.memsz}`);
    }
    if (seg.offset + seg.filesz > bytes.length) {
      throw new ElfError('truncated', `segment ${i}: contents run past the end of the file`);
    }
    if (seg.paddr + seg.memsz >= ADDR_LIMIT || seg.vaddr + seg.memsz >= ADDR_LIMIT) {
      throw new ElfError('bad-segment', `segment ${i}: address + size overflows`);
    }
    if (seg.memsz === 0) continue;
    for (const other of segments) {
      if (seg.paddr < other.paddr + other.memsz && other.paddr < seg.paddr + seg.memsz) {
        throw new ElfError('overlap', `segment ${i} overlaps an earlier segment at 0x${other.paddr.toString(16)}`);
      }
    }
    segments.push(seg);
  }
  if (segments.length === 0) throw new ElfError('bad-header', 'no loadable segments');

  const symbols = new Map<string, number>();
  if (shoff !== 0 && shnum !== 0) readSymbols(bytes, view, shoff, shnum, shentsize, symbols);

  const toPhysical = (vaddr: number): number => {
    for (const s of segments) {
      if (vaddr >= s.vaddr && vaddr < s.vaddr + s.memsz) return s.paddr + (vaddr - s.vaddr);
    }
    return vaddr;
  };
  return { entry, segments, symbols, flags, toPhysical };
}

function readSymbols(
  bytes: Uint8Array,
  view: DataView,
  shoff: number,
  shnum: number,
  shentsize: number,
  out: Map<string, number>,
): void {
  if (shentsize < SHDR_SIZE) throw new ElfError('bad-section', `section header entry size ${shentsize} is too small`);
  if (shoff + shnum * shentsize > bytes.length) throw new ElfError('truncated', 'section headers run past the end');
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return {
      type: view.getUint32(at + 4, true),
      offset: u64(view, at + 24, `section ${i} offset`),
      size: u64(view, at + 32, `section ${i} size`),
      link: view.getUint32(at + 40, true),
      entsize: u64(view, at + 56, `section ${i} entry size`),
    };
  };
  for (let i = 0; i < shnum; i++) {
    const sym = section(i);
    if (sym.type !== SHT_SYMTAB) continue;
    if (sym.offset + sym.size > bytes.length) throw new ElfError('truncated', 'symbol table runs past the end');
    if (sym.entsize < SYM_SIZE) throw new ElfError('bad-section', `symbol entry size ${sym.entsize} is too small`);
    if (sym.link >= shnum) throw new ElfError('bad-section', `symbol table links to missing section ${sym.link}`);
    const str = section(sym.link);
    if (str.offset + str.size > bytes.length) throw new ElfError('truncated', 'string table runs past the end');
    const count = Math.floor(sym.size / sym.entsize);
    for (let k = 1; k < count; k++) {
      const at = sym.offset + k * sym.entsize;
      const nameOff = view.getUint32(at, true);
      if (nameOff === 0) continue;
      if (nameOff >= str.size) throw new ElfError('bad-section', `symbol ${k} name offset is outside the string table`);
      const value = view.getBigUint64(at + 8, true);
      if (value >= BigInt(ADDR_LIMIT)) continue; // not an address we could use
      const name = cstring(bytes, str.offset + nameOff, str.offset + str.size);
      // Global symbols win over local ones of the same name (st_info binding in the high nibble).
      const global = bytes[at + 4]! >> 4 !== 0;
      if (global || !out.has(name)) out.set(name, Number(value));
    }
    return; // an executable has at most one SHT_SYMTAB
  }
}

/**
 * Copies the image's PT_LOAD segments into `ram` (guest physical memory starting at ramBase),
 * zero-filling each segment's memsz beyond its filesz. Refuses a segment that does not fit in RAM
 * and an entry point that is not inside a loaded segment, before writing anything.
 */
export function loadElf(image: ElfImage, bytes: Uint8Array, ram: Uint8Array, ramBase: number): void {
  const ramEnd = ramBase + ram.length;
  for (const s of image.segments) {
    if (s.paddr < ramBase || s.paddr + s.memsz > ramEnd) {
      throw new ElfError(
        'segment-outside-ram',
        `segment at 0x${s.paddr.toString(16)} (+0x${s.memsz.toString(16)}) lies outside RAM ` +
          `0x${ramBase.toString(16)}-0x${ramEnd.toString(16)}`,
      );
    }
  }
  const entryPhys = image.toPhysical(image.entry);
  if (!image.segments.some((s) => entryPhys >= s.paddr && entryPhys < s.paddr + s.memsz)) {
    throw new ElfError('bad-entry', `entry point 0x${image.entry.toString(16)} is not inside a loaded segment`);
  }
  for (const s of image.segments) {
    const at = s.paddr - ramBase;
    ram.set(bytes.subarray(s.offset, s.offset + s.filesz), at);
    ram.fill(0, at + s.filesz, at + s.memsz);
  }
}
