/**
 * The shapes of the manager's REST API (v1) as docs/manager.md defines them: what the client
 * sends and what it reads back. Fields the daemon may add later are tolerated, never required.
 */

import type { VmDisk, VmState } from '../db.ts';

// The daemon's own definitions (type-only: nothing of the database reaches the client's bundle).
export type { VmDisk, VmState };

export type VmSource =
  | { type: 'default' }
  | { type: 'image'; path: string; format?: string }
  | { type: 'kernel'; kernel: string; initrd?: string; append?: string };

export interface Vm {
  name: string;
  id: string;
  state: VmState;
  /** MiB. */
  memory: number;
  cpus: number;
  source: VmSource;
  disks: VmDisk[];
  nics: { hostfwd?: string[] }[];
  created: string;
  startedAt?: string;
  pid?: number;
  /** Kernel command line of a kernel-booted VM, when set apart from its source. */
  append?: string;
  /** Why the VM is in its state (a crash's exit status, a stop's cause). */
  reason?: string;
  warnings?: string[];
  /** Its resource pool (absent from daemons before pools). */
  pool?: string;
}

export interface PoolQuota {
  vcpus?: number;
  /** Bytes. */
  memory?: number;
  /** Bytes. */
  disk?: number;
  vms?: number;
}

export interface Pool {
  name: string;
  quota: PoolQuota;
  usage: Required<PoolQuota>;
  created: string;
}

/** A disk in a create request: an existing file, or a new owned one of `size` MiB. */
export type DiskRequest = { path: string; format?: string; readonly?: boolean } | { size: number; format?: 'qcow2' };

export interface CreateRequest {
  name: string;
  pool?: string;
  template?: string;
  memory?: number;
  cpus?: number;
  source?: VmSource;
  disks?: DiskRequest[];
  nics?: { hostfwd?: string[] }[];
  hostname?: string;
  sshKeys?: string[];
  password?: string;
}

export interface VmStats {
  state: VmState;
  'uptime-ms': number;
  instructions?: number;
  mips?: number;
  /** cpu-percent (the daemon's): over the time since anyone's previous stats request. */
  host?: { 'cpu-ms': number; rss: number; 'cpu-percent'?: number };
  disks?: { id: string; 'rd-bytes': number; 'wr-bytes': number; 'rd-ops': number; 'wr-ops': number }[];
  nics?: { id: string; 'rx-bytes': number; 'tx-bytes': number; 'rx-packets': number; 'tx-packets': number }[];
}

export interface Snapshot {
  name: string;
  created: string;
  vmState: boolean;
}

/** A lifecycle change, as stored (GET /v1/vms/{name}/events) and streamed (GET /v1/events). */
export interface VmEvent {
  vm: string;
  state: VmState;
  previous?: VmState | null;
  reason?: string | null;
  time: string;
  id?: number;
}

export interface Template {
  name: string;
  from: string;
  memory: number;
  cpus: number;
  disks: { path: string; format: string; readonly: boolean; owned: boolean }[];
  nics: number;
  created: string;
}

/** A backup as POST/GET /v1/vms/{name}/backups show it (docs/manager.md "Backups"): the daemon's own type. */
export type { BackupJob } from '../backup.ts';
/** GET/PUT /v1/vms/{name}/backup-schedule. */
export type { ScheduleJson as BackupSchedule } from '../backup-schedule.ts';
