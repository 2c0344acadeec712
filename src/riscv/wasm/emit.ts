/**
 * A small WebAssembly binary emitter: just what the wasm translation tier (wasm-tier.ts) needs —
 * one module of a few functions with i32/i64 parameters, locals and results, an imported memory,
 * structured control flow, the integer ops and memory accesses (WebAssembly core spec 1.0 binary
 * format, section 5). Platform-neutral: bytes only, compiled by whoever holds WebAssembly.
 *
 * Usage: `const f = new FnBuilder([I32, I32], [I32]); f.local(I64); f.op(Op...)...; f.end();`
 * then `moduleBytes({ memory: {module, name, min}, funcs: [{ type, body, export }] })`.
 * Building allocates freely (it is compile time, not the guest's hot path).
 */

/** Value types. */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const F64 = 0x7c;
export type ValType = typeof I32 | typeof I64 | typeof F32 | typeof F64;
/** Block type "no result". */
export const VOID = 0x40;

/** Opcodes used by the tier (a subset of the MVP's). */
export const W = {
  unreachable: 0x00,
  nop: 0x01,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  br_table: 0x0e,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  local_get: 0x20,
  local_set: 0x21,
  local_tee: 0x22,
  i32_load: 0x28,
  i64_load: 0x29,
  i32_load8_s: 0x2c,
  i32_load8_u: 0x2d,
  i32_load16_s: 0x2e,
  i32_load16_u: 0x2f,
  i64_load8_s: 0x30,
  i64_load8_u: 0x31,
  i64_load16_s: 0x32,
  i64_load16_u: 0x33,
  i64_load32_s: 0x34,
  i64_load32_u: 0x35,
  i32_store: 0x36,
  i64_store: 0x37,
  i32_store8: 0x3a,
  i32_store16: 0x3b,
  i64_store8: 0x3c,
  i64_store16: 0x3d,
  i64_store32: 0x3e,
  i32_const: 0x41,
  i64_const: 0x42,
  i32_eqz: 0x45,
  i32_eq: 0x46,
  i32_ne: 0x47,
  i32_lt_s: 0x48,
  i32_lt_u: 0x49,
  i32_gt_s: 0x4a,
  i32_gt_u: 0x4b,
  i32_le_s: 0x4c,
  i32_le_u: 0x4d,
  i32_ge_s: 0x4e,
  i32_ge_u: 0x4f,
  i64_eqz: 0x50,
  i64_eq: 0x51,
  i64_ne: 0x52,
  i64_lt_s: 0x53,
  i64_lt_u: 0x54,
  i64_gt_s: 0x55,
  i64_gt_u: 0x56,
  i64_le_s: 0x57,
  i64_le_u: 0x58,
  i64_ge_s: 0x59,
  i64_ge_u: 0x5a,
  i32_clz: 0x67,
  i32_ctz: 0x68,
  i32_popcnt: 0x69,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_mul: 0x6c,
  i32_div_s: 0x6d,
  i32_div_u: 0x6e,
  i32_rem_s: 0x6f,
  i32_rem_u: 0x70,
  i32_and: 0x71,
  i32_or: 0x72,
  i32_xor: 0x73,
  i32_shl: 0x74,
  i32_shr_s: 0x75,
  i32_shr_u: 0x76,
  i32_rotl: 0x77,
  i32_rotr: 0x78,
  i64_clz: 0x79,
  i64_ctz: 0x7a,
  i64_popcnt: 0x7b,
  i64_add: 0x7c,
  i64_sub: 0x7d,
  i64_mul: 0x7e,
  i64_div_s: 0x7f,
  i64_div_u: 0x80,
  i64_rem_s: 0x81,
  i64_rem_u: 0x82,
  i64_and: 0x83,
  i64_or: 0x84,
  i64_xor: 0x85,
  i64_shl: 0x86,
  i64_shr_s: 0x87,
  i64_shr_u: 0x88,
  i64_rotl: 0x89,
  i64_rotr: 0x8a,
  i32_wrap_i64: 0xa7,
  i64_extend_i32_s: 0xac,
  i64_extend_i32_u: 0xad,
  // Sign-extension operators (in every engine since 2019; V8 7.x).
  i32_extend8_s: 0xc0,
  i32_extend16_s: 0xc1,
  i64_extend8_s: 0xc2,
  i64_extend16_s: 0xc3,
  i64_extend32_s: 0xc4,
  // Floating point (the FP translation, emit-fp.ts).
  f32_load: 0x2a,
  f64_load: 0x2b,
  f32_store: 0x38,
  f64_store: 0x39,
  f64_const: 0x44,
  f32_eq: 0x5b,
  f32_ne: 0x5c,
  f32_lt: 0x5d,
  f32_le: 0x5f,
  f64_eq: 0x61,
  f64_ne: 0x62,
  f64_lt: 0x63,
  f64_gt: 0x64,
  f64_le: 0x65,
  f64_ge: 0x66,
  f32_min: 0x96,
  f32_max: 0x97,
  f64_abs: 0x99,
  f64_neg: 0x9a,
  f64_ceil: 0x9b,
  f64_floor: 0x9c,
  f64_trunc: 0x9d,
  f64_nearest: 0x9e,
  f64_sqrt: 0x9f,
  f64_add: 0xa0,
  f64_sub: 0xa1,
  f64_mul: 0xa2,
  f64_div: 0xa3,
  f64_min: 0xa4,
  f64_max: 0xa5,
  i64_trunc_f64_s: 0xb0,
  i64_trunc_f64_u: 0xb1,
  f32_convert_i64_s: 0xb4,
  f32_convert_i64_u: 0xb5,
  f32_demote_f64: 0xb6,
  f64_convert_i32_s: 0xb7,
  f64_convert_i32_u: 0xb8,
  f64_convert_i64_s: 0xb9,
  f64_convert_i64_u: 0xba,
  f64_promote_f32: 0xbb,
  i32_reinterpret_f32: 0xbc,
  i64_reinterpret_f64: 0xbd,
  f32_reinterpret_i32: 0xbe,
  f64_reinterpret_i64: 0xbf,
} as const;

/** Where bytes go: a number[] (tests) or a Bytes buffer. */
export interface ByteSink {
  push(b: number): unknown;
}

/**
 * A growable byte buffer: translation emits ~100 KiB per page, and plain arrays of numbers (plus
 * their copies into sections) made garbage collection a visible share of the translation time.
 */
export class Bytes implements ByteSink {
  a = new Uint8Array(1024);
  n = 0;
  push(b: number): void {
    if (this.n === this.a.length) this.grow(1);
    this.a[this.n++] = b;
  }
  /** Appends other bytes. */
  append(src: Uint8Array | Bytes): void {
    const bytes = src instanceof Bytes ? src.a.subarray(0, src.n) : src;
    if (this.n + bytes.length > this.a.length) this.grow(bytes.length);
    this.a.set(bytes, this.n);
    this.n += bytes.length;
  }
  private grow(more: number): void {
    const b = new Uint8Array(Math.max(this.a.length * 2, this.n + more));
    b.set(this.a.subarray(0, this.n));
    this.a = b;
  }
}

/** Unsigned LEB128 of a non-negative integer below 2^53. */
export function uleb(out: ByteSink, v: number): void {
  if (!(Number.isInteger(v) && v >= 0)) throw new RangeError(`uleb: ${v} is not a non-negative integer`);
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

/** Signed LEB128 of an int32. */
export function sleb32(out: ByteSink, v: number): void {
  v |= 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** Signed LEB128 of the 64-bit value hi:lo (two int32 halves; no BigInt needed). */
export function sleb64(out: ByteSink, lo: number, hi: number): void {
  lo |= 0;
  hi |= 0;
  for (;;) {
    const b = lo & 0x7f;
    // Arithmetic shift of the 64-bit pair by 7.
    lo = (lo >>> 7) | (hi << 25);
    hi >>= 7;
    const signBit = (b & 0x40) !== 0;
    if ((hi === 0 && lo === 0 && !signBit) || (hi === -1 && lo === -1 && signBit)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

const F64_VIEW = new DataView(new ArrayBuffer(8));

/** A function body under construction. */
export class FnBuilder {
  readonly params: ValType[];
  readonly results: ValType[];
  private readonly locals: ValType[] = [];
  /** The instruction bytes (after the locals). */
  readonly code = new Bytes();

  constructor(params: ValType[], results: ValType[]) {
    this.params = params;
    this.results = results;
  }

  /** Declares a local; returns its index (parameters come first). */
  local(t: ValType): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }

  /** Appends opcodes (bytes). */
  op(...ops: number[]): this {
    for (let i = 0; i < ops.length; i++) this.code.push(ops[i]!);
    return this;
  }

  i32(v: number): this {
    this.code.push(W.i32_const);
    sleb32(this.code, v);
    return this;
  }

  /** i64.const of hi:lo (defaults to the sign extension of lo). */
  i64(lo: number, hi: number = lo >> 31): this {
    this.code.push(W.i64_const);
    sleb64(this.code, lo, hi);
    return this;
  }

  /** f64.const v (bit-exact: the 8 little-endian bytes of v). */
  f64(v: number): this {
    this.code.push(W.f64_const);
    F64_VIEW.setFloat64(0, v, true);
    for (let i = 0; i < 8; i++) this.code.push(F64_VIEW.getUint8(i));
    return this;
  }

  get(i: number): this {
    this.code.push(W.local_get);
    uleb(this.code, i);
    return this;
  }

  set(i: number): this {
    this.code.push(W.local_set);
    uleb(this.code, i);
    return this;
  }

  tee(i: number): this {
    this.code.push(W.local_tee);
    uleb(this.code, i);
    return this;
  }

  /** A load/store with alignment hint log2(align) and constant offset. */
  mem(opcode: number, alignLog2: number, offset: number): this {
    this.code.push(opcode);
    uleb(this.code, alignLog2);
    uleb(this.code, offset);
    return this;
  }

  /** block/loop/if with no result (or one of type t). */
  open(opcode: typeof W.block | typeof W.loop | typeof W.if, t: number = VOID): this {
    this.code.push(opcode);
    this.code.push(t);
    return this;
  }

  br(depth: number): this {
    this.code.push(W.br);
    uleb(this.code, depth);
    return this;
  }

  brIf(depth: number): this {
    this.code.push(W.br_if);
    uleb(this.code, depth);
    return this;
  }

  brTable(depths: number[], dflt: number): this {
    this.code.push(W.br_table);
    uleb(this.code, depths.length);
    for (const d of depths) uleb(this.code, d);
    uleb(this.code, dflt);
    return this;
  }

  /** call_indirect through table 0 with function type index `type`. */
  callIndirect(type: number): this {
    this.code.push(0x11);
    uleb(this.code, type);
    this.code.push(0x00);
    return this;
  }

  call(fn: number): this {
    this.code.push(W.call);
    uleb(this.code, fn);
    return this;
  }

  end(): this {
    this.code.push(W.end);
    return this;
  }

  /** The body as the code section wants it (size excluded): locals, run-length grouped, then code. */
  body(): Bytes {
    const groups: [number, ValType][] = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last !== undefined && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const out = new Bytes();
    uleb(out, groups.length);
    for (const [n, t] of groups) {
      uleb(out, n);
      out.push(t);
    }
    out.append(this.code);
    return out;
  }
}

export interface ModuleSpec {
  /** An imported memory (module.name), at least `min` 64 KiB pages. */
  memory?: { module: string; name: string; min: number; max?: number };
  /** An imported funcref table (module.name), at least `min` entries. */
  table?: { module: string; name: string; min: number };
  /** Imported functions, in order (they take the first function indices). */
  imports?: { module: string; name: string; params: ValType[]; results: ValType[] }[];
  /** Defined functions; `exportAs` names the exported ones. */
  funcs: { fn: FnBuilder; exportAs?: string }[];
}

function section(out: Bytes, id: number, content: number[] | Bytes): void {
  out.push(id);
  if (content instanceof Bytes) {
    uleb(out, content.n);
    out.append(content);
  } else {
    uleb(out, content.length);
    for (const b of content) out.push(b);
  }
}

function name(out: ByteSink, s: string): void {
  const bytes = new TextEncoder().encode(s);
  uleb(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** The binary module. Function types are deduplicated. */
export function moduleBytes(spec: ModuleSpec): Uint8Array {
  const types: string[] = [];
  const typeBytes: number[][] = [];
  const typeOf = (params: ValType[], results: ValType[]): number => {
    const key = `${params.join(',')}:${results.join(',')}`;
    let i = types.indexOf(key);
    if (i < 0) {
      i = types.length;
      types.push(key);
      const t = [0x60];
      uleb(t, params.length);
      t.push(...params);
      uleb(t, results.length);
      t.push(...results);
      typeBytes.push(t);
    }
    return i;
  };
  const imports = spec.imports ?? [];
  const importTypes = imports.map((f) => typeOf(f.params, f.results));
  const funcTypes = spec.funcs.map((f) => typeOf(f.fn.params, f.fn.results));

  const out = new Bytes();
  out.append(Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00));
  const ts: number[] = [];
  uleb(ts, typeBytes.length);
  for (const t of typeBytes) ts.push(...t);
  section(out, 1, ts);

  const nImports = imports.length + (spec.memory ? 1 : 0) + (spec.table ? 1 : 0);
  if (nImports > 0) {
    const is: number[] = [];
    uleb(is, nImports);
    imports.forEach((f, i) => {
      name(is, f.module);
      name(is, f.name);
      is.push(0x00);
      uleb(is, importTypes[i]!);
    });
    if (spec.table) {
      name(is, spec.table.module);
      name(is, spec.table.name);
      is.push(0x01, 0x70, 0x00);
      uleb(is, spec.table.min);
    }
    if (spec.memory) {
      name(is, spec.memory.module);
      name(is, spec.memory.name);
      is.push(0x02);
      if (spec.memory.max === undefined) {
        is.push(0x00);
        uleb(is, spec.memory.min);
      } else {
        is.push(0x01);
        uleb(is, spec.memory.min);
        uleb(is, spec.memory.max);
      }
    }
    section(out, 2, is);
  }

  const fs: number[] = [];
  uleb(fs, funcTypes.length);
  for (const t of funcTypes) uleb(fs, t);
  section(out, 3, fs);

  const exported = spec.funcs.map((f, i) => ({ name: f.exportAs, index: imports.length + i })).filter((e) => e.name);
  if (exported.length > 0) {
    const es: number[] = [];
    uleb(es, exported.length);
    for (const e of exported) {
      name(es, e.name!);
      es.push(0x00);
      uleb(es, e.index);
    }
    section(out, 7, es);
  }

  const cs = new Bytes();
  uleb(cs, spec.funcs.length);
  for (const f of spec.funcs) {
    const body = f.fn.body();
    uleb(cs, body.n);
    cs.append(body);
  }
  section(out, 10, cs);
  return out.a.slice(0, out.n);
}
