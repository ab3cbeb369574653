/**
 * A whole municipal counter in one process for the end-to-end tests: the municipality's books
 * on a test database (SQLite, or PostgreSQL under JUKI_TEST_DB) with the real card steps, a
 * national center's key store for the basic-area keys, a jpki node (its own database, CA and
 * key store), a maker's delivery lot of blank cards, a terminal agent `T1` with one
 * VirtualReader and a ScriptedPinPad, and the counter API on Fastify with a log captured line
 * by line. Every HTTP answer is kept, for the PIN-leak checks.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { AuditLog } from '../../src/audit/index.ts';
import { Card, CARD_MODULES, cardIdOf, cardSerial, manufactureBlankCard, MemoryCardStore } from '../../src/card/index.ts';
import { MemoryKeyStore } from '../../src/crypto/index.ts';
import {
  counterHttpPlugin, inProcessJpki, issueOperatorCard, readOperatorCard, KeyStoreBasicKeyService, keyStoreKeySource, lotMasterKeyName, MUNICIPALITY_MASTER_KEYS,
  municipalityCardKeys, openCounterWithCards, rekeyBlankCard, diversifiedKeySource, MAKER_TRANSPORT_KVN, type Counter, type JpkiRelay,
} from '../../src/cs/index.ts';
import { KEY_DOMAINS } from '../../src/crypto/index.ts';
import type { Database } from '../../src/db/index.ts';
import { JpkiAuthority, jpkiInitialMaster, SoftwareSigningKeyStore } from '../../src/jpki/index.ts';
import { VirtualReader, type CardTransport } from '../../src/reader/index.ts';
import { ScriptedPinPad, Terminal, type TerminalAgentApi } from '../../src/terminal/index.ts';
import { resident } from './fixtures.ts';

export const P = '/municipality-131016';
export const CODE = '131016';
export const TERMINAL = 'T1';
export const READER = 'reader-1';

/** An agent that records every APDU a server relays through it (to prove no PIN byte passes). */
export class RecordingAgent implements TerminalAgentApi {
  readonly relayed: Uint8Array[] = [];
  constructor(readonly inner: Terminal) {}
  get terminalId(): string {
    return this.inner.terminalId;
  }
  readers() { return this.inner.readers(); }
  connect(r: string) { return this.inner.connect(r); }
  async transmit(r: string, apdu: Uint8Array) {
    this.relayed.push(apdu.slice());
    const answer = await this.hook?.(apdu);
    if (answer) return answer;
    return this.inner.transmit(r, apdu);
  }
  setPin(...a: Parameters<Terminal['setPin']>) { return this.inner.setPin(...a); }
  verifyPin(...a: Parameters<Terminal['verifyPin']>) { return this.inner.verifyPin(...a); }
  operatorLogin(r: string, c: Uint8Array) { return this.inner.operatorLogin(r, c); }
  release(r: string) { return this.inner.release(r); }
  /** A test may intercept relayed commands (e.g. to hang one: a crash mid-personalisation). */
  hook: ((apdu: Uint8Array) => Promise<Uint8Array | undefined>) | undefined;
}

export interface E2e {
  readonly database: Database;
  readonly jpkiDb: Database;
  readonly counter: Counter & { pins: NonNullable<Counter['pins']> };
  readonly authority: JpkiAuthority;
  readonly app: FastifyInstance;
  readonly reader: VirtualReader;
  readonly pad: ScriptedPinPad;
  readonly terminal: Terminal;
  readonly agent: RecordingAgent;
  readonly cards: Map<string, Card>;
  readonly logLines: string[];
  readonly responses: string[];
  readonly printDir: string;
  readonly csKeys: MemoryKeyStore;
  /** The jpki node's key store (its JPKI masters, and the initial master it shares with the card maker). Never the CS's. */
  readonly jpkiKeys: MemoryKeyStore;
  /** Make `n` blank cards of a lot (the maker), the lot master handed over into the CS key store. */
  deliver(lot: string, n: number): string[];
  /** Put a card on the terminal's reader (pulling what was there); the card feeder the books call. A test may replace it. */
  put: (serial: string) => void;
  /** put, then end the terminal's session on the reader so the next command powers the new card up. */
  swap(serial: string): Promise<void>;
  call(method: 'GET' | 'POST', url: string, token?: string, payload?: unknown): Promise<{ status: number; body: any }>;
  /** Issue an operator card to `staffId` at the terminal: personalised, operator PIN set on the pad. Returns serial and public key. */
  operatorCard(staffId: string, pin: string): Promise<{ serial: string; publicKey: string }>;
  /** Sign in at the terminal with the operator card on the reader and the PIN on the pad. */
  signIn(staffId: string, serial: string, pin: string, atTerminal?: boolean): Promise<string>;
  close(): Promise<void>;
}

let lotSeq = 100;

export async function openE2e(database: Database, jpkiDb: Database, options: { jpki?: JpkiRelay; wrapJpki?: (relay: JpkiRelay) => JpkiRelay } = {}): Promise<E2e> {
  const csKeys = new MemoryKeyStore();
  const national = new MemoryKeyStore();
  const jpkiHostKeys = new MemoryKeyStore();
  const signing = SoftwareSigningKeyStore.inMemory();
  const authority = await JpkiAuthority.open({ database: jpkiDb, audit: new AuditLog(jpkiDb, 'jpki'), keys: signing, baseUrl: 'http://jpki.juki.test/jpki' });
  const reader = new VirtualReader(READER);
  const pad = new ScriptedPinPad();
  const terminal = new Terminal({ id: TERMINAL, readers: [reader], pinPad: pad });
  const agent = new RecordingAgent(terminal);
  const cards = new Map<string, Card>();
  const printDir = mkdtempSync(join(tmpdir(), 'juki-print-'));
  const put = (serial: string) => {
    if (reader.device === cards.get(serial)) return;
    reader.remove();
    const card = cards.get(serial);
    assert.ok(card, `no card ${serial}`);
    reader.insert(card);
  };
  const counter = openCounterWithCards(database, CODE, {
    agents: new Map([[TERMINAL, agent]]),
    keyStore: csKeys,
    basicKeys: new KeyStoreBasicKeyService(national),
    rekeyTerminal: TERMINAL,
    presentCard: async (_t, serial) => e.put(serial),
    jpki: (options.wrapJpki ?? ((r: JpkiRelay) => r))(options.jpki ?? inProcessJpki({ authority, hostKeys: jpkiHostKeys })),
    printDir,
  });
  const logLines: string[] = [];
  const responses: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } });
  const app = Fastify({ logger: { level: 'trace', stream } });
  await app.register((await import('@fastify/swagger')).default, { openapi: { openapi: '3.1.0', info: { title: 'juki', version: 'test' } } });
  await app.register(counterHttpPlugin(counter), { prefix: P });
  await app.ready();
  const e: E2e = {
    database, jpkiDb, counter: counter as E2e['counter'], authority, app, reader, pad, terminal, agent, cards, logLines, responses, printDir, csKeys, jpkiKeys: jpkiHostKeys,
    deliver(lot, n) {
      const master = csKeys.secretKey(lotMasterKeyName(lot), true);
      const jpkiInitial = jpkiInitialMaster(jpkiHostKeys);
      const lotNo = lotSeq++;
      const serials: string[] = [];
      for (let i = 1; i <= n; i++) {
        const serial = cardSerial(0x4a4b, lotNo, i);
        const store = new MemoryCardStore(cardIdOf(serial));
        // The maker also puts the JPKI initial set on each card, from the initial master the jpki side shared for the lot (R5.1).
        manufactureBlankCard(store, { serial, transportMaster: { enc: master, mac: master, dek: master }, jpkiInitial: { master: jpkiInitial } });
        const hex = Buffer.from(serial).toString('hex').toUpperCase();
        cards.set(hex, new Card({ store, types: CARD_MODULES }));
        serials.push(hex);
      }
      master.fill(0);
      for (const k of [jpkiInitial.enc, jpkiInitial.mac, jpkiInitial.dek]) k.fill(0);
      return serials;
    },
    put,
    async swap(serial) {
      e.put(serial);
      await terminal.release(READER);
    },
    async call(method, url, token, payload) {
      const r = await app.inject({ method, url: `${P}${url}`, ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}), ...(payload !== undefined ? { payload: payload as object } : {}) });
      responses.push(r.body);
      return { status: r.statusCode, body: r.body ? r.json() : undefined };
    },
    async operatorCard(staffId, pin) {
      // The administrator's desk: a blank card from the maker, re-keyed, personalised as an operator card.
      const [serial] = e.deliver(`OPS-${staffId}`, 1) as [string];
      await e.swap(serial);
      const master = csKeys.secretKey(lotMasterKeyName(`OPS-${staffId}`), false);
      const keys = municipalityCardKeys(csKeys);
      const relay: CardTransport = await terminal.relay(READER);
      await rekeyBlankCard(relay, { makerTransport: diversifiedKeySource({ enc: master, mac: master, dek: master }, KEY_DOMAINS.transport, MAKER_TRANSPORT_KVN), municipalityTransport: keys.transport });
      const op = await issueOperatorCard(relay, {
        staffId, transportKeys: keys.transport, issuerKeys: keys.issuer, operatorKeys: keyStoreKeySource(csKeys, MUNICIPALITY_MASTER_KEYS.issuer, 'operator', 0x31),
      });
      pad.type(pin);
      pad.type(pin);
      const set = await terminal.setPin(READER, 'operator');
      assert.equal(set.kind, 'set');
      const pub = await readOperatorCard(relay);
      assert.equal(pub.staffId, staffId);
      return { serial: op.serial, publicKey: pub.publicKey };
    },
    async signIn(staffId, serial, pin, atTerminal = true) {
      await e.swap(serial);
      const c = await e.call('POST', '/login/challenge', undefined, { staffId });
      assert.equal(c.status, 200);
      pad.type(pin);
      const signed = await terminal.operatorLogin(READER, new Uint8Array(Buffer.from(c.body.challenge, 'base64')));
      assert.equal(signed.kind, 'signed', JSON.stringify(signed));
      const r = await e.call('POST', '/login', undefined, { challengeId: c.body.challengeId, signature: Buffer.from((signed as { signature: Uint8Array }).signature).toString('base64'), ...(atTerminal ? { terminalId: TERMINAL } : {}) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.token as string;
    },
    async close() {
      await app.close();
      await terminal.close();
      await signing.close();
    },
  };
  return e;
}

/** Register residents in the municipality's register. */
export async function residents(e: E2e, codes: string[]): Promise<void> {
  for (const code of codes) await e.counter.ctx.register.register(resident(code), { reason: 'entry', date: '2020-04-01' });
}

/** Every row of every table of a database, as text. */
export async function dumpAll(database: Database): Promise<string> {
  // On PostgreSQL, this test's schema only (the server holds other tests' schemas too).
  const schema = database.dialect === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(database.db)).rows[0]!.s : undefined;
  const tables = (await database.db.introspection.getTables()).filter((t) => schema === undefined || t.schema === schema).map((t) => t.name);
  const out: string[] = [];
  for (const t of tables) {
    const rows = await database.db.selectFrom(t as never).selectAll().execute();
    out.push(`== ${t}\n${JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))}`);
  }
  return out.join('\n');
}

/** Whether `pin` occurs in `text` as a token of its own (not inside a longer run of letters, digits, base64 or hex). */
export function pinToken(text: string, pin: string): boolean {
  return new RegExp(`(?<![0-9A-Za-z+/=_-])${pin}(?![0-9A-Za-z+/=_-])`).test(text);
}
