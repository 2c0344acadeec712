/**
 * First-boot customisation of a new VM: `hostname`, `sshKeys`, `password` in POST /v1/vms give
 * it a cloud-init NoCloud seed (docs/manager.md "Templates"): a read-only raw disk `seed.img` in
 * the VM's directory, a FAT file system labelled CIDATA (src/storage/cidata.ts) with meta-data
 * (instance-id = the VM's id, local-hostname) and user-data (#cloud-config). It is the VM's last
 * disk, owned (removed with the VM).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSeedImage } from '../storage/cidata.ts';
import { badRequest } from './api-error.ts';
import type { VmRow } from './db.ts';

export const seedSchemas = {
  hostname: {
    type: 'string',
    maxLength: 253,
    pattern: '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$',
    description: 'cloud-init: the guest host name',
  },
  sshKeys: {
    type: 'array',
    maxItems: 32,
    items: { type: 'string', minLength: 1, maxLength: 16384, pattern: '^[A-Za-z0-9@.-]+ [^\\r\\n]+$' },
    description: 'cloud-init: public keys (OpenSSH one-line format) of the user virtkit',
  },
  password: {
    type: 'string',
    minLength: 1,
    maxLength: 256,
    pattern: '^[^\\r\\n]+$',
    description: 'cloud-init: the password of the user virtkit (kept in the seed disk as given)',
  },
} as const;

export interface SeedFields {
  hostname?: string;
  sshKeys?: string[];
  password?: string;
}

export const wantsSeed = (b: SeedFields) => b.hostname !== undefined || b.sshKeys !== undefined || b.password !== undefined;

/** Writes the seed into `dir` and adds it to `vm` as its last disk. */
/** `slots`: virtio slots for disks and NICs (vm-def.ts DEVICE_SLOTS; passed in: vm-def imports this file). */
export function attachSeed(vm: VmRow, dir: string, b: SeedFields, slots: number): void {
  if (vm.disks.length + vm.nics.length + 1 > slots)
    throw badRequest(
      `the cloud-init seed needs a disk slot: ${vm.disks.length} disk(s) and ${vm.nics.length} NIC(s) leave none of ${slots}`,
    );
  const path = join(dir, 'seed.img');
  writeFileSync(
    path,
    buildSeedImage({
      instanceId: vm.id,
      ...(b.hostname !== undefined ? { hostname: b.hostname } : {}),
      ...(b.sshKeys !== undefined ? { sshKeys: b.sshKeys } : {}),
      ...(b.password !== undefined ? { password: b.password } : {}),
    }),
    { mode: 0o600 },
  );
  vm.disks.push({ path, format: 'raw', owned: true, readonly: true });
}
