/**
 * Agency verification with the card, end to end on an in-process Juki-net (R4.2.1, R4.2.2): the
 * agency desk's terminal (virtual reader + scripted PIN pad), the national center's card
 * reading through that terminal's relay with the basic-area masters of its key store, the
 * agency's notice list, the identity-record query.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AgencyCardDesk, AgencyVerifier, type CardVerificationResult } from '../../src/agency/index.ts';
import { AuditLog } from '../../src/audit/index.ts';
import { MemoryKeyStore } from '../../src/crypto/index.ts';
import { onCardNumber, personaliseCard, BASIC_MASTER_KEYS } from '../../src/cs/index.ts';
import {
  InProcessCardReading, NationalCardReader, NATIONAL_BASIC_MASTER_KEYS, type CardReadingClient, type CardRelay, type CardStatus, type QueryClient,
} from '../../src/net/index.ts';
import { InProcessTransport, VirtualReader } from '../../src/reader/index.ts';
import { PIN_APPLICATIONS, ScriptedPinPad, Terminal, selectApplication, type TerminalAgentApi } from '../../src/terminal/index.ts';
import { JukiError } from '../../src/util/index.ts';
import { identityRecord, startTestNetwork, type TestNetwork } from '../net/harness.ts';
import { ascii, contains, counter, hexOf } from '../cs/card-flows-fixture.ts';

const SPECS = [
  { role: 'national' }, { role: 'prefecture', code: '13' }, { role: 'municipality', code: '131016' },
  { role: 'agency', code: 'passport' }, { role: 'agency', code: 'pension' },
] as const;
const ALICE = '10000000017';
const PIN = '4821';
const AFFAIR = 'agency.passport-issuance';
const AGENCY = 'agency-passport';

/** A relay in front of the terminal that logs every byte crossing it and may tamper with them. */
class Wiretap implements CardRelay {
  readonly commands: Uint8Array[] = [];
  readonly responses: Uint8Array[] = [];
  flipCommand?: (apdu: Uint8Array) => boolean;
  flipResponse?: (apdu: Uint8Array, r: Uint8Array) => boolean;
  constructor(readonly inner: TerminalAgentApi) {}
  get terminalId() {
    return this.inner.terminalId;
  }
  connect(reader: string) {
    return this.inner.connect(reader);
  }
  async transmit(reader: string, apdu: Uint8Array): Promise<Uint8Array> {
    const sent = apdu.slice();
    if (this.flipCommand?.(sent)) sent[sent.length - 2]! ^= 0x01;
    this.commands.push(sent);
    const r = (await this.inner.transmit(reader, sent)).slice();
    if (r.length > 4 && this.flipResponse?.(sent, r)) r[0]! ^= 0x80;
    this.responses.push(r);
    return r;
  }
  all(): Uint8Array {
    return Buffer.concat([...this.commands, ...this.responses]);
  }
}

interface Desk {
  pad: ScriptedPinPad;
  terminal: Terminal;
  tap: Wiretap;
  order: string[];
  desk: AgencyCardDesk;
}

describe('agency verification with the card (in-process Juki-net)', () => {
  let net: TestNetwork;
  let c: ReturnType<typeof counter>;
  let reading: InProcessCardReading;
  let serial: Uint8Array;
  let cardNumber: string;
  let card: ReturnType<ReturnType<typeof counter>['blankCard']>['card'];
  let version = 0;

  before(async () => {
    net = await startTestNetwork('in-process', SPECS);
    c = counter();
    // The national center's key store holds the basic-area masters; the counter's personalisation got this card's keys from it.
    const made = await c.rekeyedCard();
    card = made.card;
    serial = made.serial;
    cardNumber = `131016-${hexOf(serial)}`;
    await personaliseCard(new InProcessTransport(card, { powerOffOnClose: false }), c.plan({
      residentCode: ALICE, cardNumber: onCardNumber(hexOf(serial)), municipality: '131016', issued: '20250401', expires: '20350331', faceRecord: ascii('FACE:test'),
    }));
    reading = new InProcessCardReading(net.pki.caPem);
    const national = net.node('national');
    reading.serve('national', new NationalCardReader({ keyStore: c.national, audit: new AuditLog(national.db, 'national') }));
    // The municipality announces the holder's identity record and the card active.
    const m = net.node('municipality-131016');
    await m.db.transaction((trx) => m.net.net.outbox.enqueue(trx, {
      type: 'identity.changed', from: 'municipality-131016', to: 'prefecture-13', body: { residentCode: ALICE, municipality: '131016', version: 1, record: identityRecord(ALICE, '131016') },
    }));
    await announce('active');
    await net.pump();
    // The holder set the PIN at issuance.
    const d = desk();
    d.pad.type(PIN);
    d.pad.type(PIN);
    assert.deepEqual(await d.terminal.setPin('reader-1', 'basic'), { kind: 'set' });
    await d.terminal.close();
  });

  after(async () => {
    await net.close();
  });

  async function announce(status: CardStatus): Promise<void> {
    const m = net.node('municipality-131016');
    version++;
    await m.db.transaction((trx) => m.net.net.outbox.enqueue(trx, {
      type: 'card.status', from: 'municipality-131016', to: 'prefecture-13',
      body: { cardNumber, status, issuer: '131016', version, changedAt: new Date(net.now).toISOString(), residentCode: ALICE },
    }));
  }

  /** An agency desk: terminal with the card in its reader, a wiretapped relay, calls recorded in order. */
  function desk(o: { agency?: string; client?: CardReadingClient; faults?: { skipNoticeList?: boolean } } = {}): Desk {
    const agencyId = o.agency ?? AGENCY;
    const reader = new VirtualReader('reader-1');
    card.powerOff();
    reader.insert(card);
    const pad = new ScriptedPinPad();
    const terminal = new Terminal({ id: `terminal:${agencyId}-desk-1`, readers: [reader], pinPad: pad });
    const tap = new Wiretap(terminal);
    const order: string[] = [];
    const agency = net.node(agencyId);
    const spec = SPECS.find((s) => `agency-${'code' in s ? s.code : ''}` === agencyId)!;
    const base = o.client ?? reading.connect(net.pki.credentials(spec).certPem);
    const cardReading: CardReadingClient = { read: async (to, r) => { order.push('read'); return base.read(to, { ...r, relay: tap }); } };
    const queries: QueryClient = {
      query: async (to, q) => { order.push('record'); return agency.net.net.queries.query(to, q); },
      close: async () => {},
    };
    const audit = agency.net.net.audit;
    const list = agency.net.net.agency!.list;
    const listed = Object.create(list, { forCard: { value: async (n: string) => { order.push('notices'); return list.forCard(n); } } });
    const verifier = o.faults ? AgencyCardDesk.verifierFor({ list, queries, audit, db: () => agency.db.db, faults: o.faults }) : new AgencyVerifier({ list: listed, queries, audit });
    const recordingTerminal: TerminalAgentApi = Object.assign(Object.create(terminal), {
      verifyPin: async (r: string, app: 'basic', prompt?: string) => { order.push('pin'); return terminal.verifyPin(r, app, prompt); },
    });
    return { pad, terminal, tap, order, desk: new AgencyCardDesk({ terminal: recordingTerminal, reader: 'reader-1', cardReading, verifier, audit }) };
  }

  async function nationalAudit(type: string) {
    const entries = await new AuditLog(net.node('national').db, 'national').list({ limit: 1000 });
    return entries.filter((e) => e.type === type);
  }

  const failed = (r: CardVerificationResult) => (r.accepted ? 'accepted' : r.failedAt);

  test('[R4.2.1] the holder\'s PIN goes from the pad to the card locally, the national center reads the resident code under its own channel, and the relay never sees either in clear', async () => {
    const d = desk();
    d.pad.type(PIN);
    const r = await d.desk.verify(AFFAIR);
    assert.equal(r.accepted, true, JSON.stringify(r));
    assert.deepEqual(d.order, ['pin', 'read', 'notices', 'record']);
    assert.deepEqual(r.steps.map((s) => s.step), ['pin', 'read', 'notices', 'record']);
    if (r.accepted) {
      assert.equal(r.card.residentCode, ALICE);
      assert.equal(r.card.cardNumber, cardNumber);
      assert.equal(r.record.residentCode, ALICE);
    }
    // What crossed the relay: the channel's commands only, no SELECT, no VERIFY, no PIN, no resident code.
    assert.ok(d.tap.commands.length >= 5);
    assert.equal(hexOf(d.tap.commands[0]!).slice(0, 8), '80503000', 'the first relayed command opens the basic area\'s channel (KVN 30)');
    assert.ok(d.tap.commands.slice(2).every((a) => (a[0]! & 0x04) === 0x04), 'every command after EXTERNAL AUTHENTICATE is under secure messaging');
    assert.ok(d.tap.commands.every((a) => a[1] !== 0x20 && a[1] !== 0xa4), 'no VERIFY or SELECT was relayed');
    assert.ok(!contains(d.tap.all(), ascii(ALICE)), 'the resident code crossed the relay in clear');
    assert.ok(!contains(d.tap.all(), ascii(PIN)), 'the PIN crossed the relay');
    assert.ok(!JSON.stringify(r.steps).includes(ALICE) && !JSON.stringify(r.steps).includes(PIN));
    const reads = await nationalAudit('net.card.read');
    assert.equal(reads.at(-1)!.outcome, 'success');
    assert.equal(reads.at(-1)!.actor, `node:${AGENCY}`);
    await d.terminal.close();
  });

  test('[R4.2.1] without the PIN verified no basic-area data leaves the card: the flow stops at the pad, and a national read without it gets 69 82', async () => {
    const d = desk();
    d.pad.type({ cancel: true });
    const before = (await nationalAudit('net.card.read')).length;
    const r = await d.desk.verify(AFFAIR);
    assert.equal(failed(r), 'pin');
    assert.deepEqual(d.order, ['pin'], 'nothing after the PIN step ran');
    assert.equal(d.tap.commands.length, 0, 'nothing was relayed');
    assert.equal((await nationalAudit('net.card.read')).length, before);
    // The card itself: the national center's channel opens, but the resident code is refused without the PIN.
    const client = reading.connect(net.pki.credentials({ role: 'agency', code: 'passport' }).certPem);
    const tap = new Wiretap(d.terminal);
    await d.terminal.release('reader-1');
    assert.equal(await selectApplication(await d.terminal.localTransport('reader-1'), PIN_APPLICATIONS.basic.aid), 0x9000, 'the basic area selected, no PIN');
    await assert.rejects(client.read('national', { affair: AFFAIR, relay: tap, reader: 'reader-1' }), (e: unknown) => e instanceof JukiError && e.code === 'JUKI_ERR_CARD_STATUS' && e.details.sw === '6982');
    assert.ok(!contains(tap.all(), ascii(ALICE)));
    assert.equal((await nationalAudit('net.card.read')).at(-1)!.outcome, 'error');
    // A wrong PIN also stops at the pad.
    const w = desk();
    w.pad.type('0000');
    const wr = await w.desk.verify(AFFAIR);
    assert.equal(failed(wr), 'pin');
    assert.match(wr.steps[0]!.detail, /wrong PIN, 2 tries left/);
    w.pad.type(PIN);
    assert.equal((await w.desk.verify(AFFAIR)).accepted, true, 'the right PIN resets the counter');
    await d.terminal.close();
    await w.terminal.close();
  });

  test('[R4.2.1] a channel opened with other keys than the basic area\'s is refused by the card cryptogram: nothing read, no record asked', async () => {
    const other = new InProcessCardReading(net.pki.caPem);
    const wrongKeys = new MemoryKeyStore();
    other.serve('national', new NationalCardReader({ keyStore: wrongKeys, audit: new AuditLog(net.node('national').db, 'national') }));
    const d = desk({ client: other.connect(net.pki.credentials({ role: 'agency', code: 'passport' }).certPem) });
    d.pad.type(PIN);
    const r = await d.desk.verify(AFFAIR);
    assert.equal(failed(r), 'read');
    assert.equal(r.accepted ? '' : r.code, 'JUKI_ERR_SCP_AUTHENTICATION');
    assert.deepEqual(d.order, ['pin', 'read']);
    assert.equal(d.tap.commands.length, 1, 'only INITIALIZE UPDATE was sent: the card cryptogram did not match');
    assert.ok(!contains(d.tap.all(), ascii(ALICE)));
    await d.terminal.close();
  });

  test('[R4.2.1] a relay that flips a byte is caught: a command by the card (69 82), a response by the national center\'s R-MAC check', async () => {
    const d = desk();
    d.tap.flipCommand = (a) => a[1] === 0xb0; // the READ BINARY's C-MAC
    d.pad.type(PIN);
    const r = await d.desk.verify(AFFAIR);
    assert.equal(failed(r), 'read');
    assert.equal(r.accepted ? '' : r.code, 'JUKI_ERR_CARD_STATUS');
    assert.ok(!contains(d.tap.all(), ascii(ALICE)));
    const e = desk();
    e.tap.flipResponse = (a) => a[1] === 0xb0; // the R-ENC resident code
    e.pad.type(PIN);
    const s = await e.desk.verify(AFFAIR);
    assert.equal(failed(s), 'read');
    assert.equal(s.accepted ? '' : s.code, 'JUKI_ERR_SCP_INTEGRITY');
    assert.deepEqual(e.order, ['pin', 'read'], 'no notice check, no record request');
    await d.terminal.close();
    await e.terminal.close();
  });

  test('[R4.2.1] access rights: the national center reads a card only for an agency, for an affair of that agency (by its certificate); refusals touch no card and are audited', async () => {
    const d = desk({ agency: 'agency-pension' });
    d.pad.type(PIN);
    const r = await d.desk.verify(AFFAIR);
    assert.equal(failed(r), 'read');
    assert.equal(r.accepted ? '' : r.code, 'JUKI_ERR_NET_CARD_READ_DENIED');
    assert.equal(d.tap.commands.length, 0, 'nothing was sent to the card');
    const last = (await nationalAudit('net.card.read')).at(-1)!;
    assert.equal(last.outcome, 'refused');
    assert.equal(last.actor, 'node:agency-pension');
    for (const cert of [net.pki.credentials({ role: 'municipality', code: '131016' }).certPem, undefined, 'not a certificate']) {
      const client = reading.connect(cert);
      const tap = new Wiretap(d.terminal);
      await assert.rejects(client.read('national', { affair: AFFAIR, relay: tap, reader: 'reader-1' }), (e: unknown) => e instanceof JukiError && e.code === 'JUKI_ERR_NET_CARD_READ_DENIED');
      assert.equal(tap.commands.length, 0);
    }
    await d.terminal.close();
  });

  test('[R4.2.1] the national center\'s masters are the ones the basic-area key service hands out', () => {
    assert.deepEqual(NATIONAL_BASIC_MASTER_KEYS, BASIC_MASTER_KEYS);
  });

  test('[R4.2.2] a noticed card gets no record, in that order, whichever node learned first: the national center first, then the agency\'s own list', async () => {
    // The agency is down when the suspension goes out: only the national center knows.
    await net.stop(AGENCY);
    await announce('suspended');
    await net.pump();
    await net.start(AGENCY);
    const queriesBefore = (await nationalAudit('net.identity.query')).length;
    const d = desk();
    d.pad.type(PIN);
    const r = await d.desk.verify(AFFAIR);
    assert.equal(failed(r), 'record');
    assert.equal(r.accepted ? '' : r.source, 'national');
    assert.equal(r.accepted ? '' : r.status, 'suspended');
    assert.deepEqual(d.order, ['pin', 'read', 'notices', 'record']);
    assert.equal(r.accepted, false);
    assert.ok(!('record' in r), 'no identity record was given');
    // The notice arrives (the national center's relay retries after its backoff): now the
    // agency's own list refuses, before anything is asked of Juki-net.
    net.now += 10 * 60_000;
    await net.pump();
    assert.equal((await net.node(AGENCY).net.net.agency!.list.forCard(cardNumber))?.status, 'suspended');
    const afterFirst = (await nationalAudit('net.identity.query')).length;
    assert.equal(afterFirst, queriesBefore + 1);
    const e = desk();
    e.pad.type(PIN);
    const s = await e.desk.verify(AFFAIR);
    assert.equal(failed(s), 'notices');
    assert.equal(s.accepted ? '' : s.source, 'notice-list');
    assert.deepEqual(e.order, ['pin', 'read', 'notices'], 'no identity-record request after the notice list refused');
    assert.equal((await nationalAudit('net.identity.query')).length, afterFirst, 'the national center was asked nothing');
    // The agency's audit records both refusals.
    const checked = (await net.node(AGENCY).net.net.audit.list({ limit: 1000 })).filter((x) => x.type === 'agency.card.checked');
    assert.deepEqual(checked.slice(-2).map((x) => x.outcome), ['refused', 'refused']);
    // The suspension lifted: the card is accepted again.
    await announce('active');
    await net.pump();
    const f = desk();
    f.pad.type(PIN);
    assert.equal((await f.desk.verify(AFFAIR)).accepted, true);
    // An abolished card is refused at every agency.
    await announce('abolished');
    await net.pump();
    for (const agency of [AGENCY]) {
      const g = desk({ agency });
      g.pad.type(PIN);
      const t = await g.desk.verify(AFFAIR);
      assert.equal(failed(t), 'notices');
      await g.terminal.close();
    }
    assert.equal((await net.node('agency-pension').net.net.agency!.list.forCard(cardNumber))?.status, 'abolished', 'the other agency holds the notice too');
    await d.terminal.close();
    await e.terminal.close();
    await f.terminal.close();
  });

  test('[R4.2.2] an agency that skips its notice list (injected fault) is caught: the identity request goes out before the refusal', async () => {
    const d = desk({ faults: { skipNoticeList: true } });
    const before = (await nationalAudit('net.identity.query')).length;
    d.pad.type(PIN);
    const r = await d.desk.verify(AFFAIR);
    assert.equal(r.accepted, false);
    assert.equal(r.accepted ? '' : r.source, 'national', 'only the national center caught it');
    assert.equal((await nationalAudit('net.identity.query')).length, before + 1, 'Juki-net was asked although the agency held a notice');
    await d.terminal.close();
  });
});
