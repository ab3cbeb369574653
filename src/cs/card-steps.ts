/**
 * The counter's real card steps (docs/counter.md "Card steps", "End to end"): the books'
 * `RekeyStep` and `CardStep` carried out on the card in a terminal's reader, through the
 * terminal agent's relay (`TerminalAgentApi`: the in-process `Terminal` of `juki up`, or an
 * `HttpsTerminalClient` to a `juki terminal` over mutual TLS).
 *
 * Keys (ARCHITECTURE.md, "Who holds which keys"):
 * - maker transport keys: the delivery lot's master, by the lot's `transportKeyRef`;
 * - municipality transport and issuer keys: this CS's key store (`municipalityCardKeys`);
 * - basic-area keys: the national center's `BasicKeyService`, one card's keys wrapped for one
 *   request, never stored (in `juki up` the national node's key store in-process; under
 *   `juki serve` `HttpsBasicKeyService`, CS → national over mutual TLS);
 * - the JPKI area: no key here at all (R5.1). The card's maker put the area's initial set on
 *   it; the `jpki` role (`JpkiRelay`; in `juki up` the jpki node in-process) replaces it with
 *   its own and personalises the area over its own channel; the CS only relays.
 *
 * Personalisation, per request: the card on the reader must be the blank card named (its
 * serial, read from the card); `personaliseCard` (resumed once if the card was lost mid-run);
 * the JPKI area when asked; the face print job (src/face) rendered to `<printDir>/<card>.pdf`.
 * Its records (print job, JPKI serial, one `cs.card.step` audit entry per card step, R3.1.2o)
 * are written by `commit` inside the issuance's commit transaction. A failure is thrown with
 * `details.cardUntouched` true only when no command that changes a card (PUT KEY, INSTALL,
 * STORE DATA, SET STATUS) was sent, so the books spoil exactly the cards that were touched.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Actor } from '../audit/index.ts';
import { KEY_DOMAINS, type KeyStore } from '../crypto/index.ts';
import { faceRecord, renderFacePdf, type FaceItems } from '../face/index.ts';
import type { JpkiAuthority } from '../jpki/index.ts';
import { personaliseJpkiCard } from '../jpki/index.ts';
import type { CardTransport } from '../reader/index.ts';
import { municipalities, type Resident } from '../register/index.ts';
import { relayTransport, type TerminalAgentApi } from '../terminal/index.ts';
import { JukiError } from '../util/index.ts';
import {
  diversifiedKeySource, installJpkiArea, keyStoreKeySource, MAKER_TRANSPORT_KVN, municipalityCardKeys, MUNICIPALITY_MASTER_KEYS, personaliseCard, rekeyBlankCard,
  type CardFlowEvent, type CardKeySource,
} from './card-flows/index.ts';
import { readIsdFacts } from './card-flows/card-state.ts';
import { issueOperatorCard, readOperatorCard } from './operator-cards.ts';
import { csContext, type CsContext, type Trx } from './context.ts';
import type { CardRecord, StatusCause } from './card-status.ts';
import { openCounter, type Counter, type CounterOptions } from './counter.ts';
import type { Database } from '../db/index.ts';
import { OperatorCardDesk } from './operator-desk.ts';
import { PinDesk } from './pin-desk.ts';
import type { CardStep, PersonalisationRequest } from './issuance.ts';
import type { BasicKeyService } from './key-service.ts';
import type { RekeyStep } from './stock.ts';

/** Where a registered terminal's card reader is: the agent that owns it and the reader's name there. */
export interface TerminalDirectory {
  resolve(terminalId: string): Promise<{ agent: TerminalAgentApi; reader: string }>;
}

/** Terminals by id, each with its agent; the reader's name is the one registered for the terminal (cs_terminals.reader). */
export function terminalDirectory(ctx: CsContext, agents: ReadonlyMap<string, TerminalAgentApi>): TerminalDirectory {
  return {
    async resolve(terminalId) {
      const row = await ctx.database.db.selectFrom('cs_terminals').select(['reader', 'active']).where('terminal_id', '=', terminalId).executeTakeFirst();
      if (!row || row.active !== 1) throw new JukiError('JUKI_ERR_NOT_FOUND', `terminalId: no active terminal ${terminalId}`, { field: 'terminalId', cardUntouched: true });
      const agent = agents.get(terminalId);
      if (!agent) throw new JukiError('JUKI_ERR_READER', `terminal ${terminalId}: its terminal agent is not connected to this CS`, { terminal: terminalId, cardUntouched: true });
      return { agent, reader: row.reader };
    },
  };
}

/**
 * The `jpki` role as the counter reaches it: its side of the area's personalisation (over the
 * relayed transport, on its own channel), and revocation. It gives the counter no key (R5.1):
 * the JPKI domain's keys are the maker's initial set, replaced by the jpki role's own.
 */
export interface JpkiRelay {
  /** Over the relayed transport: key pairs on the card, certificates (sign only with a holder). Returns the serial the certificates name. */
  personalise(transport: CardTransport, holder?: { name: string; sex: 'male' | 'female'; birthDate: string; address: string }): Promise<{ cardSerial: string; sign: boolean }>;
  revokeForCard(cardSerial: string, cause: 'suspended' | 'abolished' | 'lost'): Promise<number>;
}

/** The jpki node in this process (`juki up`): its CA and its key store with the JPKI masters (never handed to the counter). */
export function inProcessJpki(ca: { authority: JpkiAuthority; hostKeys: KeyStore }): JpkiRelay {
  return {
    async personalise(transport, holder) {
      const r = await personaliseJpkiCard({ transport, keyStore: ca.hostKeys, authority: ca.authority, ...(holder ? { holder } : {}) });
      return { cardSerial: r.cardSerial, sign: r.sign !== undefined };
    },
    async revokeForCard(cardSerial, cause) {
      return (await ca.authority.revokeForCard(cardSerial, cause, { actor: { kind: 'node', id: 'jpki' } })).length;
    },
  };
}

export interface CounterCardStepsOptions {
  readonly ctx: CsContext;
  readonly terminals: TerminalDirectory;
  /** This CS's key store: the municipality's transport and issuer masters. */
  readonly keyStore: KeyStore;
  readonly basicKeys: BasicKeyService;
  /** The maker's transport keys of a delivery lot, by its `transportKeyRef` (default: the key `lot:<ref>:transport-master` in `lotKeys`). */
  readonly makerKeys?: (transportKeyRef: string) => CardKeySource;
  /** Where the maker's lot masters are (default: `keyStore`). */
  readonly lotKeys?: KeyStore;
  /** The terminal whose reader re-keys deliveries (the stock room's). */
  readonly rekeyTerminal: string;
  /** Ask for a card to be put on a terminal's reader (a person, a card feeder; the in-process feeder of `juki up`). */
  readonly presentCard?: (terminalId: string, serial: string) => Promise<void>;
  readonly jpki?: JpkiRelay;
  /** Where face print jobs (PDF) are written. */
  readonly printDir: string;
}

/** The operator application's key version (its own set, not the issuer's: KVN 01..6F). */
export const OPERATOR_KVN = 0x31;

/** Card steps that change a card: a failure at or after one of these leaves a touched card. */
const MUTATING = /^(PUT KEY|INSTALL|STORE DATA|SET STATUS)/;

/** What a personalisation made, kept until the issuance commits or fails. */
interface Made {
  events: CardFlowEvent[];
  print?: { path: string; sha256: string; form: string };
  jpki?: { cardSerial: string; sign: boolean };
}

/** The lot-master key name `juki card new` and `juki demo card` use. */
export function lotMasterKeyName(transportKeyRef: string): string {
  return `lot:${transportKeyRef.toLowerCase()}:transport-master`;
}

/** The card number written on the card: the books' number is `<municipality>-<serial>`; the basic area takes 16 of 0-9 A-Z, so the serial in base 36. */
export function onCardNumber(serialHex: string): string {
  return BigInt(`0x${serialHex}`).toString(36).toUpperCase().padStart(16, '0').slice(-16);
}

const compact = (isoDate: string) => isoDate.replaceAll('-', '');

export class CounterCardSteps implements RekeyStep, CardStep {
  readonly #o: CounterCardStepsOptions;
  readonly #keys: { transport: CardKeySource; issuer: CardKeySource };
  readonly #made = new Map<string, Made>();

  constructor(options: CounterCardStepsOptions) {
    this.#o = options;
    this.#keys = municipalityCardKeys(options.keyStore);
  }

  /** The issuer keys (for the PIN services' issuer channel). */
  get issuerKeys(): CardKeySource {
    return this.#keys.issuer;
  }

  /** The serial of the card on a terminal's reader (upper-case hex), read from its ISD; touches nothing. */
  async serialOn(terminalId: string): Promise<string> {
    const { agent, reader } = await this.#o.terminals.resolve(terminalId);
    await agent.release(reader).catch(() => undefined);
    const transport = await relayTransport(agent, reader);
    try {
      return (await readIsdFacts(transport)).state.serial;
    } finally {
      await transport.close().catch(() => undefined);
    }
  }

  /**
   * A staff member's operator card on the re-keyed blank card `serial` on the terminal's reader
   * (cs/operator-cards.ts): the operator application with its own key set, the issuer keys, then
   * the staff member sets the operator PIN on the terminal's pad, and the card's login public key
   * is read back. `touched` tells the books whether a failed run changed the card.
   */
  async makeOperatorCard(terminalId: string, serial: string, staffId: string): Promise<{ publicKey: string }> {
    let touched = false;
    let transport: CardTransport | undefined;
    try {
      transport = await this.#cardOn(terminalId, serial);
      const { agent, reader } = await this.#o.terminals.resolve(terminalId);
      touched = true;
      await issueOperatorCard(transport, {
        staffId, transportKeys: this.#keys.transport, issuerKeys: this.#keys.issuer,
        operatorKeys: keyStoreKeySource(this.#o.keyStore, MUNICIPALITY_MASTER_KEYS.issuer, 'operator', OPERATOR_KVN),
      }).catch((e: unknown) => {
        // The card's state is checked before any command that changes it.
        if (e instanceof JukiError && e.code === 'JUKI_ERR_CARD_STATE') touched = false;
        throw e;
      });
      await transport.close();
      transport = undefined;
      const set = await agent.setPin(reader, 'operator', `Set the operator PIN of ${staffId} (4 to 8 digits)`);
      if (set.kind !== 'set') throw new JukiError('JUKI_ERR_CS_PIN_NOT_SET', `operator card ${serial}: the operator PIN was not set on the pad (${set.kind})`, { outcome: set.kind });
      transport = await relayTransport(agent, reader);
      return { publicKey: (await readOperatorCard(transport)).publicKey };
    } catch (e) {
      if (e instanceof JukiError) throw new JukiError(e.code, e.message, { ...e.details, cardUntouched: !touched });
      throw new JukiError('JUKI_ERR_INTERNAL', `operator card: ${(e as Error)?.message ?? String(e)}`, { cardUntouched: !touched });
    } finally {
      await transport?.close().catch(() => undefined);
    }
  }

  /** R3.1.1a: replace the maker's transport keys of the blank card `serial` on the stock terminal's reader. */
  async rekey(card: { readonly serial: string; readonly lot: string; readonly transportKeyRef: string }): Promise<void> {
    const maker = this.#makerKeys(card.transportKeyRef);
    const transport = await this.#cardOn(this.#o.rekeyTerminal, card.serial);
    try {
      await rekeyBlankCard(transport, { makerTransport: maker, municipalityTransport: this.#keys.transport });
    } finally {
      await transport.close();
    }
  }

  /** R3.1.2e/o: personalise the blank card on the terminal's reader, JPKI if asked, and render the face print job. */
  async personalise(r: PersonalisationRequest): Promise<void> {
    const made: Made = { events: [] };
    this.#made.set(r.applicationId, made);
    const touched = () => made.events.some((e) => MUTATING.test(e.step));
    const fail = (e: unknown): never => {
      if (e instanceof JukiError) throw new JukiError(e.code, e.message, { ...e.details, cardUntouched: !touched() });
      throw new JukiError('JUKI_ERR_INTERNAL', `personalisation: ${(e as Error)?.message ?? String(e)}`, { cardUntouched: !touched() });
    };
    let transport: CardTransport | undefined;
    try {
      transport = await this.#cardOn(r.terminalId, r.serial);
      const resident = await this.#o.ctx.register.get(r.residentCode);
      const form = r.face ?? 'form1';
      const items = faceItems(resident, r, form);
      const plan = {
        data: {
          residentCode: r.residentCode, cardNumber: onCardNumber(r.serial), municipality: r.issuer,
          issued: compact(items.issuedOn), expires: compact(r.validUntil), faceRecord: faceRecord(items),
        },
        transportKeys: this.#keys.transport, issuerKeys: this.#keys.issuer, basicKeys: this.#o.basicKeys,
        observer: (e: CardFlowEvent) => made.events.push(e),
      };
      try {
        await personaliseCard(transport, plan);
      } catch (e) {
        // A card lost mid-run is finished by running again on the same card (card-flows "Restart").
        if (!(e instanceof JukiError && e.code === 'JUKI_ERR_CARD_INTERRUPTED')) throw e;
        await transport.close();
        transport = await this.#cardOn(r.terminalId, r.serial);
        await personaliseCard(transport, plan);
      }
      if (r.jpki) {
        const jpki = this.#o.jpki;
        if (!jpki) throw new JukiError('JUKI_ERR_READER', 'jpki: no jpki role is reachable from this CS: the JPKI area cannot be personalised here', { field: 'jpki' });
        await installJpkiArea(transport, { issuerKeys: this.#keys.issuer, observer: (e) => made.events.push(e) });
        const adult = ageOn(resident.birthDate, items.issuedOn) >= 15;
        const name = `${resident.name.family} ${resident.name.given}`;
        try {
          made.jpki = await jpki.personalise(transport, adult ? { name, sex: resident.sex, birthDate: resident.birthDate, address: resident.address } : undefined);
        } catch (e) {
          // Certificates issued for a card that will be spoiled must not stay good.
          await jpki.revokeForCard(r.serial, 'abolished').catch(() => 0);
          throw e;
        }
        made.events.push({ flow: 'personaliseJpkiCard', step: 'key pairs and certificates', outcome: 'done', detail: { sign: made.jpki.sign } });
      }
      const { pdf } = await renderFacePdf(items);
      mkdirSync(this.#o.printDir, { recursive: true });
      const path = join(this.#o.printDir, `${r.cardNumber}.pdf`);
      writeFileSync(`${path}.partial`, pdf);
      renameSync(`${path}.partial`, path);
      made.print = { path, sha256: createHash('sha256').update(pdf).digest('hex'), form };
    } catch (e) {
      fail(e);
    } finally {
      await transport?.close().catch(() => undefined);
    }
  }

  /** Inside the issuance's commit: the print job, the JPKI serial, every card step audited (R3.1.2o). */
  async commit(trx: Trx, r: PersonalisationRequest, actor: Actor): Promise<void> {
    const made = this.#made.get(r.applicationId);
    this.#made.delete(r.applicationId);
    if (!made?.print) throw new JukiError('JUKI_ERR_INTERNAL', `issuance ${r.applicationId}: no personalisation result to record`);
    const at = this.#o.ctx.now().toISOString();
    for (const e of made.events) {
      await this.#o.ctx.audit.append(trx, {
        type: 'cs.card.step', actor, subject: { kind: 'card', id: r.cardNumber },
        ...(e.outcome === 'failed' ? { outcome: 'error' as const, reason: String(e.detail?.code ?? 'failed') } : {}),
        details: { flow: e.flow, step: e.step, result: e.outcome, serial: r.serial, terminal: r.terminalId },
      });
    }
    await trx.insertInto('cs_print_jobs').values({
      job_id: this.#o.ctx.newId(), card_number: r.cardNumber, application_id: r.applicationId, form: made.print.form, path: made.print.path, sha256: made.print.sha256, created_at: at,
    }).execute();
    await this.#o.ctx.audit.append(trx, {
      type: 'cs.face.print-job', actor, subject: { kind: 'card', id: r.cardNumber },
      details: { application: r.applicationId, form: made.print.form, sha256: made.print.sha256 },
    });
    if (made.jpki) {
      await trx.insertInto('cs_card_jpki').values({ card_number: r.cardNumber, jpki_serial: made.jpki.cardSerial, sign: made.jpki.sign ? 1 : 0, created_at: at }).execute();
    }
  }

  /** The issuance failed: remove the print file; certificates of a JPKI area already made are revoked. */
  async abandon(r: PersonalisationRequest): Promise<void> {
    const made = this.#made.get(r.applicationId);
    this.#made.delete(r.applicationId);
    if (made?.print) rmSync(made.print.path, { force: true });
    if (made?.jpki) await this.#o.jpki?.revokeForCard(made.jpki.cardSerial, 'abolished').catch(() => 0);
  }

  #makerKeys(ref: string): CardKeySource {
    if (this.#o.makerKeys) return this.#o.makerKeys(ref);
    const store = this.#o.lotKeys ?? this.#o.keyStore;
    const name = lotMasterKeyName(ref);
    let master: Uint8Array;
    try {
      master = store.secretKey(name, false);
    } catch {
      throw new JukiError('JUKI_ERR_NOT_FOUND', `transportKeyRef: no lot master ${name} in the key store: the maker's keys were not handed over`, { field: 'transportKeyRef', cardUntouched: true });
    }
    return diversifiedKeySource({ enc: master, mac: master, dek: master }, KEY_DOMAINS.transport, MAKER_TRANSPORT_KVN, 'maker transport');
  }

  /** A relayed transport to the card on the terminal's reader, checked to be the blank card `serial`. Touches nothing. */
  async #cardOn(terminalId: string, serial: string): Promise<CardTransport> {
    const { agent, reader } = await this.#o.terminals.resolve(terminalId);
    await this.#o.presentCard?.(terminalId, serial);
    let transport: CardTransport;
    try {
      await agent.release(reader).catch(() => undefined);
      transport = await relayTransport(agent, reader);
      const { state } = await readIsdFacts(transport);
      if (state.serial !== serial) {
        await transport.close();
        throw new JukiError('JUKI_ERR_CS_WRONG_CARD', `terminal ${terminalId}: the card on reader ${reader} is ${state.serial}, not the blank card ${serial}`, { field: 'serial', serial, found: state.serial, cardUntouched: true });
      }
    } catch (e) {
      if (e instanceof JukiError) throw new JukiError(e.code, e.message, { ...e.details, cardUntouched: true });
      throw e;
    }
    return transport;
  }
}

/** The printed items of a card for a resident. */
export function faceItems(resident: Resident, r: PersonalisationRequest, form: 'form1' | 'form2'): FaceItems {
  const m = municipalities().get(r.issuer);
  return {
    form,
    name: `${resident.name.family} ${resident.name.given}`,
    ...(resident.kana ? { kana: `${resident.kana.family} ${resident.kana.given}` } : {}),
    cardNumber: r.cardNumber,
    municipality: r.issuer,
    ...(m ? { municipalityName: m.name } : {}),
    issuedOn: r.issuedOn,
    validUntil: r.validUntil,
    ...(form === 'form2' ? { birthDate: resident.birthDate, sex: resident.sex, address: resident.address } : {}),
  };
}

function ageOn(birthDate: string, day: string): number {
  const [by, bm, bd] = birthDate.split('-').map(Number) as [number, number, number];
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}

/** After a status change: the jpki role revokes the card's JPKI certificates (lost → keyCompromise, suspended → hold, abolished or collected → cessation). */
export function jpkiRevocationHook(ctx: CsContext, jpki: JpkiRelay): (card: CardRecord, cause: StatusCause) => Promise<void> {
  return async (card, cause) => {
    const jcause = cause === 'lost' ? 'lost' : card.status === 'suspended' ? 'suspended' : card.status === 'abolished' || card.status === 'collected' ? 'abolished' : undefined;
    if (!jcause) return;
    const row = await ctx.database.db.selectFrom('cs_card_jpki').select('jpki_serial').where('card_number', '=', card.cardNumber).executeTakeFirst();
    if (!row) return;
    let n = 0;
    let failed: string | undefined;
    try {
      n = await jpki.revokeForCard(row.jpki_serial, jcause);
    } catch (e) {
      failed = e instanceof JukiError ? e.code : 'JUKI_ERR_INTERNAL';
    }
    await ctx.audit.record({
      type: 'cs.jpki.revoked', actor: { kind: 'system' }, subject: { kind: 'card', id: card.cardNumber },
      ...(failed ? { outcome: 'error' as const, reason: failed } : {}),
      details: { cause: jcause, certificates: n },
    });
  };
}

export interface CounterWithCardsOptions extends CounterOptions, Omit<CounterCardStepsOptions, 'ctx' | 'terminals'> {
  /** The terminal agents connected to this CS, by terminal id. */
  readonly agents: ReadonlyMap<string, TerminalAgentApi>;
}

/** The counter with its real card steps, PIN services and JPKI revocation wired (the municipality role, tests). */
export function openCounterWithCards(database: Database, municipalityCode: string, options: CounterWithCardsOptions): Counter & { readonly steps: CounterCardSteps; readonly pins: PinDesk; readonly operatorCards: OperatorCardDesk } {
  const ctx = csContext(database, municipalityCode, options);
  const terminals = terminalDirectory(ctx, options.agents);
  const steps = new CounterCardSteps({ ...options, ctx, terminals });
  const counter = openCounter(database, municipalityCode, {
    ...options, now: ctx.now, newId: ctx.newId, audit: ctx.audit, outbox: ctx.outbox, register: ctx.register,
    rekey: steps, cardStep: steps,
    pins: (c, status) => new PinDesk(c, { status, terminals, issuerKeys: steps.issuerKeys }),
  });
  if (options.jpki) counter.status.afterChange = jpkiRevocationHook(counter.ctx, options.jpki);
  const operatorCards = new OperatorCardDesk(counter.ctx, { staff: counter.staff, stock: counter.stock, terminals: counter.terminals, cards: steps, rekeyTerminal: options.rekeyTerminal });
  return { ...counter, steps, pins: counter.pins!, operatorCards };
}
