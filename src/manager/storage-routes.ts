/** The routes of storage-ops.ts: snapshots, clones, import and export (docs/manager.md). */
import type { FastifyInstance } from 'fastify';
import type { Manager } from './manager.ts';
import { nameSchema } from './vm-def.ts';
import {
  cloneVm,
  createSnapshot,
  deleteSnapshot,
  exportVm,
  importVm,
  listSnapshots,
  revertSnapshot,
} from './storage-ops.ts';

const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;
const nameParams = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: nameSchema },
} as const;
const snapParams = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'snap'],
  properties: { name: nameSchema, snap: nameSchema },
} as const;
const snapshotJson = {
  type: 'object',
  properties: { name: { type: 'string' }, created: { type: 'string' }, vmState: { type: 'boolean' } },
} as const;
const path = { type: 'string', minLength: 1, maxLength: 4096 } as const;

export async function registerStorageRoutes(
  app: FastifyInstance,
  mgr: Manager,
  errors: Record<number, unknown>,
): Promise<void> {
  const vm = { type: 'object', additionalProperties: true } as const;

  app.get<{ Params: { name: string } }>(
    '/v1/vms/:name/snapshots',
    {
      schema: {
        params: nameParams,
        querystring: noQuery,
        response: { 200: { type: 'array', items: snapshotJson }, ...errors },
      },
    },
    async (req) => listSnapshots(mgr, req.params.name),
  );

  app.post<{ Params: { name: string }; Body: { name: string } }>(
    '/v1/vms/:name/snapshots',
    {
      schema: {
        params: nameParams,
        querystring: noQuery,
        body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: nameSchema } },
        response: { 201: snapshotJson, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(await createSnapshot(mgr, req.params.name, req.body.name)),
  );

  app.post<{ Params: { name: string; snap: string } }>(
    '/v1/vms/:name/snapshots/:snap/revert',
    {
      schema: {
        params: snapParams,
        querystring: noQuery,
        body: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: vm, ...errors },
      },
    },
    async (req) => revertSnapshot(mgr, req.params.name, req.params.snap),
  );

  app.delete<{ Params: { name: string; snap: string } }>(
    '/v1/vms/:name/snapshots/:snap',
    { schema: { params: snapParams, querystring: noQuery, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      await deleteSnapshot(mgr, req.params.name, req.params.snap);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { name: string }; Body: { name: string; mode: 'linked' | 'full' } }>(
    '/v1/vms/:name/clone',
    {
      schema: {
        params: nameParams,
        querystring: noQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'mode'],
          properties: { name: nameSchema, mode: { type: 'string', enum: ['linked', 'full'] } },
        },
        response: { 201: vm, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(await cloneVm(mgr, req.params.name, req.body)),
  );

  app.post<{ Body: { path: string; name: string } }>(
    '/v1/vms/import',
    {
      schema: {
        querystring: noQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['path', 'name'],
          properties: { path, name: nameSchema },
        },
        response: { 201: vm, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(await importVm(mgr, req.body)),
  );

  app.post<{ Params: { name: string }; Body: { path: string } }>(
    '/v1/vms/:name/export',
    {
      schema: {
        params: nameParams,
        querystring: noQuery,
        body: { type: 'object', additionalProperties: false, required: ['path'], properties: { path } },
        response: {
          200: { type: 'object', properties: { path: { type: 'string' }, size: { type: 'integer' } } },
          ...errors,
        },
      },
    },
    async (req) => exportVm(mgr, req.params.name, req.body),
  );
}
