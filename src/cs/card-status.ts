/**
 * Card status (R3.2.1a): the issuing municipality's record of each card, changed only along
 * the transitions of a configured status machine, each change audited, kept in the card's
 * history and written to the Juki-net outbox (a `card.status` message to the prefecture) in
 * the same transaction as the change.
 *
 * `issued-awaiting-pin` is this municipality's own: a personalised card whose holder has not
 * set the PIN yet. It is not announced; `active` is. A suspension remembers where it came
 * from and the release (`found`, `suspension-lifted`) returns there.
 */
import type { Actor } from '../audit/index.ts';
import { CARD_STATUSES, type CardStatus } from '../net/index.ts';
import { JukiError } from '../util/index.ts';
import { actorId, parseCardNumber, shown, type CsContext, type Trx } from './context.ts';

export const CARD_LIFECYCLE = ['issued-awaiting-pin', 'active', 'suspended', 'abolished', 'collected'] as const;
export type CardLifecycle = (typeof CARD_LIFECYCLE)[number];

export const STATUS_CAUSES = {
  'pin-set': 'The holder set the PIN on the PIN pad.',
  lost: 'The holder reported the card lost (or stolen).',
  found: 'A lost card was found.',
  'suspension-request': 'The holder asked for the card to be suspended.',
  'suspension-lifted': 'The holder asked to lift a suspension.',
  reissue: 'A new card was issued in its place (R3.1.2i).',
  renewal: 'A new card was issued on renewal within validity (R3.1.2u).',
  death: 'The holder died.',
  expiry: 'The card\'s validity ended.',
  'move-out': 'The holder moved out and did not move in with the card in time.',
  'holder-request': 'The holder gave the card up.',
  returned: 'The card was handed in (at this counter, or reported returned by a move-in municipality, R3.2.1i).',
} as const;
export type StatusCause = keyof typeof STATUS_CAUSES;

/** One allowed transition: from a status, for any of these causes, to a status (or back to the one before the suspension). */
export interface TransitionRule {
  readonly from: CardLifecycle;
  readonly to: CardLifecycle | 'previous';
  readonly causes: readonly StatusCause[];
}

/** The default configuration (docs/counter.md has it as a table). */
export const DEFAULT_TRANSITIONS: readonly TransitionRule[] = [
  { from: 'issued-awaiting-pin', to: 'active', causes: ['pin-set'] },
  { from: 'issued-awaiting-pin', to: 'suspended', causes: ['lost', 'suspension-request'] },
  { from: 'issued-awaiting-pin', to: 'abolished', causes: ['reissue', 'death', 'move-out', 'holder-request'] },
  { from: 'active', to: 'suspended', causes: ['lost', 'suspension-request'] },
  { from: 'active', to: 'abolished', causes: ['reissue', 'renewal', 'death', 'expiry', 'move-out', 'holder-request'] },
  { from: 'active', to: 'collected', causes: ['returned'] },
  { from: 'suspended', to: 'previous', causes: ['found', 'suspension-lifted'] },
  { from: 'suspended', to: 'abolished', causes: ['reissue', 'death', 'expiry', 'move-out', 'holder-request'] },
  { from: 'suspended', to: 'collected', causes: ['returned'] },
  { from: 'abolished', to: 'collected', causes: ['returned'] },
];

/** Check a configuration: known statuses and causes, `previous` only from `suspended`, one rule per (from, cause). */
export function checkTransitions(rules: readonly TransitionRule[]): readonly TransitionRule[] {
  const seen = new Set<string>();
  rules.forEach((r, i) => {
    const f = `transitions[${i}]`;
    if (!CARD_LIFECYCLE.includes(r.from)) throw new JukiError('JUKI_ERR_INVALID_INPUT', `${f}.from: expected one of ${CARD_LIFECYCLE.join(', ')}, got ${shown(r.from)}`, { field: `${f}.from` });
    if (r.to !== 'previous' && !CARD_LIFECYCLE.includes(r.to)) throw new JukiError('JUKI_ERR_INVALID_INPUT', `${f}.to: expected a status or previous, got ${shown(r.to)}`, { field: `${f}.to` });
    if (r.to === 'previous' && r.from !== 'suspended') throw new JukiError('JUKI_ERR_INVALID_INPUT', `${f}.to: only a suspension returns to the previous status`, { field: `${f}.to` });
    for (const c of r.causes) {
      if (!Object.hasOwn(STATUS_CAUSES, c)) throw new JukiError('JUKI_ERR_INVALID_INPUT', `${f}.causes: unknown cause ${shown(c)}`, { field: `${f}.causes` });
      if (seen.has(`${r.from}/${c}`)) throw new JukiError('JUKI_ERR_INVALID_INPUT', `${f}.causes: a second rule from ${r.from} for ${c}`, { field: `${f}.causes` });
      seen.add(`${r.from}/${c}`);
    }
  });
  return rules;
}

export function parseCause(value: unknown, field = 'cause'): StatusCause {
  if (typeof value !== 'string' || !Object.hasOwn(STATUS_CAUSES, value)) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected one of ${Object.keys(STATUS_CAUSES).join(', ')}, got ${shown(value)}`, { field });
  }
  return value as StatusCause;
}

export interface CardRecord {
  readonly cardNumber: string;
  readonly serial: string | null;
  readonly residentCode: string;
  /** The issuing municipality. */
  readonly issuer: string;
  readonly status: CardLifecycle;
  readonly suspendedFrom: CardLifecycle | null;
  readonly issuedAt: string | null;
  readonly validUntil: string | null;
  readonly applicationId: string | null;
  readonly version: number;
  readonly updatedAt: string;
}

export interface StatusChange {
  readonly seq: number;
  readonly at: string;
  readonly from: CardLifecycle | null;
  readonly to: CardLifecycle;
  readonly cause: string;
  readonly actor: string;
}

const LIVE: readonly CardLifecycle[] = ['issued-awaiting-pin', 'active', 'suspended'];
export function isLive(status: string): boolean {
  return (LIVE as readonly string[]).includes(status);
}

export class CardStatusService {
  readonly #ctx: CsContext;
  readonly transitions: readonly TransitionRule[];
  /**
   * Called after a change has committed (e.g. the jpki role revokes the card's certificates);
   * its failure never undoes the change: the hook records its own outcome.
   */
  afterChange: ((card: CardRecord, cause: StatusCause) => Promise<void>) | undefined;

  constructor(ctx: CsContext, transitions: readonly TransitionRule[] = DEFAULT_TRANSITIONS) {
    this.#ctx = ctx;
    this.transitions = checkTransitions(transitions);
  }

  /** Where `cause` takes a card in `status` (with `suspendedFrom` for a release), or undefined if not allowed. */
  target(status: CardLifecycle, cause: StatusCause, suspendedFrom: CardLifecycle | null = null): CardLifecycle | undefined {
    const rule = this.transitions.find((r) => r.from === status && r.causes.includes(cause));
    if (!rule) return undefined;
    return rule.to === 'previous' ? (suspendedFrom ?? 'active') : rule.to;
  }

  /** Change a card's status for `cause`, in a transaction of its own; a refusal is audited and thrown. */
  async change(actor: Actor, cardNumberInput: string, causeInput: string): Promise<CardRecord> {
    const cardNumber = parseCardNumber(cardNumberInput);
    const cause = parseCause(causeInput);
    try {
      const changed = await this.#ctx.database.transaction((trx) => this.changeIn(trx, actor, cardNumber, cause));
      await this.afterChange?.(changed, cause).catch(() => undefined);
      return changed;
    } catch (e) {
      if (e instanceof JukiError && e.code === 'JUKI_ERR_CS_CARD_TRANSITION') {
        await this.#ctx.audit.record({
          type: 'cs.card.status', actor, subject: { kind: 'card', id: cardNumber }, outcome: 'refused', reason: e.code,
          details: { from: String(e.details.status), to: 'none', cause, issuer: String(e.details.issuer) },
        });
      }
      throw e;
    }
  }

  /**
   * Change a card's status inside `trx`: checked against the configuration, then the record,
   * its history row, the audit entry and (for a status the network knows) the outbox message.
   */
  async changeIn(trx: Trx, actor: Actor, cardNumber: string, cause: StatusCause): Promise<CardRecord> {
    const card = await this.#row(trx, cardNumber, true);
    const from = card.status as CardLifecycle;
    if (card.municipality !== this.#ctx.municipality) {
      throw new JukiError('JUKI_ERR_CS_CARD_TRANSITION', `card ${cardNumber}: issued by ${card.municipality}; only the issuing municipality changes its status`, { field: 'cardNumber', status: from, issuer: card.municipality });
    }
    const to = this.target(from, cause, card.suspended_from as CardLifecycle | null);
    if (!to) {
      const allowed = this.transitions.filter((r) => r.from === from).flatMap((r) => r.causes);
      throw new JukiError(
        'JUKI_ERR_CS_CARD_TRANSITION',
        `card ${cardNumber}: no transition from ${from} for ${cause} (allowed: ${allowed.length ? allowed.join(', ') : 'none'})`,
        { field: 'cause', status: from, issuer: card.municipality },
      );
    }
    return this.#write(trx, actor, card, to, cause);
  }

  /** Write a transition already decided (also used to record a card first: from null). */
  async #write(trx: Trx, actor: Actor, card: CardRow, to: CardLifecycle, cause: string): Promise<CardRecord> {
    const at = this.#ctx.now().toISOString();
    const from = card.status as CardLifecycle;
    const version = card.version + 1;
    const suspendedFrom = to === 'suspended' ? from : null;
    const updated = await trx
      .updateTable('cs_cards')
      .set({ status: to, suspended_from: suspendedFrom, live_resident: isLive(to) ? card.resident_code : null, version, updated_at: at })
      .where('card_number', '=', card.card_number)
      .where('version', '=', card.version)
      .executeTakeFirst();
    if (updated.numUpdatedRows !== 1n) throw new JukiError('JUKI_ERR_CONFLICT', `card ${card.card_number}: changed by a concurrent operation`, { field: 'cardNumber' });
    const next = { ...card, status: to, suspended_from: suspendedFrom, version, updated_at: at };
    await this.recordChange(trx, actor, next, from, cause);
    return toRecord(next);
  }

  /** History row, audit entry and outbox message of a change already written to cs_cards (version = the new version). */
  async recordChange(trx: Trx, actor: Actor, card: CardRow, from: CardLifecycle | null, cause: string): Promise<void> {
    const at = card.updated_at;
    await trx.insertInto('cs_card_history').values({ card_number: card.card_number, seq: card.version, at, from_status: from, to_status: card.status, cause, actor: actorId(actor) }).execute();
    await this.#ctx.audit.append(trx, {
      type: 'cs.card.status', actor, subject: { kind: 'card', id: card.card_number },
      details: { ...(from ? { from } : {}), to: card.status, cause, issuer: card.municipality },
    });
    if (card.municipality === this.#ctx.municipality && (CARD_STATUSES as readonly string[]).includes(card.status)) {
      await this.#ctx.outbox.enqueue(trx, {
        type: 'card.status', from: this.#ctx.node, to: this.#ctx.prefectureNode,
        // The holder's resident code rides along: the national center answers card yes/no by it (R3.2.1ka).
        body: { cardNumber: card.card_number, status: card.status as CardStatus, issuer: card.municipality, version: card.version, changedAt: at, residentCode: card.resident_code },
      });
    }
  }

  /** Abolish every card of this municipality whose validity ended before `today` (YYYY-MM-DD). */
  async expireDue(actor: Actor, today: string): Promise<string[]> {
    const due = await this.#ctx.database.db.selectFrom('cs_cards').select('card_number')
      .where('municipality', '=', this.#ctx.municipality).where('status', 'in', ['issued-awaiting-pin', 'active', 'suspended'])
      .where('valid_until', '<', today).orderBy('card_number').execute();
    const done: string[] = [];
    for (const { card_number } of due) {
      const card = await this.get(card_number);
      if (this.target(card.status, 'expiry')) {
        await this.change(actor, card_number, 'expiry');
        done.push(card_number);
      }
    }
    return done;
  }

  async get(cardNumberInput: string): Promise<CardRecord> {
    return toRecord(await this.#row(this.#ctx.database.db, parseCardNumber(cardNumberInput)));
  }

  async history(cardNumberInput: string): Promise<StatusChange[]> {
    const cardNumber = parseCardNumber(cardNumberInput);
    await this.#row(this.#ctx.database.db, cardNumber);
    const rows = await this.#ctx.database.db.selectFrom('cs_card_history').selectAll().where('card_number', '=', cardNumber).orderBy('seq').execute();
    return rows.map((r) => ({ seq: r.seq, at: r.at, from: r.from_status as CardLifecycle | null, to: r.to_status as CardLifecycle, cause: r.cause, actor: r.actor }));
  }

  /** Every card recorded here for a resident (this municipality's, and others' collected here). */
  async cardsOf(residentCode: string, db: Trx | CsContext['database']['db'] = this.#ctx.database.db): Promise<CardRecord[]> {
    const rows = await db.selectFrom('cs_cards').selectAll().where('resident_code', '=', residentCode).orderBy('version').execute();
    return rows.map(toRecord);
  }

  async #row(db: Trx | CsContext['database']['db'], cardNumber: string, lock = false): Promise<CardRow> {
    let q = db.selectFrom('cs_cards').selectAll().where('card_number', '=', cardNumber);
    if (lock && this.#ctx.database.dialect === 'postgres') q = q.forUpdate();
    const row = await q.executeTakeFirst();
    if (!row) throw new JukiError('JUKI_ERR_NOT_FOUND', `cardNumber: no card ${cardNumber} recorded here`, { field: 'cardNumber' });
    return row;
  }
}

export type CardRow = {
  card_number: string; serial: string | null; resident_code: string; municipality: string; status: string; suspended_from: string | null;
  live_resident: string | null; issued_at: string | null; valid_until: string | null; application_id: string | null; version: number; updated_at: string;
};

export function toRecord(row: CardRow): CardRecord {
  return {
    cardNumber: row.card_number, serial: row.serial, residentCode: row.resident_code, issuer: row.municipality, status: row.status as CardLifecycle,
    suspendedFrom: row.suspended_from as CardLifecycle | null, issuedAt: row.issued_at, validUntil: row.valid_until, applicationId: row.application_id,
    version: row.version, updatedAt: row.updated_at,
  };
}
