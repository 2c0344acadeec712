/** The routes of backups, restores and backup schedules (docs/manager.md "Backups"). */
import type { FastifyInstance } from 'fastify';
import type { Manager } from './manager.ts';
import { nameSchema } from './vm-def.ts';
import { backupJobs, restoreBackup, startBackup, type BackupRequest } from './backup.ts';
import { EVERY_MAX, EVERY_MIN, deleteSchedule, getSchedule, putSchedule, type PutScheduleBody } from './backup-schedule.ts';

const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;
const nameParams = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: nameSchema },
} as const;
const path = { type: 'string', minLength: 1, maxLength: 4096 } as const;
const jobSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    vm: { type: 'string' },
    dest: { type: 'string' },
    path: { type: 'string' },
    kind: { type: 'string', enum: ['full', 'incremental'] },
    fullBecause: { type: 'string' },
    ram: { type: 'boolean' },
    state: { type: 'string', enum: ['copying', 'done', 'failed'] },
    progress: { type: 'object', properties: { bytes: { type: 'integer' }, total: { type: 'integer' } } },
    started: { type: 'string' },
    finished: { type: 'string' },
    error: { type: 'string' },
  },
} as const;
const scheduleSchema = {
  type: 'object',
  properties: {
    vm: { type: 'string' },
    every: { type: 'integer' },
    keep: { type: 'integer' },
    dest: { type: 'string' },
    incremental: { type: 'boolean' },
    ram: { type: 'boolean' },
    created: { type: 'string' },
    lastRun: { type: 'string' },
    lastResult: { type: 'string' },
    nextRun: { type: 'string' },
  },
} as const;

export async function registerBackupRoutes(
  app: FastifyInstance,
  mgr: Manager,
  errors: Record<number, unknown>,
): Promise<void> {
  app.post<{ Params: { name: string }; Body: BackupRequest }>(
    '/v1/vms/:name/backups',
    {
      schema: {
        params: nameParams,
        querystring: noQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['dest'],
          properties: { dest: path, ram: { type: 'boolean' }, incremental: { type: 'boolean' } },
        },
        response: { 202: jobSchema, ...errors },
      },
    },
    async (req, reply) => reply.code(202).send((await startBackup(mgr, req.params.name, req.body)).job),
  );

  app.get<{ Params: { name: string } }>(
    '/v1/vms/:name/backups',
    {
      schema: {
        params: nameParams,
        querystring: noQuery,
        response: { 200: { type: 'array', items: jobSchema }, ...errors },
      },
    },
    async (req) => backupJobs(mgr, req.params.name),
  );

  app.post<{ Body: { path: string; name?: string } }>(
    '/v1/vms/restore',
    {
      schema: {
        querystring: noQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['path'],
          properties: { path, name: nameSchema },
        },
        response: { 201: { type: 'object', additionalProperties: true }, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(await restoreBackup(mgr, req.body)),
  );

  app.put<{ Params: { name: string }; Body: PutScheduleBody }>(
    '/v1/vms/:name/backup-schedule',
    {
      schema: {
        params: nameParams,
        querystring: noQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['every', 'keep', 'dest'],
          properties: {
            every: {
              oneOf: [
                { type: 'integer', minimum: EVERY_MIN, maximum: EVERY_MAX },
                { type: 'string', pattern: '^[0-9]+[smhdw]$' },
              ],
            },
            keep: { type: 'integer', minimum: 1, maximum: 1000 },
            dest: path,
            incremental: { type: 'boolean' },
            ram: { type: 'boolean' },
          },
        },
        response: { 200: scheduleSchema, ...errors },
      },
    },
    async (req) => putSchedule(mgr, req.params.name, req.body),
  );

  app.get<{ Params: { name: string } }>(
    '/v1/vms/:name/backup-schedule',
    { schema: { params: nameParams, querystring: noQuery, response: { 200: scheduleSchema, ...errors } } },
    async (req) => getSchedule(mgr, req.params.name),
  );

  app.delete<{ Params: { name: string } }>(
    '/v1/vms/:name/backup-schedule',
    { schema: { params: nameParams, querystring: noQuery, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      deleteSchedule(mgr, req.params.name);
      return reply.code(204).send();
    },
  );
}
