/**
 * A counter in one process for the card-flow tests: a national center's key store and basic
 * key service, a municipality CS's key store, a maker's delivery lot, blank cards made with the
 * lot's per-card transport keys, a terminal agent with a VirtualReader and a ScriptedPinPad,
 * and a logging relay that records everything the server side sends and receives.
 */
import { randomBytes } from 'node:crypto';
import { Card, CARD_MODULES, cardSerial, manufactureBlankCard, MemoryCardStore, cardIdOf } from '../../src/card/index.ts';
import { diversifyKeySet, KEY_DOMAINS, MemoryKeyStore, type MasterKeys, type Scp03StaticKeys } from '../../src/crypto/index.ts';
import { InProcessTransport, VirtualReader, type CardTransport } from '../../src/reader/index.ts';
import {
  BASIC_AID, BASIC_KVN, BASIC_MASTER_KEYS, diversifiedKeySource, KeyStoreBasicKeyService, municipalityCardKeys, rekeyBlankCard, ISD_AID,
  type CardFlowEvent, type CardKeySource, type BasicAreaData, type PersonalisationPlan,
} from '../../src/cs/index.ts';
import { ScriptedPinPad, Terminal, type RelayRecord } from '../../src/terminal/index.ts';
import { JukiError } from '../../src/util/index.ts';

export const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'ascii'));
export const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();

/** Whether `needle` occurs in `hay`. */
export function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).indexOf(Buffer.from(needle)) >= 0;
}

export const PERSON: BasicAreaData = {
  residentCode: '31415926535',
  cardNumber: 'JK0000000000A123',
  municipality: '131016',
  issued: '20250401',
  expires: '20350401',
  faceRecord: ascii('FACE:signed-by-131016:Yamada Hanako:1990-01-01:' + 'x'.repeat(40)),
};

let serialSeq = 1;

/** A transport that records every command and response the server side exchanges. */
export class LoggingTransport implements CardTransport {
  readonly commands: Uint8Array[] = [];
  readonly responses: Uint8Array[] = [];
  constructor(
    private readonly inner: CardTransport,
    private readonly tamper?: (apdu: Uint8Array, index: number) => Uint8Array,
    private readonly tamperResponse?: (r: Uint8Array, index: number) => Uint8Array,
  ) {}
  get atr(): Uint8Array {
    return this.inner.atr;
  }
  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    const i = this.commands.length;
    const sent = this.tamper ? this.tamper(apdu.slice(), i) : apdu;
    this.commands.push(sent.slice());
    let r = await this.inner.transmit(sent);
    if (this.tamperResponse) r = this.tamperResponse(r.slice(), i);
    this.responses.push(r.slice());
    return r;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  /** Everything seen, one buffer. */
  all(): Uint8Array {
    return Buffer.concat([...this.commands, ...this.responses]);
  }
}

/** A transport to a card that loses power at command `cutAt` (0-based): before the card sees it, or after it answered. */
export class CuttingTransport implements CardTransport {
  count = 0;
  constructor(
    private readonly card: Card,
    private readonly inner: CardTransport,
    private readonly cutAt: number,
    private readonly mode: 'before' | 'after',
  ) {}
  get atr(): Uint8Array {
    return this.inner.atr;
  }
  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    const n = this.count++;
    if (n === this.cutAt && this.mode === 'before') {
      this.card.powerOff();
      throw new JukiError('JUKI_ERR_READER', 'power cut (test)');
    }
    const r = await this.inner.transmit(apdu);
    if (n === this.cutAt) {
      this.card.powerOff();
      throw new JukiError('JUKI_ERR_READER', 'power cut after the card answered (test)');
    }
    return r;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface Counter {
  national: MemoryKeyStore;
  basicService: KeyStoreBasicKeyService;
  cs: MemoryKeyStore;
  keys: { transport: CardKeySource; issuer: CardKeySource };
  makerMaster: MasterKeys;
  maker: CardKeySource;
  events: CardFlowEvent[];
  plan(data?: BasicAreaData): PersonalisationPlan;
  /** A blank card straight from the maker (maker transport keys), powered on. */
  blankCard(): { card: Card; serial: Uint8Array };
  /** A blank card re-keyed to the municipality's transport keys. */
  rekeyedCard(): Promise<{ card: Card; serial: Uint8Array }>;
  /** The national center's view of one card's basic keys (to check what the card got). */
  basicKeysOf(serial: Uint8Array): Scp03StaticKeys;
}

export function counter(): Counter {
  const national = new MemoryKeyStore();
  const cs = new MemoryKeyStore();
  const makerMaster: MasterKeys = { enc: new Uint8Array(randomBytes(32)), mac: new Uint8Array(randomBytes(32)), dek: new Uint8Array(randomBytes(32)) };
  const maker = diversifiedKeySource(makerMaster, KEY_DOMAINS.transport, 0xff, 'maker transport');
  const keys = municipalityCardKeys(cs);
  const events: CardFlowEvent[] = [];
  const basicService = new KeyStoreBasicKeyService(national);
  const c: Counter = {
    national,
    basicService,
    cs,
    keys,
    makerMaster,
    maker,
    events,
    plan: (data = PERSON) => ({ data, transportKeys: keys.transport, issuerKeys: keys.issuer, basicKeys: basicService, observer: (e) => events.push(e) }),
    blankCard() {
      const serial = cardSerial(0x4a4b, 2025, serialSeq++);
      const store = new MemoryCardStore(cardIdOf(serial));
      manufactureBlankCard(store, { serial, transportKeys: diversifyKeySet(makerMaster, serial, KEY_DOMAINS.transport, 0xff) });
      const card = new Card({ store, types: CARD_MODULES });
      card.powerOn();
      return { card, serial };
    },
    async rekeyedCard() {
      const made = c.blankCard();
      await rekeyBlankCard(new InProcessTransport(made.card, { powerOffOnClose: false }), { makerTransport: maker, municipalityTransport: keys.transport });
      return made;
    },
    basicKeysOf(serial) {
      const m = { enc: national.secretKey(BASIC_MASTER_KEYS.enc), mac: national.secretKey(BASIC_MASTER_KEYS.mac), dek: national.secretKey(BASIC_MASTER_KEYS.dek) };
      return diversifyKeySet(m, serial, KEY_DOMAINS.basic, BASIC_KVN);
    },
  };
  return c;
}

/** A terminal with one in-process reader holding `card`, a scripted pad, and the relay log. */
export function terminalWith(card: Card, name = 'counter-1') {
  const reader = new VirtualReader(name);
  reader.insert(card);
  const pad = new ScriptedPinPad();
  const relayed: RelayRecord[] = [];
  const terminal = new Terminal({ id: 'terminal:131016-counter-1', readers: [reader], pinPad: pad, onRelay: (r) => relayed.push(r) });
  return { reader, pad, terminal, relayed };
}

export { BASIC_AID, ISD_AID };
