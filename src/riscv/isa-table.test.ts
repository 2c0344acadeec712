import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAny, SINK } from './decode.ts';
import { Op } from './exec.ts';
import {
  ISA,
  INTERNAL_OPS,
  JS_TRANSLATED,
  WASM_TRANSLATED,
  WASM_REGISTER_ONLY,
  OP_LIMIT,
  T_JS,
  T_WASM,
  F_JUMP,
  F_SLOW,
  F_SYSTEM,
  F_LOAD,
  F_STORE,
  F_ATOMIC,
  type InsnForm,
} from './isa-table.ts';
import { fieldValue, formsOf, immOf, constraintsOk } from './isa-fields.ts';
import { executeFp } from './fpu/execute.ts';
import type { FpContext } from './fpu/context.ts';
import {
  cpuConfig,
  X_ZFH,
  X_ZFHMIN,
  X_ZICBOM,
  X_ZICBOZ,
  X_ZICOND,
  X_ZBC,
  X_ZBKB,
  X_ZBKC,
  X_ZBKX,
  X_SVINVAL,
  type CpuConfig,
} from './cpu-config.ts';
import { machine, load, RAM_BASE } from './test-support.ts';
import * as C from './csr.ts';

/** Deterministic xorshift32, so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s | 0;
  };
}

const hex = (v: number) => `0x${(v >>> 0).toString(16)}`;

/** A random instance of e (its free bits random, its constraints met), or undefined if none found. */
function sample(e: InsnForm, r: () => number, zeroRm = false): number | undefined {
  for (let tries = 0; tries < 1000; tries++) {
    let v = e.match | (r() & ~e.mask) | 0;
    if (e.compressed) v &= 0xffff;
    if (zeroRm && (e.mask & 0x7000) === 0 && !e.compressed) v &= ~0x7000;
    if (constraintsOk(e.when, v)) return v;
  }
  return undefined;
}

/** The packed word and immediate the decoder must produce for instance v of e. */
function expected(e: InsnForm, v: number): [number, number] {
  const reg = (o: InsnForm['rd'], isRd: boolean) => {
    if (o === undefined || e.imm === 'raw') return 0;
    const n = fieldValue(o.field, v);
    return isRd && o.file === 'x' && n === 0 ? SINK : n;
  };
  const w =
    e.op |
    (reg(e.rd, true) << 9) |
    (reg(e.rs1, false) << 16) |
    (reg(e.rs2, false) << 22) |
    ((e.compressed ? 1 : 0) << 27);
  return [w, immOf(e.imm, v, e.sub)];
}

const out = new Int32Array(2);
function decodeOne(v: number): void {
  if ((v & 3) === 3) decodeAny(v & 0xffff, v >>> 16, out);
  else decodeAny(v & 0xffff, 0, out);
}

function checkDecode(e: InsnForm, v: number): void {
  decodeOne(v);
  const [w, imm] = expected(e, v);
  const msg = `${e.name} ${hex(v)}: decoded ${Op[out[0]! & 255]} ${hex(out[0]!)}/${out[1]}, table says ${Op[e.op]} ${hex(w)}/${imm}`;
  assert.equal(out[0], w, msg);
  assert.equal(out[1], imm, msg);
}

const FP_OPCODES = new Set([0x53, 0x43, 0x47, 0x4b, 0x4f]);

test('the table: names unique, encodings consistent, imm kinds and sub-kinds where needed', () => {
  const names = new Set<string>();
  for (const e of ISA) {
    assert.ok(!names.has(e.name), `duplicate ${e.name}`);
    names.add(e.name);
    assert.equal(e.match & ~e.mask, 0, `${e.name}: match has bits outside its mask`);
    assert.equal(e.compressed, (e.match & 3) !== 3, `${e.name}: compressed flag vs low bits`);
    if (e.compressed) assert.equal(e.mask & ~0xffff, 0, e.name);
    if (e.op === Op.FP) assert.equal(e.imm, 'raw', e.name);
    if (e.op === Op.XINT || e.op === Op.AMO_W || e.op === Op.AMO_D || e.op === Op.CBO || e.op === Op.SFENCE_INVAL)
      assert.equal(e.imm, 'sub', `${e.name}: one op for several instructions needs its sub-kind`);
  }
});

test('every entry: sample encodings decode to its op, operands and immediate, and match it alone', () => {
  const r = rng(12345);
  for (const e of ISA) {
    // The fixed encoding (all free bits zero, when allowed) and random ones.
    const samples = [e.match & (e.compressed ? 0xffff : -1)].filter((v) => constraintsOk(e.when, v));
    for (let i = 0; i < 200; i++) {
      const v = sample(e, r);
      assert.ok(v !== undefined, `${e.name}: no encoding meets its constraints`);
      samples.push(v);
    }
    for (const v of samples) {
      const forms = formsOf(v);
      assert.deepEqual(
        forms.map((f) => f.name),
        [e.name],
        `${hex(v)} matches ${forms.map((f) => f.name).join(', ')}`,
      );
      checkDecode(e, v);
    }
  }
});

test('every Op is what some entry decodes to, or internal', () => {
  const covered = new Set<number>(ISA.map((e) => e.op));
  for (const op of INTERNAL_OPS) assert.ok(!covered.has(op), `${Op[op]} is internal but an entry decodes to it`);
  for (const [name, v] of Object.entries(Op)) {
    if (typeof v !== 'number') continue;
    assert.ok(covered.has(v) || INTERNAL_OPS.includes(v), `Op.${name} has no table entry`);
  }
});

function fpCtx(): FpContext {
  return { x: new Int32Array(66), f: new Int32Array(64), frm: 0, fflags: 0, ext: cpuConfig('max').ext };
}

/** Decodes v, which no entry covers, and checks it is illegal (for FP opcodes: the FPU says so). */
function checkIllegal(v: number): void {
  decodeOne(v);
  const op = out[0]! & 255;
  if ((v & 3) === 3 && FP_OPCODES.has(v & 0x7f) && op === Op.FP) {
    assert.equal(executeFp(fpCtx(), v), false, `${hex(v)}: no entry, but the FPU executes it`);
    return;
  }
  assert.equal(op, Op.ILLEGAL, `${hex(v)}: no entry, but decoded to ${Op[op]}`);
  assert.equal(out[1], v, `${hex(v)}: an illegal instruction keeps its encoding`);
}

/** v matches entry e: for FP, the FPU must also accept it (reserved rounding modes aside). */
function checkLegal(e: InsnForm, v: number): void {
  checkDecode(e, v);
  if (e.op === Op.FP) {
    const rmFree = (e.mask & 0x7000) === 0;
    const rm = (v >>> 12) & 7;
    const ok = !(rmFree && (rm === 5 || rm === 6));
    assert.equal(executeFp(fpCtx(), v), ok, `${e.name} ${hex(v)}: FPU legality`);
  }
}

test('all 16-bit encodings: each is in at most one entry, decodes as it says, or is illegal', () => {
  for (let v = 0; v < 0x10000; v++) {
    if ((v & 3) === 3) continue;
    const forms = formsOf(v);
    assert.ok(forms.length <= 1, `${hex(v)} matches ${forms.map((f) => f.name).join(', ')}`);
    if (forms.length === 1) checkLegal(forms[0]!, v);
    else checkIllegal(v);
  }
});

test('random 32-bit encodings: each is in at most one entry, decodes as it says, or is illegal', () => {
  const r = rng(777);
  // Every major opcode equally often (uniform words would hardly ever hit a given opcode), with
  // funct fields biased towards small values, where the implemented encodings are.
  for (let i = 0; i < 150_000; i++) {
    let v = r() | 3;
    if ((i & 1) === 0) v = (v & ~0xfe000000) | (((r() >>> 0) % 0x40) << 25);
    if ((i & 3) === 1) v = (v & ~0xfff00000) | ((r() & 0x3f) << 20) | (r() & 0x1 ? 0x60000000 : 0);
    const forms = formsOf(v);
    assert.ok(forms.length <= 1, `${hex(v)} matches ${forms.map((f) => f.name).join(', ')}`);
    if (forms.length === 1) checkLegal(forms[0]!, v);
    else checkIllegal(v);
  }
});

test('near misses: every entry with one or two of its fixed bits flipped is another entry or illegal', () => {
  // The encodings next to implemented ones are where a decoder is most likely to accept too much.
  const r = rng(4242);
  for (const e of ISA) {
    const fixed = e.mask & (e.compressed ? 0xfffc : ~3);
    const positions: number[] = [];
    for (let b = 0; b < 32; b++) if ((fixed >>> b) & 1) positions.push(b);
    for (let i = 0; i < 100; i++) {
      let v = sample(e, r)!;
      const flips = 1 + (i & 1);
      for (let k = 0; k < flips; k++) v ^= 1 << positions[(r() >>> 0) % positions.length]!;
      v |= 0;
      const forms = formsOf(v);
      assert.ok(forms.length <= 1, `${hex(v)} matches ${forms.map((f) => f.name).join(', ')}`);
      if (forms.length === 1) checkLegal(forms[0]!, v);
      else checkIllegal(v);
    }
  }
});

/** Runs instruction v at RAM_BASE on a hart of the given features; true when it raised an illegal-instruction trap. */
function illegalOn(ext: number, v: number): boolean {
  const cpu: CpuConfig = { ...cpuConfig('max'), ext };
  const m = machine(1 << 16, cpu);
  load(m.bus, RAM_BASE, [(v & 3) === 3 ? v : { c: v }]);
  m.hart.mstatus |= C.MSTATUS_FS;
  m.hart.run(1);
  return m.hart.mcauseLo === 2;
}

test('extension gating: an entry is legal exactly on harts with one of the features it needs', () => {
  // Single features (Zfh with the Zfhmin it implies), none, and the CPU models.
  const exts = [
    0,
    X_ZICBOM,
    X_ZICBOZ,
    X_ZFHMIN,
    X_ZFH | X_ZFHMIN,
    X_ZICOND,
    X_ZBC,
    X_ZBKB,
    X_ZBKC,
    X_ZBKX,
    X_SVINVAL,
    cpuConfig('rva22').ext,
    cpuConfig('max').ext,
  ];
  const r = rng(99);
  let checked = 0;
  for (const e of ISA) {
    if (e.need === 0) continue;
    const v = sample(e, r, true)!;
    for (const ext of exts) {
      const legal = (e.need & ext) !== 0;
      assert.equal(illegalOn(ext, v), !legal, `${e.name} ${hex(v)} with ext ${hex(ext)}: legal should be ${legal}`);
    }
    checked++;
  }
  assert.ok(checked > 20);
  // And the features gate nothing else: entries that need none are legal on a hart without any
  // (those that touch memory or privileged state can trap for other reasons, so not those).
  for (const e of ISA) {
    if (e.need !== 0 || (e.flags & (F_SYSTEM | F_LOAD | F_STORE | F_ATOMIC)) !== 0) continue;
    const v = sample(e, r, true)!;
    assert.equal(illegalOn(0, v), false, `${e.name} ${hex(v)} is illegal on a hart without optional features`);
  }
});

test('translated ops: the tier arrays follow the table, and agree across the entries of an op', () => {
  const byOp = new Map<number, number>();
  for (const e of ISA) {
    const prev = byOp.get(e.op);
    if (prev !== undefined) assert.equal(e.tiers, prev, `${e.name}: entries of ${Op[e.op]} disagree on tiers`);
    byOp.set(e.op, e.tiers);
  }
  for (let op = 0; op < 256; op++) {
    const t = byOp.get(op) ?? 0;
    assert.equal(JS_TRANSLATED[op], (t & T_JS) !== 0 ? 1 : 0, `JS ${Op[op]}`);
    assert.equal(WASM_TRANSLATED[op], (t & T_WASM) !== 0 ? 1 : 0, `wasm ${Op[op]}`);
  }
  for (const op of INTERNAL_OPS) assert.equal(JS_TRANSLATED[op]! | WASM_TRANSLATED[op]!, 0);
});

/** An instance of e with rd x11, rs1 x10, rs2 x12, rs3 x13 (x11/x10 for the 3-bit fields), other free bits 0. */
function tierSample(e: InsnForm): number {
  let v = e.match;
  const put = (o: InsnForm['rd']) => {
    if (o === undefined) return;
    const at: Record<string, [number, number, number]> = {
      rd: [7, 11, 31],
      rs1: [15, 10, 31],
      rs2: [20, 12, 31],
      rs3: [27, 13, 31],
      crs2: [2, 12, 31],
      crdp: [2, 3, 7],
      crs1p: [7, 2, 7],
    };
    const f = at[o.field];
    if (f === undefined) return;
    const [s, val, width] = f;
    v = (v & ~((width << s) & ~e.mask)) | ((val << s) & ~e.mask);
  };
  put(e.rd);
  put(e.rs1);
  put(e.rs2);
  put(e.rs3);
  if (!constraintsOk(e.when, v)) v |= e.compressed ? 1 << 12 : 1 << 20;
  assert.ok(constraintsOk(e.when, v), `${e.name}: no tier sample`);
  return v | 0;
}

/** A hart of the tier translating from the first block, with `code` at RAM_BASE; traps go to a wfi (interpreted). */
function tierMachine(tier: 'js' | 'wasm', code: (number | { c: number })[]) {
  const m = machine(1 << 18);
  m.hart.tier = tier;
  m.hart.jitThreshold = 0;
  load(m.bus, RAM_BASE, code);
  load(m.bus, RAM_BASE + 0x1000, [0x10500073]);
  m.hart.mtvecLo = (RAM_BASE + 0x1000) | 0;
  m.hart.mstatus |= C.MSTATUS_FS; // FP instructions are legal
  return m;
}

test('translated ops: each one the table marks for a tier runs in that tier’s code', () => {
  // Every register points into RAM (aligned, far from the code), so loads and stores hit it.
  const P = RAM_BASE + 0x20000;
  for (const tier of ['js', 'wasm'] as const) {
    const bit = tier === 'js' ? T_JS : T_WASM;
    const seen = new Set<number>();
    for (const e of ISA) {
      // (fence.i: a window ends its block there, leaving it to the interpreter's tail to count.)
      if ((e.tiers & bit) === 0 || seen.has(e.op) || e.op === Op.FENCE_I) continue;
      seen.add(e.op);
      const v = tierSample(e);
      const insn = (v & 3) === 3 ? v : { c: v };
      // Six copies, then an illegal instruction (its trap ends in the interpreted wfi).
      const m = tierMachine(tier, [insn, insn, insn, insn, insn, insn, 0]);
      // (A jalr's target is its own page: leaving it would count the jalr in the interpreter.)
      for (let i = 1; i < 32; i++) m.hart.writeRegParts(i, (e.flags & F_JUMP) !== 0 ? RAM_BASE : P, 0);
      // FP operands are ordinary numbers (1.5) of the format the instruction reads, so the wasm
      // tier's exact fast paths apply (NaNs, infinities and unboxed singles are handed back).
      const single =
        /^fcvt\.[a-z]+\.s$/.test(e.name) || (/^f[a-z]+\.s(\.|$)/.test(e.name) && !e.name.startsWith('fcvt.s.'));
      for (let i = 0; i < 32; i++) {
        m.hart.f[2 * i] = single ? 0x3fc00000 : 0;
        m.hart.f[2 * i + 1] = single ? -1 : 0x3ff80000;
      }
      // A load misses the TLB once (handed back to the interpreter), then hits it.
      m.hart.run(40);
      const end = RAM_BASE + 6 * (e.compressed ? 2 : 4);
      if (m.hart.mcauseLo !== 0)
        assert.ok(
          m.hart.mcauseLo === 2 && (m.hart.mepcLo >>> 0 >= end || m.hart.mepcLo >>> 0 < RAM_BASE),
          `${tier}: ${e.name} ${hex(v)} trapped`,
        );
      assert.ok(m.hart.jitRan > 0, `${tier}: ${e.name} (${Op[e.op]}) is marked translated but the tier handed it back`);
    }
    // And an op the tier does not translate is handed back: nothing runs in translated code.
    const csrr = 0x340025f3; // csrr a1, mscratch
    const m = tierMachine(tier, [csrr, csrr, csrr, csrr, 0]);
    m.hart.run(40);
    assert.equal(m.hart.mcauseLo, 2);
    assert.equal(m.hart.jitRan, 0, `${tier}: csrr ran in translated code`);
  }
});

test('slow-path flag: exactly the entries marked F_SLOW go through Hart.execSystem in the interpreter', () => {
  const P = RAM_BASE + 0x20000;
  for (const e of ISA) {
    const v = tierSample(e);
    const m = tierMachine('js', [(v & 3) === 3 ? v : { c: v }, (v & 3) === 3 ? v : { c: v }]);
    m.hart.tier = 'interp';
    for (let i = 1; i < 32; i++) m.hart.writeRegParts(i, (e.flags & F_JUMP) !== 0 ? RAM_BASE : P, 0);
    const real = m.hart.execSystem.bind(m.hart);
    let calls = 0;
    m.hart.execSystem = (w: number, imm: number) => {
      calls++;
      return real(w, imm);
    };
    // The first run may fill the TLB through the slow path; the second runs the instruction warm.
    m.hart.run(1);
    if ((e.flags & F_SLOW) !== 0) {
      assert.ok(calls > 0, `${e.name}: marked F_SLOW, but the interpreter ran it inline`);
      continue;
    }
    assert.equal(m.hart.mcauseLo, 0, `${e.name} ${hex(v)} trapped`);
    calls = 0;
    m.hart.run(1);
    assert.equal(calls, 0, `${e.name}: not marked F_SLOW, but the interpreter sent it to execSystem`);
  }
});

test('register-only ops (the wasm tier groups them into one case) come from the table', () => {
  for (const op of [Op.ADD, Op.ADDI, Op.LUI, Op.AUIPC, Op.MUL, Op.DIV, Op.BEQ, Op.SH1ADD, Op.REV8])
    assert.equal(WASM_REGISTER_ONLY[op], 1, Op[op]);
  for (const op of [Op.LD, Op.SD, Op.JAL, Op.JALR, Op.J, Op.FENCE_I, Op.FP, Op.FLD, Op.AMO_W, Op.CSRRS, Op.XINT])
    assert.equal(WASM_REGISTER_ONLY[op], 0, Op[op]);
  for (let op = 0; op < OP_LIMIT; op++) if (WASM_REGISTER_ONLY[op] === 1) assert.equal(WASM_TRANSLATED[op], 1, Op[op]);
});
