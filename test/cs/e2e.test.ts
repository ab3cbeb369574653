/**
 * The municipal counter end to end (docs/counter.md "End to end"), on SQLite and, under
 * JUKI_TEST_DB, PostgreSQL: staff with operator cards issued through the card's operator
 * application, sign-in with the operator card and the PIN pad, a delivery re-keyed card by card,
 * a new issue personalised through the terminal's reader with JPKI, the face print job, the PIN
 * on the pad, the card active, PIN change and unblock, a lost report revoking the JPKI
 * certificates, a reissue abolishing the old card with the agent's sealed-notice path, and a
 * reconciliation with no alarm. Then: a PIN typed on the pad appears nowhere; a failed
 * personalisation leaves no half-issued card; a crash mid-personalisation is recovered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readCardIdentity, inspectCard, municipalityCardKeys, openCounterWithCards, KeyStoreBasicKeyService } from '../../src/cs/index.ts';
import { MemoryKeyStore } from '../../src/crypto/index.ts';
import { openTestDb } from '../helpers/db.ts';
import { dumpAll, openE2e, pinToken, residents, TERMINAL, READER, CODE, type E2e } from './e2e-fixture.ts';

const HOLDER = '10000000001';
const PIN = '8642';
const NEW_PIN = '5173';
const NEW_PIN_2 = '2968';
const AGENT_PIN = '7391';
const JPKI_SIGN = 'AB12CD34';
const OP_PINS = { admin1: '13579', keeper1: '24680', clerk1: '97531', super1: '86420' } as const;
const ALL_PINS = [PIN, NEW_PIN, NEW_PIN_2, AGENT_PIN, JPKI_SIGN, ...Object.values(OP_PINS)];

const hasPdftotext = (() => {
  try {
    execFileSync('pdftotext', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

async function withE2e(fn: (e: E2e) => Promise<void>): Promise<void> {
  const database = await openTestDb();
  const jpkiDb = await openTestDb();
  let e: E2e | undefined;
  try {
    e = await openE2e(database, jpkiDb);
    await fn(e);
  } finally {
    await e?.close();
    await jpkiDb.close();
    await database.close();
  }
}

/** Administrator, terminal, staff with operator cards; returns each one's session token. */
async function enrolStaff(e: E2e): Promise<Record<keyof typeof OP_PINS, string>> {
  const admin = await e.operatorCard('admin1', OP_PINS.admin1);
  await e.counter.staff.enrollFirstAdministrator({ staffId: 'admin1', name: 'Admin', cardSerial: admin.serial, publicKey: admin.publicKey });
  const adminToken = await e.signIn('admin1', admin.serial, OP_PINS.admin1, false);
  const t = await e.call('POST', '/terminals', adminToken, { terminalId: TERMINAL, name: 'counter 1', reader: READER, pinPad: 'pad-1' });
  assert.equal(t.status, 201, JSON.stringify(t.body));
  const tokens: Record<string, string> = { admin1: await e.signIn('admin1', admin.serial, OP_PINS.admin1) };
  for (const [id, role] of [['keeper1', 'stock-keeper'], ['clerk1', 'clerk'], ['super1', 'supervisor']] as const) {
    const card = await e.operatorCard(id, OP_PINS[id]);
    const r = await e.call('POST', '/staff', tokens.admin1, { staffId: id, name: `staff ${id}`, role, cardSerial: card.serial, publicKey: card.publicKey });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    tokens[id] = await e.signIn(id, card.serial, OP_PINS[id]);
  }
  return tokens as Record<keyof typeof OP_PINS, string>;
}

/** Type an entry twice (the pad asks for confirmation when a PIN is set). */
function typeTwice(e: E2e, pin: string): void {
  e.pad.type(pin);
  e.pad.type(pin);
}

test('counter end to end: delivery → application → personalisation → PIN pad → active → change, unblock → lost → reissue → old card abolished', async (t) => {
  await withE2e(async (e) => {
    await residents(e, [HOLDER]);
    let tokens!: Record<keyof typeof OP_PINS, string>;
    let serials!: string[];
    let first!: { cardNumber: string; serial: string };
    let second!: { cardNumber: string; serial: string };

    await t.test('staff enrolled with operator cards made by the operator application on the card; sign-in by operator card + PIN pad (the counter side of operator login; R3.1.3ki itself is the bureau roster)', async () => {
      tokens = await enrolStaff(e);
      const me = await e.call('GET', '/me', tokens.clerk1);
      assert.equal(me.body.staffId, 'clerk1');
      assert.equal(me.body.terminalId, TERMINAL);
    });

    await t.test('[R3.1.1a] a delivery is re-keyed card by card through the terminal\'s reader before it enters the safe', async () => {
      serials = e.deliver('LOT1', 3);
      const r = await e.call('POST', '/stock/lots', tokens.keeper1, { lot: 'LOT1', transportKeyRef: 'LOT1', serials });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.results.map((x: { state: string }) => x.state), ['in-safe', 'in-safe', 'in-safe']);
      const keys = municipalityCardKeys(e.csKeys);
      for (const s of serials) {
        await e.swap(s);
        const state = await inspectCard(await e.terminal.relay(READER), [keys.transport]);
        assert.equal(state.keys, 'transport');
        assert.deepEqual(state.keyVersions, [0x70]);
      }
    });

    await t.test('[R3.1.2e] one personalisation through the terminal\'s reader writes the resident code, keys, access rights and the face print job; JPKI relayed to the jpki role', async () => {
      const out = await e.call('POST', '/stock/take-out', tokens.clerk1, { terminalId: TERMINAL, serial: serials[0] });
      assert.equal(out.status, 200, JSON.stringify(out.body));
      const app = await e.call('POST', '/applications', tokens.clerk1, { kind: 'new', residentCode: HOLDER, terminalId: TERMINAL });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const iss = await e.call('POST', '/issuances', tokens.clerk1, { applicationId: app.body.applicationId, serial: serials[0], terminalId: TERMINAL, jpki: true, face: 'form2' });
      assert.equal(iss.status, 201, JSON.stringify(iss.body));
      assert.equal(iss.body.status, 'issued-awaiting-pin');
      first = { cardNumber: iss.body.cardNumber, serial: serials[0]! };
      // The card: personalised under the issuer keys, basic area present (access rights: its PIN unset, so it answers nothing else yet).
      await e.swap(first.serial);
      const id = await readCardIdentity(await e.terminal.relay(READER));
      assert.equal(id.lifecycle, 'personalised');
      assert.equal(id.keys, 'issuer');
      assert.equal(id.basicArea, 'present');
      assert.equal(id.pin?.kind, 'not-set');
      const state = await inspectCard(await e.terminal.relay(READER), [municipalityCardKeys(e.csKeys).issuer]);
      assert.deepEqual(state.applications?.map((a) => a.state).sort(), ['personalised', 'personalised']);
      // The face print job, recorded in the same commit.
      const job = await e.database.db.selectFrom('cs_print_jobs').selectAll().where('card_number', '=', first.cardNumber).executeTakeFirstOrThrow();
      assert.equal(job.form, 'form2');
      assert.ok(existsSync(job.path));
      if (hasPdftotext) {
        const text = execFileSync('pdftotext', [job.path, '-'], { encoding: 'utf8' });
        assert.ok(text.includes(first.cardNumber), text);
        assert.ok(text.includes('1980-01-15'), text);
      } else assert.equal(readFileSync(job.path).subarray(0, 5).toString('latin1'), '%PDF-');
      // Every card step audited (R3.1.2o), and the JPKI certificates issued for this card.
      const steps = await e.database.db.selectFrom('audit_entries').select(['details']).where('event_type', '=', 'cs.card.step').where('subject', 'like', `%${first.cardNumber}%`).execute();
      const names = steps.map((s) => JSON.parse(s.details).step as string);
      for (const n of ['PUT KEY issuer keys', 'INSTALL basic area', 'SET STATUS personalised', 'INSTALL JPKI area', 'key pairs and certificates']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
      const certs = await e.jpkiDb.db.selectFrom('jpki_certificates').selectAll().execute();
      assert.equal(certs.length, 2);
      assert.ok(certs.every((c) => c.status === 'good'));
    });

    await t.test('[R3.1.2ka] the holder sets the PIN on the PIN pad (basic, JPKI auth, JPKI sign); the card turns active only then', async () => {
      const before = await e.call('GET', `/cards/${first.cardNumber}`, tokens.clerk1);
      assert.equal(before.body.card?.status ?? before.body.status, 'issued-awaiting-pin');
      // The holder cancels at the signature password: nothing activates; the PINs already on the card stay.
      typeTwice(e, PIN);
      typeTwice(e, PIN);
      e.pad.type({ cancel: true });
      const cancelled = await e.call('POST', `/cards/${first.cardNumber}/pin`, tokens.clerk1, { terminalId: TERMINAL, setBy: 'holder' });
      assert.equal(cancelled.status, 409, JSON.stringify(cancelled.body));
      assert.equal(cancelled.body.code, 'JUKI_ERR_CS_PIN_NOT_SET');
      assert.equal((await e.call('GET', `/cards/${first.cardNumber}`, tokens.clerk1)).body.card.status, 'issued-awaiting-pin');
      // Again: the basic PIN is found set (the pad is not asked), the JPKI auth PIN is refused as set, the password is set.
      typeTwice(e, PIN);
      typeTwice(e, JPKI_SIGN);
      const bare = await e.call('POST', `/cards/${first.cardNumber}/pin-set`, tokens.clerk1);
      assert.equal(bare.status, 409, 'with terminals wired, a bare "PIN was set" report is refused: the CS drives the pad');
      const r = await e.call('POST', `/cards/${first.cardNumber}/pin`, tokens.clerk1, { terminalId: TERMINAL, setBy: 'holder' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.card.status, 'active');
      assert.equal(r.body.noticeId, null);
      e.pad.type(PIN);
      assert.equal((await e.terminal.verifyPin(READER, 'basic')).kind, 'verified');
      const msgs = await outboxBodies(e);
      assert.ok(msgs.some((m) => m.cardNumber === first.cardNumber && m.status === 'active'));
    });

    await t.test('[R3.2.2a] PIN change after a recorded identity verification: the holder sets the new PIN on the pad, the old one not needed', async () => {
      const refused = await e.call('POST', `/cards/${first.cardNumber}/pin/change`, tokens.clerk1, { terminalId: TERMINAL, checkId: 'no-such-check' });
      assert.equal(refused.status, 422);
      assert.equal(refused.body.code, 'JUKI_ERR_CS_IDENTITY_CHECK');
      const check = await e.call('POST', '/identity-checks', tokens.clerk1, { cardNumber: first.cardNumber, terminalId: TERMINAL, purpose: 'pin-change', method: 'driving licence' });
      assert.equal(check.status, 201, JSON.stringify(check.body));
      typeTwice(e, NEW_PIN);
      const r = await e.call('POST', `/cards/${first.cardNumber}/pin/change`, tokens.clerk1, { terminalId: TERMINAL, checkId: check.body.checkId });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      e.pad.type(NEW_PIN);
      assert.equal((await e.terminal.verifyPin(READER, 'basic')).kind, 'verified');
      const again = await e.call('POST', `/cards/${first.cardNumber}/pin/change`, tokens.clerk1, { terminalId: TERMINAL, checkId: check.body.checkId });
      assert.equal(again.body.code, 'JUKI_ERR_CS_IDENTITY_CHECK', 'a verification is used once');
    });

    await t.test('[R3.2.2i] a blocked PIN is unblocked over the issuer channel after identity verification, then set again on the pad', async () => {
      for (const n of [2, 1]) {
        e.pad.type('0000');
        assert.deepEqual(await e.terminal.verifyPin(READER, 'basic'), { kind: 'wrong', triesLeft: n });
      }
      e.pad.type('0000');
      assert.equal((await e.terminal.verifyPin(READER, 'basic')).kind, 'blocked');
      const check = await e.call('POST', '/identity-checks', tokens.clerk1, { cardNumber: first.cardNumber, terminalId: TERMINAL, purpose: 'pin-unblock', method: 'passport' });
      typeTwice(e, NEW_PIN_2);
      const r = await e.call('POST', `/cards/${first.cardNumber}/pin/unblock`, tokens.clerk1, { terminalId: TERMINAL, checkId: check.body.checkId });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.before, 'blocked');
      e.pad.type(NEW_PIN_2);
      assert.equal((await e.terminal.verifyPin(READER, 'basic')).kind, 'verified');
    });

    await t.test('[R3.2.1a] a lost report suspends the card, announces it, and the jpki role revokes its certificates', async () => {
      const r = await e.call('POST', `/cards/${first.cardNumber}/status`, tokens.clerk1, { cause: 'lost' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.status, 'suspended');
      assert.ok((await outboxBodies(e)).some((m) => m.cardNumber === first.cardNumber && m.status === 'suspended'));
      const certs = await e.jpkiDb.db.selectFrom('jpki_certificates').selectAll().execute();
      assert.ok(certs.length === 2 && certs.every((c) => c.status === 'revoked' && c.revocation_reason === 'keyCompromise'), JSON.stringify(certs.map((c) => [c.status, c.revocation_reason])));
    });

    await t.test('[R3.1.2i] reissue after loss: a new card personalised, the old card abolished; [R3.1.2ka] the agent path: staff types the sealed notice on the pad, its destruction recorded', async () => {
      await e.call('POST', '/stock/take-out', tokens.clerk1, { terminalId: TERMINAL, serial: serials[1] });
      const app = await e.call('POST', '/applications', tokens.clerk1, { kind: 'reissue', residentCode: HOLDER, terminalId: TERMINAL, disposition: 'lost' });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const iss = await e.call('POST', '/issuances', tokens.clerk1, { applicationId: app.body.applicationId, serial: serials[1], terminalId: TERMINAL });
      assert.equal(iss.status, 201, JSON.stringify(iss.body));
      second = { cardNumber: iss.body.cardNumber, serial: serials[1]! };
      const old = await e.call('GET', `/cards/${first.cardNumber}`, tokens.clerk1);
      assert.equal(old.body.card?.status ?? old.body.status, 'abolished');
      typeTwice(e, AGENT_PIN);
      const r = await e.call('POST', `/cards/${second.cardNumber}/pin`, tokens.clerk1, { terminalId: TERMINAL, setBy: 'agent', agentName: '代理人 鈴木一郎' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.card.status, 'active');
      assert.ok(r.body.noticeId);
      const d = await e.call('POST', `/pin-notices/${r.body.noticeId}/destroyed`, tokens.clerk1, { witnessedBy: 'super1' });
      assert.equal(d.status, 200, JSON.stringify(d.body));
      const notice = await e.database.db.selectFrom('cs_pin_notices').selectAll().executeTakeFirstOrThrow();
      assert.equal(notice.opened_by, 'clerk1');
      assert.equal(notice.destroyed_by, 'clerk1');
      assert.equal(notice.witnessed_by, 'super1');
      assert.deepEqual(await e.counter.pins.noticesAwaitingDestruction(), []);
    });

    await t.test('[R3.1.1i] reconciliation after the whole walk: no alarm', async () => {
      const r = await e.call('POST', '/stock/reconcile', tokens.keeper1, { counted: [serials[2]] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.alarms, []);
      assert.equal(r.body.counts.used, 2);
      assert.equal(r.body.counts['in-safe'], 1);
    });

    await t.test('[R3.1.2ki] no PIN typed on the pad appears in any log line, table (every table of both nodes), audit entry, HTTP response, outbox message or relayed command', async () => {
      const dump = `${await dumpAll(e.database)}\n${await dumpAll(e.jpkiDb)}`;
      for (const pin of ALL_PINS) {
        assert.ok(!pinToken(dump, pin), `PIN ${pin} in a table`);
        assert.ok(!e.logLines.some((l) => pinToken(l, pin)), `PIN ${pin} in the log`);
        assert.ok(!e.responses.some((b) => pinToken(b, pin)), `PIN ${pin} in an HTTP response`);
        const bytes = Buffer.from(pin, 'ascii');
        assert.ok(!e.agent.relayed.some((a) => Buffer.from(a).includes(bytes)), `PIN ${pin} in a relayed command`);
      }
      assert.ok(e.logLines.length > 10, 'the log was captured');
      assert.ok(dump.includes('cs.pin.set') && dump.includes('net_outbox'));
    });
  });
});

test('[R3.1.2e] all or nothing: a card step failing after the card was touched leaves no card recorded and the blank card spoiled; a wrong card on the reader is never touched', async () => {
  await withE2e(async (e) => {
    await residents(e, [HOLDER]);
    const tokens = await enrolStaff(e);
    const serials = e.deliver('LOT2', 2);
    await e.call('POST', '/stock/lots', tokens.keeper1, { lot: 'LOT2', transportKeyRef: 'LOT2', serials });
    await e.call('POST', '/stock/take-out', tokens.clerk1, { terminalId: TERMINAL, serial: serials[0] });
    const app = await e.call('POST', '/applications', tokens.clerk1, { kind: 'new', residentCode: HOLDER, terminalId: TERMINAL });
    // The card is pulled from the reader right after INSTALL of the basic area.
    e.agent.hook = async (apdu) => {
      if (apdu[1] === 0xe2) {
        e.reader.remove();
        e.agent.hook = undefined;
      }
      return undefined;
    };
    // The blank card on the reader; the books' card feeder (presentCard) then does nothing, so the pulled card stays out.
    await e.swap(serials[0]!);
    const put = e.put;
    (e as { put: (s: string) => void }).put = () => undefined;
    const failed = await e.call('POST', '/issuances', tokens.clerk1, { applicationId: app.body.applicationId, serial: serials[0], terminalId: TERMINAL });
    (e as { put: (s: string) => void }).put = put;
    assert.equal(failed.status, 502, JSON.stringify(failed.body));
    assert.equal(failed.body.code, 'JUKI_ERR_CS_CARD_STEP');
    assert.equal(failed.body.details.stock, 'spoiled');
    assert.equal((await e.database.db.selectFrom('cs_cards').selectAll().execute()).length, 0);
    assert.equal((await e.database.db.selectFrom('cs_print_jobs').selectAll().execute()).length, 0);
    assert.equal((await e.database.db.selectFrom('cs_pending_issuance').selectAll().execute()).length, 0);
    // A wrong card on the reader: refused before any command changes it; the blank card stays at the terminal.
    await e.call('POST', '/stock/take-out', tokens.clerk1, { terminalId: TERMINAL, serial: serials[1] });
    const present = (e as { put: (s: string) => void });
    present.put = () => undefined;
    e.reader.remove();
    e.reader.insert(e.cards.get(serials[0]!)!);
    await e.terminal.release(READER);
    const wrong = await e.call('POST', '/issuances', tokens.clerk1, { applicationId: app.body.applicationId, serial: serials[1], terminalId: TERMINAL });
    present.put = put;
    assert.equal(wrong.status, 502, JSON.stringify(wrong.body));
    assert.equal(wrong.body.details.cause, 'JUKI_ERR_CS_WRONG_CARD');
    assert.equal(wrong.body.details.stock, 'taken-out');
  });
});

test('[R3.1.2e] a crash in the middle of personalisation is recovered on restart: no card recorded, the half-written blank card spoiled for witnessed destruction', async () => {
  await withE2e(async (e) => {
    await residents(e, [HOLDER]);
    const tokens = await enrolStaff(e);
    const serials = e.deliver('LOT3', 2);
    await e.call('POST', '/stock/lots', tokens.keeper1, { lot: 'LOT3', transportKeyRef: 'LOT3', serials });
    await e.call('POST', '/stock/take-out', tokens.clerk1, { terminalId: TERMINAL, serial: serials[0] });
    const app = await e.call('POST', '/applications', tokens.clerk1, { kind: 'new', residentCode: HOLDER, terminalId: TERMINAL });
    // The process "dies" at the first STORE DATA: that command never returns.
    let reached!: () => void;
    const atStore = new Promise<void>((resolve) => { reached = resolve; });
    e.agent.hook = async (apdu) => {
      if (apdu[1] === 0xe2) {
        reached();
        return new Promise<Uint8Array>(() => undefined);
      }
      return undefined;
    };
    void e.call('POST', '/issuances', tokens.clerk1, { applicationId: app.body.applicationId, serial: serials[0], terminalId: TERMINAL });
    await atStore;
    assert.equal((await e.database.db.selectFrom('cs_pending_issuance').selectAll().execute()).length, 1);
    // Restart: a new counter on the same database recovers before serving.
    const restarted = openCounterWithCards(e.database, CODE, {
      agents: new Map(), keyStore: new MemoryKeyStore(), basicKeys: new KeyStoreBasicKeyService(new MemoryKeyStore()), rekeyTerminal: TERMINAL, printDir: e.printDir,
    });
    const recovered = await restarted.issuance.recover();
    assert.deepEqual(recovered.map((r) => [r.serial, r.stock]), [[serials[0], 'spoiled']]);
    assert.equal((await e.database.db.selectFrom('cs_cards').selectAll().execute()).length, 0);
    const report = await restarted.stock.reconcile({ kind: 'staff', id: 'keeper1' });
    assert.deepEqual(report.awaitingDestruction, [serials[0]]);
    assert.deepEqual(report.alarms, []);
    // The application is still accepted: the holder gets a card on the next blank card.
    e.agent.hook = undefined;
    await e.call('POST', '/stock/take-out', tokens.clerk1, { terminalId: TERMINAL, serial: serials[1] });
    const again = await e.call('POST', '/issuances', tokens.clerk1, { applicationId: app.body.applicationId, serial: serials[1], terminalId: TERMINAL });
    assert.equal(again.status, 201, JSON.stringify(again.body));
  });
});

async function outboxBodies(e: E2e): Promise<{ cardNumber?: string; status?: string }[]> {
  const rows = await e.database.db.selectFrom('net_outbox').select('envelope').execute();
  return rows.map((r) => JSON.parse(r.envelope).body);
}
