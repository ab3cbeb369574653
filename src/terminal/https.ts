/**
 * The terminal agent over HTTPS with mutual TLS: the agent serves `TerminalAgentApi` to its CS
 * (and only to it: `authorisePeer` checks the client certificate, e.g. with net's peerIdentity
 * that it is `municipality-131016`), and `HttpsTerminalClient` implements the same interface on
 * the CS side, so card flows run over `relayTransport(client, reader)` exactly as in one process.
 *
 *   GET  /terminal/v1/readers                          → { readers: [{ name, cardPresent }] }
 *   POST /terminal/v1/readers/:reader/connect          → { atr }
 *   POST /terminal/v1/readers/:reader/transmit {apdu}  → { response }        (hex; PIN-bearing commands refused)
 *   POST /terminal/v1/readers/:reader/pin/set {app}    → PinSetOutcome       (local: the pad)
 *   POST /terminal/v1/readers/:reader/pin/verify {app} → PinVerifyOutcome    (local: the pad)
 *   POST /terminal/v1/readers/:reader/operator-login {challenge} → OperatorSignOutcome (hex fields)
 *   POST /terminal/v1/readers/:reader/release          → {}
 *   errors: 4xx/5xx { code, message, details }
 *
 * Node certificates come from the network CA (src/net pki); this module takes them as PEM so
 * the terminal does not depend on net.
 */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import Fastify, { type FastifyInstance } from 'fastify';
import { Pool } from 'undici';
import { ERROR_CODES, fromHex, JukiError, toHex, type ErrorCode } from '../util/index.ts';
import type { ReaderInfo, TerminalAgentApi } from './agent.ts';
import type { OperatorSignOutcome, PinApplicationName, PinSetOutcome, PinVerifyOutcome } from './local-steps.ts';

const BASE = '/terminal/v1';

/** What a request asks of the terminal: the relay, or a step that stays local (see authorisePeer). */
export type TerminalAction = 'relay' | 'local';

function actionOf(url: string): TerminalAction {
  const path = url.split('?')[0]!;
  return path === `${BASE}/readers` || /\/(connect|transmit)$/.test(path) ? 'relay' : 'local';
}

export interface TerminalHttpsOptions {
  readonly keyPem: string;
  readonly certPem: string;
  /** The network CA: client certificates must chain to it. */
  readonly caPem: string;
  /**
   * Whether this client certificate may drive the terminal (its own CS only) for `action`:
   * `relay` (list readers, connect, transmit server-built APDUs) or `local` (PIN steps on the
   * pad, operator login, release), so another node (the national center reading an agency
   * card) can be admitted to the relay only.
   */
  readonly authorisePeer: (cert: X509Certificate, action: TerminalAction) => boolean;
  readonly host?: string;
  readonly port?: number;
}

export interface TerminalHttpsServer {
  readonly url: string;
  readonly server: FastifyInstance;
  close(): Promise<void>;
}

const HEX = '^([0-9A-Fa-f]{2})*$';
const ReaderParams = { type: 'object', required: ['reader'], properties: { reader: { type: 'string', minLength: 1, maxLength: 128 } } } as const;
const AppBody = {
  type: 'object',
  required: ['app'],
  additionalProperties: false,
  properties: { app: { type: 'string', enum: ['basic', 'operator', 'jpkiAuth', 'jpkiSign'] }, prompt: { type: 'string', maxLength: 200 } },
} as const;
/** Every outcome field, declared: nothing else is serialised (an outcome never holds a PIN). */
const Outcome = {
  type: 'object',
  additionalProperties: false,
  required: ['kind'],
  properties: {
    kind: { type: 'string' }, sw: { type: 'string' }, reason: { type: 'string' }, triesLeft: { type: 'integer' },
    staffId: { type: 'string' }, publicKey: { type: 'string' }, signature: { type: 'string' },
  },
} as const;
const Failure = { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object', additionalProperties: true } } } as const;

function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'JUKI_ERR_TERMINAL_DENIED':
      return 403;
    case 'JUKI_ERR_INVALID_INPUT':
      return 400;
    case 'JUKI_ERR_READER':
    case 'JUKI_ERR_PIN_PAD':
    case 'JUKI_ERR_CONFLICT':
      return 409;
    default:
      return 500;
  }
}

/** Serve the agent on HTTPS with mutual TLS. */
export async function serveTerminalHttps(agent: TerminalAgentApi, o: TerminalHttpsOptions): Promise<TerminalHttpsServer> {
  const app = Fastify({
    logger: false,
    bodyLimit: 128 * 1024,
    https: { key: o.keyPem, cert: o.certPem, ca: o.caPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
  });
  app.addHook('onRequest', async (req, reply) => {
    const peer = (req.raw.socket as TLSSocket).getPeerCertificate?.();
    let ok = false;
    try {
      ok = Boolean(peer?.raw) && o.authorisePeer(new X509Certificate(peer.raw), actionOf(req.url));
    } catch {
      ok = false;
    }
    if (!ok) {
      await reply.code(403).send({ code: 'JUKI_ERR_TERMINAL_DENIED', message: `terminal ${agent.terminalId}: this client certificate may not drive it`, details: {} });
    }
  });
  app.setErrorHandler(async (err, _req, reply) => {
    if (err instanceof JukiError) return reply.code(statusOf(err.code)).send(err.toJSON());
    if ((err as { validation?: unknown }).validation) return reply.code(400).send({ code: 'JUKI_ERR_INVALID_INPUT', message: (err as Error).message, details: {} });
    return reply.code(500).send({ code: 'JUKI_ERR_INTERNAL', message: 'internal error in the terminal agent', details: {} });
  });
  type R = { Params: { reader: string } };
  const errors = { 400: Failure, 403: Failure, 409: Failure, 500: Failure };
  app.get(`${BASE}/readers`, { schema: { response: { 200: { type: 'object', properties: { readers: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, cardPresent: { type: 'boolean' } } } } } }, ...errors } } }, async () => ({ readers: await agent.readers() }));
  app.post<R>(`${BASE}/readers/:reader/connect`, { schema: { params: ReaderParams, response: { 200: { type: 'object', properties: { atr: { type: 'string' } } }, ...errors } } }, async (req) => ({ atr: toHex(await agent.connect(req.params.reader)) }));
  app.post<R & { Body: { apdu: string } }>(
    `${BASE}/readers/:reader/transmit`,
    { schema: { params: ReaderParams, body: { type: 'object', required: ['apdu'], additionalProperties: false, properties: { apdu: { type: 'string', minLength: 8, maxLength: 2 * 65544, pattern: HEX } } }, response: { 200: { type: 'object', properties: { response: { type: 'string' } } }, ...errors } } },
    async (req) => ({ response: toHex(await agent.transmit(req.params.reader, fromHex(req.body.apdu, 'apdu'))) }),
  );
  app.post<R & { Body: { app: PinApplicationName; prompt?: string } }>(`${BASE}/readers/:reader/pin/set`, { schema: { params: ReaderParams, body: AppBody, response: { 200: Outcome, ...errors } } }, async (req) => agent.setPin(req.params.reader, req.body.app, req.body.prompt));
  app.post<R & { Body: { app: PinApplicationName; prompt?: string } }>(`${BASE}/readers/:reader/pin/verify`, { schema: { params: ReaderParams, body: AppBody, response: { 200: Outcome, ...errors } } }, async (req) => agent.verifyPin(req.params.reader, req.body.app, req.body.prompt));
  app.post<R & { Body: { challenge: string } }>(
    `${BASE}/readers/:reader/operator-login`,
    { schema: { params: ReaderParams, body: { type: 'object', required: ['challenge'], additionalProperties: false, properties: { challenge: { type: 'string', minLength: 16, maxLength: 128, pattern: HEX } } }, response: { 200: Outcome, ...errors } } },
    async (req) => {
      const r = await agent.operatorLogin(req.params.reader, fromHex(req.body.challenge, 'challenge'));
      return r.kind === 'signed' ? { kind: r.kind, staffId: r.staffId, publicKey: toHex(r.publicKey), signature: toHex(r.signature) } : r;
    },
  );
  app.post<R>(`${BASE}/readers/:reader/release`, { schema: { params: ReaderParams, response: { 200: { type: 'object' }, ...errors } } }, async (req) => {
    await agent.release(req.params.reader);
    return {};
  });
  const url = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
  return { url: url.replace(/^http:/, 'https:'), server: app, close: () => app.close() };
}

export interface HttpsTerminalClientOptions {
  /** `https://host:port` of the agent. */
  readonly url: string;
  readonly terminalId: string;
  readonly caPem: string;
  /** This CS's node certificate and key (the client certificate the agent checks). */
  readonly certPem: string;
  readonly keyPem: string;
  /** Check the agent's certificate beyond the CA chain and host name (e.g. that it names this terminal). */
  readonly checkServer?: (cert: X509Certificate) => boolean;
  /** Per-request timeout for relayed APDUs, ms (default 10000); PIN-pad steps wait for a person (default 300000). */
  readonly timeoutMs?: number;
  readonly padTimeoutMs?: number;
}

/** The CS's side of a terminal agent over HTTPS + mTLS. */
export class HttpsTerminalClient implements TerminalAgentApi {
  readonly terminalId: string;
  readonly #pool: Pool;
  readonly #o: HttpsTerminalClientOptions;

  constructor(o: HttpsTerminalClientOptions) {
    this.#o = o;
    this.terminalId = o.terminalId;
    this.#pool = new Pool(o.url, {
      connections: 2,
      connect: {
        ca: o.caPem,
        cert: o.certPem,
        key: o.keyPem,
        ...(o.checkServer
          ? {
              checkServerIdentity: (_host: string, cert: { raw: Buffer }) => {
                try {
                  return o.checkServer!(new X509Certificate(cert.raw)) ? undefined : new Error(`${o.url} is not terminal ${o.terminalId}`);
                } catch (e) {
                  return e as Error;
                }
              },
            }
          : {}),
      },
    });
  }

  async #call<T>(method: 'GET' | 'POST', path: string, body?: unknown, pad = false): Promise<T> {
    const timeout = pad ? (this.#o.padTimeoutMs ?? 300_000) : (this.#o.timeoutMs ?? 10_000);
    let res;
    try {
      res = await this.#pool.request({
        method,
        path: `${BASE}${path}`,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
    } catch (e) {
      throw new JukiError('JUKI_ERR_READER', `terminal ${this.terminalId} unreachable: ${(e as Error).message}`);
    }
    const text = await res.body.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // handled below
    }
    if (res.statusCode === 200) return json as T;
    const code = typeof json['code'] === 'string' && json['code'] in ERROR_CODES ? (json['code'] as ErrorCode) : 'JUKI_ERR_READER';
    throw new JukiError(code, `terminal ${this.terminalId}: ${typeof json['message'] === 'string' ? json['message'] : `HTTP ${res.statusCode}`}`, (json['details'] as Record<string, unknown>) ?? {});
  }

  async readers(): Promise<ReaderInfo[]> {
    return (await this.#call<{ readers: ReaderInfo[] }>('GET', '/readers')).readers;
  }
  async connect(reader: string): Promise<Uint8Array> {
    return fromHex((await this.#call<{ atr: string }>('POST', `/readers/${encodeURIComponent(reader)}/connect`, {})).atr, 'atr');
  }
  async transmit(reader: string, apdu: Uint8Array): Promise<Uint8Array> {
    return fromHex((await this.#call<{ response: string }>('POST', `/readers/${encodeURIComponent(reader)}/transmit`, { apdu: toHex(apdu) })).response, 'response');
  }
  setPin(reader: string, app: PinApplicationName, prompt?: string): Promise<PinSetOutcome> {
    return this.#call('POST', `/readers/${encodeURIComponent(reader)}/pin/set`, prompt === undefined ? { app } : { app, prompt }, true);
  }
  verifyPin(reader: string, app: PinApplicationName, prompt?: string): Promise<PinVerifyOutcome> {
    return this.#call('POST', `/readers/${encodeURIComponent(reader)}/pin/verify`, prompt === undefined ? { app } : { app, prompt }, true);
  }
  async operatorLogin(reader: string, challenge: Uint8Array): Promise<OperatorSignOutcome> {
    const r = await this.#call<Record<string, unknown>>('POST', `/readers/${encodeURIComponent(reader)}/operator-login`, { challenge: toHex(challenge) }, true);
    if (r['kind'] === 'signed') {
      return { kind: 'signed', staffId: String(r['staffId']), publicKey: fromHex(String(r['publicKey']), 'publicKey'), signature: fromHex(String(r['signature']), 'signature') };
    }
    return r as OperatorSignOutcome;
  }
  async release(reader: string): Promise<void> {
    await this.#call('POST', `/readers/${encodeURIComponent(reader)}/release`, {});
  }
  close(): Promise<void> {
    return this.#pool.close();
  }
}
