/**
 * The counter's PIN services (R3.1.2ka, R3.1.2ki, R3.2.2a, R3.2.2i), the books' side of the
 * PIN path: which card, which terminal, who sets the PIN, the identity verification recorded
 * first, the sealed notice of a voluntary agent. The PIN itself goes from the terminal's PIN pad
 * to the card in a command the terminal agent sends locally (`agent.setPin`): nothing here ever
 * sees it, and only the pad's outcome kind is recorded.
 *
 * - setAtIssuance: the card is `issued-awaiting-pin` and on the terminal's reader; the holder
 *   or the legal representative types the PIN on the pad (or, for a voluntary agent, the staff
 *   member who opened the holder's sealed PIN notice types it; the notice is recorded opened by
 *   them, and its destruction later by `noticeDestroyed`); the JPKI PINs follow when the card
 *   has a JPKI area; on `set` the card becomes `active` (announced) in the same transaction as
 *   the `cs.pin.set` entry.
 * - verifyIdentity → change (R3.2.2a) or unblock (R3.2.2i): the verification is recorded first
 *   (who, how, which card, which terminal), used once within 30 minutes at the same terminal;
 *   the issuer side resets the PIN over its secure channel (`changePinByHolder` / `unblockPin`
 *   through the relay), then the holder sets the new PIN on the pad.
 */
import type { Actor } from '../audit/index.ts';
import type { PinApplicationName, PinSetOutcome, TerminalAgentApi } from '../terminal/index.ts';
import { relayTransport } from '../terminal/index.ts';
import { JukiError } from '../util/index.ts';
import { changePinByHolder, unblockPin, type CardKeySource } from './card-flows/index.ts';
import { readIsdFacts } from './card-flows/card-state.ts';
import type { TerminalDirectory } from './card-steps.ts';
import type { CardRecord, CardStatusService } from './card-status.ts';
import { actorId, parseCardNumber, parseId, parseText, type CsContext } from './context.ts';

export const PIN_SETTERS = ['holder', 'legal-representative', 'agent'] as const;
export type PinSetter = (typeof PIN_SETTERS)[number];
export const IDENTITY_PURPOSES = ['pin-change', 'pin-unblock'] as const;
export type IdentityPurpose = (typeof IDENTITY_PURPOSES)[number];

/** How long a recorded identity verification may be used for the PIN step (30 minutes). */
const CHECK_TTL_MS = 30 * 60_000;

export interface IdentityCheck {
  readonly checkId: string;
  readonly cardNumber: string;
  readonly residentCode: string;
  readonly purpose: IdentityPurpose;
  readonly method: string;
  readonly staffId: string;
  readonly terminalId: string;
  readonly checkedAt: string;
}

export interface PinSetResult {
  readonly card: CardRecord;
  /** The sealed notice's record (agent path): its destruction is recorded with `noticeDestroyed`. */
  readonly noticeId: string | null;
}

export interface PinResetResult {
  readonly card: CardRecord;
  readonly before: string;
}

export class PinDesk {
  readonly #ctx: CsContext;
  readonly #status: CardStatusService;
  readonly #terminals: TerminalDirectory;
  readonly #issuerKeys: CardKeySource;

  constructor(ctx: CsContext, deps: { status: CardStatusService; terminals: TerminalDirectory; issuerKeys: CardKeySource }) {
    this.#ctx = ctx;
    this.#status = deps.status;
    this.#terminals = deps.terminals;
    this.#issuerKeys = deps.issuerKeys;
  }

  /** R3.1.2ka/ki: the first PIN, typed on the terminal's pad; the card becomes active. */
  async setAtIssuance(actor: Actor, input: { cardNumber: string; terminalId: string; setBy: string; agentName?: string }): Promise<PinSetResult> {
    const cardNumber = parseCardNumber(input?.cardNumber);
    const terminalId = parseId(input.terminalId, 'terminalId');
    if (!(PIN_SETTERS as readonly string[]).includes(input.setBy)) {
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `setBy: expected one of ${PIN_SETTERS.join(', ')}, got ${JSON.stringify(input.setBy)}`, { field: 'setBy' });
    }
    const setBy = input.setBy as PinSetter;
    const agentName = setBy === 'agent' ? parseText(input.agentName, 'agentName', 100) : undefined;
    const card = await this.#status.get(cardNumber);
    if (card.status !== 'issued-awaiting-pin') {
      throw new JukiError('JUKI_ERR_CS_CARD_TRANSITION', `card ${cardNumber}: is ${card.status}; the first PIN is set only while it awaits it`, { field: 'cardNumber', status: card.status, issuer: card.issuer });
    }
    const { agent, reader } = await this.#cardOn(terminalId, card);
    const jpki = await this.#ctx.database.db.selectFrom('cs_card_jpki').select(['sign']).where('card_number', '=', cardNumber).executeTakeFirst();
    const apps: PinApplicationName[] = ['basic', ...(jpki ? (['jpkiAuth', ...(jpki.sign ? ['jpkiSign' as const] : [])] as PinApplicationName[]) : [])];
    for (const app of apps) {
      const outcome = await agent.setPin(reader, app, app === 'basic' ? 'Set the card PIN (4 digits)' : undefined);
      // 'already-set': the card awaits its first PINs, so this is a repeat of this step (an answer
      // lost, or a later PIN cancelled): the holder's PIN is on the card already.
      const ok = outcome.kind === 'set' || outcome.kind === 'already-set';
      if (!ok) {
        await this.#ctx.audit.record({
          type: 'cs.pin.set', actor, subject: { kind: 'card', id: cardNumber }, outcome: 'error', reason: 'JUKI_ERR_CS_PIN_NOT_SET',
          details: { app, by: setBy, result: outcome.kind, terminal: terminalId },
        });
        throw notSet(cardNumber, app, outcome);
      }
    }
    const noticeId = agentName ? this.#ctx.newId() : null;
    const updated = await this.#ctx.database.transaction(async (trx) => {
      const at = this.#ctx.now().toISOString();
      if (noticeId) {
        await trx.insertInto('cs_pin_notices').values({
          notice_id: noticeId, card_number: cardNumber, agent_name: agentName!, opened_by: actorId(actor), opened_at: at, outcome: 'set',
          destroyed_by: null, witnessed_by: null, destroyed_at: null,
        }).execute();
      }
      for (const app of apps) {
        await this.#ctx.audit.append(trx, {
          type: 'cs.pin.set', actor, subject: { kind: 'card', id: cardNumber },
          details: { app, by: setBy, result: 'set', terminal: terminalId, ...(noticeId ? { notice: noticeId } : {}) },
        });
      }
      return this.#status.changeIn(trx, actor, cardNumber, 'pin-set');
    });
    return { card: updated, noticeId };
  }

  /** R3.1.2ka: the sealed PIN notice was destroyed (by the actor, before a witness). */
  async noticeDestroyed(actor: Actor, input: { noticeId: string; witnessedBy?: string }): Promise<{ noticeId: string; cardNumber: string; destroyedAt: string }> {
    const noticeId = parseText(input?.noticeId, 'noticeId', 64);
    const witness = input.witnessedBy === undefined ? null : parseId(input.witnessedBy, 'witnessedBy');
    if (witness !== null && witness === actorId(actor)) throw new JukiError('JUKI_ERR_CS_WITNESS', 'witnessedBy: the witness must be another staff member', { field: 'witnessedBy' });
    return this.#ctx.database.transaction(async (trx) => {
      const row = await trx.selectFrom('cs_pin_notices').selectAll().where('notice_id', '=', noticeId).executeTakeFirst();
      if (!row) throw new JukiError('JUKI_ERR_NOT_FOUND', `noticeId: no PIN notice ${noticeId}`, { field: 'noticeId' });
      if (row.destroyed_at) throw new JukiError('JUKI_ERR_CONFLICT', `noticeId: notice ${noticeId} was destroyed at ${row.destroyed_at}`, { field: 'noticeId' });
      if (witness) {
        const w = await trx.selectFrom('cs_staff').select('active').where('staff_id', '=', witness).executeTakeFirst();
        if (!w || w.active !== 1) throw new JukiError('JUKI_ERR_CS_WITNESS', `witnessedBy: no active staff member ${witness}`, { field: 'witnessedBy' });
      }
      const at = this.#ctx.now().toISOString();
      await trx.updateTable('cs_pin_notices').set({ destroyed_by: actorId(actor), witnessed_by: witness, destroyed_at: at }).where('notice_id', '=', noticeId).execute();
      await this.#ctx.audit.append(trx, {
        type: 'cs.pin.notice-destroyed', actor, subject: { kind: 'card', id: row.card_number },
        details: { notice: noticeId, ...(witness ? { witness } : {}) },
      });
      return { noticeId, cardNumber: row.card_number, destroyedAt: at };
    });
  }

  /** Notices opened but not yet recorded destroyed. */
  async noticesAwaitingDestruction(): Promise<{ noticeId: string; cardNumber: string; openedBy: string; openedAt: string }[]> {
    const rows = await this.#ctx.database.db.selectFrom('cs_pin_notices').selectAll().where('destroyed_at', 'is', null).orderBy('opened_at').execute();
    return rows.map((r) => ({ noticeId: r.notice_id, cardNumber: r.card_number, openedBy: r.opened_by, openedAt: r.opened_at }));
  }

  /** R3.2.2a/i: record the identity verification done at the counter for a PIN change or unblock. */
  async verifyIdentity(actor: Actor, input: { cardNumber: string; terminalId: string; purpose: string; method: string }): Promise<IdentityCheck> {
    const cardNumber = parseCardNumber(input?.cardNumber);
    const terminalId = parseId(input.terminalId, 'terminalId');
    if (!(IDENTITY_PURPOSES as readonly string[]).includes(input.purpose)) {
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `purpose: expected one of ${IDENTITY_PURPOSES.join(', ')}, got ${JSON.stringify(input.purpose)}`, { field: 'purpose' });
    }
    const method = parseText(input.method, 'method', 100);
    const card = await this.#status.get(cardNumber);
    if (card.issuer !== this.#ctx.municipality) throw new JukiError('JUKI_ERR_CS_CARD_TRANSITION', `card ${cardNumber}: issued by ${card.issuer}; PIN services are the issuer's`, { field: 'cardNumber', status: card.status, issuer: card.issuer });
    const check: IdentityCheck = {
      checkId: this.#ctx.newId(), cardNumber, residentCode: card.residentCode, purpose: input.purpose as IdentityPurpose, method, staffId: actorId(actor), terminalId,
      checkedAt: this.#ctx.now().toISOString(),
    };
    await this.#ctx.database.transaction(async (trx) => {
      await trx.insertInto('cs_identity_checks').values({
        check_id: check.checkId, card_number: cardNumber, resident_code: check.residentCode, purpose: check.purpose, method, staff_id: check.staffId, terminal_id: terminalId,
        checked_at: check.checkedAt, used_at: null,
      }).execute();
      await this.#ctx.audit.append(trx, {
        type: 'cs.identity.verified', actor, subject: { kind: 'resident', id: check.residentCode },
        details: { check: check.checkId, card: cardNumber, purpose: check.purpose, method, terminal: terminalId },
      });
    });
    return check;
  }

  /** R3.2.2a: after the recorded verification, reset over the issuer channel and the holder sets a new PIN on the pad (the old one is not needed). */
  async change(actor: Actor, input: { cardNumber: string; terminalId: string; checkId: string }): Promise<PinResetResult> {
    return this.#reset(actor, input, 'pin-change');
  }

  /** R3.2.2i: after the recorded verification, unblock over the issuer channel and the holder sets a new PIN on the pad. */
  async unblock(actor: Actor, input: { cardNumber: string; terminalId: string; checkId: string }): Promise<PinResetResult> {
    return this.#reset(actor, input, 'pin-unblock');
  }

  async #reset(actor: Actor, input: { cardNumber: string; terminalId: string; checkId: string }, purpose: IdentityPurpose): Promise<PinResetResult> {
    const cardNumber = parseCardNumber(input?.cardNumber);
    const terminalId = parseId(input.terminalId, 'terminalId');
    const checkId = parseText(input.checkId, 'checkId', 64);
    const card = await this.#status.get(cardNumber);
    if (card.status !== 'active') {
      throw new JukiError('JUKI_ERR_CS_CARD_TRANSITION', `card ${cardNumber}: is ${card.status}; PIN ${purpose === 'pin-change' ? 'changes' : 'unblocking'} are for active cards`, { field: 'cardNumber', status: card.status, issuer: card.issuer });
    }
    // The verification is used up first, whatever follows: one verification, one attempt.
    const check = await this.#ctx.database.transaction(async (trx) => {
      const row = await trx.selectFrom('cs_identity_checks').selectAll().where('check_id', '=', checkId).executeTakeFirst();
      const why = !row ? 'no such verification'
        : row.card_number !== cardNumber ? `it was for card ${row.card_number}`
          : row.purpose !== purpose ? `it was for ${row.purpose}`
            : row.used_at ? `it was used at ${row.used_at}`
              : row.terminal_id !== terminalId ? `it was recorded at terminal ${row.terminal_id}`
                : Date.parse(row.checked_at) + CHECK_TTL_MS < this.#ctx.now().getTime() ? `it was recorded at ${row.checked_at}, over 30 minutes ago`
                  : undefined;
      if (why) throw new JukiError('JUKI_ERR_CS_IDENTITY_CHECK', `checkId: a ${purpose} of card ${cardNumber} needs a recorded identity verification; ${checkId}: ${why}`, { field: 'checkId' });
      const used = await trx.updateTable('cs_identity_checks').set({ used_at: this.#ctx.now().toISOString() }).where('check_id', '=', checkId).where('used_at', 'is', null).executeTakeFirst();
      if (used.numUpdatedRows !== 1n) throw new JukiError('JUKI_ERR_CS_IDENTITY_CHECK', `checkId: ${checkId} was used meanwhile`, { field: 'checkId' });
      return row!;
    });
    const { agent, reader } = await this.#cardOn(terminalId, card);
    const relay = await relayTransport(agent, reader);
    let before: string;
    let outcome: PinSetOutcome;
    try {
      if (purpose === 'pin-change') {
        const r = await changePinByHolder(relay, {
          issuerKeys: this.#issuerKeys, identityVerification: { id: check.check_id, method: check.method },
          setPinOnPad: () => agent.setPin(reader, 'basic', 'Set your new card PIN (4 digits)'),
        });
        before = 'set';
        outcome = r.outcome;
      } else {
        const r = await unblockPin(relay, this.#issuerKeys);
        before = r.before;
        outcome = await agent.setPin(reader, 'basic', 'Set your new card PIN (4 digits)');
      }
    } finally {
      await relay.close();
    }
    await this.#ctx.database.transaction(async (trx) => {
      await this.#ctx.audit.append(trx, {
        type: 'cs.pin.reset', actor, subject: { kind: 'card', id: cardNumber },
        details: { kind: purpose === 'pin-change' ? 'change' : 'unblock', check: checkId, before, terminal: terminalId },
      });
      await this.#ctx.audit.append(trx, {
        type: 'cs.pin.set', actor, subject: { kind: 'card', id: cardNumber },
        ...(outcome.kind === 'set' ? {} : { outcome: 'error' as const, reason: 'JUKI_ERR_CS_PIN_NOT_SET' }),
        details: { app: 'basic', by: 'holder', result: outcome.kind, terminal: terminalId, check: checkId },
      });
    });
    if (outcome.kind !== 'set') throw notSet(cardNumber, 'basic', outcome);
    return { card, before };
  }

  /** The card on the terminal's reader must be this card (its serial read from the card). */
  async #cardOn(terminalId: string, card: CardRecord): Promise<{ agent: TerminalAgentApi; reader: string }> {
    const { agent, reader } = await this.#terminals.resolve(terminalId);
    await agent.release(reader).catch(() => undefined);
    const relay = await relayTransport(agent, reader);
    try {
      const { state } = await readIsdFacts(relay);
      if (state.serial !== card.serial) {
        throw new JukiError('JUKI_ERR_CS_WRONG_CARD', `terminal ${terminalId}: the card on reader ${reader} is ${state.serial}, not card ${card.cardNumber}`, { field: 'cardNumber', found: state.serial });
      }
    } finally {
      await relay.close();
    }
    return { agent, reader };
  }
}

function notSet(cardNumber: string, app: string, outcome: PinSetOutcome): JukiError {
  return new JukiError('JUKI_ERR_CS_PIN_NOT_SET', `card ${cardNumber}: the ${app} PIN was not set on the PIN pad (${outcome.kind}${'reason' in outcome ? `: ${outcome.reason}` : ''})`, { field: 'cardNumber', outcome: outcome.kind, app });
}
