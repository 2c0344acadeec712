/**
 * Templates (docs/manager.md, "Templates"): a stopped VM's configuration and a flattened,
 * read-only qcow2 copy of each of its writable disks, kept in STATE/templates/<name>/. A VM made
 * from a template (`POST /v1/vms {template}`) gets an owned qcow2 overlay per template disk
 * (a linked clone: creating it writes a qcow2 header, whatever the disk's size), and shares the
 * read-only disks the source VM had. The template's files are mode 0444 and never opened for
 * writing; a template is deleted only while no VM's disk is an overlay on it.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { imgConvert } from '../storage/img/index.ts';
import { nodeImgContext } from '../host/node/img-host.ts';
import { describeError } from '../host/node/errno-words.ts';
import { badRequest, conflict, notFound, unusable, wrongState } from './api-error.ts';
import type { TemplateRow, VmDisk, VmRow } from './db.ts';
import type { Manager } from './manager.ts';
import { checkNics, createOwnedDisk, nameSchema, type CreateVmBody } from './vm-def.ts';

export function templateJson(t: TemplateRow) {
  return {
    name: t.name,
    from: t.from,
    memory: t.memory,
    cpus: t.cpus,
    source: t.source,
    ...(t.append !== undefined ? { append: t.append } : {}),
    disks: t.disks.map((d) => ({ path: d.path, format: d.format, readonly: true, owned: d.owned })),
    nics: t.nics,
    created: t.created,
  };
}

function template(mgr: Manager, name: string): TemplateRow {
  const t = mgr.db.getTemplate(name);
  if (!t) throw notFound(`template '${name}'`);
  return t;
}

/** VMs with a disk whose backing file is one of the template's own disks. */
function usersOf(mgr: Manager, t: TemplateRow): string[] {
  const mine = new Set(t.disks.filter((d) => d.owned).map((d) => d.path));
  return mgr.db
    .listVms()
    .filter((v) => v.disks.some((d) => d.backing !== undefined && mine.has(d.backing)))
    .map((v) => v.name);
}

/** Makes template `name` from VM `from`, which must be stopped (its disks are copied). */
export async function createTemplate(mgr: Manager, name: string, from: string) {
  const vm = mgr.vm(from);
  if (mgr.db.getTemplate(name)) throw conflict(`a template named '${name}' exists`);
  return mgr.exclusive(vm, 'a template copy', async () => {
    const cur = mgr.vm(from);
    if (cur.state !== 'stopped' && cur.state !== 'crashed')
      throw wrongState(from, cur.state, 'make a template of (its disks are in use: stop it first)');
    const dir = mgr.dir.templateDir(name);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw unusable(`cannot create ${dir}: ${describeError(e)}`);
    }
    try {
      const ctx = nodeImgContext();
      const disks: VmDisk[] = [];
      for (const [i, d] of cur.disks.entries()) {
        if (d.readonly) {
          disks.push({ ...d, owned: false });
          continue;
        }
        const p = join(dir, `disk${i}.qcow2`);
        // Flattened (a VM made from an image has an overlay; the template must not depend on it).
        await imgConvert(ctx, [d.path], p, { sourceFormat: d.format, format: 'qcow2', cache: 'writeback' });
        chmodSync(p, 0o444);
        disks.push({ path: p, format: 'qcow2', owned: true, readonly: true });
      }
      const t: TemplateRow = {
        name,
        from,
        memory: cur.memory,
        cpus: cur.cpus,
        source: cur.source,
        ...(cur.append !== undefined ? { append: cur.append } : {}),
        disks,
        nics: cur.nics.length,
        created: new Date().toISOString(),
      };
      if (!mgr.db.insertTemplate(t)) throw conflict(`a template named '${name}' exists`);
      return templateJson(t);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      if (e instanceof Error && 'status' in e) throw e;
      throw unusable(`making template '${name}' of VM '${from}': ${describeError(e)}`);
    }
  });
}

/**
 * The VM row of a create request naming a template: the template's configuration (memory and
 * cpus may be overridden), an owned overlay per template disk. `source` and `disks` cannot be
 * given with a template (400).
 */
export async function buildFromTemplate(mgr: Manager, id: string, dir: string, body: CreateVmBody): Promise<VmRow> {
  if (body.source !== undefined || body.disks !== undefined)
    throw badRequest('a VM made from a template takes its source and disks from it: give template or source/disks');
  const t = template(mgr, body.template!);
  const disks: VmDisk[] = [];
  for (const [i, d] of t.disks.entries())
    disks.push(
      d.owned
        ? await createOwnedDisk(dir, `disk${i}.qcow2`, { backing: { path: d.path, format: d.format } })
        : { ...d, owned: false },
    );
  const nics = checkNics(body.nics ?? Array.from({ length: t.nics }, () => ({})), disks.length);
  const append = body.append ?? t.append;
  return {
    id,
    name: body.name,
    state: 'stopped',
    memory: body.memory ?? t.memory,
    cpus: body.cpus ?? t.cpus,
    source: t.source,
    ...(append !== undefined ? { append } : {}),
    disks,
    nics,
    created: new Date().toISOString(),
    pool: body.pool ?? 'default',
  };
}

export async function registerTemplateRoutes(
  app: FastifyInstance,
  mgr: Manager,
  errors: Record<number, unknown>,
): Promise<void> {
  const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;
  const params = {
    type: 'object',
    additionalProperties: false,
    required: ['template'],
    properties: { template: nameSchema },
  } as const;
  const json = { type: 'object', additionalProperties: true } as const;

  app.get(
    '/v1/templates',
    { schema: { querystring: noQuery, response: { 200: { type: 'array', items: json }, ...errors } } },
    async () => mgr.db.listTemplates().map(templateJson),
  );
  app.post<{ Body: { name: string; from: string } }>(
    '/v1/templates',
    {
      schema: {
        querystring: noQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'from'],
          properties: { name: nameSchema, from: { ...nameSchema, description: 'a stopped VM' } },
        },
        response: { 201: json, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(await createTemplate(mgr, req.body.name, req.body.from)),
  );
  app.get<{ Params: { template: string } }>(
    '/v1/templates/:template',
    { schema: { params, querystring: noQuery, response: { 200: json, ...errors } } },
    async (req) => templateJson(template(mgr, req.params.template)),
  );
  app.delete<{ Params: { template: string } }>(
    '/v1/templates/:template',
    { schema: { params, querystring: noQuery, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      const t = template(mgr, req.params.template);
      const users = usersOf(mgr, t);
      if (users.length)
        throw conflict(`template '${t.name}' is the base of VM(s) ${users.join(', ')}: delete them first`);
      mgr.db.deleteTemplate(t.name);
      rmSync(mgr.dir.templateDir(t.name), { recursive: true, force: true });
      return reply.code(204).send();
    },
  );
}
