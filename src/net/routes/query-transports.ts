/**
 * How identity-record queries travel: over HTTPS with mutual TLS (a route on the node's
 * Juki-net listener, the requester identified by its client certificate only), or in-process
 * (the embedded default: a connection made with a node certificate, verified against the
 * network CA once, like a handshake). Both end in the same IdentityQueryService.answer.
 */
import { X509Certificate } from 'node:crypto';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Pool } from 'undici';
import { JukiError } from '../../util/index.ts';
import { peerIdentity, verifyNodeCertificate, type NodeCredentials } from '../pki.ts';
import { nodeId, type NodeSpec } from '../roles.ts';
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
  readonly #ca: X509Certificate;
  readonly #services = new Map<string, IdentityQueryService>();

  constructor(caCertPem: string) {
    this.#ca = new X509Certificate(caCertPem);
  }

  serve(node: string, service: IdentityQueryService): () => void {
    this.#services.set(node, service);
    return () => {
      if (this.#services.get(node) === service) this.#services.delete(node);
    };
  }

  connect(certPem: string | undefined): QueryClient {
    let peer: NodeSpec | null = null;
    if (certPem !== undefined) {
      try {
        peer = verifyNodeCertificate(certPem, this.#ca);
      } catch {
        peer = null;
      }
    }
    return {
      query: async (to, q) => {
        const service = this.#services.get(to);
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

/** Queries over HTTPS with mutual TLS; the server must present the certificate of the node asked. */
export class HttpsQueryClient implements QueryClient {
  readonly #o: HttpsQueryClientOptions;
  readonly #pools = new Map<string, Pool>();

  constructor(options: HttpsQueryClientOptions) {
    this.#o = options;
  }

  #pool(to: string): Pool {
    let pool = this.#pools.get(to);
    if (pool) return pool;
    const address = this.#o.addressOf(to);
    if (!address) throw new JukiError('JUKI_ERR_NET_DELIVERY', `https: no address for ${to}`);
    const c = this.#o.credentials;
    pool = new Pool(address, {
      connections: 2,
      headersTimeout: this.#o.timeoutMs ?? 10_000,
      bodyTimeout: this.#o.timeoutMs ?? 10_000,
      connect: {
        ca: this.#o.caPem,
        ...(c ? { cert: c.certPem, key: c.keyPem } : {}),
        checkServerIdentity: (host: string, cert: PeerCertificate) => {
          const err = checkServerIdentity(host, cert);
          if (err) return err;
          try {
            const id = nodeId(peerIdentity(cert.raw));
            return id === to ? undefined : new Error(`https: ${address} presented ${id}, expected ${to}`);
          } catch (e) {
            return e as Error;
          }
        },
      },
    });
    this.#pools.set(to, pool);
    return pool;
  }

  async query(to: string, q: IdentityQuery): Promise<IdentityAnswer> {
    let res;
    try {
      res = await this.#pool(to).request({ path: IDENTITY_QUERY_PATH, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(q) });
    } catch (e) {
      if (e instanceof JukiError) throw e;
      throw new JukiError('JUKI_ERR_NET_DELIVERY', `https: ${to}: ${(e as Error).message}`, { node: to });
    }
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new JukiError('JUKI_ERR_NET_DELIVERY', `https: ${to}: ${res.statusCode} ${text.slice(0, 200)}`, { node: to });
    }
    if (res.statusCode === 200 || res.statusCode === 400 || res.statusCode === 403) return fromReply(to, { status: res.statusCode, body: json } as QueryReply);
    throw new JukiError('JUKI_ERR_NET_DELIVERY', `https: ${to}: ${res.statusCode} ${text.slice(0, 200)}`, { node: to });
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }
}
