/**
 * What a QMP monitor drives: one VM, through a handful of verbs. The adapter over VmSession
 * (session-target.ts) implements it; tests implement it with a plain object.
 */

/** QMP's version record (QEMU's shape: query-version and the greeting carry it). */
export interface QmpVersion {
  qemu: { major: number; minor: number; micro: number };
  package: string;
}

/**
 * The run states virtkit reports, a subset of QEMU's RunState enum (query-status `status`):
 * prelaunch (built, never started), running, paused, save-vm (a snapshot is being written),
 * shutdown (the guest powered off or was quit), guest-panicked, internal-error.
 */
export type QmpRunState =
  'prelaunch' | 'running' | 'paused' | 'save-vm' | 'shutdown' | 'guest-panicked' | 'internal-error';

export interface QmpTarget {
  readonly version: QmpVersion;
  /** The VM's name (query-name answers `{}` without one). */
  readonly name?: string;
  status(): QmpRunState;
  /** Pauses; false when it was not running (QEMU then sends no STOP event). */
  stop(): boolean;
  /** Runs again; false when it was already running. Throws a QmpError when it cannot run. */
  cont(): boolean;
  /** Presses the power button; false when the machine has none. */
  pressPowerButton(): boolean;
  /** Resets the machine as a power cycle would (RAM and devices anew; disks stay); false when it cannot now. */
  reset(): boolean;
  /** Ends the VM process; called after `quit`'s answer has been queued to the client. */
  quit(): void;
}

/** Splits a semver-like version ("0.1.0", "1.2.3-rc1") into QMP's numbers. */
export function qmpVersion(version: string, packageText: string): QmpVersion {
  const [major = 0, minor = 0, micro = 0] = version.split(/[.-]/).map((p) => (/^\d+$/.test(p) ? Number(p) : 0));
  return { qemu: { major, minor, micro }, package: packageText };
}
