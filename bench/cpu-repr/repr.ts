/**
 * Microbenchmark behind the interpreter's representation choices (docs/cpu.md):
 *   A  raw fetch + decode on every instruction, pc a double, TLB looked up per instruction
 *      (a hand-written 4-case decoder: the cheapest possible decode)
 *   A2 like A but with the interpreter's real decoder (src/riscv/decode.ts) on every instruction
 *   B  pre-decoded slots, pc a double, TLB looked up per instruction
 *   C  pre-decoded slots, pc = page base + small-integer offset, TLB looked up per block (chosen)
 *   D  like C but registers as Float64Array doubles instead of lo/hi int32 pairs (64-bit adds
 *      need exact 64-bit wrap-around, so D only shows what the pair representation costs)
 * Each variant runs the same 4-instruction loop (addi, xor, add, bne) of RV64 code.
 * Usage: node --import tsx bench/cpu-repr/repr.ts [iterations]
 */
import { decode32 } from '../../src/riscv/decode.ts';
import { Op } from '../../src/riscv/exec.ts';

const N = Number(process.argv[2] ?? 20_000_000);

// The program: x1 += 1; x3 = x1 ^ x2; x4 = x3 + x1; bne x1, x2, -12
const PROG = [0x00108093, 0x0020c1b3, 0x00118233, 0xfe209ae3];
const RAM = new Int32Array(1024);
RAM.set(PROG);

function cpuMs(f: () => void): number {
  const c0 = process.cpuUsage();
  f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

// A: decode each time, pc double, per-instruction translation (a 1-entry TLB compare).
function runA(n: number): number {
  const x = new Int32Array(66);
  x[4] = n;
  let pc = 0x80000000;
  const tlbTag = 0x80000000;
  let count = 0;
  while (count < 4 * n) {
    if (Math.floor(pc / 4096) * 4096 !== tlbTag) throw new Error('tlb');
    const insn = RAM[(pc - tlbTag) >>> 2];
    const op = insn & 0x7f;
    const rd = ((insn >>> 7) & 31) << 1;
    const f3 = (insn >>> 12) & 7;
    const a = ((insn >>> 15) & 31) << 1;
    const b = ((insn >>> 20) & 31) << 1;
    count++;
    if (op === 0x13) {
      const imm = insn >> 20;
      const lo = (x[a] + imm) | 0;
      x[rd + 1] = (x[a + 1] + (imm >> 31) + (lo >>> 0 < x[a] >>> 0 ? 1 : 0)) | 0;
      x[rd] = lo;
    } else if (op === 0x33 && f3 === 4) {
      x[rd] = x[a] ^ x[b];
      x[rd + 1] = x[a + 1] ^ x[b + 1];
    } else if (op === 0x33) {
      const lo = (x[a] + x[b]) | 0;
      x[rd + 1] = (x[a + 1] + x[b + 1] + (lo >>> 0 < x[a] >>> 0 ? 1 : 0)) | 0;
      x[rd] = lo;
    } else if (op === 0x63) {
      if (x[a] !== x[b] || x[a + 1] !== x[b + 1]) {
        pc -= 12;
        continue;
      }
    }
    pc += 4;
  }
  return x[2];
}

// A2: the real decoder on every instruction, then the same dispatch as C.
function runA2(n: number): number {
  const x = new Int32Array(66);
  x[4] = n;
  const out = new Int32Array(2);
  let pc = 0x80000000;
  let count = 0;
  while (count < 4 * n) {
    decode32(RAM[(pc - 0x80000000) >>> 2], out);
    const w = out[0];
    const rd = (w >>> 8) & 127;
    const a = (w >>> 15) & 63;
    const b = (w >>> 21) & 63;
    count++;
    switch (w & 255) {
      case Op.ADDI: {
        const imm = out[1];
        const lo = (x[a] + imm) | 0;
        x[rd + 1] = (x[a + 1] + (imm >> 31) + (lo >>> 0 < x[a] >>> 0 ? 1 : 0)) | 0;
        x[rd] = lo;
        break;
      }
      case Op.XOR:
        x[rd] = x[a] ^ x[b];
        x[rd + 1] = x[a + 1] ^ x[b + 1];
        break;
      case Op.ADD: {
        const lo = (x[a] + x[b]) | 0;
        x[rd + 1] = (x[a + 1] + x[b + 1] + (lo >>> 0 < x[a] >>> 0 ? 1 : 0)) | 0;
        x[rd] = lo;
        break;
      }
      case Op.BNE:
        if (x[a] !== x[b] || x[a + 1] !== x[b + 1]) {
          pc += out[1];
          continue;
        }
        break;
    }
    pc += 4;
  }
  return x[2];
}

// Pre-decoded form: [op, rd2, rs1x2, rs2x2, imm] packed as in src/riscv/decode.ts.
function predecode(): Int32Array {
  const code = new Int32Array(2 * 2048 + 2);
  const ops = [1, 2, 3, 4];
  for (let i = 0; i < 4; i++) {
    const insn = PROG[i];
    const rd = (insn >>> 7) & 31;
    const a = (insn >>> 15) & 31;
    const b = (insn >>> 20) & 31;
    const imm = i === 0 ? insn >> 20 : i === 3 ? -12 : 0;
    code[i * 4] = ops[i] | (rd << 9) | (a << 16) | (b << 22);
    code[i * 4 + 1] = imm;
  }
  return code;
}

// B: pre-decoded, pc double, per-instruction translation.
function runB(n: number): number {
  const x = new Int32Array(66);
  x[4] = n;
  const code = predecode();
  let pc = 0x80000000;
  const tlbTag = 0x80000000;
  let count = 0;
  while (count < 4 * n) {
    if (Math.floor(pc / 4096) * 4096 !== tlbTag) throw new Error('tlb');
    const p = pc - tlbTag;
    const w = code[p];
    const rd = (w >>> 8) & 127;
    const a = (w >>> 15) & 63;
    const b = (w >>> 21) & 63;
    count++;
    switch (w & 255) {
      case 1: {
        const imm = code[p + 1];
        const lo = (x[a] + imm) | 0;
        x[rd + 1] = (x[a + 1] + (imm >> 31) + (lo >>> 0 < x[a] >>> 0 ? 1 : 0)) | 0;
        x[rd] = lo;
        break;
      }
      case 2:
        x[rd] = x[a] ^ x[b];
        x[rd + 1] = x[a + 1] ^ x[b + 1];
        break;
      case 3: {
        const lo = (x[a] + x[b]) | 0;
        x[rd + 1] = (x[a + 1] + x[b + 1] + (lo >>> 0 < x[a] >>> 0 ? 1 : 0)) | 0;
        x[rd] = lo;
        break;
      }
      case 4:
        if (x[a] !== x[b] || x[a + 1] !== x[b + 1]) {
          pc += code[p + 1];
          continue;
        }
        break;
    }
    pc += 4;
  }
  return x[2];
}

// C: pre-decoded, page-relative offset in a local; translation once per block.
function runC(n: number): number {
  const x = new Int32Array(66);
  x[4] = n;
  const code = predecode();
  let left = 4 * n;
  let p = 0;
  for (;;) {
    const w = code[p];
    const rd = (w >>> 8) & 127;
    const a = (w >>> 15) & 63;
    const b = (w >>> 21) & 63;
    switch (w & 255) {
      case 1: {
        const imm = code[p + 1];
        const lo = (x[a] + imm) | 0;
        x[rd + 1] = (x[a + 1] + (imm >> 31) + (lo >>> 0 < x[a] >>> 0 ? 1 : 0)) | 0;
        x[rd] = lo;
        break;
      }
      case 2:
        x[rd] = x[a] ^ x[b];
        x[rd + 1] = x[a + 1] ^ x[b + 1];
        break;
      case 3: {
        const lo = (x[a] + x[b]) | 0;
        x[rd + 1] = (x[a + 1] + x[b + 1] + (lo >>> 0 < x[a] >>> 0 ? 1 : 0)) | 0;
        x[rd] = lo;
        break;
      }
      case 4:
        if (x[a] !== x[b] || x[a + 1] !== x[b + 1]) {
          const t = p + code[p + 1];
          if (t >>> 0 < 4096) {
            p = t;
            if (--left > 0) continue;
            return x[2];
          }
        }
        break;
    }
    p += 4;
    if (--left <= 0) return x[2];
  }
}

// D: like C with registers as doubles (no exact 64-bit wrap: shows the cost of int32 pairs).
function runD(n: number): number {
  const x = new Float64Array(33);
  x[2] = n;
  const code = predecode();
  let left = 4 * n;
  let p = 0;
  for (;;) {
    const w = code[p];
    const rd = (w >>> 9) & 63;
    const a = (w >>> 16) & 31;
    const b = (w >>> 22) & 31;
    switch (w & 255) {
      case 1:
        x[rd] = x[a] + code[p + 1];
        break;
      case 2:
        x[rd] = x[a] - x[b];
        break;
      case 3:
        x[rd] = x[a] + x[b];
        break;
      case 4:
        if (x[a] !== x[b]) {
          const t = p + code[p + 1];
          if (t >>> 0 < 4096) {
            p = t;
            if (--left > 0) continue;
            return x[1];
          }
        }
        break;
    }
    p += 4;
    if (--left <= 0) return x[1];
  }
}

const variants: [string, (n: number) => number][] = [
  ['A decode each time, pc double, per-insn TLB', runA],
  ['A2 real decoder every time, pc double', runA2],
  ['B pre-decoded, pc double, per-insn TLB', runB],
  ['C pre-decoded, page offset, per-block TLB', runC],
  ['D as C, registers as float64', runD],
];
for (const [, f] of variants) f(100_000); // warm up
for (const [name, f] of variants) {
  let best = Infinity;
  for (let r = 0; r < 3; r++)
    best = Math.min(
      best,
      cpuMs(() => f(N)),
    );
  console.log(`${name.padEnd(48)} ${((4 * N) / (best * 1000)).toFixed(0).padStart(6)} MIPS (CPU time)`);
}
