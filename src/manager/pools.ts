/**
 * Resource pools (docs/manager.md, "Pools"): every VM belongs to one pool ('default' unless
 * created with another), and a pool may limit
 *   - vms: the VMs defined in it, and disk: the virtual size of their owned disks (bytes) —
 *     checked when a VM is created in it (create, clone, import, template);
 *   - vcpus and memory (bytes): what its active VMs (starting, running, paused, stopping) hold —
 *     checked when one starts.
 * A refusal is 409 `quota_exceeded` naming the pool, the quota, the use and the ask. A quota set
 * below the current use refuses new VMs and starts only; nothing running is touched.
 *
 * Races: a start's check and its move to 'starting' run with no await between them (the
 * supervisor's first step is synchronous), so two starts cannot both squeeze under one quota.
 * Creations measure disks (asynchronously), so they are serialised per pool (admit()).
 */
import type { FastifyInstance } from 'fastify';
import { ApiError, conflict, notFound } from './api-error.ts';
import { QUOTA_KEYS, type PoolQuota, type PoolRow, type VmRow } from './db.ts';
import type { Manager } from './manager.ts';
import { nameSchema } from './vm-def.ts';
import { stat } from 'node:fs/promises';
import { openImageFile } from '../host/node/open-image.ts';

export const DEFAULT_POOL = 'default';
const ACTIVE = new Set(['starting', 'running', 'paused', 'stopping']);

export interface PoolUsage {
  vcpus: number;
  memory: number;
  disk: number;
  vms: number;
}

/** 1.5 GiB, 512 MiB, 0 B: the units quota messages use. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toFixed(2))} ${units[i]}`;
}

const quotaText = (key: keyof PoolQuota, n: number) =>
  key === 'memory' || key === 'disk' ? formatBytes(n) : String(n);

export class QuotaExceeded extends ApiError {
  constructor(pool: string, key: keyof PoolQuota, quota: number, used: number, asked: number) {
    super(
      409,
      'quota_exceeded',
      `pool "${pool}": ${key} quota ${quotaText(key, quota)} would be exceeded (${quotaText(key, used)} used, ${quotaText(key, asked)} asked)`,
    );
  }
}

/** Throws QuotaExceeded for the first limit of `quota` that `used + asked` would pass. */
export function checkQuota(pool: string, quota: PoolQuota, used: Partial<PoolUsage>, asked: Partial<PoolUsage>): void {
  for (const k of QUOTA_KEYS) {
    const q = quota[k];
    const a = asked[k] ?? 0;
    const u = used[k] ?? 0;
    if (q !== undefined && a > 0 && u + a > q) throw new QuotaExceeded(pool, k, q, u, a);
  }
}

/** Virtual sizes of owned disks, by path and mtime (a pool listing opens each image once). */
const sizeCache = new Map<string, { mtimeMs: number; size: number }>();

async function diskBytes(vm: VmRow): Promise<number> {
  let total = 0;
  for (const d of vm.disks) {
    if (!d.owned) continue;
    try {
      const st = await stat(d.path);
      const hit = sizeCache.get(d.path);
      if (hit && hit.mtimeMs === st.mtimeMs) {
        total += hit.size;
        continue;
      }
      const b = await openImageFile(d.path, { readOnly: true, forceShare: true, format: d.format });
      const size = b.size;
      await b.close();
      sizeCache.set(d.path, { mtimeMs: st.mtimeMs, size });
      if (sizeCache.size > 4096) sizeCache.delete(sizeCache.keys().next().value!);
      total += size;
    } catch {
      // a disk that is gone or does not open counts nothing (the VM will not start anyway)
    }
  }
  return total;
}

/** What the active VMs of a pool hold (synchronous: used by the start check). */
function activeUse(vms: VmRow[], pool: string): Pick<PoolUsage, 'vcpus' | 'memory'> {
  let vcpus = 0;
  let memory = 0;
  for (const v of vms)
    if (v.pool === pool && ACTIVE.has(v.state)) {
      vcpus += v.cpus;
      memory += v.memory * 1024 * 1024;
    }
  return { vcpus, memory };
}

export async function poolUsage(mgr: Manager, pool: string): Promise<PoolUsage> {
  const vms = mgr.db.listVms();
  const mine = vms.filter((v) => v.pool === pool);
  let disk = 0;
  for (const v of mine) disk += await diskBytes(v);
  return { ...activeUse(vms, pool), disk, vms: mine.length };
}

export function pool(mgr: Manager, name: string): PoolRow {
  const p = mgr.db.getPool(name);
  if (!p) throw notFound(`pool '${name}'`);
  return p;
}

/** Start check: the VM's vcpus and memory on top of its pool's active VMs. Synchronous (see above). */
export function checkStart(mgr: Manager, vm: VmRow): void {
  const p = mgr.db.getPool(vm.pool);
  if (!p) return; // its pool was lost with an older database: nothing to enforce
  const others = mgr.db.listVms().filter((v) => v.id !== vm.id);
  checkQuota(p.name, p.quota, activeUse(others, p.name), { vcpus: vm.cpus, memory: vm.memory * 1024 * 1024 });
}

const locks = new Map<string, Promise<unknown>>();

/**
 * Admits a new VM into its pool: one VM more, its owned disks' size on top of the pool's, under
 * a per-pool lock held until `insert` (which writes the row) returns.
 */
export async function admit<T>(mgr: Manager, vm: VmRow, insert: () => T): Promise<T> {
  const prev = locks.get(vm.pool) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chain = prev.then(() => mine);
  locks.set(vm.pool, chain);
  await prev;
  try {
    const p = pool(mgr, vm.pool);
    const used = await poolUsage(mgr, p.name);
    checkQuota(p.name, p.quota, { vms: used.vms, disk: used.disk }, { vms: 1, disk: await diskBytes(vm) });
    return insert();
  } finally {
    release();
    if (locks.get(vm.pool) === chain) locks.delete(vm.pool);
  }
}

// -- the API

const quotaValue = (max: number, description: string) =>
  ({ type: ['integer', 'null'], minimum: 0, maximum: max, description }) as const;
const quotaSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    vcpus: quotaValue(1_000_000, 'vCPUs of the active VMs'),
    memory: quotaValue(2 ** 53 - 1, 'bytes of guest RAM of the active VMs'),
    disk: quotaValue(2 ** 53 - 1, 'bytes: virtual size of the owned disks of all its VMs'),
    vms: quotaValue(1_000_000, 'VMs defined in it'),
  },
} as const;

const poolJsonSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    quota: {
      type: 'object',
      properties: Object.fromEntries(QUOTA_KEYS.map((k) => [k, { type: 'integer' }])),
    },
    usage: {
      type: 'object',
      properties: Object.fromEntries(QUOTA_KEYS.map((k) => [k, { type: 'integer' }])),
    },
    created: { type: 'string' },
  },
} as const;

/** A quota from a request: null or absent is unlimited. */
function quotaOf(body: Partial<Record<keyof PoolQuota, number | null>> | undefined, base: PoolQuota = {}): PoolQuota {
  const q: PoolQuota = { ...base };
  for (const k of QUOTA_KEYS) {
    const v = body?.[k];
    if (v === null) delete q[k];
    else if (v !== undefined) q[k] = v;
  }
  return q;
}

async function poolJson(mgr: Manager, p: PoolRow) {
  return { name: p.name, quota: p.quota, usage: await poolUsage(mgr, p.name), created: p.created };
}

type QuotaBody = Partial<Record<keyof PoolQuota, number | null>>;

export async function registerPoolRoutes(
  app: FastifyInstance,
  mgr: Manager,
  errors: Record<number, unknown>,
): Promise<void> {
  const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;
  const params = {
    type: 'object',
    additionalProperties: false,
    required: ['pool'],
    properties: { pool: nameSchema },
  } as const;

  app.get(
    '/v1/pools',
    { schema: { querystring: noQuery, response: { 200: { type: 'array', items: poolJsonSchema }, ...errors } } },
    async () => Promise.all(mgr.db.listPools().map((p) => poolJson(mgr, p))),
  );

  app.post<{ Body: { name: string; quota?: QuotaBody } }>(
    '/v1/pools',
    {
      schema: {
        querystring: noQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: { name: nameSchema, quota: quotaSchema },
        },
        response: { 201: poolJsonSchema, ...errors },
      },
    },
    async (req, reply) => {
      const p: PoolRow = { name: req.body.name, quota: quotaOf(req.body.quota), created: new Date().toISOString() };
      if (!mgr.db.insertPool(p)) throw conflict(`a pool named '${p.name}' exists`);
      return reply.code(201).send(await poolJson(mgr, p));
    },
  );

  app.get<{ Params: { pool: string } }>(
    '/v1/pools/:pool',
    { schema: { params, querystring: noQuery, response: { 200: poolJsonSchema, ...errors } } },
    async (req) => poolJson(mgr, pool(mgr, req.params.pool)),
  );

  app.patch<{ Params: { pool: string }; Body: { quota: QuotaBody } }>(
    '/v1/pools/:pool',
    {
      schema: {
        params,
        querystring: noQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['quota'],
          properties: { quota: quotaSchema },
          description: 'quota fields given replace the current ones; null removes a limit',
        },
        response: { 200: poolJsonSchema, ...errors },
      },
    },
    async (req) => {
      const p = pool(mgr, req.params.pool);
      mgr.db.setPoolQuota(p.name, quotaOf(req.body.quota, p.quota));
      return poolJson(mgr, pool(mgr, p.name));
    },
  );

  app.delete<{ Params: { pool: string } }>(
    '/v1/pools/:pool',
    { schema: { params, querystring: noQuery, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      const p = pool(mgr, req.params.pool);
      if (p.name === DEFAULT_POOL) throw conflict(`the pool '${DEFAULT_POOL}' cannot be deleted`);
      if (!mgr.db.deletePool(p.name)) {
        const vms = mgr.db
          .listVms()
          .filter((v) => v.pool === p.name)
          .map((v) => v.name);
        throw conflict(`pool '${p.name}' has VMs (${vms.join(', ')}): delete them or move them first`);
      }
      return reply.code(204).send();
    },
  );
}
