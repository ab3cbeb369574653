/**
 * HTTPS push over mutual TLS.
 *
 * Receiver: a Fastify server with `https: {requestCert: true, rejectUnauthorized: true, ca}`:
 * a client without a certificate from the network CA fails the TLS handshake and never reaches
 * a route (the failure is reported as a refusal). The route takes the peer identity only from
 * `req.socket.getPeerCertificate()`, checked again as a node certificate, and hands the body
 * to the Gate.
 *
 *   POST /juki-net/v1/messages   content-type: application/json   body: the canonical envelope
 *   200 {"receipt": "applied" | "duplicate" | "held"}
 *   400 {"code": "JUKI_ERR_INVALID_INPUT", ...}   403 {"code": "JUKI_ERR_NET_DENIED", ...}   (permanent)
 *   503 {"code": "JUKI_ERR_NET_DELIVERY", ...}                                              (retry)
 *
 *   POST /juki-net/v1/message-batches   body: {"envelopes": [<envelope>, ...]}  (1..MAX_BATCH, one receiver)
 *   200 {"results": [{"receipt": ...} | {"code", "message"}, ...]}  one per envelope, in order, each
 *       what the single route would have answered for it (so one refused message is refused alone);
 *       the Gate asks the inbox for all of them in one turn, applied in one transaction (gate.ts)
 *   400 {"code": "JUKI_ERR_INVALID_INPUT", ...}  the batch itself is malformed (nothing received)
 *
 * Sender: an undici pool per receiving node, keep-alive, presenting the node certificate, and
 * accepting the server only if its certificate names the node the message is addressed to.
 */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { JukiError } from '../../util/index.ts';
import { encodeEnvelope, type Envelope } from '../envelope.ts';
import type { Gate, Refusal } from '../gate.ts';
import type { Receipt } from '../inbox.ts';
import { MtlsPools } from '../mtls.ts';
import { verifyNodeCertificate, type NodeCredentials } from '../pki.ts';
import type { NodeSpec } from '../roles.ts';
import { permanentFailure, transientFailure, type DeliveryResult, type Transport } from '../transport.ts';

export const MESSAGES_PATH = '/juki-net/v1/messages';
export const MESSAGE_BATCHES_PATH = '/juki-net/v1/message-batches';
/** Envelopes in one batch request at most. */
export const MAX_BATCH = 256;
/** A batch request's body at most (a single message's body is at most 256 KiB). */
const BATCH_BODY_LIMIT = 16 * 1024 * 1024;

export interface HttpsReceiverOptions {
  /** This node's certificate and key (served as the TLS server certificate). */
  readonly credentials: NodeCredentials;
  readonly caPem: string;
  readonly gate: Gate;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Told about connections refused during the TLS handshake (no or invalid client certificate). */
  readonly onRefused?: (refusal: Refusal) => void;
  /**
   * More routes on the same mutual-TLS listener (the identity-record query API); `peerOf`
   * gives a request's peer node from its client certificate, exactly as the message route does.
   */
  readonly routes?: (app: FastifyInstance, peerOf: (req: FastifyRequest) => NodeSpec | null) => void | Promise<void>;
}

export interface HttpsReceiver {
  readonly url: string;
  readonly server: FastifyInstance;
  close(): Promise<void>;
}

/** How long a connection's verified client certificate is trusted before it is checked again, ms. */
const PEER_RECHECK_MS = 60_000;

const Reply = Type.Object({ receipt: Type.Union([Type.Literal('applied'), Type.Literal('duplicate'), Type.Literal('held')]) });
const Failure = Type.Object({ code: Type.String(), message: Type.String() });
const BatchReply = Type.Object({
  results: Type.Array(Type.Object({
    receipt: Type.Optional(Reply.properties.receipt),
    code: Type.Optional(Type.String()),
    message: Type.Optional(Type.String()),
    permanent: Type.Optional(Type.Boolean()),
  })),
});

/** Start a node's HTTPS message endpoint. */
export async function startHttpsReceiver(options: HttpsReceiverOptions): Promise<HttpsReceiver> {
  const ca = new X509Certificate(options.caPem);
  const app = Fastify({
    logger: false,
    bodyLimit: 256 * 1024,
    https: {
      key: options.credentials.keyPem,
      cert: options.credentials.certPem,
      ca: options.caPem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    },
  });
  app.server.on('tlsClientError', (err: Error) => {
    options.onRefused?.({ peer: null, why: `TLS handshake refused: ${err.message}` });
  });
  // The body is the envelope's wire text; the Gate parses and checks it itself.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  // A connection's client certificate cannot change (renegotiation is refused below), so it is
  // checked once per connection and the result kept for PEER_RECHECK_MS: parsing and verifying
  // the certificate on every keep-alive request was most of a small request's cost. Rechecked
  // after that, so a certificate that expires on a long-lived connection stops being accepted.
  app.server.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());
  const peers = new WeakMap<TLSSocket, { readonly peer: NodeSpec | null; readonly until: number }>();
  const peerOf = (req: FastifyRequest): NodeSpec | null => {
    const socket = req.raw.socket as TLSSocket;
    if (!socket.authorized) return null;
    const now = Date.now();
    const known = peers.get(socket);
    if (known && now < known.until) return known.peer;
    const cert = socket.getPeerCertificate();
    if (!cert || !cert.raw) return null;
    let peer: NodeSpec | null;
    try {
      peer = verifyNodeCertificate(cert.raw, ca);
    } catch {
      peer = null;
    }
    peers.set(socket, { peer, until: now + PEER_RECHECK_MS });
    return peer;
  };
  app.post(MESSAGES_PATH, { schema: { response: { 200: Reply, 400: Failure, 403: Failure, 503: Failure } } }, async (req, reply) => {
    const peer = peerOf(req);
    const result = await options.gate.accept(peer, req.body);
    if (result.ok) return reply.status(200).send({ receipt: result.receipt });
    const status = result.code === 'JUKI_ERR_NET_DENIED' ? 403 : result.permanent ? 400 : 503;
    return reply.status(status).send({ code: result.code, message: result.message });
  });
  app.post(MESSAGE_BATCHES_PATH, { bodyLimit: BATCH_BODY_LIMIT, schema: { response: { 200: BatchReply, 400: Failure } } }, async (req, reply) => {
    let envelopes: unknown;
    try {
      envelopes = (JSON.parse(req.body as string) as { envelopes?: unknown } | null)?.envelopes;
    } catch {
      envelopes = undefined;
    }
    if (!Array.isArray(envelopes) || envelopes.length === 0 || envelopes.length > MAX_BATCH) {
      return reply.status(400).send({ code: 'JUKI_ERR_INVALID_INPUT', message: `body.envelopes: expected an array of 1 to ${MAX_BATCH} envelopes` });
    }
    const peer = peerOf(req);
    const replies = await options.gate.acceptBatch(peer, envelopes);
    const results = replies.map((r) => (r.ok ? { receipt: r.receipt } : { code: r.code, message: r.message, permanent: r.permanent }));
    return reply.status(200).send({ results });
  });
  if (options.routes) await options.routes(app, peerOf);
  const url = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  return { url: url.replace(/^http:/, 'https:'), server: app, close: () => app.close() };
}

export interface HttpsTransportOptions {
  readonly credentials?: NodeCredentials;
  readonly caPem: string;
  /** `https://host:port` of a node's endpoint (from the topology). */
  readonly addressOf: (node: string) => string | undefined;
  /** Per-request timeout, ms (default 10000). */
  readonly timeoutMs?: number;
}

/** A sender's HTTPS transport: one keep-alive pool per receiving node (net/mtls.ts). */
export class HttpsTransport implements Transport {
  readonly #pools: MtlsPools;

  constructor(options: HttpsTransportOptions) {
    this.#pools = new MtlsPools({
      caPem: options.caPem, addressOf: options.addressOf, connections: 16, keepAliveTimeoutMs: 30_000,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      noAddress: (to) => transientFailure(`https: no address for ${to}`),
    });
  }

  async send(envelope: Envelope): Promise<Receipt> {
    let res;
    try {
      res = await this.#pools.get(envelope.to).request({
        path: MESSAGES_PATH,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: encodeEnvelope(envelope),
      });
    } catch (e) {
      throw transientFailure(`https: ${envelope.to}: ${(e as Error).message}`);
    }
    const text = await res.body.text();
    let json: { receipt?: Receipt; code?: string; message?: string } = {};
    try {
      json = JSON.parse(text);
    } catch {
      // handled below by status
    }
    if (res.statusCode === 200 && json.receipt) return json.receipt;
    const message = `https: ${envelope.to}: ${res.statusCode} ${json.message ?? text.slice(0, 200)}`;
    if (res.statusCode === 403) throw permanentFailure('JUKI_ERR_NET_DENIED', message);
    if (res.statusCode === 400) throw permanentFailure('JUKI_ERR_INVALID_INPUT', message);
    throw transientFailure(message);
  }

  /**
   * Several envelopes for one receiver in one request (MESSAGE_BATCHES_PATH); one result each.
   * A receiver without the batch route (404: an older node), or refusing the size (413), gets
   * them one by one instead.
   */
  async sendBatch(envelopes: readonly Envelope[]): Promise<DeliveryResult[]> {
    if (envelopes.length === 0) return [];
    const to = envelopes[0]!.to;
    if (envelopes.length > MAX_BATCH || envelopes.some((e) => e.to !== to)) throw new Error(`https: a batch holds 1 to ${MAX_BATCH} envelopes for one receiver`);
    const all = (error: JukiError): DeliveryResult[] => envelopes.map(() => ({ ok: false, error }));
    let res;
    try {
      res = await this.#pools.get(to).request({
        path: MESSAGE_BATCHES_PATH,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // Canonical envelopes are JSON objects: embedded as they are.
        body: `{"envelopes":[${envelopes.map(encodeEnvelope).join(',')}]}`,
      });
    } catch (e) {
      return all(transientFailure(`https: ${to}: ${(e as Error).message}`));
    }
    const text = await res.body.text();
    if (res.statusCode === 404 || res.statusCode === 413) return Promise.all(envelopes.map((e) => this.send(e).then((ack): DeliveryResult => ({ ok: true, ack }), (error: JukiError): DeliveryResult => ({ ok: false, error }))));
    let json: { results?: unknown; message?: string } = {};
    try {
      json = JSON.parse(text);
    } catch {
      // handled below by status
    }
    if (res.statusCode === 200 && Array.isArray(json.results) && json.results.length === envelopes.length) {
      return (json.results as { receipt?: Receipt; code?: string; message?: string; permanent?: boolean }[]).map((r): DeliveryResult => {
        if (r && typeof r.receipt === 'string') return { ok: true, ack: r.receipt };
        const message = `https: ${to}: ${r?.message ?? 'no receipt'}`;
        if (r?.code === 'JUKI_ERR_NET_DENIED') return { ok: false, error: permanentFailure('JUKI_ERR_NET_DENIED', message) };
        if (r?.code === 'JUKI_ERR_INVALID_INPUT') return { ok: false, error: permanentFailure('JUKI_ERR_INVALID_INPUT', message) };
        return { ok: false, error: transientFailure(message) };
      });
    }
    const message = `https: ${to}: ${res.statusCode} ${json.message ?? text.slice(0, 200)}`;
    if (res.statusCode === 403) return all(permanentFailure('JUKI_ERR_NET_DENIED', message));
    if (res.statusCode === 400) return all(permanentFailure('JUKI_ERR_INVALID_INPUT', message));
    return all(transientFailure(message));
  }

  close(): Promise<void> {
    return this.#pools.close();
  }
}
