/**
 * Moves with the card, counter side (R3.2.1i). At move-in the resident hands in the card
 * another municipality issued: this municipality records it `collected` and, in the same
 * transaction, queues a `card.returned` message to the issuing municipality, which Juki-net
 * delivers exactly once in effect (outbox retries, the receiver's inbox applies once).
 *
 * The issuing municipality's side is `applyReturnedCard`: called by its inbox with the
 * message's transaction, it marks its card collected (cause `returned`), which also announces
 * the new status to its prefecture. A card handed in at its own issuer is simply collected.
 */
import type { Actor } from '../audit/index.ts';
import type { ReturnedCardBody } from '../net/index.ts';
import { parseMunicipalityCode, parseResidentCode } from '../register/index.ts';
import { JukiError } from '../util/index.ts';
import { parseCardNumber, type CsContext, type Trx } from './context.ts';
import { toRecord, type CardRecord, type CardRow, type CardStatusService } from './card-status.ts';

export interface ReturnedCardInput {
  readonly cardNumber: string;
  /** The issuing municipality's code (read from the card). */
  readonly issuer: string;
  /** The resident who moved in with it. */
  readonly residentCode: string;
}

export class MoveService {
  readonly #ctx: CsContext;
  readonly #status: CardStatusService;

  constructor(ctx: CsContext, status: CardStatusService) {
    this.#ctx = ctx;
    this.#status = status;
  }

  /** Take in a card at move-in: collected here, and the issuer told over Juki-net. */
  async receiveReturnedCard(actor: Actor, input: ReturnedCardInput): Promise<CardRecord> {
    const cardNumber = parseCardNumber(input?.cardNumber);
    const issuer = parseMunicipalityCode(input.issuer, 'issuer');
    const residentCode = parseResidentCode(input.residentCode, this.#ctx.register.validator, 'residentCode');
    const resident = await this.#ctx.register.find(residentCode);
    if (!resident || resident.status !== 'registered') {
      throw new JukiError('JUKI_ERR_CS_NOT_REGISTERED', `residentCode: ${residentCode} is not a registered resident of ${this.#ctx.municipality}; a card is taken in at move-in`, { field: 'residentCode' });
    }
    if (issuer === this.#ctx.municipality) return this.#status.change(actor, cardNumber, 'returned');
    return this.#ctx.database.transaction(async (trx) => {
      const at = this.#ctx.now().toISOString();
      const existing = await trx.selectFrom('cs_cards').selectAll().where('card_number', '=', cardNumber).executeTakeFirst();
      if (existing && (existing.municipality !== issuer || existing.resident_code !== residentCode)) {
        throw new JukiError('JUKI_ERR_CONFLICT', `cardNumber: card ${cardNumber} is recorded here for another issuer or resident`, { field: 'cardNumber' });
      }
      if (existing?.status === 'collected') {
        throw new JukiError('JUKI_ERR_CS_CARD_TRANSITION', `cardNumber: card ${cardNumber} was already collected here on ${existing.updated_at}`, { field: 'cardNumber', status: 'collected' });
      }
      const row: CardRow = {
        card_number: cardNumber, serial: null, resident_code: residentCode, municipality: issuer, status: 'collected', suspended_from: null,
        live_resident: null, issued_at: null, valid_until: null, application_id: null, version: 1, updated_at: at,
      };
      await trx.insertInto('cs_cards').values(row).execute();
      await this.#status.recordChange(trx, actor, row, null, 'returned');
      await this.#ctx.audit.append(trx, { type: 'cs.card.returned', actor, subject: { kind: 'card', id: cardNumber }, details: { issuer, resident: residentCode } });
      await this.#ctx.outbox.enqueue(trx, {
        type: 'card.returned', from: this.#ctx.node, to: `municipality-${issuer}`,
        body: { cardNumber, issuer, receivedBy: this.#ctx.municipality, receivedAt: at },
      });
      return toRecord(row);
    });
  }

  /**
   * The issuer's side: apply a `card.returned` message inside the inbox's transaction. A card
   * already collected is left as it is (the message may be a repeat of one applied).
   */
  async applyReturnedCard(trx: Trx, body: ReturnedCardBody, fromNode: string): Promise<void> {
    if (body.issuer !== this.#ctx.municipality) {
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `body.issuer: this is ${this.#ctx.municipality}, the card was issued by ${body.issuer}`, { field: 'body.issuer', permanent: true });
    }
    const card = await trx.selectFrom('cs_cards').select('status').where('card_number', '=', body.cardNumber).executeTakeFirst();
    if (!card) throw new JukiError('JUKI_ERR_NOT_FOUND', `body.cardNumber: no card ${body.cardNumber} was issued here`, { field: 'body.cardNumber', permanent: true });
    if (card.status === 'collected') return;
    await this.#status.changeIn(trx, { kind: 'node', id: fromNode }, body.cardNumber, 'returned');
  }
}
