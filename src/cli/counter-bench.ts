/**
 * The embedded counter of `juki up` (docs/counter.md "juki up: the embedded counter"): an
 * in-process terminal agent `counter-1` with one VirtualReader (`counter-1-reader`) and a
 * ScriptedPinPad, a blank-card lot `COUNTER-1` of sealed card images made on first start
 * (`<data dir>/counter-cards/`, their sealing keys and the lot's transport master in the host
 * key store; each card with its JPKI initial set from the JPKI initial master, R5.1), and dev-only routes that stand in for a person's hands: put a card in the reader
 * or pull it, type on the PIN pad, make an operator card, sign in with it.
 *
 * The dev routes exist only in embedded mode (`juki up`); `juki serve` never mounts them. They
 * simulate the physical reader and pad: a PIN typed through them travels in one HTTP body to
 * the pad, which is exactly what a real pad never does, so they are for development and tests.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { Card, CARD_MODULES, cardIdOf, cardSerial, FileBlobStore, manufactureBlankCard, SealedCardStore } from '../card/index.ts';
import { SoftwareKeyStore, type KeyStore, type MasterKeys } from '../crypto/index.ts';
import type { Database } from '../db/index.ts';
import { jpkiInitialMaster, type JpkiAuthority } from '../jpki/index.ts';
import {
  issueOperatorCard, keyStoreKeySource, lotMasterKeyName, MUNICIPALITY_MASTER_KEYS, municipalityCardKeys, readOperatorCard, rekeyBlankCard,
  diversifiedKeySource, MAKER_TRANSPORT_KVN, inProcessJpki, KeyStoreBasicKeyService, openCounterWithCards, type Counter, type CounterOptions, type JpkiRelay,
} from '../cs/index.ts';
import { KEY_DOMAINS } from '../crypto/index.ts';
import { VirtualReader } from '../reader/index.ts';
import { ScriptedPinPad, Terminal } from '../terminal/index.ts';
import { JukiError, toHex } from '../util/index.ts';

export const BENCH_TERMINAL = 'counter-1';
export const BENCH_READER = 'counter-1-reader';
export const BENCH_LOT = 'COUNTER-1';
const OPERATOR_LOT = 'COUNTER-1-OPERATORS';

export interface CounterBench {
  readonly terminal: Terminal;
  readonly reader: VirtualReader;
  readonly pad: ScriptedPinPad;
  /** Every card image on the bench, by serial (upper-case hex). */
  readonly cards: Map<string, Card>;
  /** The serials of the blank-card lot COUNTER-1. */
  readonly lot: readonly string[];
  /** Put the card `serial` in the reader (pulling what was there). */
  put(serial: string): void;
  /** The dev routes, for `/<municipality>/dev`. */
  devPlugin(counter: Counter): FastifyPluginAsync;
  close(): Promise<void>;
}

/** Open (making on first start) the bench's cards in `dir`, sealed under `keyStore`. */
export function openCounterBench(o: {
  keyStore: KeyStore; dir: string; municipality: string; lotSize?: number;
  /**
   * The maker's copy of the JPKI initial master (R5.1): what the jpki side shares with the card
   * maker so the blank cards of lot COUNTER-1 can carry a JPKI area (their initial set, KVN 4F).
   * Without it the lot's cards refuse to install one. Operator cards never get it.
   */
  makerJpkiInitial?: () => MasterKeys;
}): CounterBench {
  mkdirSync(o.dir, { recursive: true });
  // Serials: maker 4A4B, lot <municipality code> 1 (blank cards) or 2 (operator cards), so two municipalities' cards never share a serial (nor a sealing key).
  const blankLot = Number(o.municipality) * 10 + 1;
  const operatorLot = Number(o.municipality) * 10 + 2;
  const cards = new Map<string, Card>();
  const open = (serial: Uint8Array, make?: (store: SealedCardStore) => void): string => {
    const hex = toHex(serial);
    const store = new SealedCardStore({ cardId: cardIdOf(serial), keyStore: o.keyStore, blobs: new FileBlobStore(join(o.dir, `${hex}.card`)) });
    make?.(store);
    cards.set(hex, new Card({ store, types: CARD_MODULES }));
    return hex;
  };
  const manufacture = (lot: string, lotNo: number, seq: number, jpki = false): string => {
    const serial = cardSerial(0x4a4b, lotNo, seq);
    if (existsSync(join(o.dir, `${toHex(serial)}.card`))) return open(serial);
    const master = o.keyStore.secretKey(lotMasterKeyName(lot), true);
    const jpkiInitial = jpki ? o.makerJpkiInitial?.() : undefined;
    try {
      return open(serial, (store) => manufactureBlankCard(store, { serial, transportMaster: { enc: master, mac: master, dek: master }, ...(jpkiInitial ? { jpkiInitial: { master: jpkiInitial } } : {}) }));
    } finally {
      master.fill(0);
      if (jpkiInitial) for (const k of [jpkiInitial.enc, jpkiInitial.mac, jpkiInitial.dek]) k.fill(0);
    }
  };
  const lot: string[] = [];
  for (let i = 1; i <= (o.lotSize ?? 10); i++) lot.push(manufacture(BENCH_LOT, blankLot, i, true));
  // Operator cards made earlier.
  for (const f of readdirSync(o.dir)) {
    const m = /^([0-9A-F]{20})\.card$/.exec(f);
    if (m && !cards.has(m[1]!)) open(new Uint8Array(Buffer.from(m[1]!, 'hex')));
  }
  const reader = new VirtualReader(BENCH_READER);
  const pad = new ScriptedPinPad();
  const terminal = new Terminal({ id: BENCH_TERMINAL, readers: [reader], pinPad: pad });
  const put = (serial: string) => {
    const card = cards.get(serial);
    if (!card) throw new JukiError('JUKI_ERR_NOT_FOUND', `serial: no card ${serial} on the bench`, { field: 'serial' });
    if (reader.device === card) return;
    reader.remove();
    reader.insert(card);
  };
  const inReader = () => [...cards.entries()].find(([, c]) => c === reader.device)?.[0] ?? null;

  return {
    terminal, reader, pad, cards, lot, put,
    devPlugin(counter) {
      return async (app) => {
        const ok = Type.Object({ ok: Type.Boolean() });
        const SerialS = Type.String({ pattern: '^[0-9A-F]{20}$' });
        app.get(`/${BENCH_TERMINAL}/cards`, {
          schema: { tags: ['dev'], summary: 'Embedded mode only: the bench\'s card images and the card in the reader', response: { 200: Type.Object({ reader: Type.Union([Type.String(), Type.Null()]), lot: Type.Array(Type.String()), cards: Type.Array(Type.String()) }) } },
        }, async () => ({ reader: inReader(), lot: [...lot], cards: [...cards.keys()] }));
        app.post(`/${BENCH_TERMINAL}/reader/insert`, {
          schema: { tags: ['dev'], summary: 'Embedded mode only: put a card in the terminal\'s reader', body: Type.Object({ serial: SerialS }, { additionalProperties: false }), response: { 200: ok } },
        }, async (req) => {
          put((req.body as { serial: string }).serial);
          await terminal.release(BENCH_READER);
          return { ok: true };
        });
        app.post(`/${BENCH_TERMINAL}/reader/remove`, { schema: { tags: ['dev'], summary: 'Embedded mode only: pull the card out of the reader', response: { 200: ok } } }, async () => {
          reader.remove();
          await terminal.release(BENCH_READER);
          return { ok: true };
        });
        app.post(`/${BENCH_TERMINAL}/pin-pad/type`, {
          schema: {
            tags: ['dev'], summary: 'Embedded mode only: a person types one entry on the PIN pad and presses OK (or cancel); the pad queues it until asked',
            body: Type.Object({ keys: Type.Optional(Type.String({ pattern: '^[0-9A-Z]{1,16}$' })), cancel: Type.Optional(Type.Boolean()) }, { additionalProperties: false }), response: { 200: ok },
          },
        }, async (req) => {
          const b = req.body as { keys?: string; cancel?: boolean };
          if (b.cancel) pad.type({ cancel: true });
          else if (b.keys) pad.type(b.keys);
          else throw new JukiError('JUKI_ERR_INVALID_INPUT', 'body: expected keys or cancel', { field: 'keys' });
          return { ok: true };
        });
        app.post(`/${BENCH_TERMINAL}/operator-cards`, {
          schema: {
            tags: ['dev'],
            summary: 'Embedded mode only: make an operator card for a staff member on the reader (type the operator PIN on the pad twice first); with firstAdministrator, enrol them as the first administrator',
            body: Type.Object({ staffId: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$' }), name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })), firstAdministrator: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
            response: { 200: Type.Object({ serial: Type.String(), staffId: Type.String(), publicKey: Type.String() }) },
          },
        }, async (req) => {
          const b = req.body as { staffId: string; name?: string; firstAdministrator?: boolean };
          const seq = [...cards.keys()].filter((s) => s.startsWith(toHex(cardSerial(0x4a4b, operatorLot, 0)).slice(0, 12))).length + 1;
          const serial = manufacture(OPERATOR_LOT, operatorLot, seq);
          put(serial);
          await terminal.release(BENCH_READER);
          const keys = municipalityCardKeys(o.keyStore);
          const relay = await terminal.relay(BENCH_READER);
          const master = o.keyStore.secretKey(lotMasterKeyName(OPERATOR_LOT), false);
          try {
            await rekeyBlankCard(relay, { makerTransport: diversifiedKeySource({ enc: master, mac: master, dek: master }, KEY_DOMAINS.transport, MAKER_TRANSPORT_KVN), municipalityTransport: keys.transport });
          } finally {
            master.fill(0);
          }
          await issueOperatorCard(relay, { staffId: b.staffId, transportKeys: keys.transport, issuerKeys: keys.issuer, operatorKeys: keyStoreKeySource(o.keyStore, MUNICIPALITY_MASTER_KEYS.issuer, 'operator', 0x31) });
          const set = await terminal.setPin(BENCH_READER, 'operator', `Set the operator PIN of ${b.staffId} (4 to 8 digits)`);
          if (set.kind !== 'set') throw new JukiError('JUKI_ERR_CS_PIN_NOT_SET', `operator card ${serial}: the operator PIN was not set on the pad (${set.kind})`, { outcome: set.kind });
          const card = await readOperatorCard(relay);
          if (b.firstAdministrator) await counter.staff.enrollFirstAdministrator({ staffId: b.staffId, name: b.name ?? b.staffId, cardSerial: serial, publicKey: card.publicKey });
          return { serial, staffId: b.staffId, publicKey: card.publicKey };
        });
        app.post(`/${BENCH_TERMINAL}/login`, {
          schema: {
            tags: ['dev'], summary: 'Embedded mode only: sign in with the operator card in the reader (type its PIN on the pad first): challenge, the card signs, login',
            body: Type.Object({ staffId: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }), terminalId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' })) }, { additionalProperties: false }),
            response: { 200: Type.Object({ token: Type.String(), staffId: Type.String(), role: Type.String(), terminalId: Type.Union([Type.String(), Type.Null()]), expiresAt: Type.String() }) },
          },
        }, async (req) => {
          const b = req.body as { staffId: string; terminalId?: string };
          const c = await counter.staff.challenge(b.staffId);
          const signed = await terminal.operatorLogin(BENCH_READER, new Uint8Array(Buffer.from(c.challenge, 'base64')));
          if (signed.kind !== 'signed') throw new JukiError('JUKI_ERR_CS_LOGIN_FAILED', `login: the operator card did not sign (${signed.kind})`, { field: 'staffId' });
          return counter.staff.login({ challengeId: c.challengeId, signature: Buffer.from(signed.signature).toString('base64'), ...(b.terminalId ? { terminalId: b.terminalId } : {}) });
        });
      };
    },
    async close() {
      await terminal.close();
      reader.remove();
    },
  };
}

/** What the roles of one embedded process (`juki up`) share in-process: filled as they are mounted. */
export interface EmbeddedServices {
  /** The jpki node's CA and key store (mounted after the municipalities: looked up at each call). */
  jpki?: { authority: JpkiAuthority; hostKeys: KeyStore };
}

/** The jpki role in this process, looked up when a card needs it. */
function lazyJpki(local: EmbeddedServices): JpkiRelay {
  const get = () => {
    if (!local.jpki) throw new JukiError('JUKI_ERR_READER', 'the jpki node is not running in this process: the JPKI area cannot be personalised or revoked here');
    return inProcessJpki(local.jpki);
  };
  return {
    personalise: (transport, holder) => get().personalise(transport, holder),
    revokeForCard: (serial, cause) => get().revokeForCard(serial, cause),
  };
}

/**
 * The municipality's counter in embedded mode: the real card steps over the bench's in-process
 * terminal `counter-1`, keys from the host key store (the municipality's transport and issuer
 * masters; the national center's basic-area masters, in-process: `juki serve` asks the national
 * node over mutual TLS instead), the jpki node in-process, print jobs under `<data dir>/print`.
 */
export function openEmbeddedCounter(o: {
  database: Database; code: string; keystoreDir: string; dataDir: string; local: EmbeddedServices; books: Pick<CounterOptions, 'audit' | 'register'>;
}): { counter: Counter; bench: CounterBench; close(): Promise<void> } {
  const hostKeys = new SoftwareKeyStore(o.keystoreDir);
  // The process plays the card maker too: it gets the JPKI initial master the jpki side shares with makers
  // (embedded mode: one key store for every role; the jpki role's own masters never reach the counter's code).
  const bench = openCounterBench({ keyStore: hostKeys, dir: join(o.dataDir, `counter-cards-${o.code}`), municipality: o.code, makerJpkiInitial: () => jpkiInitialMaster(hostKeys) });
  const counter = openCounterWithCards(o.database, o.code, {
    ...o.books,
    agents: new Map([[BENCH_TERMINAL, bench.terminal]]),
    keyStore: hostKeys,
    basicKeys: new KeyStoreBasicKeyService(hostKeys),
    rekeyTerminal: BENCH_TERMINAL,
    presentCard: async (_terminal, serial) => {
      if (bench.cards.has(serial)) bench.put(serial);
    },
    jpki: lazyJpki(o.local),
    printDir: join(o.dataDir, `print-${o.code}`),
  });
  return {
    counter, bench,
    close: async () => {
      await bench.close();
      hostKeys.close();
    },
  };
}
