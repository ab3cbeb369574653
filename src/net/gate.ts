/**
 * The receiving side every transport shares: given the peer identity the transport
 * established (or null) and the raw envelope, parse it, authorise it, and hand it to the inbox.
 * A refused message never reaches the inbox, and each refusal is reported (audited) once.
 */
import { JukiError, isJukiError } from '../util/index.ts';
import type { AuditLog } from '../audit/index.ts';
import { authorise } from './authorise.ts';
import { parseEnvelope, type Envelope } from './envelope.ts';
import type { MessageSink, Receipt } from './inbox.ts';
import { nodeId, type NodeSpec } from './roles.ts';

export type GateReply =
  | { readonly ok: true; readonly receipt: Receipt }
  | { readonly ok: false; readonly code: 'JUKI_ERR_NET_DENIED' | 'JUKI_ERR_INVALID_INPUT' | 'JUKI_ERR_NET_DELIVERY'; readonly message: string; readonly permanent: boolean };

export interface Refusal {
  readonly peer: NodeSpec | null;
  readonly why: string;
  readonly type?: string;
  readonly from?: string;
  readonly to?: string;
}

export interface GateOptions {
  readonly self: NodeSpec;
  readonly inbox: MessageSink;
  /** Called once per refused message, before replying (audit it). */
  readonly onRefused?: (refusal: Refusal) => Promise<void>;
}

export class Gate {
  readonly self: NodeSpec;
  readonly id: string;
  readonly #inbox: MessageSink;
  readonly #onRefused: (refusal: Refusal) => Promise<void>;

  constructor(options: GateOptions) {
    this.self = options.self;
    this.id = nodeId(options.self);
    this.#inbox = options.inbox;
    this.#onRefused = options.onRefused ?? (async () => {});
  }

  /**
   * Accept (or refuse) one message from `peer`; `raw` is wire text or a decoded envelope.
   * `unauthenticated` says why the peer is null, for the refusal (default: no valid certificate).
   */
  async accept(peer: NodeSpec | null, raw: unknown, unauthenticated?: string): Promise<GateReply> {
    let envelope: Envelope;
    const noPeer = unauthenticated ?? 'the peer presented no valid certificate from the network CA';
    try {
      envelope = parseEnvelope(raw);
    } catch (e) {
      if (peer === null) return this.#refuse({ peer, why: noPeer });
      const message = isJukiError(e) ? e.message : 'malformed envelope';
      return { ok: false, code: 'JUKI_ERR_INVALID_INPUT', message, permanent: true };
    }
    const decision = peer === null ? { allow: false as const, why: noPeer } : authorise({ peer, receiver: this.self, type: envelope.type, from: envelope.from, to: envelope.to });
    if (!decision.allow) return this.#refuse({ peer, why: decision.why, type: envelope.type, from: envelope.from, to: envelope.to });
    try {
      return { ok: true, receipt: await this.#inbox.receive(envelope) };
    } catch (e) {
      const permanent = isJukiError(e, 'JUKI_ERR_INVALID_INPUT');
      return { ok: false, code: permanent ? 'JUKI_ERR_INVALID_INPUT' : 'JUKI_ERR_NET_DELIVERY', message: e instanceof JukiError ? e.message : 'the receiver failed to apply the message', permanent };
    }
  }

  /**
   * Accept (or refuse) several messages from one `peer`, one reply each, in order. Each message
   * is parsed, authorised and received exactly as `accept` does it, so one refused or malformed
   * message is refused alone. The receipts are all asked of the inbox in the same turn of the
   * event loop, in order: a group-committing store (SqlNetStore) applies them in one database
   * transaction, each under its own savepoint, in this order (so a card's messages of one batch
   * are applied in sequence), and answers each only after that transaction committed.
   */
  acceptBatch(peer: NodeSpec | null, raws: readonly unknown[], unauthenticated?: string): Promise<GateReply[]> {
    return Promise.all(raws.map((raw) => this.accept(peer, raw, unauthenticated)));
  }

  async #refuse(refusal: Refusal): Promise<GateReply> {
    await this.#onRefused(refusal);
    return { ok: false, code: 'JUKI_ERR_NET_DENIED', message: refusal.why, permanent: true };
  }
}

/** An onRefused handler that appends `net.message.refused` to this node's audit log. */
export function auditRefusals(log: AuditLog): (refusal: Refusal) => Promise<void> {
  return async (r) => {
    await log.record({
      type: 'net.message.refused',
      actor: r.peer ? { kind: 'node', id: nodeId(r.peer) } : { kind: 'system' },
      subject: { kind: 'node', id: log.node },
      outcome: 'refused',
      reason: 'JUKI_ERR_NET_DENIED',
      details: { why: r.why, ...(r.type !== undefined ? { messageType: r.type } : {}), ...(r.from !== undefined ? { declaredFrom: r.from } : {}), ...(r.to !== undefined ? { to: r.to } : {}) },
    });
  };
}
