import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ElfError, loadElf, parseElf } from './elf.ts';

interface SegSpec {
  paddr: number;
  vaddr?: number;
  data: number[];
  memsz: number;
}

/**
 * Builds a small ELF64 RISC-V executable by hand: header, program headers, segment contents,
 * then a symbol table + string table + section headers (null, .symtab, .strtab).
 */
function buildElf(entry: number, segs: SegSpec[], syms: Record<string, number> = {}): Uint8Array {
  const phoff = 64;
  let dataOff = phoff + 56 * segs.length;
  const segOffsets = segs.map((s) => {
    const o = dataOff;
    dataOff += s.data.length;
    return o;
  });
  // String table and symbols.
  const names = Object.keys(syms);
  const strBytes: number[] = [0];
  const nameOffs = names.map((n) => {
    const o = strBytes.length;
    for (const c of n) strBytes.push(c.charCodeAt(0));
    strBytes.push(0);
    return o;
  });
  const symOff = (dataOff + 7) & ~7;
  const symSize = 24 * (names.length + 1);
  const strOff = symOff + symSize;
  const shoff = (strOff + strBytes.length + 7) & ~7;
  const total = shoff + 64 * 3;
  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 243, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(24, BigInt(entry), true);
  v.setBigUint64(32, BigInt(phoff), true);
  v.setBigUint64(40, BigInt(shoff), true);
  v.setUint16(52, 64, true);
  v.setUint16(54, 56, true);
  v.setUint16(56, segs.length, true);
  v.setUint16(58, 64, true);
  v.setUint16(60, 3, true);
  segs.forEach((s, i) => {
    const at = phoff + 56 * i;
    v.setUint32(at, 1, true);
    v.setUint32(at + 4, 7, true);
    v.setBigUint64(at + 8, BigInt(segOffsets[i]!), true);
    v.setBigUint64(at + 16, BigInt(s.vaddr ?? s.paddr), true);
    v.setBigUint64(at + 24, BigInt(s.paddr), true);
    v.setBigUint64(at + 32, BigInt(s.data.length), true);
    v.setBigUint64(at + 40, BigInt(s.memsz), true);
    b.set(s.data, segOffsets[i]!);
  });
  names.forEach((n, i) => {
    const at = symOff + 24 * (i + 1);
    v.setUint32(at, nameOffs[i]!, true);
    b[at + 4] = 0x10; // STB_GLOBAL
    v.setBigUint64(at + 8, BigInt(syms[n]!), true);
  });
  b.set(strBytes, strOff);
  // Section 1: .symtab (link 2); section 2: .strtab.
  let at = shoff + 64;
  v.setUint32(at + 4, 2, true);
  v.setBigUint64(at + 24, BigInt(symOff), true);
  v.setBigUint64(at + 32, BigInt(symSize), true);
  v.setUint32(at + 40, 2, true);
  v.setBigUint64(at + 56, 24n, true);
  at = shoff + 128;
  v.setUint32(at + 4, 3, true);
  v.setBigUint64(at + 24, BigInt(strOff), true);
  v.setBigUint64(at + 32, BigInt(strBytes.length), true);
  return b;
}

const RAM_BASE = 0x8000_0000;
const good = () =>
  buildElf(
    0x8000_0000,
    [
      { paddr: 0x8000_0000, data: [0x13, 0, 0, 0, 0x6f, 0, 0, 0], memsz: 8 },
      { paddr: 0x8000_1000, data: [1, 2, 3], memsz: 16 },
    ],
    { tohost: 0x8000_1000, fromhost: 0x8000_1008, _start: 0x8000_0000 },
  );

function expectKind(bytes: Uint8Array, kind: string, ramSize = 0x10000) {
  assert.throws(
    () => loadElf(parseElf(bytes), bytes, new Uint8Array(ramSize), RAM_BASE),
    (e: unknown) => e instanceof ElfError && e.kind === kind,
    `expected ElfError ${kind}`,
  );
}

test('parses and loads a well-formed executable: filesz copied, memsz zero-filled, symbols found', () => {
  const bytes = good();
  const img = parseElf(bytes);
  assert.equal(img.entry, 0x8000_0000);
  assert.equal(img.segments.length, 2);
  assert.equal(img.symbols.get('tohost'), 0x8000_1000);
  assert.equal(img.symbols.get('fromhost'), 0x8000_1008);
  const ram = new Uint8Array(0x10000).fill(0xaa);
  loadElf(img, bytes, ram, RAM_BASE);
  assert.deepEqual([...ram.subarray(0, 8)], [0x13, 0, 0, 0, 0x6f, 0, 0, 0]);
  assert.deepEqual([...ram.subarray(0x1000, 0x1010)], [1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(ram[0x1010], 0xaa, 'bytes past memsz are untouched');
});

test('loads by physical address and translates symbols from virtual addresses', () => {
  const bytes = buildElf(0xffff_0000, [{ paddr: 0x8000_2000, vaddr: 0xffff_0000, data: [9, 9], memsz: 4 }], {
    tohost: 0xffff_0002,
  });
  const img = parseElf(bytes);
  const ram = new Uint8Array(0x4000);
  loadElf(img, bytes, ram, RAM_BASE);
  assert.equal(ram[0x2000], 9);
  assert.equal(img.toPhysical(img.symbols.get('tohost')!), 0x8000_2002);
});

test('refuses each kind of malformed header with a typed error', () => {
  const mutate = (f: (b: Uint8Array, v: DataView) => void) => {
    const b = good();
    f(b, new DataView(b.buffer));
    return b;
  };
  expectKind(new Uint8Array(0), 'truncated');
  expectKind(good().subarray(0, 40), 'truncated');
  expectKind(
    mutate((b) => (b[1] = 0x46)),
    'bad-magic',
  );
  expectKind(
    mutate((b) => (b[4] = 1)),
    'elf32',
  );
  expectKind(
    mutate((b) => (b[5] = 2)),
    'big-endian',
  );
  expectKind(
    mutate((_b, v) => v.setUint16(18, 62, true)),
    'not-riscv',
  );
  expectKind(
    mutate((_b, v) => v.setUint16(16, 1, true)),
    'not-executable',
  );
  expectKind(
    mutate((_b, v) => v.setUint16(56, 0, true)),
    'bad-header',
  );
  expectKind(
    mutate((_b, v) => v.setBigUint64(32, 0xffff_ffffn, true)),
    'truncated',
  );
  expectKind(
    mutate((_b, v) => v.setBigUint64(24, 0x9000_0000n, true)),
    'bad-entry',
  );
});

test('refuses bad segments: outside RAM, filesz > memsz, past EOF, overlapping, overflowing', () => {
  expectKind(good(), 'segment-outside-ram', 0x1000);
  const seg = (f: (v: DataView) => void) => {
    const b = good();
    f(new DataView(b.buffer));
    return b;
  };
  const ph1 = 64 + 56; // second program header
  expectKind(
    seg((v) => v.setBigUint64(ph1 + 32, 100n, true)),
    'bad-segment',
  );
  expectKind(
    seg((v) => {
      v.setBigUint64(ph1 + 32, 0x100000n, true);
      v.setBigUint64(ph1 + 40, 0x100000n, true);
    }),
    'truncated',
  );
  expectKind(
    seg((v) => v.setBigUint64(ph1 + 24, 0x8000_0004n, true)),
    'overlap',
  );
  expectKind(
    seg((v) => v.setBigUint64(ph1 + 40, 0xffff_ffff_ffff_fff0n, true)),
    'bad-header',
  );
  expectKind(
    seg((v) => v.setBigUint64(ph1 + 24, 0x7fff_ffff_ffff_fff0n, true)),
    'bad-header',
  );
  expectKind(
    seg((v) => v.setBigUint64(ph1 + 24, 0x7fff_0000n, true)),
    'segment-outside-ram',
  );
});

test('fuzz: random byte mutations give an ElfError or a clean load, never another exception', () => {
  let seed = 12345;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  const base = good();
  let errors = 0;
  for (let iter = 0; iter < 3000; iter++) {
    const b = base.slice();
    const n = 1 + (rand() % 4);
    for (let k = 0; k < n; k++) b[rand() % b.length] = rand() & 0xff;
    const cut = rand() % 8 === 0 ? b.subarray(0, rand() % b.length) : b;
    try {
      const img = parseElf(cut);
      loadElf(img, cut, new Uint8Array(0x10000), RAM_BASE);
    } catch (e) {
      if (!(e instanceof ElfError)) throw e;
      errors++;
    }
  }
  assert.ok(errors > 0, 'mutations produced errors');
});
