/**
 * The client half of every node-to-node request over mutual TLS: one undici pool to one
 * node's address, presenting this node's certificate, and accepting the server only when the
 * host name checks as usual and its certificate names the node asked (a valid certificate of
 * another node, e.g. a misrouted or hijacked address, is refused). Juki-net messages
 * (HttpsTransport), identity-record queries (HttpsQueryClient), the basic-area key service and
 * the remote jpki relay all open their pools here.
 */
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { Pool } from 'undici';
import { JukiError } from '../util/index.ts';
import { peerIdentity, type NodeCredentials } from './pki.ts';
import { nodeId } from './roles.ts';

export interface MtlsPoolOptions {
  /** `https://host:port` of the node. */
  readonly address: string;
  /** The node the server must be (its certificate's node id), e.g. `national`. */
  readonly expect: string;
  readonly caPem: string;
  /** This node's certificate and key (the client certificate); omitted only by tests of refusals. */
  readonly credentials?: Pick<NodeCredentials, 'certPem' | 'keyPem'>;
  readonly connections?: number;
  /** Per-request timeout, ms (default 10000). */
  readonly timeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
}

/** A keep-alive pool to one node over mutual TLS. */
export function mtlsPool(o: MtlsPoolOptions): Pool {
  const c = o.credentials;
  return new Pool(o.address, {
    connections: o.connections ?? 2,
    ...(o.keepAliveTimeoutMs !== undefined ? { keepAliveTimeout: o.keepAliveTimeoutMs } : {}),
    headersTimeout: o.timeoutMs ?? 10_000,
    bodyTimeout: o.timeoutMs ?? 10_000,
    connect: {
      ca: o.caPem,
      ...(c ? { cert: c.certPem, key: c.keyPem } : {}),
      checkServerIdentity: (host: string, cert: PeerCertificate) => {
        const err = checkServerIdentity(host, cert);
        if (err) return err;
        try {
          const id = nodeId(peerIdentity(cert.raw));
          return id === o.expect ? undefined : new Error(`https: ${o.address} presented ${id}, expected ${o.expect}`);
        } catch (e) {
          return e as Error;
        }
      },
    },
  });
}

/** A JSON answer: the HTTP status, the parsed body (undefined when not JSON) and the raw text. */
export interface MtlsAnswer {
  readonly status: number;
  readonly json: unknown;
  readonly text: string;
}

/**
 * One JSON request on a pool. Network failures (refused connection, TLS refusal, timeout) reject
 * with JUKI_ERR_NET_DELIVERY naming the node; any HTTP answer is returned for the caller to map.
 */
export async function mtlsJson(pool: Pool, to: string, req: { method: 'GET' | 'POST'; path: string; body?: unknown; timeoutMs?: number }): Promise<MtlsAnswer> {
  let res;
  try {
    res = await pool.request({
      method: req.method,
      path: req.path,
      headers: req.body === undefined ? {} : { 'content-type': 'application/json' },
      ...(req.body === undefined ? {} : { body: typeof req.body === 'string' ? req.body : JSON.stringify(req.body) }),
      ...(req.timeoutMs !== undefined ? { headersTimeout: req.timeoutMs, bodyTimeout: req.timeoutMs } : {}),
    });
  } catch (e) {
    throw new JukiError('JUKI_ERR_NET_DELIVERY', `https: ${to}: ${(e as Error).message}`, { node: to });
  }
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, text };
}

/** Pools by node, made on first use from the topology's addresses. */
export class MtlsPools {
  readonly #pools = new Map<string, Pool>();
  constructor(private readonly o: Omit<MtlsPoolOptions, 'address' | 'expect'> & { readonly addressOf: (node: string) => string | undefined; readonly noAddress?: (node: string) => Error }) {}

  get(to: string): Pool {
    let pool = this.#pools.get(to);
    if (pool) return pool;
    const address = this.o.addressOf(to);
    if (!address) throw this.o.noAddress?.(to) ?? new JukiError('JUKI_ERR_NET_DELIVERY', `https: no address for ${to}`, { node: to });
    pool = mtlsPool({ ...this.o, address, expect: to });
    this.#pools.set(to, pool);
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }
}
