/** The types shared by image-lock.ts (what to lock) and lock-helper.ts (the child that holds locks). */

export interface LockMode {
  /** Permissions this opener uses (bytes 100+i). */
  perms: number;
  /** Permissions this opener refuses to share with others (bytes 200+i). */
  unshared: number;
}

/** What one locking attempt found: ok (with the way to release it), a conflict, or no locking. */
export interface LockOutcome {
  status: 'ok' | 'conflict' | 'unsupported' | 'failed';
  detail: string;
}
export type LockRunner = (fd: number, mode: LockMode) => Promise<LockOutcome & { release?: () => Promise<void> }>;
