/**
 * What a URL disk's server said about the file's version when the page opened it (its ETag, else
 * its Last-Modified), kept in the snapshot's disk record. A restore compares it with what the
 * server says now: a file replaced by another of the same size would otherwise give the restored
 * guest its old RAM and overlay over new disk contents, a silent corruption.
 *
 * The record is versioned. Snapshots without it (older pages) and servers that give no validator
 * fall back to comparing sizes only; a record of another format, or a damaged one, is refused.
 */

export const DISK_VALIDATOR_FORMAT = 1;

export interface DiskValidator {
  format: number;
  /** The ETag as the server sent it (possibly weak, `W/"..."`). */
  etag?: string;
  /** The Last-Modified date as the server sent it. */
  lastModified?: string;
}

export class DiskChangedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiskChangedError';
  }
}

/** Header values are short; this bounds what a snapshot's record can hold. */
const MAX_VALUE = 1024;

/** The validator in a response's headers, or undefined when the server gives neither. */
export function validatorOf(headers: { get(name: string): string | null }): DiskValidator | undefined {
  const etag = clean(headers.get('etag'));
  const lastModified = clean(headers.get('last-modified'));
  if (etag === undefined && lastModified === undefined) return undefined;
  return {
    format: DISK_VALIDATOR_FORMAT,
    ...(etag !== undefined ? { etag } : {}),
    ...(lastModified !== undefined ? { lastModified } : {}),
  };
}

function clean(v: string | null): string | undefined {
  const t = v?.trim();
  return t && t.length <= MAX_VALUE ? t : undefined;
}

/** Parses a snapshot's record (undefined when absent); a malformed one is a DiskChangedError naming the disk. */
export function decodeValidator(value: unknown, what: string): DiskValidator | undefined {
  if (value === undefined) return undefined;
  const fail = (why: string) => new DiskChangedError(`${what}: the snapshot's record of the disk's version ${why}`);
  if (!value || typeof value !== 'object') throw fail('is not a record');
  const r = value as Partial<Record<keyof DiskValidator, unknown>>;
  if (r.format !== DISK_VALIDATOR_FORMAT)
    throw fail(
      typeof r.format === 'number'
        ? `uses format ${r.format}; this page reads format ${DISK_VALIDATOR_FORMAT}`
        : 'has no format number',
    );
  for (const k of ['etag', 'lastModified'] as const) {
    const v = r[k];
    if (v !== undefined && (typeof v !== 'string' || v.length > MAX_VALUE)) throw fail(`has a bad ${k}`);
  }
  return {
    format: DISK_VALIDATOR_FORMAT,
    ...(r.etag !== undefined ? { etag: r.etag as string } : {}),
    ...(r.lastModified !== undefined ? { lastModified: r.lastModified as string } : {}),
  };
}

/**
 * Throws a DiskChangedError when the saved and current validators show different files. ETags
 * are compared first (weakly: `W/` is ignored, as a server may weaken a tag without the file
 * changing), then Last-Modified dates; with no common validator only the size was checked.
 */
export function checkValidator(
  saved: DiskValidator | undefined,
  now: DiskValidator | undefined,
  what: string,
  since: 'snapshot' | 'opened' = 'snapshot',
): void {
  if (!saved || !now) return;
  const changed = (was: string, is: string) =>
    new DiskChangedError(
      since === 'snapshot'
        ? `${what} changed on the server since the snapshot was saved (${was}, now ${is}): ` +
            'restoring would mix the saved guest state with other disk contents'
        : `${what} changed on the server since it was opened (${was}, now ${is})`,
    );
  if (saved.etag !== undefined && now.etag !== undefined) {
    if (opaque(saved.etag) !== opaque(now.etag)) throw changed(`ETag ${saved.etag}`, now.etag);
    return;
  }
  if (saved.lastModified !== undefined && now.lastModified !== undefined) {
    if (!sameDate(saved.lastModified, now.lastModified))
      throw changed(`modified ${saved.lastModified}`, now.lastModified);
  }
}

function opaque(etag: string): string {
  return etag.startsWith('W/') ? etag.slice(2) : etag;
}

function sameDate(a: string, b: string): boolean {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  return Number.isNaN(ta) || Number.isNaN(tb) ? a === b : ta === tb;
}
