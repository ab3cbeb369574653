/**
 * The jpki role reached over the network (docs/network.md "Card flows under juki serve"): a
 * municipality's CS holds the card (behind its terminal) and the jpki node holds the JPKI
 * domain's keys and the CA. Personalising the card's JPKI area is driven by the jpki node and
 * relayed by the CS, one command at a time, over mutual TLS on the jpki node's Juki-net listener:
 *
 *   CS → jpki  POST /jpki/v1/personalisations {holder?, card?}          → 200 {session, command}
 *   CS: the command to the card through the terminal's relay; its answer back:
 *   CS → jpki  POST /jpki/v1/personalisations/:session {response}       → 200 {session, command}
 *   ...                                                                 → 200 {done: true, cardSerial, sign}
 *   CS → jpki  POST /jpki/v1/revocations {cardSerial, cause}            → 200 {certificates}
 *   errors: 400 JUKI_ERR_INVALID_INPUT, 403 JUKI_ERR_JPKI_RELAY_DENIED, 404/409 JUKI_ERR_JPKI_RELAY_SESSION,
 *           502 the card or the CA failed (its code)
 *
 * The SCP03 session with the JPKI domain lives only here: the personalisation runs on this
 * node over a transport whose `transmit` hands the command to the CS and waits for the card's
 * answer the CS posts next. The CS sees only commands and answers, protected by the channel.
 * Only municipalities may ask (their node certificate; deny by default), and a session is
 * answered only by the node that started it. Bounds: sessions at once, steps per session, an
 * idle timeout between steps, the size of every field. Every decision and every session's end
 * is audited here (`jpki.relay.decided`).
 *
 * This module imports no network code: the peer comes from the listener (`peerOf`, the node
 * its client certificate names), the card work from a `JpkiCardService` (the jpki node's own).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor, AuditLog } from '../audit/index.ts';
import type { CardTransport } from '../reader/index.ts';
import { fromHex, invalid, JukiError, toHex, type ErrorCode } from '../util/index.ts';
import { CARD_CAUSES, type CardCause } from './revocation.ts';
import { checkCardSerial } from './profile.ts';

export const JPKI_RELAY_PATHS = {
  start: '/jpki/v1/personalisations',
  step: '/jpki/v1/personalisations/:session',
  revoke: '/jpki/v1/revocations',
} as const;

/** The holder data of the signature certificate (holders of 15 and over). */
export interface JpkiRelayHolder {
  readonly name: string;
  readonly sex: 'male' | 'female';
  readonly birthDate: string;
  readonly address: string;
}

/** The jpki node's own card work (structurally the CS's JpkiRelay without the network). */
export interface JpkiCardService {
  personalise(transport: CardTransport, holder?: JpkiRelayHolder): Promise<{ cardSerial: string; sign: boolean }>;
  revokeForCard(cardSerial: string, cause: CardCause): Promise<number>;
}

/** The requesting node as its certificate names it. */
export interface JpkiRelayPeer {
  readonly role: string;
  readonly code?: string;
}

export interface JpkiRelayServiceOptions {
  readonly cards: JpkiCardService;
  readonly audit: AuditLog;
  /** Idle time allowed between a command sent and the card's answer posted, ms (default 30000). */
  readonly idleTimeoutMs?: number;
  /** How long a request waits for this node's next command (CA signing included), ms (default 60000). */
  readonly waitMs?: number;
  /** Commands per session (default 64; a personalisation takes about 10). */
  readonly maxSteps?: number;
  /** Sessions open at once (default 8). */
  readonly maxSessions?: number;
}

export interface RelayReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** A card's answer: data ‖ SW1 SW2, at most an extended APDU's 65536 bytes of data. */
const MAX_RESPONSE_BYTES = 65536 + 2;
const SESSION_ID = /^[0-9a-f]{32}$/;
const CARD_HEX = /^[0-9A-Fa-f]{2,64}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

type Next = { kind: 'command'; apdu: Uint8Array } | { kind: 'done'; cardSerial: string; sign: boolean } | { kind: 'failed'; error: JukiError };

/** One personalisation in progress: the transport the card work runs on, and the hand-over to the CS. */
class Session {
  steps = 0;
  #next: Next | undefined;
  #wake: ((n: Next) => void) | undefined;
  #answer: { resolve(r: Uint8Array): void; reject(e: Error): void } | undefined;
  #idle: NodeJS.Timeout | undefined;
  ended = false;
  readonly transport: CardTransport;

  constructor(
    readonly id: string,
    readonly owner: string,
    readonly card: string | undefined,
    private readonly idleMs: number,
    private readonly onIdle: () => void,
  ) {
    this.transport = {
      atr: new Uint8Array(0),
      transmit: (apdu) => new Promise<Uint8Array>((resolve, reject) => {
        if (this.ended) return reject(new JukiError('JUKI_ERR_JPKI_RELAY_SESSION', `session ${id}: ended`));
        this.#answer = { resolve, reject };
        this.#arm();
        this.emit({ kind: 'command', apdu: apdu.slice() });
      }),
      close: async () => {},
    };
  }

  #arm(): void {
    clearTimeout(this.#idle);
    this.#idle = setTimeout(this.onIdle, this.idleMs);
    this.#idle.unref?.();
  }

  emit(n: Next): void {
    if (n.kind !== 'command') clearTimeout(this.#idle);
    const wake = this.#wake;
    this.#wake = undefined;
    if (wake) wake(n);
    else this.#next = n;
  }

  /** The next thing to tell the CS: a command, the result or the failure; rejects after `waitMs`. */
  next(waitMs: number): Promise<Next> {
    const ready = this.#next;
    if (ready) {
      this.#next = undefined;
      return Promise.resolve(ready);
    }
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wake = undefined;
        resolve({ kind: 'failed', error: new JukiError('JUKI_ERR_JPKI_RELAY_SESSION', `session ${this.id}: the jpki node did not produce its next command within ${waitMs} ms`) });
      }, waitMs);
      this.#wake = (n) => {
        clearTimeout(t);
        resolve(n);
      };
    });
  }

  get awaitingAnswer(): boolean {
    return this.#answer !== undefined;
  }

  answer(response: Uint8Array): void {
    const a = this.#answer;
    this.#answer = undefined;
    clearTimeout(this.#idle);
    a?.resolve(response);
  }

  abort(error: JukiError): void {
    this.ended = true;
    clearTimeout(this.#idle);
    const a = this.#answer;
    this.#answer = undefined;
    a?.reject(error);
  }
}

function failure(status: number, code: ErrorCode, message: string, details: Record<string, unknown> = {}): RelayReply {
  return { status, body: { code, message, details } };
}

function statusOf(e: JukiError): number {
  switch (e.code) {
    case 'JUKI_ERR_INVALID_INPUT': return 400;
    case 'JUKI_ERR_JPKI_RELAY_DENIED': return 403;
    case 'JUKI_ERR_JPKI_RELAY_SESSION': return 409;
    default: return 502;
  }
}

function parseBody(body: unknown): Record<string, unknown> {
  let b = body;
  if (typeof b === 'string') {
    try {
      b = JSON.parse(b);
    } catch {
      throw invalid('body', 'expected a JSON object');
    }
  }
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw invalid('body', 'expected a JSON object');
  return b as Record<string, unknown>;
}

function only(b: Record<string, unknown>, allowed: readonly string[], where = 'body'): void {
  for (const k of Object.keys(b)) if (!allowed.includes(k)) throw invalid(`${where}.${k}`, `unexpected field (allowed: ${allowed.join(', ')})`);
}

function text(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string' || v.length < 1 || v.length > max) throw invalid(field, `expected a string of 1-${max} characters`);
  return v;
}

function parseHolder(v: unknown): JpkiRelayHolder {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('holder', 'expected an object {name, sex, birthDate, address}');
  const h = v as Record<string, unknown>;
  only(h, ['name', 'sex', 'birthDate', 'address'], 'holder');
  const name = text(h['name'], 'holder.name', 200);
  if (h['sex'] !== 'male' && h['sex'] !== 'female') throw invalid('holder.sex', `expected male or female, got ${JSON.stringify(h['sex'])}`);
  const birthDate = text(h['birthDate'], 'holder.birthDate', 10);
  if (!DATE.test(birthDate)) throw invalid('holder.birthDate', `expected YYYY-MM-DD, got ${JSON.stringify(birthDate)}`);
  const address = text(h['address'], 'holder.address', 400);
  return { name, sex: h['sex'], birthDate, address };
}

/** The jpki node's side of the remote relay. */
export class JpkiRelayService {
  readonly #o: JpkiRelayServiceOptions;
  readonly #sessions = new Map<string, Session>();

  constructor(options: JpkiRelayServiceOptions) {
    this.#o = options;
  }

  get openSessions(): number {
    return this.#sessions.size;
  }

  #decide(peer: JpkiRelayPeer | null): { allow: boolean; by: string; why: string } {
    if (!peer) return { allow: false, by: 'unknown', why: 'no certificate from the network CA' };
    const by = peer.code ? `${peer.role}-${peer.code}` : peer.role;
    if (peer.role !== 'municipality') return { allow: false, by, why: `a ${peer.role} node may not drive a card's JPKI area: municipalities only (their CS holds the card)` };
    return { allow: true, by, why: 'a municipality\'s CS relaying its own card' };
  }

  async #audit(operation: string, by: string, why: string, outcome: { refused?: ErrorCode; error?: string } = {}, extra: { session?: string; card?: string; steps?: number; certificates?: number } = {}): Promise<void> {
    const actor: Actor = by === 'unknown' ? { kind: 'system' } : { kind: 'node', id: by };
    await this.#o.audit.record({
      type: 'jpki.relay.decided', actor,
      ...(outcome.refused ? { outcome: 'refused' as const, reason: outcome.refused } : outcome.error ? { outcome: 'error' as const, reason: outcome.error } : {}),
      details: { operation, by, why, ...extra },
    });
  }

  /** Start a personalisation: the first command for the card, or a refusal. */
  async start(peer: JpkiRelayPeer | null, raw: unknown): Promise<RelayReply> {
    let holder: JpkiRelayHolder | undefined;
    let card: string | undefined;
    try {
      const b = parseBody(raw);
      only(b, ['holder', 'card']);
      if (b['holder'] !== undefined) holder = parseHolder(b['holder']);
      if (b['card'] !== undefined) {
        if (typeof b['card'] !== 'string' || !CARD_HEX.test(b['card'])) throw invalid('card', 'expected the card\'s serial in hex (2-64 digits)');
        card = b['card'].toUpperCase();
      }
    } catch (e) {
      return failure(400, 'JUKI_ERR_INVALID_INPUT', (e as Error).message, (e as JukiError).details ?? {});
    }
    const d = this.#decide(peer);
    if (!d.allow) {
      await this.#audit('personalise', d.by, d.why, { refused: 'JUKI_ERR_JPKI_RELAY_DENIED' }, card ? { card } : {});
      return failure(403, 'JUKI_ERR_JPKI_RELAY_DENIED', `jpki: ${d.why}`);
    }
    const max = this.#o.maxSessions ?? 8;
    if (this.#sessions.size >= max) {
      await this.#audit('personalise', d.by, `${max} sessions already open`, { refused: 'JUKI_ERR_JPKI_RELAY_SESSION' }, card ? { card } : {});
      return failure(409, 'JUKI_ERR_JPKI_RELAY_SESSION', `jpki: ${max} personalisations are already open; try again later`);
    }
    const id = randomBytes(16).toString('hex');
    const idleMs = this.#o.idleTimeoutMs ?? 30_000;
    const session: Session = new Session(id, d.by, card, idleMs, () => {
      // Nobody answered the last command in time: the session ends here, its state with it.
      this.#sessions.delete(id);
      session.abort(new JukiError('JUKI_ERR_JPKI_RELAY_SESSION', `session ${id}: expired: no answer from the card within ${idleMs} ms`));
      void this.#audit('personalise-end', d.by, `expired: no answer within ${idleMs} ms`, { refused: 'JUKI_ERR_JPKI_RELAY_SESSION' }, { session: id, steps: session.steps, ...(card ? { card } : {}) }).catch(() => undefined);
    });
    this.#sessions.set(id, session);
    await this.#audit('personalise', d.by, d.why, {}, { session: id, ...(card ? { card } : {}) });
    this.#o.cards.personalise(session.transport, holder).then(
      (r) => session.emit({ kind: 'done', cardSerial: r.cardSerial, sign: r.sign }),
      (e) => session.emit({ kind: 'failed', error: e instanceof JukiError ? e : new JukiError('JUKI_ERR_INTERNAL', `jpki: personalisation failed: ${(e as Error)?.message ?? String(e)}`) }),
    );
    return this.#reply(session);
  }

  /** The card's answer to the last command: the next command, the result, or the failure. */
  async step(peer: JpkiRelayPeer | null, sessionId: string, raw: unknown): Promise<RelayReply> {
    let response: Uint8Array;
    try {
      if (!SESSION_ID.test(sessionId)) throw invalid('session', 'expected a session id of 32 lower-case hex digits');
      const b = parseBody(raw);
      only(b, ['response']);
      const r = b['response'];
      if (typeof r !== 'string' || r.length < 4 || r.length > 2 * MAX_RESPONSE_BYTES || r.length % 2 !== 0) {
        throw invalid('response', `expected the card's answer in hex (data ‖ SW1 SW2, 2-${MAX_RESPONSE_BYTES} bytes)`);
      }
      response = fromHex(r, 'response');
    } catch (e) {
      return failure(400, 'JUKI_ERR_INVALID_INPUT', (e as Error).message, (e as JukiError).details ?? {});
    }
    const d = this.#decide(peer);
    if (!d.allow) {
      await this.#audit('personalise-step', d.by, d.why, { refused: 'JUKI_ERR_JPKI_RELAY_DENIED' }, { session: sessionId });
      return failure(403, 'JUKI_ERR_JPKI_RELAY_DENIED', `jpki: ${d.why}`);
    }
    const session = this.#sessions.get(sessionId);
    // Another node's session is answered exactly like an unknown one.
    if (!session || session.owner !== d.by) {
      await this.#audit('personalise-step', d.by, 'no such session for this node', { refused: 'JUKI_ERR_JPKI_RELAY_SESSION' }, { session: sessionId });
      return failure(404, 'JUKI_ERR_JPKI_RELAY_SESSION', `jpki: no personalisation session ${sessionId} for ${d.by} (ended, expired, or never started)`, { field: 'session' });
    }
    if (!session.awaitingAnswer) {
      return failure(409, 'JUKI_ERR_JPKI_RELAY_SESSION', `jpki: session ${sessionId} awaits no answer now (a step is already being processed)`, { field: 'session' });
    }
    session.steps++;
    const max = this.#o.maxSteps ?? 64;
    if (session.steps > max) {
      session.abort(new JukiError('JUKI_ERR_JPKI_RELAY_SESSION', `session ${sessionId}: more than ${max} steps`));
    } else {
      session.answer(response);
    }
    return this.#reply(session);
  }

  async #reply(session: Session): Promise<RelayReply> {
    const n = await session.next(this.#o.waitMs ?? 60_000);
    if (n.kind === 'command') return { status: 200, body: { session: session.id, command: toHex(n.apdu) } };
    this.#sessions.delete(session.id);
    session.abort(n.kind === 'failed' ? n.error : new JukiError('JUKI_ERR_JPKI_RELAY_SESSION', `session ${session.id}: done`));
    const extra = { session: session.id, steps: session.steps, ...(session.card ? { card: session.card } : {}) };
    if (n.kind === 'done') {
      await this.#audit('personalise-end', session.owner, 'the JPKI area was personalised', {}, extra);
      return { status: 200, body: { done: true, cardSerial: n.cardSerial, sign: n.sign } };
    }
    await this.#audit('personalise-end', session.owner, n.error.message.slice(0, 300), { error: n.error.code }, extra);
    return failure(statusOf(n.error), n.error.code, `jpki: ${n.error.message}`, n.error.details);
  }

  /** Revoke a card's certificates (the CS after a status change, or for a card it spoils). */
  async revoke(peer: JpkiRelayPeer | null, raw: unknown): Promise<RelayReply> {
    let cardSerial: string;
    let cause: CardCause;
    try {
      const b = parseBody(raw);
      only(b, ['cardSerial', 'cause']);
      cardSerial = checkCardSerial(b['cardSerial']);
      if (!(CARD_CAUSES as readonly unknown[]).includes(b['cause'])) throw invalid('cause', `expected one of ${CARD_CAUSES.join(', ')}, got ${JSON.stringify(b['cause'])}`);
      cause = b['cause'] as CardCause;
    } catch (e) {
      return failure(400, 'JUKI_ERR_INVALID_INPUT', (e as Error).message, (e as JukiError).details ?? {});
    }
    const d = this.#decide(peer);
    if (!d.allow) {
      await this.#audit('revoke', d.by, d.why, { refused: 'JUKI_ERR_JPKI_RELAY_DENIED' }, { card: cardSerial });
      return failure(403, 'JUKI_ERR_JPKI_RELAY_DENIED', `jpki: ${d.why}`);
    }
    try {
      const n = await this.#o.cards.revokeForCard(cardSerial, cause);
      await this.#audit('revoke', d.by, `${cause}`, {}, { card: cardSerial, certificates: n });
      return { status: 200, body: { certificates: n } };
    } catch (e) {
      const err = e instanceof JukiError ? e : new JukiError('JUKI_ERR_INTERNAL', `jpki: revocation failed: ${(e as Error)?.message}`);
      await this.#audit('revoke', d.by, err.message.slice(0, 300), { error: err.code }, { card: cardSerial });
      return failure(statusOf(err), err.code, err.message, err.details);
    }
  }

  /** The routes on the jpki node's mutual-TLS listener (HttpsReceiverOptions.routes). */
  routes(): (app: FastifyInstance, peerOf: (req: FastifyRequest) => JpkiRelayPeer | null) => void {
    return (app, peerOf) => {
      app.post(JPKI_RELAY_PATHS.start, async (req, reply) => {
        const r = await this.start(peerOf(req), req.body);
        return reply.status(r.status).send(r.body);
      });
      app.post<{ Params: { session: string } }>(JPKI_RELAY_PATHS.step, async (req, reply) => {
        const r = await this.step(peerOf(req), req.params.session, req.body);
        return reply.status(r.status).send(r.body);
      });
      app.post(JPKI_RELAY_PATHS.revoke, async (req, reply) => {
        const r = await this.revoke(peerOf(req), req.body);
        return reply.status(r.status).send(r.body);
      });
    };
  }

  /** End every open session (the node stops). */
  close(): void {
    for (const s of this.#sessions.values()) s.abort(new JukiError('JUKI_ERR_JPKI_RELAY_SESSION', `session ${s.id}: the jpki node is stopping`));
    this.#sessions.clear();
  }
}
