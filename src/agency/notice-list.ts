/**
 * An agency's notice list (R3.2.1o, 技術的基準 第3の2(1)オ): the latest status of every card
 * the national center (or a prefecture or municipality) told it about. A card whose latest
 * notice is suspended, abolished or collected is refused (R4.2.2); a later `active` notice
 * (a suspension lifted) clears it. Kept in `agency_notices` (migration 0006); the highest
 * version wins, so a late or repeated notice never un-suspends a card.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { AuditLog } from '../audit/index.ts';
import { Statement, type Schema } from '../db/index.ts';
import { withCommon, type AgencyNoticeBody, type ApplyMessage, type CardStatus, type NodeSpec, type RouteContext } from '../net/index.ts';

type Trx = Transaction<Schema>;
type Db = Kysely<Schema> | Trx;

export interface Notice {
  readonly cardNumber: string;
  readonly issuer: string;
  readonly residentCode?: string;
  readonly status: CardStatus;
  readonly version: number;
  readonly changedAt: string;
  readonly from: string;
  readonly receivedAt: string;
}

/** Whether a notice makes the card unusable at this agency. */
export function refuses(notice: Pick<Notice, 'status'> | undefined): boolean {
  return notice !== undefined && notice.status !== 'active';
}

/**
 * Which of two notices of one card the list keeps: the higher version (the issuer numbers
 * every change of a card 1, 2, 3...). Pure, so the simulation uses the same rule.
 */
export function newerNotice<N extends { version: number }>(held: N | undefined, incoming: N): N {
  return held !== undefined && held.version >= incoming.version ? held : incoming;
}

function toNotice(r: Selectable<Schema['agency_notices']>): Notice {
  return {
    cardNumber: r.card_number, issuer: r.issuer, ...(r.resident_code ? { residentCode: r.resident_code } : {}), status: r.status as CardStatus,
    version: r.version, changedAt: r.changed_at, from: r.received_from, receivedAt: r.received_at,
  };
}

/** Run for every notice an agency applies: fixed SQL text (src/db/statement.ts). */
const RECORD_NOTICE = new Statement(
  'INSERT INTO agency_notices (card_number, issuer, resident_code, status, version, changed_at, received_from, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ' +
  'ON CONFLICT (card_number) DO UPDATE SET issuer = excluded.issuer, resident_code = excluded.resident_code, status = excluded.status, ' +
  'version = excluded.version, changed_at = excluded.changed_at, received_from = excluded.received_from, received_at = excluded.received_at ' +
  'WHERE agency_notices.version < excluded.version');

export class NoticeList {
  readonly #db: () => Kysely<Schema>;

  constructor(db: () => Kysely<Schema>) {
    this.#db = db;
  }

  /**
   * Record a notice inside the inbox's transaction; true if it changed the list. One upsert
   * whose update applies only to a higher version (the rule of `newerNotice`): a late or
   * repeated notice changes no row.
   */
  async record(trx: Trx, body: AgencyNoticeBody, from: string, at: string): Promise<boolean> {
    const changed = await RECORD_NOTICE.changes(trx, [
      body.cardNumber, body.issuer, body.residentCode ?? null, body.status, body.version, body.changedAt, from, at,
    ]);
    return changed === 1;
  }

  /** The notice held for a card, if any. */
  async forCard(cardNumber: string, db: Db = this.#db()): Promise<Notice | undefined> {
    const r = await db.selectFrom('agency_notices').selectAll().where('card_number', '=', cardNumber).executeTakeFirst();
    return r ? toNotice(r) : undefined;
  }

  /** Notices held for a resident's cards (when the notice named the holder). */
  async forResident(residentCode: string, db: Db = this.#db()): Promise<Notice[]> {
    const rows = await db.selectFrom('agency_notices').selectAll().where('resident_code', '=', residentCode).orderBy('card_number').execute();
    return rows.map(toNotice);
  }

  /** Every card this agency refuses now. */
  async refused(db: Db = this.#db()): Promise<Notice[]> {
    const rows = await db.selectFrom('agency_notices').selectAll().where('status', '!=', 'active').orderBy('card_number').execute();
    return rows.map(toNotice);
  }
}

/** The agency node's inbox handler: `agency.notice` into the notice list, audited. */
export function agencyApply(ctx: Omit<RouteContext, 'outbox' | 'topology'> & { readonly list: NoticeList; readonly audit: AuditLog; readonly self: NodeSpec }): ApplyMessage<Trx> {
  const now = ctx.now ?? (() => new Date());
  return withCommon(ctx, async (trx, e) => {
    if (e.type !== 'agency.notice') return false;
    const body = e.body as AgencyNoticeBody;
    if (await ctx.list.record(trx, body, e.from, now().toISOString())) {
      await ctx.audit.append(trx, {
        type: 'agency.notice.recorded', actor: { kind: 'node', id: e.from }, subject: { kind: 'card', id: body.cardNumber },
        details: { status: body.status, version: body.version, from: e.from },
      });
    }
    return true;
  });
}
