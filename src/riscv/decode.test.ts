import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode16, decode32 } from './decode.ts';
import { Op } from './exec.ts';

// Pairs of (RVC halfword, its 32-bit expansion) produced by the GNU assembler (rv64gc, and the
// same source with .option norvc).
const PAIRS: [number, number][] = [
  [0x0808, 0x01010513],
  [0x2588, 0x0085b507],
  [0x42d0, 0x0046a603],
  [0x6b98, 0x0107b703],
  [0xac0c, 0x00b43c27],
  [0xdd44, 0x02952e23],
  [0xfe6c, 0x0eb63c23],
  [0x156d, 0xffb50513],
  [0x259d, 0x0075859b],
  [0x5601, 0xfe000613],
  [0x7139, 0xfc010113],
  [0x66fd, 0x0001f6b7],
  [0x9005, 0x02145413],
  [0x848d, 0x4034d493],
  [0x997d, 0xfff57513],
  [0x8d0d, 0x40b50533],
  [0x8e35, 0x00d64633],
  [0x8f5d, 0x00f76733],
  [0x8c65, 0x00947433],
  [0x9d0d, 0x40b5053b],
  [0x9e35, 0x00d6063b],
  [0xc911, 0x00050a63],
  [0xf8e5, 0xfe0498e3],
  [0x157e, 0x03f51513],
  [0x2442, 0x01013407],
  [0x40b2, 0x00c12083],
  [0x747e, 0x1f813403],
  [0x8082, 0x00008067],
  [0x852e, 0x00058513],
  [0x9002, 0x00100073],
  [0x9782, 0x000780e7],
  [0x952e, 0x00b50533],
  [0xa426, 0x00913427],
  [0xdf86, 0x0e112e23],
  [0xe826, 0x00913823],
  [0xaffd, 0x7fe0006f],
];

test('every RVC encoding decodes like its 32-bit expansion (except the length bit)', () => {
  const a = new Int32Array(2);
  const b = new Int32Array(2);
  for (const [c, n] of PAIRS) {
    decode16(c, a);
    decode32(n | 0, b);
    assert.equal(a[0] & 255, b[0] & 255, `op of 0x${c.toString(16)}`);
    assert.notEqual(a[0] & 255, Op.ILLEGAL, `0x${c.toString(16)} decoded as illegal`);
    assert.equal((a[0] >>> 27) & 1, 1);
    assert.equal((b[0] >>> 27) & 1, 0);
    assert.equal(a[0] & ~(1 << 27), b[0], `fields of 0x${c.toString(16)} vs 0x${n.toString(16)}`);
    assert.equal(a[1], b[1], `immediate of 0x${c.toString(16)}`);
  }
});

test('reserved RVC encodings are illegal and keep their bits for mtval', () => {
  const out = new Int32Array(2);
  // all-zero, c.addi4spn with zero immediate, c.lui with zero imm, c.addi16sp 0, c.jr x0,
  // c.lwsp/c.ldsp rd=0, c.addiw rd=0, q0 funct3=4 reserved, c.subw-space reserved
  for (const h of [0x0000, 0x0004, 0x6681, 0x6101, 0x8002, 0x4002, 0x6002, 0x2001, 0x8000, 0x9c41]) {
    decode16(h, out);
    assert.equal(out[0] & 255, Op.ILLEGAL, `0x${h.toString(16)}`);
    assert.equal(out[1], h);
  }
});

test('x0 destinations are redirected to the sink register; FP destinations are not', () => {
  const out = new Int32Array(2);
  decode32(0x00500013, out); // addi x0, x0, 5 -> LI into sink
  assert.equal(out[0] & 255, Op.LI);
  assert.equal((out[0] >>> 8) & 127, 64);
  decode32(0x0085b007, out); // fld f0, 8(a1)
  assert.equal(out[0] & 255, Op.FLD);
  assert.equal((out[0] >>> 8) & 127, 0);
});

test('32-bit illegal encodings: unknown opcode, bad funct fields, AMO with bad funct5', () => {
  const out = new Int32Array(2);
  for (const insn of [
    0xffffffff,
    0x0000007f,
    0x02002033 | (0x7f << 25),
    0x0000300f,
    0x0000208f,
    0x0030200f,
    0x0080200f,
    0x00004073,
    0x3000202f,
  ]) {
    decode32(insn | 0, out);
    assert.equal(out[0] & 255, Op.ILLEGAL, `0x${(insn >>> 0).toString(16)}`);
    assert.equal(out[1], insn | 0);
  }
});

test('Zba/Zbb/Zbs encodings decode to their ops', () => {
  const out = new Int32Array(2);
  const cases: [number, Op][] = [
    [0x20b54533, Op.SH2ADD], // sh2add a0,a0,a1
    [0x08b5053b, Op.ADD_UW], // add.uw a0,a0,a1
    [0x0805151b, Op.SLLI_UW], // slli.uw a0,a0,0
    [0x60051513, Op.CLZ], // clz a0,a0
    [0x6005151b, Op.CLZW],
    [0x60251513, Op.CPOP],
    [0x0ab56533, Op.MAX], // max a0,a0,a1
    [0x60451513, Op.SEXT_B],
    [0x0805453b, Op.ZEXT_H], // zext.h a0,a0
    [0x6b855513, Op.REV8],
    [0x28755513, Op.ORC_B],
    [0x60b55533, Op.ROR],
    [0x6035551b, Op.RORIW],
    [0x48b55533, Op.BEXT],
    [0x28351513, Op.BSETI],
    [0x40b57533, Op.ANDN],
  ];
  for (const [insn, op] of cases) {
    decode32(insn | 0, out);
    assert.equal(out[0] & 255, op, `0x${insn.toString(16)} -> ${Op[out[0] & 255]}`);
  }
});
