/**
 * Agency verification with the card (R4.2.1, R4.2.2; ARCHITECTURE.md "Agency verification"),
 * at the agency desk, in this order and no other:
 *
 *   1. pin       the holder types the PIN on the terminal's PIN pad; the terminal agent sends
 *                it to the card itself (SELECT basic area, VERIFY), never over the relay;
 *   2. read      the national center opens the basic area's SCP03 channel through the
 *                terminal's relay and reads the resident code, card number and issuer
 *                (R-MAC + R-ENC): the terminal can neither read nor forge it;
 *   3. notices   the agency's own notice list: a suspension, abolition or collection refuses the
 *                card and nothing is asked of Juki-net;
 *   4. record    the identity record from the national center for the named affair (which
 *                refuses too when it already knows the card is not active).
 *
 * A step that fails stops the flow: later steps never run. The result lists the steps that
 * ran with their outcomes (what the desk shows, what tests check the order against). Nothing of
 * the PIN is ever seen here: only the pad's outcome kind.
 */
import type { AuditLog } from '../audit/index.ts';
import type { CardReading, CardReadingClient } from '../net/index.ts';
import type { PinVerifyOutcome, TerminalAgentApi } from '../terminal/index.ts';
import { JukiError } from '../util/index.ts';
import { AgencyVerifier, type CheckResult } from './verify.ts';
import { NoticeList, type Notice } from './notice-list.ts';

export type VerificationStep = 'pin' | 'read' | 'notices' | 'record';

export interface StepOutcome {
  readonly step: VerificationStep;
  readonly ok: boolean;
  /** What happened, for the desk (never a PIN, never a resident code). */
  readonly detail: string;
}

export type CardVerificationResult =
  | { readonly accepted: true; readonly steps: readonly StepOutcome[]; readonly card: CardReading; readonly record: Extract<CheckResult, { accepted: true }>['record'] }
  | {
      readonly accepted: false; readonly steps: readonly StepOutcome[]; readonly failedAt: VerificationStep; readonly code: string; readonly message: string;
      readonly card?: CardReading; readonly source?: string; readonly status?: string;
    };

/** Faults the scenario can inject to prove it notices a misbehaving agency (never set in production). */
export interface AgencyFaults {
  /** The agency skips its own notice list (step 3). */
  readonly skipNoticeList?: boolean;
}

export interface AgencyCardDeskOptions {
  /** The terminal agent at the desk and the reader the card is put in. */
  readonly terminal: TerminalAgentApi;
  readonly reader: string;
  /** The national center's card reading, as this agency (its certificate). */
  readonly cardReading: CardReadingClient;
  readonly verifier: AgencyVerifier;
  readonly audit: AuditLog;
  /** Who reads cards (default `national`). */
  readonly national?: string;
  readonly faults?: AgencyFaults;
}

/** A notice list that sees nothing: only for the injected fault `skipNoticeList`. */
class BlindNoticeList extends NoticeList {
  override async forCard(): Promise<Notice | undefined> {
    return undefined;
  }
}

function pinDetail(o: PinVerifyOutcome): string {
  switch (o.kind) {
    case 'verified': return 'PIN verified on the PIN pad (locally, by the terminal)';
    case 'wrong': return `wrong PIN, ${o.triesLeft} tries left`;
    case 'blocked': return 'the PIN is blocked (unblock at the issuing municipality)';
    case 'not-set': return 'the PIN is not set';
    case 'refused': return `the card refused: ${o.reason}`;
    case 'cancelled': return 'cancelled on the PIN pad';
    case 'mismatch': return 'the PIN entries differ';
    case 'invalid': return `the PIN entry was invalid (${o.reason})`;
  }
}

export class AgencyCardDesk {
  readonly #o: AgencyCardDeskOptions;
  readonly #verifier: AgencyVerifier;

  constructor(options: AgencyCardDeskOptions) {
    this.#o = options;
    this.#verifier = options.verifier;
  }

  /** Build the desk's verifier from its parts (the fault hook replaces the notice list). */
  static verifierFor(o: { list: NoticeList; queries: ConstructorParameters<typeof AgencyVerifier>[0]['queries']; audit: AuditLog; db: () => import('kysely').Kysely<import('../db/index.ts').Schema>; faults?: AgencyFaults }): AgencyVerifier {
    const list = o.faults?.skipNoticeList ? new BlindNoticeList(o.db) : o.list;
    return new AgencyVerifier({ list, queries: o.queries, audit: o.audit });
  }

  /** Verify the card in the desk's reader and fetch the identity record for `affair`. */
  async verify(affair: string): Promise<CardVerificationResult> {
    if (typeof affair !== 'string' || affair.trim() === '') throw new JukiError('JUKI_ERR_INVALID_INPUT', 'affair: expected the statutory affair the card is verified for', { field: 'affair' });
    const steps: StepOutcome[] = [];
    const stop = (failedAt: VerificationStep, code: string, message: string, extra: { card?: CardReading; source?: string; status?: string } = {}): CardVerificationResult => {
      return { accepted: false, steps, failedAt, code, message, ...extra };
    };
    const { terminal, reader } = this.#o;
    // 1. The PIN, locally on the terminal.
    await terminal.release(reader).catch(() => undefined); // a fresh session: nothing verified from an earlier holder
    let pin: PinVerifyOutcome;
    try {
      pin = await terminal.verifyPin(reader, 'basic', 'Enter your card PIN');
    } catch (e) {
      // No card in the reader, the terminal gone: nothing was read.
      const code = e instanceof JukiError ? e.code : 'JUKI_ERR_INTERNAL';
      steps.push({ step: 'pin', ok: false, detail: `the terminal could not reach the card: ${code}` });
      await this.#audit(affair, 'refused', code, 'pin');
      return stop('pin', code, `card PIN: ${e instanceof Error ? e.message : String(e)}`);
    }
    steps.push({ step: 'pin', ok: pin.kind === 'verified', detail: pinDetail(pin) });
    if (pin.kind !== 'verified') {
      await this.#audit(affair, 'refused', 'JUKI_ERR_AGENCY_PIN_NOT_VERIFIED', 'pin');
      return stop('pin', 'JUKI_ERR_AGENCY_PIN_NOT_VERIFIED', `card PIN: ${pinDetail(pin)}; nothing was read from the card (R4.2.1)`);
    }
    // 2. The national center reads the basic area through the relay.
    let card: CardReading;
    try {
      card = await this.#o.cardReading.read(this.#o.national ?? 'national', { affair, relay: terminal, reader });
    } catch (e) {
      const code = e instanceof JukiError ? e.code : 'JUKI_ERR_INTERNAL';
      const message = e instanceof Error ? e.message : String(e);
      steps.push({ step: 'read', ok: false, detail: `the national center could not read the card: ${code}` });
      await this.#audit(affair, 'refused', code, 'read');
      return stop('read', code, `reading the card: ${message}`);
    } finally {
      await terminal.release(reader).catch(() => undefined);
    }
    steps.push({ step: 'read', ok: true, detail: `card ${card.cardNumber} of ${card.issuer} read by the national center over the basic area's secure channel` });
    // 3 + 4. The notice list, then the identity record (AgencyVerifier keeps that order).
    const checked = await this.#verifier.checkCard({ residentCode: card.residentCode, cardNumber: card.cardNumber }, affair);
    if (checked.accepted) {
      steps.push({ step: 'notices', ok: true, detail: 'no notice held for this card' });
      steps.push({ step: 'record', ok: true, detail: `identity record received for ${affair}` });
      return { accepted: true, steps, card, record: checked.record };
    }
    if (checked.source === 'notice-list') {
      steps.push({ step: 'notices', ok: false, detail: `this agency holds a notice: ${checked.code === 'JUKI_ERR_AGENCY_CARD_NOTICED' ? checked.status : ''}` });
      return stop('notices', checked.code, checked.message, { card, source: checked.source, ...('status' in checked ? { status: checked.status } : {}) });
    }
    steps.push({ step: 'notices', ok: true, detail: 'no notice held for this card' });
    steps.push({ step: 'record', ok: false, detail: checked.code === 'JUKI_ERR_AGENCY_CARD_NOTICED' ? `the national center reports the card ${checked.status}` : 'no identity record' });
    return stop('record', checked.code, checked.message, { card, source: checked.source, ...('status' in checked ? { status: checked.status } : {}) });
  }

  async #audit(affair: string, outcome: 'refused', reason: string, step: VerificationStep): Promise<void> {
    await this.#o.audit.record({
      type: 'agency.card.verification', actor: { kind: 'system' }, outcome, reason,
      details: { affair, step, terminal: this.#o.terminal.terminalId },
    });
  }
}
