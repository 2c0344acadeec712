/**
 * Saved state: ONE convention for every part of a VM that a snapshot keeps (hart, clock,
 * devices, virtqueues, the stored records of the host).
 *
 *   saveState(): S            plain JSON-able data, with a `version` number where S is an object
 *   loadState(state): void    `state` is untrusted (a snapshot file, possibly crafted) and is read
 *                             through a StateReader: every field is checked before it is used, and
 *                             a bad one is a StateError naming the full path, e.g.
 *                             `snapshot: machine.harts[1].csr.mstatus: expected an integer ...`
 *
 * A loader accepts either raw data (a device test passes an object; the reader is then named
 * after the device) or a StateReader handed down by its parent (the board passes
 * `root.field('clint')`), so errors from a whole snapshot name the path from the file's root.
 * Platform-neutral: no host APIs.
 */
export class StateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateError';
  }
}
/** The former name, kept for callers that catch it. */
export const DeviceStateError = StateError;
export type DeviceStateError = StateError;

/** A part of a VM whose state a snapshot keeps. */
export interface Persistent<S> {
  saveState(): S;
  /** `state`: raw data or a StateReader positioned at this part's state. Throws StateError. */
  loadState(state: unknown): void;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** Reads fields out of an untrusted value; failures name `label: path`. */
export class StateReader {
  /**
   * @param label what is read ('snapshot', or a device name for standalone use)
   * @param value the untrusted data at `path`
   * @param version if given, `value` must be an object whose `version` field is this number
   * @param path the field path from the label's root ('' at the root)
   */
  constructor(
    readonly label: string,
    readonly value: unknown,
    version?: number,
    readonly path = '',
  ) {
    if (version !== undefined) this.version(version);
  }

  /**
   * The reader a loader works with: `state` itself when its parent handed one down (its version
   * checked), else a new reader named `label` over the raw data.
   */
  static of(state: unknown, label: string, version?: number): StateReader {
    if (state instanceof StateReader) {
      if (version !== undefined) state.version(version);
      return state;
    }
    return new StateReader(label, state, version);
  }

  /** `label: path` (or just the label at the root). */
  get where(): string {
    return this.path ? `${this.label}: ${this.path}` : this.label;
  }

  /** Throws a StateError about this value (or one of its fields). */
  fail(what: string, field?: string | number): never {
    const p = field === undefined ? this.path : this.join(field);
    throw new StateError(p ? `${this.label}: ${p}: ${what}` : `${this.label}: ${what}`);
  }

  private join(field: string | number): string {
    if (typeof field === 'number') return `${this.path}[${field}]`;
    return this.path ? `${this.path}.${field}` : field;
  }

  private object(): Record<string, unknown> {
    const v = this.value;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(`expected an object, got ${show(v)}`);
    return v as Record<string, unknown>;
  }

  /** Checks that this is an object with `version` === expected. */
  version(expected: number): void {
    const v = this.object().version;
    if (v !== expected) this.fail(`unsupported state version ${show(v)} (expected ${expected})`, 'version');
  }

  /** Whether the object has the field (not undefined). */
  has(field: string): boolean {
    return this.object()[field] !== undefined;
  }

  /** The reader of a nested field (its value may be anything; the child checks it). */
  field(field: string, version?: number): StateReader {
    return new StateReader(this.label, this.object()[field], version, this.join(field));
  }

  /** The raw value of a field, for a caller that checks it itself. */
  raw(field: string): unknown {
    return this.object()[field];
  }

  private checkInt(v: unknown, min: number, max: number, field: string | number | undefined): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      this.fail(`expected an integer in [${min}, ${max}], got ${show(v)}`, field);
    return v;
  }

  /** An integer field in [min, max]. */
  int(field: string, min: number, max: number): number {
    return this.checkInt(this.object()[field], min, max, field);
  }

  /** This value as an integer in [min, max]. */
  asInt(min: number, max: number): number {
    return this.checkInt(this.value, min, max, undefined);
  }

  /** This value as a string of at most maxLen characters. */
  asString(maxLen: number): string {
    const v = this.value;
    if (typeof v !== 'string' || v.length > maxLen)
      this.fail(`expected a string of at most ${maxLen} characters, got ${show(v)}`);
    return v;
  }

  bool(field: string): boolean {
    const v = this.object()[field];
    if (typeof v !== 'boolean') this.fail(`expected a boolean, got ${show(v)}`, field);
    return v;
  }

  /** A string field of at most maxLen characters. */
  str(field: string, maxLen = 1 << 20): string {
    const v = this.object()[field];
    if (typeof v !== 'string' || v.length > maxLen)
      this.fail(`expected a string of at most ${maxLen} characters, got ${show(v)}`, field);
    return v;
  }

  /** An array of integers in [min, max], at most maxLen long (exactly len if given). */
  ints(field: string, min: number, max: number, maxLen: number, len?: number): number[] {
    const v = this.object()[field];
    if (!Array.isArray(v) || v.length > maxLen || (len !== undefined && v.length !== len)) {
      const n = Array.isArray(v) ? `${v.length} items` : show(v);
      this.fail(`expected an array of ${len ?? `at most ${maxLen}`} integers, got ${n}`, field);
    }
    for (let i = 0; i < v.length; i++) this.checkInt(v[i], min, max, `${field}[${i}]`);
    return v as number[];
  }

  /** Readers of the items of an array field (at most maxLen, exactly len if given). */
  items(field: string, maxLen: number, len?: number): StateReader[] {
    const v = this.object()[field];
    if (!Array.isArray(v) || v.length > maxLen || (len !== undefined && v.length !== len)) {
      const n = Array.isArray(v) ? `${v.length} items` : show(v);
      this.fail(`expected an array of ${len ?? `at most ${maxLen}`} items, got ${n}`, field);
    }
    const base = this.join(field);
    return v.map((x, i) => new StateReader(this.label, x, undefined, `${base}[${i}]`));
  }

  /** Reads an array of nested states with a per-item reader. */
  list<T>(field: string, maxLen: number, each: (item: StateReader, i: number) => T): T[] {
    return this.items(field, maxLen).map(each);
  }
}

/** Extracts `size` bytes at byte `shift` of a 32-bit register value (sub-word reads). */
export function subRead(word: number, offset: number, size: 1 | 2 | 4): number {
  if (size === 4) return word >>> 0;
  const shift = (offset & 3) * 8;
  return (word >>> shift) & (size === 1 ? 0xff : 0xffff);
}

/** Merges a 1/2/4-byte write into a 32-bit register value (sub-word writes). */
export function subWrite(word: number, offset: number, size: 1 | 2 | 4, value: number): number {
  if (size === 4) return value >>> 0;
  const shift = (offset & 3) * 8;
  const mask = (size === 1 ? 0xff : 0xffff) << shift;
  return ((word & ~mask) | ((value << shift) & mask)) >>> 0;
}
