/**
 * The issuance transaction (ARCHITECTURE.md "Issuance", R3.1.2a/i/u): for an accepted
 * application and a blank card taken out for the terminal,
 *
 *   1. reserve   (transaction) re-check the application against this municipality's records,
 *                write the pending-issuance row: unique on the resident and on the blank card,
 *                so a second terminal issuing for the same resident, or with the same card,
 *                is refused here (JUKI_ERR_CS_ISSUANCE_IN_PROGRESS)
 *   2. card step (no transaction) the injected personalisation over the terminal's reader
 *   3. commit    (transaction) the replaced card abolished (and collected when handed in),
 *                the new card recorded `issued-awaiting-pin`, the blank card `used`, the
 *                application `issued`, the pending row removed, all audited, the status
 *                messages in the outbox
 *
 * All or nothing: if 2 or 3 fails, no card is recorded, the pending row goes, and the blank
 * card is accounted for: still taken out at the terminal when the card step reports it never
 * touched the card (`details.cardUntouched`), otherwise spoiled, awaiting witnessed
 * destruction. A pending row left by a crash between 1 and 3 is resolved by `recover()` at
 * start-up the same way (the card may be half-written: spoiled).
 *
 * The card turns `active` only when the PIN pad step reports that the holder set the PIN
 * (`activateOnPinSet`).
 */
import type { Actor } from '../audit/index.ts';
import { isUniqueViolation } from '../db/index.ts';
import { todayInJapan } from '../register/index.ts';
import { JukiError } from '../util/index.ts';
import { parseCardNumber, parseId, parseSerial, validUntil, type CsContext, type Trx } from './context.ts';
import { ApplicationService, type ApplicationKind } from './applications.ts';
import { CardStatusService, toRecord, type CardRecord, type CardRow } from './card-status.ts';
import { LocalPriorCards } from './prior-cards.ts';
import type { StockService } from './stock.ts';

/** What the card step is asked to write: the basic area's data for this card. */
export interface PersonalisationRequest {
  readonly cardNumber: string;
  readonly serial: string;
  readonly residentCode: string;
  readonly issuer: string;
  readonly validUntil: string;
  /** The day of issue, YYYY-MM-DD (Japan). */
  readonly issuedOn: string;
  readonly terminalId: string;
  readonly applicationId: string;
  /** Personalise the JPKI area too (the jpki role's flow relayed through the terminal). */
  readonly jpki?: boolean;
  /** The face layout: form1 (no photo, the default) or form2 (with photo). */
  readonly face?: 'form1' | 'form2';
}

/**
 * Personalises the blank card on the terminal's reader (the card-flows helper's flow). Throws
 * on failure; a JukiError with `details.cardUntouched === true` says no command changed the card.
 */
export interface CardStep {
  personalise(request: PersonalisationRequest): Promise<void>;
  /** Records of the step (the face print job, ...) written inside the issuance's commit transaction. */
  commit?(trx: Trx, request: PersonalisationRequest, actor: Actor): Promise<void>;
  /** The issuance failed after `personalise` was called: drop what the step made outside the database (print files). */
  abandon?(request: PersonalisationRequest): Promise<void>;
}

export interface IssuanceOptions {
  /** Years of validity from the day of issue (default 10). */
  readonly validityYears?: number;
}

export interface Recovered {
  readonly applicationId: string;
  readonly serial: string;
  readonly cardNumber: string;
  /** What became of the blank card: `spoiled`, or its state if it had already left `taken-out`. */
  readonly stock: string;
}

interface Pending {
  issuance_id: string; application_id: string; resident_code: string; serial: string; card_number: string; terminal_id: string; staff_id: string; started_at: string;
}

export class IssuanceService {
  readonly #ctx: CsContext;
  readonly #step: CardStep;
  readonly #stock: StockService;
  readonly #status: CardStatusService;
  readonly #recheck: ApplicationService;
  readonly #years: number;

  constructor(ctx: CsContext, deps: { cardStep: CardStep; stock: StockService; status: CardStatusService }, options: IssuanceOptions = {}) {
    this.#ctx = ctx;
    this.#step = deps.cardStep;
    this.#stock = deps.stock;
    this.#status = deps.status;
    this.#recheck = new ApplicationService(ctx, new LocalPriorCards(deps.status));
    this.#years = options.validityYears ?? 10;
  }

  /** Issue a card for an accepted application on a blank card taken out for `terminalId`. */
  async issue(actor: Actor, input: { applicationId: string; serial: string; terminalId: string; jpki?: boolean; face?: 'form1' | 'form2' }): Promise<CardRecord> {
    const applicationId = parseId(input?.applicationId, 'applicationId');
    const serial = parseSerial(input.serial);
    const terminalId = parseId(input.terminalId, 'terminalId');
    const cardNumber = `${this.#ctx.municipality}-${serial}`;
    const issuanceId = this.#ctx.newId();
    const today = todayInJapan(this.#ctx.now());
    const until = validUntil(today, this.#years);
    if (input.jpki !== undefined && typeof input.jpki !== 'boolean') throw new JukiError('JUKI_ERR_INVALID_INPUT', `jpki: expected true or false, got ${typeof input.jpki}`, { field: 'jpki' });
    if (input.face !== undefined && input.face !== 'form1' && input.face !== 'form2') throw new JukiError('JUKI_ERR_INVALID_INPUT', `face: expected form1 or form2, got ${JSON.stringify(input.face)}`, { field: 'face' });

    // 1. reserve
    let app: { kind: ApplicationKind; resident: string; prior: string | null; disposition: string | null };
    try {
      app = await this.#ctx.database.transaction(async (trx) => {
        let q = trx.selectFrom('cs_applications').selectAll().where('application_id', '=', applicationId);
        if (this.#ctx.database.dialect === 'postgres') q = q.forUpdate();
        const a = await q.executeTakeFirst();
        if (!a) throw new JukiError('JUKI_ERR_NOT_FOUND', `applicationId: no application ${applicationId}`, { field: 'applicationId' });
        if (a.state !== 'accepted') throw new JukiError('JUKI_ERR_CS_APPLICATION_STATE', `applicationId: application ${applicationId} is ${a.state}, not accepted`, { field: 'applicationId', state: a.state });
        // Lock the blank card's row (PostgreSQL): without it, a racing issuance that read it as
        // taken-out just before the other one committed (and released its pending row) could
        // reserve the same card and run the card step a second time.
        let stockQuery = trx.selectFrom('cs_stock').select(['state', 'terminal_id']).where('serial', '=', serial);
        if (this.#ctx.database.dialect === 'postgres') stockQuery = stockQuery.forUpdate();
        const blank = await stockQuery.executeTakeFirst();
        if (!blank) throw new JukiError('JUKI_ERR_NOT_FOUND', `serial: no blank card ${serial} in stock`, { field: 'serial' });
        if (blank.state !== 'taken-out' || blank.terminal_id !== terminalId) {
          throw new JukiError('JUKI_ERR_CS_STOCK_STATE', `serial ${serial}: expected a card taken out for terminal ${terminalId}, but it is ${blank.state}${blank.terminal_id ? ` at ${blank.terminal_id}` : ''}`, { field: 'serial', serial, state: blank.state });
        }
        const kind = a.kind as ApplicationKind;
        await this.#lockResident(trx, a.resident_code);
        // The register or the cards may have changed since the application was accepted.
        await this.#recheck.check(kind, a.resident_code, {
          disposition: a.prior_disposition ?? undefined,
          returnedCard: a.prior_card ?? undefined,
          presentedCard: a.prior_card ?? undefined,
        }, trx);
        await trx.insertInto('cs_pending_issuance').values({
          issuance_id: issuanceId, application_id: applicationId, resident_code: a.resident_code, serial, card_number: cardNumber,
          terminal_id: terminalId, staff_id: actor.id ?? actor.kind, started_at: this.#ctx.now().toISOString(),
        }).execute();
        return { kind, resident: a.resident_code, prior: a.prior_card, disposition: a.prior_disposition };
      });
    } catch (e) {
      if (isUniqueViolation(e)) {
        throw new JukiError('JUKI_ERR_CS_ISSUANCE_IN_PROGRESS', `applicationId: another issuance holds this resident, this application or blank card ${serial}`, { field: 'applicationId', serial });
      }
      throw e;
    }

    // 2. the card step
    const request: PersonalisationRequest = {
      cardNumber, serial, residentCode: app.resident, issuer: this.#ctx.municipality, validUntil: until, issuedOn: today, terminalId, applicationId,
      ...(input.jpki ? { jpki: true } : {}), ...(input.face ? { face: input.face } : {}),
    };
    try {
      await this.#step.personalise(request);
    } catch (e) {
      await this.#step.abandon?.(request).catch(() => undefined);
      const untouched = e instanceof JukiError && e.details.cardUntouched === true;
      const stock = await this.#fail(actor, issuanceId, untouched, e instanceof JukiError ? e.code : 'JUKI_ERR_INTERNAL');
      throw new JukiError('JUKI_ERR_CS_CARD_STEP', `issuance: personalising card ${serial} failed (${e instanceof JukiError ? e.message : 'unexpected error'}); no card recorded, the blank card is ${stock}`, {
        field: 'serial', serial, stock, ...(e instanceof JukiError ? { cause: e.code } : {}),
      });
    }

    // 3. commit
    try {
      const issued = await this.#ctx.database.transaction(async (trx) => {
        let q = trx.selectFrom('cs_pending_issuance').selectAll().where('issuance_id', '=', issuanceId);
        if (this.#ctx.database.dialect === 'postgres') q = q.forUpdate();
        if (!(await q.executeTakeFirst())) {
          throw new JukiError('JUKI_ERR_CONFLICT', `issuance: the pending issuance of ${applicationId} was resolved by recovery meanwhile`, { field: 'applicationId' });
        }
        await this.#lockResident(trx, app.resident);
        if (app.prior && app.kind !== 'new') {
          await this.#status.changeIn(trx, actor, app.prior, app.kind === 'reissue' ? 'reissue' : 'renewal');
          if (app.disposition === 'returned' || app.disposition === 'presented') await this.#status.changeIn(trx, actor, app.prior, 'returned');
        }
        const at = this.#ctx.now().toISOString();
        const row: CardRow = {
          card_number: cardNumber, serial, resident_code: app.resident, municipality: this.#ctx.municipality, status: 'issued-awaiting-pin', suspended_from: null,
          live_resident: app.resident, issued_at: at, valid_until: until, application_id: applicationId, version: 1, updated_at: at,
        };
        await trx.insertInto('cs_cards').values(row).execute();
        await this.#status.recordChange(trx, actor, row, null, app.kind === 'new' ? 'issued' : app.kind);
        await this.#stock.markUsed(trx, actor, serial, terminalId);
        await trx.updateTable('cs_applications').set({ state: 'issued', card_number: cardNumber, updated_at: at }).where('application_id', '=', applicationId).execute();
        await trx.deleteFrom('cs_pending_issuance').where('issuance_id', '=', issuanceId).execute();
        await this.#step.commit?.(trx, request, actor);
        await this.#ctx.audit.append(trx, {
          type: 'cs.issuance.completed', actor, subject: { kind: 'resident', id: app.resident },
          details: { application: applicationId, serial, card: cardNumber, stock: 'used' },
        });
        return toRecord(row);
      });
      const after = this.#status.afterChange;
      if (app.prior && app.kind !== 'new' && after) {
        const prior = app.prior;
        await this.#status.get(prior).then((c) => after(c, app.kind === 'reissue' ? 'reissue' : 'renewal')).catch(() => undefined);
      }
      return issued;
    } catch (e) {
      // The card was written but cannot be recorded: it must not be used. Spoil it.
      await this.#step.abandon?.(request).catch(() => undefined);
      const stock = await this.#fail(actor, issuanceId, false, e instanceof JukiError ? e.code : 'JUKI_ERR_INTERNAL').catch(() => 'unknown');
      if (isUniqueViolation(e)) {
        throw new JukiError('JUKI_ERR_CS_ISSUANCE_IN_PROGRESS', `issuance: another card was recorded for this resident meanwhile; the blank card is ${stock}`, { field: 'applicationId', serial, stock });
      }
      throw e;
    }
  }

  /** The PIN pad step reports the holder set the PIN: the card becomes active. */
  activateOnPinSet(actor: Actor, cardNumber: string): Promise<CardRecord> {
    return this.#status.change(actor, parseCardNumber(cardNumber), 'pin-set');
  }

  /** Resolve every issuance a crash left pending (run at start-up, before serving). */
  async recover(actor: Actor = { kind: 'system' }): Promise<Recovered[]> {
    const pending = await this.#ctx.database.db.selectFrom('cs_pending_issuance').selectAll().orderBy('started_at').execute();
    const done: Recovered[] = [];
    for (const p of pending) {
      const stock = await this.#ctx.database.transaction(async (trx) => {
        const still = await trx.deleteFrom('cs_pending_issuance').where('issuance_id', '=', p.issuance_id).executeTakeFirst();
        if (still.numDeletedRows !== 1n) return undefined;
        const s = await this.#spoilIfAtTerminal(trx, actor, p, 'issuance-interrupted');
        await this.#ctx.audit.append(trx, {
          type: 'cs.issuance.recovered', actor, subject: { kind: 'resident', id: p.resident_code },
          details: { application: p.application_id, serial: p.serial, card: p.card_number },
        });
        return s;
      });
      if (stock !== undefined) done.push({ applicationId: p.application_id, serial: p.serial, cardNumber: p.card_number, stock });
    }
    return done;
  }

  /** Undo a reservation after a failure: no card, the blank card accounted for. Returns its state. */
  async #fail(actor: Actor, issuanceId: string, untouched: boolean, code: string): Promise<string> {
    return this.#ctx.database.transaction(async (trx) => {
      const p = await trx.selectFrom('cs_pending_issuance').selectAll().where('issuance_id', '=', issuanceId).executeTakeFirst();
      if (!p) return 'already resolved';
      await trx.deleteFrom('cs_pending_issuance').where('issuance_id', '=', issuanceId).execute();
      const stock = untouched ? 'taken-out' : await this.#spoilIfAtTerminal(trx, actor, p, 'personalisation-failed');
      await this.#ctx.audit.append(trx, {
        type: 'cs.issuance.completed', actor, subject: { kind: 'resident', id: p.resident_code }, outcome: 'error', reason: code,
        details: { application: p.application_id, serial: p.serial, stock },
      });
      return stock;
    });
  }

  /**
   * On PostgreSQL, lock the resident's register row: reservations and commits for one resident
   * then run one after the other, so a reservation's checks see a card another terminal has
   * just committed (rather than reserving, personalising, and failing only at commit). SQLite
   * write transactions are already exclusive.
   */
  async #lockResident(trx: Trx, residentCode: string): Promise<void> {
    if (this.#ctx.database.dialect !== 'postgres') return;
    await trx.selectFrom('register_residents').select('resident_code')
      .where('municipality_code', '=', this.#ctx.municipality).where('resident_code', '=', residentCode).forUpdate().execute();
  }

  async #spoilIfAtTerminal(trx: Trx, actor: Actor, p: Pending, reason: string): Promise<string> {
    const row = await trx.selectFrom('cs_stock').select(['state', 'terminal_id']).where('serial', '=', p.serial).executeTakeFirst();
    if (row?.state === 'taken-out') {
      await this.#stock.markSpoiledByIssuance(trx, actor, p.serial, reason);
      return 'spoiled';
    }
    return row?.state ?? 'missing';
  }
}
