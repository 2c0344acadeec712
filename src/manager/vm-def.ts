/**
 * VM definitions: the request bodies that describe a VM (JSON schemas, so Fastify refuses a
 * malformed one with 400 before any handler runs), the checks a schema cannot make (hostfwd
 * parsed as `virtkit run --net` parses it, files that must exist and open), the disks the
 * manager creates and owns, and the `virtkit run` flags a definition becomes.
 */
import { seedSchemas } from './cloud-init.ts';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { imgCreate } from '../storage/img/index.ts';
import { nodeImgContext } from '../host/node/img-host.ts';
import { openImageFile } from '../host/node/open-image.ts';
import { NetConfigError, parseNetSpec } from '../host/node/net/netdev.ts';
import { describeError } from '../host/node/errno-words.ts';
import { ApiError, badRequest, unusable } from './api-error.ts';
import type { VmDisk, VmNic, VmRow, VmSource } from './db.ts';

export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';
/** Guest RAM in MiB: `virtkit run --memory` takes 16M..4G. */
export const MEMORY_MIN = 16;
export const MEMORY_MAX = 4096;
export const CPUS_MAX = 8;
/** Disks and NICs share the board's six free virtio slots (src/machine/virt.ts VIRT_DEVICE_SLOTS). */
export const DEVICE_SLOTS = 6;
/** Largest disk the manager creates: 1 TiB (qcow2 is sparse, but an absurd size is a typo). */
export const DISK_MAX_MIB = 1024 * 1024;
const PATH_MAX = 4096;

const path = { type: 'string', minLength: 1, maxLength: PATH_MAX } as const;
const format = { type: 'string', enum: ['raw', 'qcow2', 'vmdk', 'vpc', 'vhdx'] } as const;
const hostfwd = {
  type: 'array',
  maxItems: 16,
  items: { type: 'string', minLength: 1, maxLength: 80, pattern: '^[A-Za-z0-9.:-]+$' },
} as const;
const nic = { type: 'object', additionalProperties: false, properties: { hostfwd } } as const;
const append = { type: 'string', maxLength: 4096 } as const;

export const nameSchema = { type: 'string', pattern: NAME_PATTERN } as const;

export const createVmSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: nameSchema,
    pool: { ...nameSchema, description: "the resource pool (default: 'default')" },
    template: { ...nameSchema, description: 'make the VM a linked clone of this template (no source or disks then)' },
    memory: { type: 'integer', minimum: MEMORY_MIN, maximum: MEMORY_MAX, description: 'MiB' },
    cpus: { type: 'integer', minimum: 1, maximum: CPUS_MAX },
    append,
    source: {
      type: 'object',
      discriminator: { propertyName: 'type' },
      required: ['type'],
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['type'],
          properties: { type: { const: 'default' } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'path'],
          properties: { type: { const: 'image' }, path, format },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'kernel'],
          properties: { type: { const: 'kernel' }, kernel: path, initrd: path, append },
        },
      ],
    },
    disks: {
      type: 'array',
      maxItems: DEVICE_SLOTS,
      items: {
        oneOf: [
          {
            type: 'object',
            additionalProperties: false,
            required: ['path'],
            properties: { path, format, readonly: { type: 'boolean' } },
          },
          {
            type: 'object',
            additionalProperties: false,
            required: ['size'],
            properties: {
              size: { type: 'integer', minimum: 1, maximum: DISK_MAX_MIB, description: 'MiB' },
              format: { const: 'qcow2' },
            },
          },
        ],
      },
    },
    nics: { type: 'array', maxItems: DEVICE_SLOTS, items: nic },
    ...seedSchemas,
  },
} as const;

export const patchVmSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    memory: createVmSchema.properties.memory,
    cpus: createVmSchema.properties.cpus,
    nics: createVmSchema.properties.nics,
    append,
  },
} as const;

export type CreateDisk = { path: string; format?: string; readonly?: boolean } | { size: number; format?: 'qcow2' };
export type CreateSource =
  | { type: 'default' }
  | { type: 'image'; path: string; format?: string }
  | { type: 'kernel'; kernel: string; initrd?: string; append?: string };

export interface CreateVmBody {
  name: string;
  pool?: string;
  template?: string;
  memory?: number;
  cpus?: number;
  append?: string;
  source?: CreateSource;
  disks?: CreateDisk[];
  nics?: Array<{ hostfwd?: string[] }>;
  /** cloud-init NoCloud seed (cloud-init.ts). */
  hostname?: string;
  sshKeys?: string[];
  password?: string;
}

export interface PatchVmBody {
  memory?: number;
  cpus?: number;
  nics?: Array<{ hostfwd?: string[] }>;
  append?: string;
}

export const newVmId = () => randomBytes(6).toString('hex');

/** Checks NICs as `virtkit run --net user,hostfwd=...` would, so a VM that was accepted starts. */
export function checkNics(nics: Array<{ hostfwd?: string[] }>, diskCount: number): VmNic[] {
  if (nics.length + diskCount > DEVICE_SLOTS)
    throw badRequest(
      `${diskCount} disk(s) and ${nics.length} NIC(s) do not fit: a VM has ${DEVICE_SLOTS} virtio slots for disks and NICs together`,
    );
  const seen = new Set<string>();
  return nics.map((n, i) => {
    const forwards = n.hostfwd ?? [];
    for (const [j, f] of forwards.entries()) {
      const text = `user,hostfwd=${f}`;
      let spec;
      try {
        spec = parseNetSpec(text);
      } catch (e) {
        if (!(e instanceof NetConfigError)) throw e;
        const why = e.message.replace(`--net ${text}: `, '').replace(`hostfwd '${f}': `, '');
        throw badRequest(`body.nics[${i}].hostfwd[${j}] '${f}': ${why}`);
      }
      if (spec.kind === 'user')
        for (const fw of spec.forwards) {
          const key = `${fw.proto}:${fw.hostAddr}:${fw.hostPort}`;
          if (seen.has(key)) throw badRequest(`body.nics[${i}].hostfwd[${j}]: host port ${key} is forwarded twice`);
          seen.add(key);
        }
    }
    return { hostfwd: [...forwards] };
  });
}

async function mustBeFile(p: string, what: string): Promise<void> {
  if (!isAbsolute(p)) throw badRequest(`${what} '${p}' must be an absolute path (the daemon has its own directory)`);
  try {
    const s = await stat(p);
    if (!s.isFile()) throw unusable(`${what} '${p}' is not a regular file`);
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw unusable(`${what} '${p}': ${describeError(e)}`);
  }
}

/** Opens an image read-only (sharing: a running VM may hold it) to learn its format; 422 if it does not open. */
async function probeImage(p: string, fmt: string | undefined, what: string): Promise<string> {
  await mustBeFile(p, what);
  if (p.includes(',')) throw badRequest(`${what} '${p}': a disk path may not contain ',' (virtkit run --disk syntax)`);
  try {
    const b = await openImageFile(p, { readOnly: true, forceShare: true, ...(fmt ? { format: fmt } : {}) });
    const f = b.format;
    await b.close();
    return f;
  } catch (e) {
    throw unusable(`${what} '${p}' does not open as a disk image: ${describeError(e)}`);
  }
}

/** A qcow2 the manager creates in a VM's directory (owned: deleted with the VM). */
export async function createOwnedDisk(
  dir: string,
  file: string,
  opts: { sizeMiB?: number; backing?: { path: string; format: string } },
): Promise<VmDisk> {
  const p = join(dir, file);
  try {
    await imgCreate(nodeImgContext(), p, {
      format: 'qcow2',
      ...(opts.sizeMiB !== undefined ? { size: opts.sizeMiB * 1024 * 1024 } : {}),
      ...(opts.backing ? { backingFile: opts.backing.path, backingFormat: opts.backing.format } : {}),
    });
  } catch (e) {
    throw unusable(`cannot create disk ${p}: ${describeError(e)}`);
  }
  return {
    path: p,
    format: 'qcow2',
    owned: true,
    readonly: false,
    ...(opts.backing ? { backing: opts.backing.path } : {}),
  };
}

/**
 * Turns a create request into a VM row, creating its directory's disks. `dir` exists and is
 * empty; on failure the caller removes it.
 */
export async function buildVm(id: string, dir: string, body: CreateVmBody): Promise<VmRow> {
  const src = body.source ?? { type: 'default' };
  const wanted = body.disks ?? [];
  const nics = checkNics(body.nics ?? [], wanted.length + (src.type === 'image' ? 1 : 0));
  let source: VmSource = { type: 'default' };
  let append = body.append;
  const disks: VmDisk[] = [];
  if (src.type === 'kernel') {
    await mustBeFile(src.kernel, 'source.kernel');
    if (src.initrd !== undefined) await mustBeFile(src.initrd, 'source.initrd');
    source = { type: 'kernel', kernel: src.kernel, ...(src.initrd !== undefined ? { initrd: src.initrd } : {}) };
    if (src.append !== undefined) {
      if (append !== undefined && append !== src.append)
        throw badRequest('append is given twice (append and source.append) with different values');
      append = src.append;
    }
  } else if (src.type === 'image') {
    // The image is the VM's first disk through an owned qcow2 overlay: the VM writes its
    // overlay, never the image, so one image can seed many VMs.
    const fmt = await probeImage(src.path, src.format, 'source.path');
    source = { type: 'image', path: src.path, format: fmt };
    disks.push(await createOwnedDisk(dir, 'root.qcow2', { backing: { path: src.path, format: fmt } }));
  }
  for (const [i, d] of wanted.entries()) {
    if ('size' in d) disks.push(await createOwnedDisk(dir, `disk${disks.length}.qcow2`, { sizeMiB: d.size }));
    else {
      const fmt = await probeImage(d.path, d.format, `disks[${i}].path`);
      disks.push({ path: d.path, format: fmt, owned: false, readonly: d.readonly === true });
    }
  }
  return {
    id,
    name: body.name,
    state: 'stopped',
    memory: body.memory ?? 512,
    cpus: body.cpus ?? 1,
    source,
    ...(append !== undefined ? { append } : {}),
    disks,
    nics,
    created: new Date().toISOString(),
    pool: body.pool ?? 'default',
  };
}

/** Files of a running VM, in its directory. */
export function vmFiles(dir: string) {
  return {
    qmp: join(dir, 'qmp.sock'),
    console: join(dir, 'console.sock'),
    consoleLog: join(dir, 'console.log'),
    pid: join(dir, 'vm.pid'),
    stderr: join(dir, 'vm.stderr'),
    snapshots: join(dir, 'snapshots'),
  };
}

/** The `virtkit run` arguments of a VM (after `run`). `restore`: resume this snapshot file instead of booting. */
export function runArgs(vm: VmRow, dir: string, restore?: string): string[] {
  const f = vmFiles(dir);
  const a: string[] = [];
  if (restore) a.push('--restore', restore);
  else {
    a.push('--memory', `${vm.memory}M`, '--cpus', String(vm.cpus));
    if (vm.source.type === 'kernel') {
      a.push('--kernel', vm.source.kernel);
      if (vm.source.initrd) a.push('--initrd', vm.source.initrd);
    }
    if (vm.append !== undefined) a.push('--append', vm.append);
  }
  for (const d of vm.disks) a.push('--disk', `${d.path},format=${d.format}${d.readonly ? ',readonly' : ''}`);
  for (const n of vm.nics) a.push('--net', ['user', ...n.hostfwd.map((h) => `hostfwd=${h}`)].join(','));
  a.push('--qmp', `unix:${f.qmp}`, '--console', `unix:${f.console}`, '--console-log', f.consoleLog, '--pidfile', f.pid);
  return a;
}
