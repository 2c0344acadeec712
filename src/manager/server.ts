/**
 * The REST API (docs/manager.md) on Fastify. Every body, path parameter and query string has a
 * JSON schema with additionalProperties false, so a malformed request is refused with 400 before
 * a handler runs, and the OpenAPI document at /openapi.json is generated from the same schemas
 * (@fastify/swagger). Errors are always `{"error": {"code", "message"}}`.
 *
 * One app is built per listener: the unix socket (its 0600 mode is the access control) and, with
 * --listen, TCP, which requires `Authorization: Bearer TOKEN` on every request (401 without).
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import { ApiError } from './api-error.ts';
import { createVmSchema, nameSchema, patchVmSchema, type CreateVmBody, type PatchVmBody } from './vm-def.ts';
import type { Manager } from './manager.ts';
import { eventJson } from './events.ts';
import { attachConsole } from './console.ts';
import { VM_STATES } from './db.ts';
import { registerStorageRoutes } from './storage-routes.ts';
import { registerBackupRoutes } from './backup-routes.ts';
import { registerMetricsRoute } from './metrics.ts';
import { registerPoolRoutes } from './pools.ts';
import { registerTemplateRoutes } from './templates.ts';
import { registerBrowserRoutes } from './browser-routes.ts';
import { bearerFromProtocols, registerWebConsole, selectProtocol, type WebConsoleOptions } from './web-console.ts';

export interface AppOptions {
  version: string;
  /** Require this bearer token (TCP listeners). */
  token?: string;
  /** Serve the web console (TCP listeners; src/manager/web-console.ts). */
  webConsole?: WebConsoleOptions;
}

/** Bytes an SSE client may leave unread before it is dropped. */
export const SSE_BUFFER_MAX = 1 << 20;
const BODY_LIMIT = 256 * 1024;

const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
} as const;

const diskJson = {
  type: 'object',
  properties: {
    path: { type: 'string' },
    format: { type: 'string' },
    owned: { type: 'boolean' },
    readonly: { type: 'boolean' },
    backing: { type: 'string' },
  },
} as const;

export const vmSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    id: { type: 'string' },
    state: { type: 'string', enum: [...VM_STATES] },
    memory: { type: 'integer', description: 'MiB' },
    cpus: { type: 'integer' },
    source: { type: 'object', additionalProperties: true },
    append: { type: 'string' },
    disks: { type: 'array', items: diskJson },
    nics: {
      type: 'array',
      items: { type: 'object', properties: { hostfwd: { type: 'array', items: { type: 'string' } } } },
    },
    created: { type: 'string' },
    startedAt: { type: 'string' },
    pid: { type: 'integer' },
    reason: { type: 'string' },
    warnings: { type: 'array', items: { type: 'string' } },
    pool: { type: 'string' },
  },
} as const;

export const nameParams = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: nameSchema },
} as const;
export const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;
const emptyBody = { type: 'object', additionalProperties: false, properties: {} } as const;

const errors = {
  400: errorSchema,
  404: errorSchema,
  409: errorSchema,
  422: errorSchema,
  500: errorSchema,
};

/** One line naming the field a JSON-schema failure is about ("body.memory: must be integer"). */
export function validationMessage(err: FastifyError): string {
  const list = err.validation ?? [];
  const where = (p: string) =>
    `${err.validationContext ?? 'request'}${p.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')}`;
  const describe = (v: (typeof list)[number]) => {
    const p = v.params as Record<string, unknown>;
    if (v.keyword === 'additionalProperties')
      return `${where(v.instancePath)}: unknown field '${String(p.additionalProperty)}'`;
    if (v.keyword === 'required') return `${where(v.instancePath)}: missing field '${String(p.missingProperty)}'`;
    if (v.keyword === 'enum')
      return `${where(v.instancePath)}: must be one of ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
    if (v.keyword === 'discriminator')
      return `${where(v.instancePath)}.${String(p.tag)}: must be one of ${where(v.instancePath).endsWith('source') ? '"default", "image", "kernel"' : 'the documented values'}`;
    if (v.keyword === 'const') return `${where(v.instancePath)}: must be ${JSON.stringify(p.allowedValue)}`;
    if (v.keyword === 'pattern' && /\.name$|^params/.test(where(v.instancePath)))
      return `${where(v.instancePath)}: not a valid name: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit (no '/' or '..')`;
    return `${where(v.instancePath)}: ${v.message ?? 'is invalid'}`;
  };
  const oneOf = list.find((v) => v.keyword === 'oneOf');
  if (oneOf) {
    // Errors of the branches come first. The branch that got furthest (a failure deeper than a
    // missing or unknown field at the item itself) says what is wrong; else give the choices.
    const deep = list.find((v) => v !== oneOf && v.instancePath !== oneOf.instancePath);
    if (deep) return describe(deep);
    const path = oneOf.instancePath;
    const hint = /^\/source$/.test(path)
      ? '{type: "default"}, {type: "image", path, format?} or {type: "kernel", kernel, initrd?, append?}'
      : /^\/disks\/\d+$/.test(path)
        ? '{path, format?, readonly?} or {size: MiB, format?: "qcow2"}'
        : 'one of the documented forms';
    const first = list.find((v) => v !== oneOf);
    return `${where(path)}: expected ${hint}${first ? ` (${describe(first).replace(/^[^:]*: /, '')})` : ''}`;
  }
  return list[0] ? describe(list[0]) : err.message;
}

function sendError(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function buildApp(mgr: Manager, opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    // Refuse rather than repair: no stripping of unknown fields, no "5" for 5.
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: false,
        allErrors: false,
        discriminator: true,
      },
    },
    forceCloseConnections: true,
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'virtkit manager',
        version: opts.version,
        description: 'The REST API of `virtkit daemon` (docs/manager.md).',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
    },
  });
  // handleProtocols: the web console's token subprotocol is never the one selected (echoed).
  await app.register(websocket, { options: { maxPayload: 64 * 1024, handleProtocols: selectProtocol } });

  if (opts.token) {
    const token = opts.token;
    app.addHook('onRequest', async (req, reply) => {
      // The web console's page and bundles are public; a browser's WebSocket carries the token
      // as a subprotocol (it cannot set Authorization).
      if ((req.routeOptions.config as { public?: boolean } | undefined)?.public) return;
      const wsToken =
        req.headers.upgrade?.toLowerCase() === 'websocket'
          ? bearerFromProtocols(req.headers['sec-websocket-protocol'])
          : undefined;
      if (!tokenMatches(req.headers.authorization, token) && !(wsToken && tokenMatches(`Bearer ${wsToken}`, token)))
        return sendError(
          reply,
          401,
          'unauthorized',
          'a bearer token is required on TCP: Authorization: Bearer TOKEN (the token is STATE_DIR/token)',
        );
    });
  }

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err instanceof ApiError) return sendError(reply, err.status, err.code, err.message);
    if (err.validation) return sendError(reply, 400, 'invalid-request', validationMessage(err));
    if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError)
      return sendError(reply, 400, 'malformed-json', `the body is not valid JSON: ${err.message}`);
    if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
      return sendError(reply, 400, 'malformed-json', 'the body is empty; send a JSON object (or no Content-Type)');
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return sendError(reply, status, 'invalid-request', err.message);
    return sendError(reply, 500, 'internal', `internal error: ${err.message}`);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, 404, 'no-route', `no route ${req.method} ${req.url.split('?')[0]} (see GET /openapi.json)`),
  );
  // A POST without a body (curl -X POST) is an empty object, not a 415 or a parse error.
  app.addHook('preValidation', async (req) => {
    if (req.method === 'POST' && req.body === undefined) req.body = {};
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get(
    '/v1/version',
    {
      schema: {
        querystring: noQuery,
        response: { 200: { type: 'object', properties: { version: { type: 'string' }, schema: { type: 'integer' } } } },
      },
    },
    async () => ({ version: opts.version, schema: mgr.db.schemaVersion }),
  );

  app.get(
    '/v1/vms',
    { schema: { querystring: noQuery, response: { 200: { type: 'array', items: vmSchema } } } },
    async () => mgr.list(),
  );

  app.post<{ Body: CreateVmBody }>(
    '/v1/vms',
    { schema: { body: createVmSchema, querystring: noQuery, response: { 201: vmSchema, ...errors } } },
    async (req, reply) => reply.code(201).send(await mgr.create(req.body)),
  );

  app.get<{ Params: { name: string } }>(
    '/v1/vms/:name',
    { schema: { params: nameParams, querystring: noQuery, response: { 200: vmSchema, ...errors } } },
    async (req) => mgr.get(req.params.name),
  );

  app.patch<{ Params: { name: string }; Body: PatchVmBody }>(
    '/v1/vms/:name',
    {
      schema: { params: nameParams, body: patchVmSchema, querystring: noQuery, response: { 200: vmSchema, ...errors } },
    },
    async (req) => mgr.update(req.params.name, req.body),
  );

  app.delete<{ Params: { name: string }; Querystring: { force?: string } }>(
    '/v1/vms/:name',
    {
      schema: {
        params: nameParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { force: { type: 'string', enum: ['true', 'false', '1', '0'] } },
        },
        response: { 204: { type: 'null' }, ...errors },
      },
    },
    async (req, reply) => {
      await mgr.delete(req.params.name, req.query.force === 'true' || req.query.force === '1');
      return reply.code(204).send();
    },
  );

  const action = (verb: 'start' | 'stop' | 'pause' | 'resume' | 'reboot') =>
    app.post<{ Params: { name: string } }>(
      `/v1/vms/:name/${verb}`,
      { schema: { params: nameParams, querystring: noQuery, body: emptyBody, response: { 200: vmSchema, ...errors } } },
      async (req) => mgr[verb](req.params.name),
    );
  for (const verb of ['start', 'stop', 'pause', 'resume', 'reboot'] as const) action(verb);

  app.post<{ Params: { name: string }; Body: { timeout?: number } }>(
    '/v1/vms/:name/shutdown',
    {
      schema: {
        params: nameParams,
        querystring: noQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { timeout: { type: 'integer', minimum: 1, maximum: 3600, description: 'seconds (default 60)' } },
        },
        response: { 200: vmSchema, ...errors },
      },
    },
    async (req) => mgr.shutdown(req.params.name, req.body.timeout ?? 60),
  );

  app.get<{ Params: { name: string } }>(
    '/v1/vms/:name/stats',
    {
      schema: {
        params: nameParams,
        querystring: noQuery,
        response: { 200: { type: 'object', additionalProperties: true }, ...errors },
      },
    },
    async (req) => mgr.stats(req.params.name),
  );

  const eventSchema = {
    type: 'object',
    properties: {
      id: { type: 'integer' },
      vm: { type: 'string' },
      state: { type: 'string' },
      previous: { type: ['string', 'null'] },
      reason: { type: ['string', 'null'] },
      time: { type: 'string' },
    },
  } as const;
  app.get<{ Params: { name: string }; Querystring: { limit?: string } }>(
    '/v1/vms/:name/events',
    {
      schema: {
        params: nameParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$', description: '1..9999 (default 100)' } },
        },
        response: { 200: { type: 'array', items: eventSchema }, ...errors },
      },
    },
    async (req) => mgr.events(req.params.name, Number(req.query.limit ?? 100)).map(eventJson),
  );

  app.get(
    '/v1/events',
    {
      schema: {
        querystring: noQuery,
        description: 'server-sent events: `event: state`, data {vm, state, previous, reason, time}',
      },
    },
    (req: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      raw.write(': virtkit events\n\n');
      const off = mgr.bus.subscribe((e) => {
        // A client that stops reading is dropped rather than buffered without bound.
        if (raw.writableLength > SSE_BUFFER_MAX) {
          off();
          raw.destroy();
          return;
        }
        raw.write(`event: state\nid: ${e.id}\ndata: ${JSON.stringify(eventJson(e))}\n\n`);
      });
      const ping = setInterval(() => raw.write(': ping\n\n'), 15000);
      req.raw.on('close', () => {
        off();
        clearInterval(ping);
      });
    },
  );

  app.get<{ Params: { name: string }; Querystring: { mode?: 'watch' | 'type' } }>(
    '/v1/vms/:name/console',
    {
      websocket: true,
      schema: {
        params: nameParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { mode: { type: 'string', enum: ['watch', 'type'] } },
        },
        description:
          'WebSocket: binary frames of raw console bytes; one typist (?mode=type), a second gets close code 4409',
      },
      preValidation: async (req: FastifyRequest) => {
        const name = (req.params as { name?: string }).name ?? '';
        if (!new RegExp(nameSchema.pattern).test(name)) return;
        const vm = mgr.vm(name);
        if (vm.state !== 'running' && vm.state !== 'paused')
          throw new ApiError(
            409,
            'wrong-state',
            `VM '${name}' is ${vm.state}: its console is there only while it runs`,
          );
      },
    },
    (socket, req) => attachConsole(mgr, mgr.vm(req.params.name), socket, req.query.mode ?? 'watch'),
  );

  await registerStorageRoutes(app, mgr, errors);
  await registerBackupRoutes(app, mgr, errors);
  await registerMetricsRoute(app, mgr);
  await registerPoolRoutes(app, mgr, errors);
  await registerTemplateRoutes(app, mgr, errors);
  await registerBrowserRoutes(app, mgr, errors);
  if (opts.webConsole) registerWebConsole(app, opts.webConsole);
  await app.ready();
  return app;
}
