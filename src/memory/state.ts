/**
 * Helpers for device snapshots. saveState() returns plain JSON-able data with a version number;
 * loadState() receives untrusted data (a snapshot file), so every field is checked and a bad one
 * is a DeviceStateError naming the device and the field, never a crash later in the run loop.
 */
export class DeviceStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceStateError';
  }
}

/** Reads fields out of an untrusted state object, failing with the device name and field path. */
export class StateReader {
  private readonly obj: Record<string, unknown>;

  constructor(
    private readonly device: string,
    state: unknown,
    version: number,
  ) {
    if (typeof state !== 'object' || state === null || Array.isArray(state)) {
      throw new DeviceStateError(`${device}: state is not an object`);
    }
    this.obj = state as Record<string, unknown>;
    if (this.obj.version !== version) {
      throw new DeviceStateError(
        `${device}: unsupported state version ${String(this.obj.version)} (expected ${version})`,
      );
    }
  }

  private fail(field: string, what: string): never {
    throw new DeviceStateError(`${this.device}: state field '${field}' ${what}`);
  }

  /** An integer in [min, max]. */
  int(field: string, min: number, max: number): number {
    const v = this.obj[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(field, `must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    }
    return v;
  }

  bool(field: string): boolean {
    const v = this.obj[field];
    if (typeof v !== 'boolean') this.fail(field, 'must be a boolean');
    return v;
  }

  str(field: string): string {
    const v = this.obj[field];
    if (typeof v !== 'string') this.fail(field, 'must be a string');
    return v;
  }

  /** An array of integers in [min, max], at most maxLen long (exactly len if given). */
  ints(field: string, min: number, max: number, maxLen: number, len?: number): number[] {
    const v = this.obj[field];
    if (!Array.isArray(v) || v.length > maxLen || (len !== undefined && v.length !== len)) {
      this.fail(field, `must be an array of ${len ?? `at most ${maxLen}`} integers`);
    }
    for (const x of v) {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
        this.fail(field, `must hold integers in [${min}, ${max}], got ${JSON.stringify(x)}`);
      }
    }
    return v as number[];
  }

  /** A nested object or array, returned untyped for the caller's own reader. */
  raw(field: string): unknown {
    return this.obj[field];
  }

  /** Reads an array of nested states with a per-element reader. */
  list<T>(field: string, maxLen: number, each: (item: unknown, i: number) => T): T[] {
    const v = this.obj[field];
    if (!Array.isArray(v) || v.length > maxLen) this.fail(field, `must be an array of at most ${maxLen} items`);
    return v.map(each);
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
