/**
 * Prior cards of an applicant (R3.1.2a): which cards were issued to a resident before, by
 * whom, and their status. A card may have been issued by another municipality, so the check
 * goes through this interface: this municipality's records now, the network's answer (the
 * issuing municipality's record, the national center's card status) once Juki-net serves it.
 */
import type { Trx } from './context.ts';
import type { CardStatusService } from './card-status.ts';

export interface PriorCard {
  readonly cardNumber: string;
  readonly issuer: string;
  /** As the source knows it: issued-awaiting-pin, active, suspended, abolished, collected. */
  readonly status: string;
  readonly validUntil: string | null;
  /** Where the answer came from: `local` records, or a `network` node id. */
  readonly source: string;
}

export interface PriorCardLookup {
  /**
   * The cards issued to this resident that the source knows of. Throws when it cannot answer
   * (the application is then refused with JUKI_ERR_CS_PRIOR_CARD_UNAVAILABLE, never accepted
   * on a guess).
   */
  cardsOf(residentCode: string, trx?: Trx): Promise<readonly PriorCard[]>;
}

/** This municipality's own records (cards issued here, and other issuers' cards collected here). */
export class LocalPriorCards implements PriorCardLookup {
  readonly #status: CardStatusService;

  constructor(status: CardStatusService) {
    this.#status = status;
  }

  async cardsOf(residentCode: string, trx?: Trx): Promise<readonly PriorCard[]> {
    const cards = await this.#status.cardsOf(residentCode, trx);
    return cards.map((c) => ({ cardNumber: c.cardNumber, issuer: c.issuer, status: c.status, validUntil: c.validUntil, source: 'local' }));
  }
}

/**
 * Several sources asked in order, merged by card number: a later source's answer about a card
 * replaces an earlier one's only when it comes from the card's issuer (the issuer's record is
 * authoritative). Any source that cannot answer makes the whole lookup fail.
 */
export function combinedPriorCards(...sources: readonly PriorCardLookup[]): PriorCardLookup {
  return {
    async cardsOf(residentCode, trx) {
      const byNumber = new Map<string, PriorCard>();
      for (const s of sources) {
        for (const c of await s.cardsOf(residentCode, trx)) {
          const had = byNumber.get(c.cardNumber);
          if (!had || c.source === `municipality-${c.issuer}`) byNumber.set(c.cardNumber, c);
        }
      }
      return [...byNumber.values()];
    },
  };
}
