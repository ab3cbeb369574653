/**
 * The inbox apply handlers of the Juki-net routes (ARCHITECTURE.md "Routes", docs/network.md):
 *
 *   prefecture    card.status        record, forward to the national center (R3.2.1u -> R3.2.1e)
 *                 identity.changed   record, forward to the national center
 *   national      card.status        record; a suspension, abolition or collection (or the
 *                                    lifting of one) goes to every card-verifying agency (R3.2.1o)
 *                 identity.changed   record
 *   municipality  card.returned      the issuer marks its card collected (R3.2.1i), through the
 *                                    CS books' hook
 *   agency        agency.notice      src/agency/notice-list.ts
 *   every node    audit.checkpoint   held in this node's audit log
 *
 * Each handler runs inside the inbox's transaction: what it records and what it forwards
 * (outbox) commit with the inbox row, or not at all. A message of a type the node does not
 * handle is refused as malformed (permanent), never silently dropped.
 */
import type { AuditLog } from '../../audit/index.ts';
import { JukiError } from '../../util/index.ts';
import { holdCheckpoint } from '../checkpoint.ts';
import type { AuditCheckpointBody, CardStatusBody, Envelope, IdentityChangeBody, ReturnedCardBody } from '../envelope.ts';
import type { ApplyMessage } from '../inbox.ts';
import type { Outbox } from '../outbox.ts';
import { nodeId, type NodeSpec } from '../roles.ts';
import type { Topology } from '../topology.ts';
import { recordCardStatus, recordIdentity, type Trx } from './records.ts';

/**
 * The CS books' side of a returned card (R3.2.1i): mark the card this municipality issued
 * collected, inside the inbox's transaction (src/cs/moves.ts `applyReturnedCard`).
 */
export type ReturnedCardHook = (trx: Trx, body: ReturnedCardBody, fromNode: string) => Promise<void>;

export interface RouteContext {
  readonly self: NodeSpec;
  readonly outbox: Outbox<Trx>;
  readonly audit: AuditLog;
  readonly topology: Topology;
  readonly now?: () => Date;
}

/** Statuses an agency must hear about (第3の2(1)オ: 一時停止又は廃止; a collected card is abolished first or unusable). */
export const NOTICED_STATUSES: readonly string[] = ['suspended', 'abolished', 'collected'];

function unhandled(self: NodeSpec, e: Envelope): JukiError {
  return new JukiError('JUKI_ERR_INVALID_INPUT', `${nodeId(self)} does not handle ${e.type}`, { field: 'envelope.type', permanent: true });
}

/** Wrap a role's handler with what every node does (hold audit checkpoints). */
export function withCommon(ctx: Pick<RouteContext, 'self' | 'audit'>, handler: (trx: Trx, e: Envelope) => Promise<boolean>): ApplyMessage<Trx> {
  return async (trx, e) => {
    if (e.type === 'audit.checkpoint') return holdCheckpoint(ctx.audit, trx, e.body as AuditCheckpointBody);
    if (!(await handler(trx, e))) throw unhandled(ctx.self, e);
  };
}

const at = (ctx: RouteContext): string => (ctx.now ?? (() => new Date()))().toISOString();

/** A prefecture server: keeps its municipalities' card statuses and identity records, and passes them on. */
export function prefectureApply(ctx: RouteContext): ApplyMessage<Trx> {
  const self = nodeId(ctx.self);
  return withCommon(ctx, async (trx, e) => {
    if (e.type === 'card.status') {
      const body = e.body as CardStatusBody;
      await recordCardStatus(trx, body, e.from, at(ctx));
      // Every announcement is forwarded (in order, by the outbox's sequence): the national
      // center sees versions 1..V exactly as this prefecture did (R3.2.1e).
      await ctx.outbox.enqueue(trx, { type: 'card.status', from: self, to: ctx.topology.national, body });
      return true;
    }
    if (e.type === 'identity.changed') {
      const body = e.body as IdentityChangeBody;
      await recordIdentity(trx, body, at(ctx));
      await ctx.outbox.enqueue(trx, { type: 'identity.changed', from: self, to: ctx.topology.national, body });
      return true;
    }
    return false;
  });
}

/** The national center: every card's status, every resident's identity record, notices to agencies. */
export function nationalApply(ctx: RouteContext & { readonly agencies?: () => readonly string[] }): ApplyMessage<Trx> {
  const self = nodeId(ctx.self);
  const agencies = ctx.agencies ?? (() => ctx.topology.agencies);
  return withCommon(ctx, async (trx, e) => {
    if (e.type === 'card.status') {
      const body = e.body as CardStatusBody;
      const { previous, newer } = await recordCardStatus(trx, body, e.from, at(ctx));
      // R3.2.1o: suspended / abolished (and collected) go to every agency that verifies by
      // card; so does a card becoming active again after one of those, so no agency keeps
      // refusing a card whose suspension was lifted.
      const lifted = body.status === 'active' && previous !== undefined && NOTICED_STATUSES.includes(previous);
      if (newer && (NOTICED_STATUSES.includes(body.status) || lifted)) {
        const to = agencies();
        for (const a of to) await ctx.outbox.enqueue(trx, { type: 'agency.notice', from: self, to: a, body });
        await ctx.audit.append(trx, {
          type: 'net.card.noticed', actor: { kind: 'node', id: e.from }, subject: { kind: 'card', id: body.cardNumber },
          details: { status: body.status, version: body.version, agencies: [...to] },
        });
      }
      return true;
    }
    if (e.type === 'identity.changed') {
      await recordIdentity(trx, e.body as IdentityChangeBody, at(ctx));
      return true;
    }
    return false;
  });
}

/** A municipality: a card it issued was handed in elsewhere (R3.2.1i). */
export function municipalityApply(ctx: RouteContext & { readonly returnedCard?: ReturnedCardHook }): ApplyMessage<Trx> {
  return withCommon(ctx, async (trx, e) => {
    if (e.type === 'card.returned') {
      if (!ctx.returnedCard) {
        // No books to mark it in: fail the transaction so the sender keeps it and retries
        // until the counter service is up (never acknowledged and lost).
        throw new JukiError('JUKI_ERR_NET_DELIVERY', `${nodeId(ctx.self)}: the card books are not running; card.returned kept by the sender`);
      }
      await ctx.returnedCard(trx, e.body as ReturnedCardBody, e.from);
      return true;
    }
    return false;
  });
}
