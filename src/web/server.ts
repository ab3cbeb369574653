/**
 * The HTTP face of a juki process: health, the nodes it hosts, and the OpenAPI document.
 * Each role adds its routes as a Fastify plugin (the counter API, agency API, staff pages);
 * schemas on every route, so undeclared fields never leak.
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import swagger from '@fastify/swagger';
import { Type } from '@sinclair/typebox';
import { JukiError } from '../util/index.ts';

export interface HostedNode {
  readonly id: string;
  readonly role: string;
  readonly code?: string;
  readonly storage: { readonly dialect: string; readonly location: string };
  /** The node's Juki-net link now, when it is on one (/healthz). */
  readonly network?: () => { readonly transport: string; readonly connected: boolean; readonly lastError?: string };
}

export interface ServerOptions {
  readonly nodes: readonly HostedNode[];
  readonly version: string;
  /** Role plugins to register, each under its own prefix. */
  readonly plugins?: readonly { prefix: string; plugin: FastifyPluginAsync }[];
  /** Fastify logger; off by default (the CLI prints its own lines). Redacts PINs and keys. */
  readonly logger?: boolean;
}

const NodeSchema = Type.Object({
  id: Type.String(),
  role: Type.String(),
  code: Type.Optional(Type.String()),
  storage: Type.Object({ dialect: Type.String(), location: Type.String() }),
});

export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger
      ? { redact: { paths: ['req.headers.authorization', '*.pin', '*.password', '*.key', '*.secret'], censor: '[redacted]' } }
      : false,
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'juki', version: options.version, description: 'Basic Resident Register Card system (MIC Notice No. 392 of 2003)' },
    },
  });
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof JukiError) return reply.status(err.code === 'JUKI_ERR_NOT_FOUND' ? 404 : 400).send(err.toJSON());
    const e = err as { validation?: unknown; message: string; statusCode?: number };
    if (e.validation) return reply.status(400).send({ code: 'JUKI_ERR_INVALID_INPUT', message: e.message, details: {} });
    if (e.statusCode && e.statusCode < 500) return reply.status(e.statusCode).send({ code: 'JUKI_ERR_INVALID_INPUT', message: e.message, details: {} });
    app.log.error(err);
    return reply.status(500).send({ code: 'JUKI_ERR_INTERNAL', message: 'internal error', details: {} });
  });

  // 200 when every node's Juki-net link can receive, 503 (degraded) when one cannot (e.g. NATS unreachable), naming why.
  const Health = Type.Object({
    status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
    nodes: Type.Array(Type.Object({ id: Type.String(), transport: Type.Optional(Type.String()), connected: Type.Optional(Type.Boolean()), lastError: Type.Optional(Type.String()) })),
  });
  app.get('/healthz', { schema: { response: { 200: Health, 503: Health } } }, async (_req, reply) => {
    const nodes = options.nodes.map((n) => ({ id: n.id, ...(n.network ? n.network() : {}) }));
    const degraded = nodes.some((n) => 'connected' in n && n.connected === false);
    return reply.status(degraded ? 503 : 200).send({ status: degraded ? 'degraded' : 'ok', nodes });
  });
  app.get('/api/nodes', { schema: { response: { 200: Type.Array(NodeSchema) } } }, async () => options.nodes);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  for (const { prefix, plugin } of options.plugins ?? []) await app.register(plugin, { prefix });
  return app;
}
