/**
 * The basic-area key service over the network (docs/network.md "Card flows under juki serve"):
 * the national center serves `BasicKeyService` on its Juki-net listener (mutual TLS), and a
 * municipality's CS asks it with `HttpsBasicKeyService`.
 *
 *   CS → national  POST /juki-net/v1/card-keys/basic {serial, ephemeralPublicKey}   (hex)
 *   200 WrappedCardKeys (key-service.ts: the card's keys under AES-256-GCM, for that request's
 *       ephemeral key only)
 *   400 JUKI_ERR_INVALID_INPUT (details.field)   403 JUKI_ERR_NET_CARD_KEYS_DENIED
 *
 * The requester is the node its client certificate names, nothing in the body. Municipalities
 * only (a CS personalises cards), deny by default; every decision is audited at the national
 * center (`net.card-keys.decided`). Malformed input is answered before any decision and changes
 * nothing. The keys never cross in clear: only the wrapped form, which opens only with the
 * request's private half held by the CS in memory (CardKeyRequest).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor, AuditLog } from '../audit/index.ts';
import { mtlsJson, mtlsPool, type NodeCredentials, type NodeSpec } from '../net/index.ts';
import { ERROR_CODES, invalid, JukiError, toHex, type ErrorCode } from '../util/index.ts';
import type { BasicKeyService, WrappedCardKeys } from './key-service.ts';

export const CARD_KEYS_PATH = '/juki-net/v1/card-keys/basic';

const HEX = (n: number) => new RegExp(`^[0-9A-Fa-f]{${n}}$`);
const WRAPPED_FIELDS = ['domain', 'serial', 'kvn', 'servicePublicKey', 'iv', 'ciphertext', 'tag'] as const;

/** The access decision: municipalities only. */
export function decideCardKeys(peer: NodeSpec | null): { allow: boolean; by: string; why: string } {
  if (!peer) return { allow: false, by: 'unknown', why: 'no certificate from the network CA' };
  const by = peer.code ? `${peer.role}-${peer.code}` : peer.role;
  if (peer.role !== 'municipality') return { allow: false, by, why: `basic-area keys are for a municipality's CS personalising a card; a ${peer.role} node may not ask` };
  return { allow: true, by, why: 'a municipality\'s CS personalising a card' };
}

function parse(body: unknown): { serial: Uint8Array; ephemeralPublicKey: Uint8Array } {
  let b = body;
  if (typeof b === 'string') {
    try {
      b = JSON.parse(b);
    } catch {
      throw invalid('body', 'expected a JSON object {serial, ephemeralPublicKey}');
    }
  }
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw invalid('body', 'expected a JSON object {serial, ephemeralPublicKey}');
  const o = b as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'serial' && k !== 'ephemeralPublicKey') throw invalid(`body.${k}`, 'unexpected field (allowed: serial, ephemeralPublicKey)');
  if (typeof o['serial'] !== 'string' || !HEX(20).test(o['serial'])) throw invalid('serial', 'expected the card\'s 10-byte serial as 20 hex digits');
  if (typeof o['ephemeralPublicKey'] !== 'string' || !HEX(130).test(o['ephemeralPublicKey']) || !/^04/.test(o['ephemeralPublicKey'])) {
    throw invalid('ephemeralPublicKey', 'expected an uncompressed P-256 point (04 ‖ X ‖ Y) as 130 hex digits');
  }
  return { serial: new Uint8Array(Buffer.from(o['serial'], 'hex')), ephemeralPublicKey: new Uint8Array(Buffer.from(o['ephemeralPublicKey'], 'hex')) };
}

/** The national center's route on its mutual-TLS listener (HttpsReceiverOptions.routes). */
export function basicKeyServiceRoutes(o: { service: BasicKeyService; audit: AuditLog }) {
  return (app: FastifyInstance, peerOf: (req: FastifyRequest) => NodeSpec | null): void => {
    app.post(CARD_KEYS_PATH, async (req, reply) => {
      let input: ReturnType<typeof parse>;
      try {
        input = parse(req.body);
      } catch (e) {
        const err = e as JukiError;
        return reply.status(400).send({ code: 'JUKI_ERR_INVALID_INPUT', message: err.message, details: err.details ?? {} });
      }
      const serial = toHex(input.serial);
      const d = decideCardKeys(peerOf(req));
      const actor: Actor = d.by === 'unknown' ? { kind: 'system' } : { kind: 'node', id: d.by };
      if (!d.allow) {
        await o.audit.record({ type: 'net.card-keys.decided', actor, outcome: 'refused', reason: 'JUKI_ERR_NET_CARD_KEYS_DENIED', details: { by: d.by, why: d.why, serial } });
        return reply.status(403).send({ code: 'JUKI_ERR_NET_CARD_KEYS_DENIED', message: `national: ${d.why}`, details: {} });
      }
      let wrapped: WrappedCardKeys;
      try {
        wrapped = await o.service.wrappedCardKeys(input.serial, input.ephemeralPublicKey);
      } catch (e) {
        const err = e instanceof JukiError ? e : new JukiError('JUKI_ERR_INTERNAL', 'the key service failed');
        await o.audit.record({ type: 'net.card-keys.decided', actor, outcome: err.code === 'JUKI_ERR_INVALID_INPUT' ? 'refused' : 'error', reason: err.code, details: { by: d.by, why: err.message.slice(0, 300), serial } });
        const status = err.code === 'JUKI_ERR_INVALID_INPUT' ? 400 : 500;
        return reply.status(status).send({ code: err.code, message: status === 400 ? err.message : 'national: the key service failed', details: status === 400 ? err.details : {} });
      }
      await o.audit.record({ type: 'net.card-keys.decided', actor, details: { by: d.by, why: d.why, serial } });
      return reply.status(200).send(wrapped);
    });
  };
}

export interface HttpsBasicKeyServiceOptions {
  /** `https://host:port` of the national center's Juki-net listener. */
  readonly address: string;
  /** The national center's node id (default `national`): the server's certificate must name it. */
  readonly node?: string;
  readonly caPem: string;
  /** This CS's node certificate and key. */
  readonly credentials: Pick<NodeCredentials, 'certPem' | 'keyPem'>;
  readonly timeoutMs?: number;
}

/** The CS's side: the national center's key service over mutual TLS. */
export class HttpsBasicKeyService implements BasicKeyService {
  readonly #node: string;
  readonly #pool;

  constructor(o: HttpsBasicKeyServiceOptions) {
    this.#node = o.node ?? 'national';
    this.#pool = mtlsPool({ address: o.address, expect: this.#node, caPem: o.caPem, credentials: o.credentials, ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) });
  }

  async wrappedCardKeys(serial: Uint8Array, ephemeralPublicKey: Uint8Array): Promise<WrappedCardKeys> {
    const a = await mtlsJson(this.#pool, this.#node, { method: 'POST', path: CARD_KEYS_PATH, body: { serial: toHex(serial), ephemeralPublicKey: toHex(ephemeralPublicKey) } });
    const j = (a.json ?? {}) as Record<string, unknown>;
    if (a.status === 200) {
      // Only the wrapped form's fields are taken; CardKeyRequest.unwrap checks the rest.
      for (const f of WRAPPED_FIELDS) if (j[f] === undefined) throw new JukiError('JUKI_ERR_KEY_UNWRAP', `${this.#node}: the answer has no ${f}`);
      return Object.fromEntries(WRAPPED_FIELDS.map((f) => [f, j[f]])) as unknown as WrappedCardKeys;
    }
    const code: ErrorCode = typeof j['code'] === 'string' && j['code'] in ERROR_CODES ? (j['code'] as ErrorCode) : 'JUKI_ERR_NET_DELIVERY';
    throw new JukiError(code, `${this.#node}: ${typeof j['message'] === 'string' ? j['message'] : `HTTP ${a.status}`}`, { node: this.#node, status: a.status });
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
