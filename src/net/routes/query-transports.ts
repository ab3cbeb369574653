/**
 * How identity-record queries travel: over HTTPS with mutual TLS (a route on the node's
 * Juki-net listener, the requester identified by its client certificate only), or in-process
 * (the embedded default: a connection made with a node certificate, verified against the
 * network CA once, like a handshake). Both end in the same IdentityQueryService.answer.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { JukiError } from '../../util/index.ts';
import { InProcessServices } from '../in-process-services.ts';
import { MtlsPools, mtlsJson } from '../mtls.ts';
import type { NodeCredentials } from '../pki.ts';
import type { NodeSpec } from '../roles.ts';
import { IDENTITY_QUERY_PATH, type IdentityAnswer, type IdentityQuery, type IdentityQueryService, type QueryReply } from './identity-query.ts';

/** The requesting side of identity-record queries. */
export interface QueryClient {
  /**
   * Ask node `to` (the national center or a prefecture). Rejects with JUKI_ERR_NET_AFFAIR_DENIED
   * (refused by the access decision), JUKI_ERR_INVALID_INPUT, or JUKI_ERR_NET_DELIVERY.
   */
  query(to: string, q: IdentityQuery): Promise<IdentityAnswer>;
  close(): Promise<void>;
}

function fromReply(to: string, reply: QueryReply): IdentityAnswer {
  if (reply.status === 200) return reply.body;
  const code = reply.body.code === 'JUKI_ERR_NET_AFFAIR_DENIED' ? 'JUKI_ERR_NET_AFFAIR_DENIED' : 'JUKI_ERR_INVALID_INPUT';
  throw new JukiError(code, `${to}: ${reply.body.message}`, { node: to });
}

/** Mount the query route on a node's mutual-TLS listener (HttpsReceiverOptions.routes). */
export function identityQueryRoutes(service: IdentityQueryService) {
  return (app: FastifyInstance, peerOf: (req: FastifyRequest) => NodeSpec | null): void => {
    app.post(IDENTITY_QUERY_PATH, async (req, reply) => {
      let body: unknown = req.body;
      if (typeof body === 'string') {
        try {
          body = JSON.parse(body);
        } catch {
          return reply.status(400).send({ code: 'JUKI_ERR_INVALID_INPUT', message: 'query: expected JSON' });
        }
      }
      const answer = await service.answer(peerOf(req), body);
      return reply.status(answer.status).send(answer.body);
    });
  };
}

/** In-process queries: answerers register, requesters connect with their certificate. */
export class InProcessQueries {
  readonly #services: InProcessServices<IdentityQueryService>;

  constructor(caCertPem: string) {
    this.#services = new InProcessServices(caCertPem);
  }

  serve(node: string, service: IdentityQueryService): () => void {
    return this.#services.serve(node, service);
  }

  connect(certPem: string | undefined): QueryClient {
    const peer = this.#services.peerOf(certPem);
    return {
      query: async (to, q) => {
        const service = this.#services.service(to);
        if (!service) throw new JukiError('JUKI_ERR_NET_DELIVERY', `in-process: ${to} answers no identity-record queries here`);
        // The query crosses as JSON text, like on the wire.
        return fromReply(to, await service.answer(peer, JSON.parse(JSON.stringify(q))));
      },
      close: async () => {},
    };
  }
}

export interface HttpsQueryClientOptions {
  readonly credentials?: NodeCredentials;
  readonly caPem: string;
  readonly addressOf: (node: string) => string | undefined;
  readonly timeoutMs?: number;
}

/** Queries over HTTPS with mutual TLS; the server must present the certificate of the node asked (net/mtls.ts). */
export class HttpsQueryClient implements QueryClient {
  readonly #pools: MtlsPools;

  constructor(options: HttpsQueryClientOptions) {
    this.#pools = new MtlsPools({
      caPem: options.caPem, addressOf: options.addressOf,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
  }

  async query(to: string, q: IdentityQuery): Promise<IdentityAnswer> {
    const { status, json, text } = await mtlsJson(this.#pools.get(to), to, { method: 'POST', path: IDENTITY_QUERY_PATH, body: q });
    if (json !== undefined && (status === 200 || status === 400 || status === 403)) return fromReply(to, { status, body: json } as QueryReply);
    throw new JukiError('JUKI_ERR_NET_DELIVERY', `https: ${to}: ${status} ${text.slice(0, 200)}`, { node: to });
  }

  close(): Promise<void> {
    return this.#pools.close();
  }
}
