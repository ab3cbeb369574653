/**
 * Card applications at the counter and their checks (R3.1.2a, R3.1.2i, R3.1.2u). Each
 * refusal is a typed error with its own code (docs/errors.md), recorded on the application
 * and audited; an accepted application waits for issuance (issuance.ts).
 *
 *   every kind   the applicant is a registered resident here        JUKI_ERR_CS_NOT_REGISTERED
 *                prior cards could be looked up                     JUKI_ERR_CS_PRIOR_CARD_UNAVAILABLE
 *   new          every prior card is abolished or collected         JUKI_ERR_CS_PRIOR_CARD_VALID
 *   reissue      a current (live) card of this municipality         JUKI_ERR_CS_NO_CURRENT_CARD
 *                it was returned, or declared lost / burnt          JUKI_ERR_CS_CARD_NOT_RETURNED
 *   renewal      a current card of this municipality                JUKI_ERR_CS_NO_CURRENT_CARD
 *                active and within its validity                     JUKI_ERR_CS_NOT_WITHIN_VALIDITY
 *                that very card presented on the reader             JUKI_ERR_CS_CARD_NOT_PRESENTED
 */
import type { Actor } from '../audit/index.ts';
import { parseResidentCode, todayInJapan } from '../register/index.ts';
import { JukiError, type ErrorCode } from '../util/index.ts';
import { parseCardNumber, parseId, shown, type CsContext, type Trx } from './context.ts';
import { isLive } from './card-status.ts';
import type { PriorCard, PriorCardLookup } from './prior-cards.ts';

export const APPLICATION_KINDS = ['new', 'reissue', 'renewal'] as const;
export type ApplicationKind = (typeof APPLICATION_KINDS)[number];
export const REISSUE_DISPOSITIONS = ['returned', 'lost', 'burnt'] as const;
export type Disposition = (typeof REISSUE_DISPOSITIONS)[number] | 'presented';

export interface ApplicationInput {
  readonly kind: string;
  readonly residentCode: string;
  readonly terminalId: string;
  /** Reissue: what became of the current card. */
  readonly disposition?: string;
  /** Reissue with `returned`: the number of the card handed in (read on the reader). */
  readonly returnedCard?: string;
  /** Renewal: the number read from the card presented on the reader. */
  readonly presentedCard?: string;
}

export interface Application {
  readonly applicationId: string;
  readonly kind: ApplicationKind;
  readonly residentCode: string;
  /** `accepted` | `refused` | `issued` */
  readonly state: string;
  /** The refusal code. */
  readonly reason: string | null;
  /** The card it replaces (reissue, renewal). */
  readonly priorCard: string | null;
  readonly disposition: Disposition | null;
  /** The card issued for it. */
  readonly cardNumber: string | null;
  readonly staffId: string;
  readonly terminalId: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

interface Decision {
  readonly priorCard: string | null;
  readonly disposition: Disposition | null;
}

export class ApplicationService {
  readonly #ctx: CsContext;
  readonly #lookup: PriorCardLookup;

  constructor(ctx: CsContext, lookup: PriorCardLookup) {
    this.#ctx = ctx;
    this.#lookup = lookup;
  }

  /** Take an application: check it, record it accepted or refused (audited), and throw the refusal. */
  async apply(actor: Actor, input: ApplicationInput): Promise<Application> {
    const kind = parseKind(input?.kind);
    const residentCode = parseResidentCode(input.residentCode, this.#ctx.register.validator, 'residentCode');
    const terminalId = parseId(input.terminalId, 'terminalId');
    const disposition = input.disposition === undefined ? undefined : parseDisposition(input.disposition);
    const returnedCard = input.returnedCard === undefined ? undefined : parseCardNumber(input.returnedCard, 'returnedCard');
    const presentedCard = input.presentedCard === undefined ? undefined : parseCardNumber(input.presentedCard, 'presentedCard');
    const terminal = await this.#ctx.database.db.selectFrom('cs_terminals').select('active').where('terminal_id', '=', terminalId).executeTakeFirst();
    if (!terminal || terminal.active !== 1) throw new JukiError('JUKI_ERR_NOT_FOUND', `terminalId: no active terminal ${terminalId}`, { field: 'terminalId' });

    let decision: Decision;
    try {
      decision = await this.check(kind, residentCode, { disposition, returnedCard, presentedCard });
    } catch (e) {
      if (e instanceof JukiError && e.code.startsWith('JUKI_ERR_CS_')) {
        await this.#record(actor, { kind, residentCode, terminalId, state: 'refused', reason: e.code, priorCard: (e.details.cardNumber as string | undefined) ?? null, disposition: disposition ?? null });
      }
      throw e;
    }
    return this.#record(actor, { kind, residentCode, terminalId, state: 'accepted', reason: null, ...decision });
  }

  /**
   * The checks of the standard for one application, without recording anything. Also run again
   * by the issuance inside its transaction (with `trx`), against this municipality's records.
   */
  async check(
    kind: ApplicationKind,
    residentCode: string,
    presented: { disposition?: string | undefined; returnedCard?: string | undefined; presentedCard?: string | undefined },
    trx?: Trx,
  ): Promise<Decision> {
    const db = trx ?? this.#ctx.database.db;
    const resident = await db.selectFrom('register_residents').select(['status']).where('municipality_code', '=', this.#ctx.municipality).where('resident_code', '=', residentCode).executeTakeFirst();
    if (!resident || resident.status !== 'registered') {
      throw refusal('JUKI_ERR_CS_NOT_REGISTERED', `residentCode: ${residentCode} is not a registered resident of ${this.#ctx.municipality}${resident ? ` (${resident.status})` : ''}`, 'residentCode');
    }
    let prior: readonly PriorCard[];
    try {
      prior = await this.#lookup.cardsOf(residentCode, trx);
    } catch (e) {
      throw refusal('JUKI_ERR_CS_PRIOR_CARD_UNAVAILABLE', `residentCode: the prior cards of ${residentCode} could not be looked up: ${(e as Error).message}`, 'residentCode');
    }
    const live = prior.filter((c) => isLive(c.status));
    if (kind === 'new') {
      const c = live[0];
      if (c) {
        throw refusal('JUKI_ERR_CS_PRIOR_CARD_VALID', `residentCode: card ${c.cardNumber} issued by ${c.issuer} is ${c.status}, neither abolished nor collected; apply for a reissue or renewal`, 'residentCode', { cardNumber: c.cardNumber, status: c.status, issuer: c.issuer });
      }
      return { priorCard: null, disposition: null };
    }
    const current = live.find((c) => c.issuer === this.#ctx.municipality);
    if (!current) {
      const other = live[0];
      throw refusal(
        'JUKI_ERR_CS_NO_CURRENT_CARD',
        `residentCode: ${residentCode} has no current card of ${this.#ctx.municipality} to ${kind === 'reissue' ? 'reissue' : 'renew'}${other ? ` (card ${other.cardNumber} is ${other.issuer}'s)` : '; apply for a new issue'}`,
        'residentCode',
      );
    }
    if (kind === 'reissue') {
      const d = presented.disposition;
      if (d === 'lost' || d === 'burnt') return { priorCard: current.cardNumber, disposition: d };
      if (d === 'returned' && presented.returnedCard === current.cardNumber) return { priorCard: current.cardNumber, disposition: 'returned' };
      throw refusal(
        'JUKI_ERR_CS_CARD_NOT_RETURNED',
        d === 'returned'
          ? `returnedCard: expected the current card ${current.cardNumber}, got ${shown(presented.returnedCard)}`
          : `disposition: the current card ${current.cardNumber} must be returned, or declared lost or burnt; got ${shown(d)}`,
        d === 'returned' ? 'returnedCard' : 'disposition',
        { cardNumber: current.cardNumber },
      );
    }
    // renewal
    const today = todayInJapan(this.#ctx.now());
    if (current.status !== 'active' || (current.validUntil !== null && current.validUntil < today)) {
      throw refusal(
        'JUKI_ERR_CS_NOT_WITHIN_VALIDITY',
        `residentCode: the current card ${current.cardNumber} is ${current.status}${current.validUntil ? `, valid until ${current.validUntil}` : ''}; renewal needs an active card within its validity`,
        'residentCode',
        { cardNumber: current.cardNumber },
      );
    }
    if (presented.presentedCard !== current.cardNumber) {
      throw refusal(
        'JUKI_ERR_CS_CARD_NOT_PRESENTED',
        presented.presentedCard === undefined
          ? `presentedCard: renewal needs the current card ${current.cardNumber} on the reader, got none`
          : `presentedCard: expected the current card ${current.cardNumber} on the reader, got ${shown(presented.presentedCard)}`,
        'presentedCard',
        { cardNumber: current.cardNumber },
      );
    }
    return { priorCard: current.cardNumber, disposition: 'presented' };
  }

  async get(applicationIdInput: string): Promise<Application> {
    const id = parseId(applicationIdInput, 'applicationId');
    const row = await this.#ctx.database.db.selectFrom('cs_applications').selectAll().where('application_id', '=', id).executeTakeFirst();
    if (!row) throw new JukiError('JUKI_ERR_NOT_FOUND', `applicationId: no application ${id}`, { field: 'applicationId' });
    return toApplication(row);
  }

  async #record(
    actor: Actor,
    a: { kind: ApplicationKind; residentCode: string; terminalId: string; state: string; reason: string | null; priorCard: string | null; disposition: Disposition | null },
  ): Promise<Application> {
    const applicationId = this.#ctx.newId();
    const at = this.#ctx.now().toISOString();
    const row = {
      application_id: applicationId, kind: a.kind, resident_code: a.residentCode, state: a.state, reason: a.reason, prior_card: a.priorCard,
      prior_disposition: a.disposition, card_number: null, staff_id: actor.id ?? actor.kind, terminal_id: a.terminalId, created_at: at, updated_at: at,
    };
    await this.#ctx.database.transaction(async (trx) => {
      await trx.insertInto('cs_applications').values(row).execute();
      await this.#ctx.audit.append(trx, {
        type: 'cs.application.decided', actor, subject: { kind: 'resident', id: a.residentCode },
        ...(a.reason ? { outcome: 'refused' as const, reason: a.reason } : {}),
        details: { application: applicationId, kind: a.kind, ...(a.priorCard ? { priorCard: a.priorCard } : {}), ...(a.disposition ? { disposition: a.disposition } : {}) },
      });
    });
    return toApplication(row);
  }
}

function refusal(code: ErrorCode, message: string, field: string, extra: Record<string, unknown> = {}): JukiError {
  return new JukiError(code, message, { field, ...extra });
}

export function parseKind(value: unknown, field = 'kind'): ApplicationKind {
  if (typeof value !== 'string' || !(APPLICATION_KINDS as readonly string[]).includes(value)) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected one of ${APPLICATION_KINDS.join(', ')}, got ${shown(value)}`, { field });
  }
  return value as ApplicationKind;
}

function parseDisposition(value: unknown, field = 'disposition'): (typeof REISSUE_DISPOSITIONS)[number] {
  if (typeof value !== 'string' || !(REISSUE_DISPOSITIONS as readonly string[]).includes(value)) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected one of ${REISSUE_DISPOSITIONS.join(', ')}, got ${shown(value)}`, { field });
  }
  return value as (typeof REISSUE_DISPOSITIONS)[number];
}

export function toApplication(row: {
  application_id: string; kind: string; resident_code: string; state: string; reason: string | null; prior_card: string | null;
  prior_disposition: string | null; card_number: string | null; staff_id: string; terminal_id: string; created_at: string; updated_at: string;
}): Application {
  return {
    applicationId: row.application_id, kind: row.kind as ApplicationKind, residentCode: row.resident_code, state: row.state, reason: row.reason,
    priorCard: row.prior_card, disposition: row.prior_disposition as Disposition | null, cardNumber: row.card_number, staffId: row.staff_id,
    terminalId: row.terminal_id, createdAt: row.created_at, updatedAt: row.updated_at,
  };
}
