/**
 * The routes of browser-move.ts: moving a VM into a browser tab and back, and the block protocol
 * the tab reads and writes the VM's disks through (docs/manager.md "Moving a VM into a browser
 * tab"). Registered in their own Fastify context: only here is an application/octet-stream body
 * accepted, and it comes as a stream read with a limit per route (elsewhere such a body stays 415).
 */
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Manager } from './manager.ts';
import { nameSchema } from './vm-def.ts';
import { badRequest } from './api-error.ts';
import { BLOCK_MAX, ZERO_MAX } from './browser-move.ts';
import { vmJson } from './manager.ts';

const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;
const nameParams = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: nameSchema },
} as const;
const diskParams = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'index'],
  properties: { name: nameSchema, index: { type: 'string', pattern: '^[0-9]{1,2}$' } },
} as const;
const number = { type: 'string', pattern: '^[0-9]{1,16}$' } as const;
const SESSION_HEADER = 'x-virtkit-session';

const session = (req: FastifyRequest): string | undefined => {
  const h = req.headers[SESSION_HEADER];
  return Array.isArray(h) ? h[0] : h;
};

function isStream(body: unknown): body is Readable {
  return typeof body === 'object' && body !== null && typeof (body as Readable).pipe === 'function';
}

/**
 * The request body, at most `limit` bytes: a declared length over it is refused before a byte is
 * read, a longer body as soon as it passes it (the rest is discarded, never buffered).
 */
async function readBody(req: FastifyRequest, limit: number, what: string): Promise<Buffer> {
  const body = req.body;
  if (!isStream(body)) throw badRequest(`send ${what} as the body, with Content-Type: application/octet-stream`);
  const declared = Number(req.headers['content-length']);
  const tooBig = () => badRequest(`${what} is larger than the ${limit} bytes allowed here`);
  if (Number.isFinite(declared) && declared > limit) {
    body.resume();
    throw tooBig();
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      body.resume();
      throw tooBig();
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks, n);
}

export async function registerBrowserRoutes(
  app: FastifyInstance,
  mgr: Manager,
  errors: Record<number, unknown>,
): Promise<void> {
  await app.register(async (sub) => {
    // The stream itself: each route reads it with its own limit (readBody).
    sub.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
    const moves = mgr.browser;
    const octets = { 200: { type: 'string', format: 'binary' } };
    const headers = {
      type: 'object',
      properties: { [SESSION_HEADER]: { type: 'string', description: 'the session id the move answered' } },
    } as const;

    sub.post<{ Params: { name: string } }>(
      '/v1/vms/:name/browser',
      {
        schema: {
          params: nameParams,
          querystring: noQuery,
          description:
            'moves a running or paused VM into a browser tab: its process saves and quits, the daemon serves its disks to the session',
          response: { 200: { type: 'object', additionalProperties: true }, ...errors },
        },
      },
      async (req) => moves.moveOut(req.params.name),
    );

    sub.delete<{ Params: { name: string } }>(
      '/v1/vms/:name/browser',
      {
        schema: {
          params: nameParams,
          querystring: noQuery,
          description: "ends a tab's session without its RAM: the VM is stopped, its disks as the tab left them",
          response: { 204: { type: 'null' }, ...errors },
        },
      },
      async (req, reply) => {
        await moves.abandon(req.params.name);
        return reply.code(204).send();
      },
    );

    sub.get<{ Params: { name: string } }>(
      '/v1/vms/:name/browser/snapshot',
      { schema: { params: nameParams, querystring: noQuery, headers, response: { ...octets, ...errors } } },
      async (req, reply) =>
        reply.type('application/octet-stream').send(await moves.snapshotFile(req.params.name, session(req))),
    );

    sub.post<{ Params: { name: string } }>(
      '/v1/vms/:name/browser/heartbeat',
      { schema: { params: nameParams, querystring: noQuery, headers, response: { 204: { type: 'null' }, ...errors } } },
      async (req, reply) => {
        moves.touch(req.params.name, session(req));
        return reply.code(204).send();
      },
    );

    sub.get<{ Params: { name: string; index: string }; Querystring: { offset: string; length: string } }>(
      '/v1/vms/:name/browser/disks/:index',
      {
        schema: {
          params: diskParams,
          headers,
          querystring: {
            type: 'object',
            additionalProperties: false,
            required: ['offset', 'length'],
            properties: { offset: number, length: { ...number, description: `1..${BLOCK_MAX}` } },
          },
          response: { ...octets, ...errors },
        },
      },
      async (req, reply) => {
        const bytes = await moves.read(
          req.params.name,
          session(req),
          Number(req.params.index),
          Number(req.query.offset),
          Number(req.query.length),
        );
        return reply.type('application/octet-stream').send(bytes);
      },
    );

    sub.put<{ Params: { name: string; index: string }; Querystring: { offset: string } }>(
      '/v1/vms/:name/browser/disks/:index',
      {
        schema: {
          params: diskParams,
          headers,
          querystring: {
            type: 'object',
            additionalProperties: false,
            required: ['offset'],
            properties: { offset: number },
          },
          description: `writes the body (application/octet-stream, 1..${BLOCK_MAX} bytes) at offset`,
          response: { 204: { type: 'null' }, ...errors },
        },
      },
      async (req, reply) => {
        const id = session(req);
        moves.touch(req.params.name, id); // 409 before the body is read
        const data = await readBody(req, BLOCK_MAX, 'a block write');
        await moves.write(req.params.name, id, Number(req.params.index), Number(req.query.offset), data);
        return reply.code(204).send();
      },
    );

    sub.post<{ Params: { name: string; index: string } }>(
      '/v1/vms/:name/browser/disks/:index/flush',
      { schema: { params: diskParams, headers, querystring: noQuery, response: { 204: { type: 'null' }, ...errors } } },
      async (req, reply) => {
        await moves.flush(req.params.name, session(req), Number(req.params.index));
        return reply.code(204).send();
      },
    );

    sub.post<{
      Params: { name: string; index: string };
      Body: { offset: number; length: number; discard?: boolean };
    }>(
      '/v1/vms/:name/browser/disks/:index/zero',
      {
        schema: {
          params: diskParams,
          headers,
          querystring: noQuery,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['offset', 'length'],
            properties: {
              offset: { type: 'integer', minimum: 0 },
              length: { type: 'integer', minimum: 1, maximum: ZERO_MAX },
              discard: { type: 'boolean' },
            },
          },
          response: { 204: { type: 'null' }, ...errors },
        },
      },
      async (req, reply) => {
        const b = req.body;
        await moves.zero(
          req.params.name,
          session(req),
          Number(req.params.index),
          b.offset,
          b.length,
          b.discard === true,
        );
        return reply.code(204).send();
      },
    );

    sub.post<{ Params: { name: string }; Querystring: { paused?: string } }>(
      '/v1/vms/:name/browser/return',
      {
        schema: {
          params: nameParams,
          headers,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { paused: { type: 'string', enum: ['true', 'false'] } },
          },
          description:
            "the tab's snapshot (application/octet-stream, at most the VM's RAM + 16 MiB): checked, then the VM resumes in a new VM process",
          response: { 200: { type: 'object', additionalProperties: true }, ...errors },
        },
      },
      async (req) => {
        const id = session(req);
        // 409 before the body is read; the lease is held while a slow upload comes in.
        await moves.pinned(req.params.name, id, async () => {
          const bytes = await readBody(req, moves.uploadLimit(mgr.vm(req.params.name)), 'the snapshot');
          await moves.returnFrom(req.params.name, id, bytes, req.query.paused === 'true');
        });
        return vmJson(mgr.vm(req.params.name));
      },
    );
  });
}
