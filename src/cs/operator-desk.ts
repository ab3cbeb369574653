/**
 * Operator cards made at the counter (docs/counter.md "Staff"): the administrator takes a
 * blank card out of the safe for a terminal, the CS makes it the staff member's operator card on
 * that terminal's reader (`CounterCardSteps.makeOperatorCard`: the card generates its own login
 * key pair; the staff member sets the operator PIN on the terminal's pad), and in one
 * transaction the staff member is enrolled with the card's serial and public key and the stock
 * card is marked used. A card changed by a failed run is spoiled, awaiting witnessed
 * destruction, exactly as a failed issuance spoils its card; an untouched card stays taken out.
 *
 * The first administrator of a CS that has no staff yet (`juki serve`, where no dev routes exist):
 * `firstAdministrator` with the one-time set-up code the node printed on its console at start-up
 * (only its SHA-256 is kept, compared in constant time; five wrong codes disable it until
 * restart). The card on the stock terminal's reader is received as a one-card lot, re-keyed,
 * taken out and made the administrator's operator card, all as `system`, every step audited.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Actor } from '../audit/index.ts';
import { JukiError } from '../util/index.ts';
import { parseId, parseText, type CsContext } from './context.ts';
import type { StaffMember, StaffRole, StaffService } from './staff.ts';
import type { StockService } from './stock.ts';
import type { TerminalService } from './terminals.ts';

/** The card side, as `CounterCardSteps` provides it. */
export interface OperatorCardMaker {
  serialOn(terminalId: string): Promise<string>;
  makeOperatorCard(terminalId: string, serial: string, staffId: string): Promise<{ publicKey: string }>;
}

export interface OperatorCardInput {
  readonly terminalId: string;
  /** The blank card taken out for that terminal and now on its reader. */
  readonly serial: string;
  readonly staffId: string;
  readonly name: string;
  readonly role: StaffRole;
}

export interface FirstAdministratorInput {
  readonly setupCode: string;
  /** The stock terminal's card reader name, to register the terminal when it is not yet (no administrator could have). */
  readonly reader?: string;
  readonly pinPad?: string;
  readonly lot: string;
  readonly transportKeyRef: string;
  readonly staffId: string;
  readonly name: string;
}

/** Wrong set-up codes before the code is disabled (until the node restarts with a new one). */
const SETUP_ATTEMPTS = 5;

export class OperatorCardDesk {
  readonly #ctx: CsContext;
  readonly #staff: StaffService;
  readonly #stock: StockService;
  readonly #cards: OperatorCardMaker;
  readonly #rekeyTerminal: string;
  readonly #terminals: TerminalService;
  #setup: { hash: Buffer; attemptsLeft: number } | undefined;
  #settingUp = false;

  constructor(ctx: CsContext, parts: { staff: StaffService; stock: StockService; terminals: TerminalService; cards: OperatorCardMaker; rekeyTerminal: string }) {
    this.#terminals = parts.terminals;
    this.#ctx = ctx;
    this.#staff = parts.staff;
    this.#stock = parts.stock;
    this.#cards = parts.cards;
    this.#rekeyTerminal = parts.rekeyTerminal;
  }

  /** Make `input.staffId`'s operator card on the terminal's reader and enrol them (R3.1.3ki groundwork: staff with operator cards). */
  async issue(actor: Actor, input: OperatorCardInput): Promise<StaffMember> {
    const terminalId = parseId(input?.terminalId, 'terminalId');
    const staffId = parseId(input.staffId, 'staffId');
    const name = parseText(input.name, 'name', 100);
    const card = await this.#stock.get(input.serial);
    if (card.state !== 'taken-out' || card.terminalId !== terminalId) {
      throw new JukiError('JUKI_ERR_CS_STOCK_STATE', `serial ${card.serial}: an operator card is made from a blank card taken out for terminal ${terminalId}; it is ${card.state}${card.terminalId ? ` for ${card.terminalId}` : ''}`, { field: 'serial', serial: card.serial, state: card.state });
    }
    const known = await this.#ctx.database.db.selectFrom('cs_staff').select('staff_id').where('staff_id', '=', staffId).executeTakeFirst();
    if (known) throw new JukiError('JUKI_ERR_CONFLICT', `staffId: a staff member ${staffId} is already enrolled`, { field: 'staffId' });
    let made: { publicKey: string };
    try {
      made = await this.#cards.makeOperatorCard(terminalId, card.serial, staffId);
    } catch (e) {
      const untouched = e instanceof JukiError && e.details.cardUntouched === true;
      if (!untouched) {
        const why = e instanceof JukiError ? e.code : 'JUKI_ERR_INTERNAL';
        await this.#ctx.database.transaction((trx) => this.#stock.markSpoiledByIssuance(trx, actor, card.serial, `operator card for ${staffId} failed: ${why}`));
      }
      throw e;
    }
    return this.#ctx.database.transaction(async (trx) => {
      const member = await this.#staff.enrollIn(trx, actor, { staffId, name, role: input.role, cardSerial: card.serial, publicKey: made.publicKey });
      await this.#stock.markUsed(trx, actor, card.serial, terminalId);
      return member;
    });
  }

  /**
   * An operator card from a maker's blank card on the stock terminal's reader (before any
   * stock-keeper exists to take one out of the safe, or for a separate operator-card delivery):
   * the card is received as the one-card lot `lot` under the maker's `transportKeyRef`,
   * re-keyed into the safe, taken out for the stock terminal and made the operator card, every
   * movement in the stock ledger under `actor`.
   */
  async issueFromDelivery(actor: Actor, input: { lot: string; transportKeyRef: string; staffId: string; name: string; role: StaffRole }): Promise<StaffMember> {
    const staffId = parseId(input?.staffId, 'staffId');
    parseText(input.name, 'name', 100);
    const known = await this.#ctx.database.db.selectFrom('cs_staff').select('staff_id').where('staff_id', '=', staffId).executeTakeFirst();
    if (known) throw new JukiError('JUKI_ERR_CONFLICT', `staffId: a staff member ${staffId} is already enrolled`, { field: 'staffId' });
    const serial = await this.#cards.serialOn(this.#rekeyTerminal);
    const [received] = await this.#stock.receiveLot(actor, { lot: input.lot, transportKeyRef: input.transportKeyRef, serials: [serial] });
    if (received?.state !== 'in-safe') {
      throw new JukiError('JUKI_ERR_CS_STOCK_STATE', `serial ${serial}: the card could not be re-keyed (${received?.error?.code ?? 'unknown'}: ${received?.error?.message ?? ''}); it stays received in lot ${input.lot}`, { field: 'transportKeyRef', serial });
    }
    await this.#stock.takeOut(actor, { terminalId: this.#rekeyTerminal, serial });
    return this.issue(actor, { terminalId: this.#rekeyTerminal, serial, staffId, name: input.name, role: input.role });
  }

  /**
   * A new one-time set-up code for the first administrator, when the CS has no staff yet
   * (undefined otherwise). Shown once by the caller on the node's console; only its hash stays.
   */
  async newSetupCode(): Promise<string | undefined> {
    const any = await this.#ctx.database.db.selectFrom('cs_staff').select('staff_id').limit(1).executeTakeFirst();
    if (any) return undefined;
    const code = randomBytes(10).toString('hex').toUpperCase().replace(/(.{5})(?=.)/g, '$1-');
    this.#setup = { hash: sha256(code), attemptsLeft: SETUP_ATTEMPTS };
    return code;
  }

  /** Enrol the first administrator with the set-up code and the card on the stock terminal's reader. */
  async firstAdministrator(input: FirstAdministratorInput): Promise<StaffMember> {
    const system: Actor = { kind: 'system' };
    const setup = this.#setup;
    const given = typeof input?.setupCode === 'string' ? input.setupCode.trim().toUpperCase() : '';
    if (!setup || setup.attemptsLeft <= 0 || !timingSafeEqual(sha256(given), setup.hash)) {
      if (setup) setup.attemptsLeft--;
      await this.#ctx.database.transaction((trx) => this.#ctx.audit.append(trx, {
        type: 'cs.staff.setup', actor: system, outcome: 'refused', reason: 'JUKI_ERR_CS_FORBIDDEN', details: { staff: typeof input?.staffId === 'string' ? input.staffId.slice(0, 32) : '' },
      }));
      throw new JukiError('JUKI_ERR_CS_FORBIDDEN', setup && setup.attemptsLeft > 0
        ? 'setupCode: not the set-up code this node printed at start-up'
        : 'setupCode: no set-up code is open (staff exist, or too many wrong codes: restart the node for a new one)', { field: 'setupCode' });
    }
    const any = await this.#ctx.database.db.selectFrom('cs_staff').select('staff_id').limit(1).executeTakeFirst();
    if (any) {
      this.#setup = undefined;
      throw new JukiError('JUKI_ERR_CONFLICT', 'staff: the first administrator is already enrolled; enrol others as an administrator', { field: 'staffId' });
    }
    if (this.#settingUp) throw new JukiError('JUKI_ERR_CONFLICT', 'staff: a first-administrator set-up is already running at the stock terminal', { field: 'setupCode' });
    this.#settingUp = true;
    let member: StaffMember;
    try {
      const registered = await this.#ctx.database.db.selectFrom('cs_terminals').select('terminal_id').where('terminal_id', '=', this.#rekeyTerminal).executeTakeFirst();
      if (!registered) {
        if (input.reader === undefined) throw new JukiError('JUKI_ERR_INVALID_INPUT', `reader: the stock terminal ${this.#rekeyTerminal} is not registered yet: name its card reader`, { field: 'reader' });
        await this.#terminals.register(system, { terminalId: this.#rekeyTerminal, name: `${this.#rekeyTerminal} (stock terminal, registered at set-up)`, reader: input.reader, pinPad: input.pinPad ?? `${this.#rekeyTerminal}-pin-pad` });
      }
      member = await this.issueFromDelivery(system, { lot: input.lot, transportKeyRef: input.transportKeyRef, staffId: input.staffId, name: input.name, role: 'administrator' });
    } finally {
      this.#settingUp = false;
    }
    this.#setup = undefined;
    await this.#ctx.database.transaction((trx) => this.#ctx.audit.append(trx, { type: 'cs.staff.setup', actor: system, details: { staff: member.staffId } }));
    return member;
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
