/**
 * Verification at an agency (R4.2.2, 技術的基準 第4の2(2)), in this order:
 *   1. the resident code (and card number) read from the card's basic area;
 *   2. the agency's own notice list: a suspension or abolition notice for the card refuses it,
 *      and nothing is asked of Juki-net;
 *   3. the identity record requested from the national center for a named statutory affair
 *      (R4.1.3). The national center names the card's status as it knows it; if it knows the
 *      card suspended, abolished or collected (its notice may still be on the way), it gives no
 *      record and the card is refused here too: whichever node learned of it first.
 * Every check is audited in the agency's log (`agency.card.checked`).
 *
 * The card-reading part (PIN on the PIN pad, secure channel through the terminal, R4.2.1)
 * comes with the terminal agent; this takes what the card read.
 */
import type { AuditLog } from '../audit/index.ts';
import { JukiError } from '../util/index.ts';
import type { IdentityAnswer, KnownCardStatus, QueryClient } from '../net/index.ts';
import { refuses, type Notice, type NoticeList } from './notice-list.ts';

export interface CardRead {
  /** The resident code read from the basic area. */
  readonly residentCode: string;
  /** The card number read from the basic area. */
  readonly cardNumber: string;
}

export type CheckResult =
  | { readonly accepted: true; readonly record: IdentityAnswer['records'][number]['record']; readonly cardStatus?: KnownCardStatus }
  | { readonly accepted: false; readonly code: 'JUKI_ERR_AGENCY_CARD_NOTICED'; readonly message: string; readonly source: 'notice-list' | 'national'; readonly status: string }
  | { readonly accepted: false; readonly code: 'JUKI_ERR_NOT_FOUND'; readonly message: string; readonly source: 'national' };

export interface AgencyVerifierOptions {
  readonly list: NoticeList;
  readonly queries: QueryClient;
  readonly audit: AuditLog;
  /** Who answers identity-record queries (default `national`). */
  readonly answerer?: string;
}

export class AgencyVerifier {
  readonly #o: AgencyVerifierOptions;

  constructor(options: AgencyVerifierOptions) {
    this.#o = options;
  }

  /**
   * Check a card read at the desk, then fetch the identity record for `affair`. Refusals are
   * results (the card is not usable), not exceptions; a query the access decision refuses
   * (JUKI_ERR_NET_AFFAIR_DENIED) or a network failure throws.
   */
  async checkCard(read: CardRead, affair: string): Promise<CheckResult> {
    if (typeof read?.residentCode !== 'string' || !/^\d{11}$/.test(read.residentCode)) {
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `residentCode: expected 11 digits, got ${JSON.stringify(read?.residentCode)}`, { field: 'residentCode' });
    }
    if (typeof read.cardNumber !== 'string' || !/^[A-Za-z0-9-]{1,32}$/.test(read.cardNumber)) {
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `cardNumber: expected a card number of 1-32 letters, digits or -, got ${JSON.stringify(read.cardNumber)}`, { field: 'cardNumber' });
    }
    // 2. The notice list, before anything leaves this agency.
    const notice: Notice | undefined = await this.#o.list.forCard(read.cardNumber);
    if (refuses(notice)) return this.#refuse(read, affair, 'notice-list', notice!.status);
    // 3. The identity record from Juki-net.
    const answer = await this.#o.queries.query(this.#o.answerer ?? 'national', { affair, residentCode: read.residentCode, cardNumber: read.cardNumber });
    if (answer.cardStatus && refuses(answer.cardStatus)) return this.#refuse(read, affair, 'national', answer.cardStatus.status);
    const found = answer.records[0];
    if (!found) {
      await this.#audit(read, affair, 'refused', 'JUKI_ERR_NOT_FOUND', 'national');
      return { accepted: false, code: 'JUKI_ERR_NOT_FOUND', message: `residentCode: no identity record for ${read.residentCode}`, source: 'national' };
    }
    await this.#audit(read, affair, 'success', undefined, 'national', answer.cardStatus?.status);
    return { accepted: true, record: found.record, ...(answer.cardStatus ? { cardStatus: answer.cardStatus } : {}) };
  }

  async #refuse(read: CardRead, affair: string, source: 'notice-list' | 'national', status: string): Promise<CheckResult> {
    await this.#audit(read, affair, 'refused', 'JUKI_ERR_AGENCY_CARD_NOTICED', source, status);
    const where = source === 'notice-list' ? 'this agency holds a notice' : 'the national center reports it';
    return { accepted: false, code: 'JUKI_ERR_AGENCY_CARD_NOTICED', message: `card ${read.cardNumber}: ${where}: ${status}; no identity record is requested (R4.2.2)`, source, status };
  }

  async #audit(read: CardRead, affair: string, outcome: 'success' | 'refused', reason: string | undefined, source: string, status?: string): Promise<void> {
    await this.#o.audit.record({
      type: 'agency.card.checked', actor: { kind: 'system' }, subject: { kind: 'card', id: read.cardNumber },
      ...(outcome === 'refused' ? { outcome, reason: reason! } : {}),
      details: { affair, source, ...(status ? { status } : {}) },
    });
  }
}
