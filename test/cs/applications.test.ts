/** Applications and issuance: the checks of R3.1.2a/i/u, the all-or-nothing issuance, races and crash recovery. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IssuanceService, openCounter } from '../../src/cs/index.ts';
import { JukiError } from '../../src/util/index.ts';
import { CHIYODA, CLERK, KEEPER, auditTypes, issueNew, outbox, refuses, setUp, withWorld } from './fixtures.ts';
import { openTestDb } from '../helpers/db.ts';

const TARO = '10000000001';
const HANAKO = '10000000002';

test('[R3.1.2a] a new issue needs a registered resident; refused for someone not in the register or moved out, each with its reason code, recorded and audited', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { residents: [TARO, HANAKO] });
    await refuses(w.counter.applications.apply(CLERK, { kind: 'new', residentCode: '10000000099', terminalId: 'T1' }), 'JUKI_ERR_CS_NOT_REGISTERED', /not a registered resident of 131016/);
    await w.counter.ctx.register.moveOut({ residentCode: HANAKO, date: '2025-05-01', to: { municipality: '271004', address: '大阪府大阪市' } });
    await refuses(w.counter.applications.apply(CLERK, { kind: 'new', residentCode: HANAKO, terminalId: 'T1' }), 'JUKI_ERR_CS_NOT_REGISTERED', /\(moved-out\)/);
    const ok = await w.counter.applications.apply(CLERK, { kind: 'new', residentCode: TARO, terminalId: 'T1' });
    assert.equal(ok.state, 'accepted');
    const apps = await w.database.db.selectFrom('cs_applications').select(['resident_code', 'state', 'reason']).orderBy('created_at').execute();
    assert.deepEqual(apps.map((a) => [a.state, a.reason]), [['refused', 'JUKI_ERR_CS_NOT_REGISTERED'], ['refused', 'JUKI_ERR_CS_NOT_REGISTERED'], ['accepted', null]]);
    const decided = (await auditTypes(w)).filter((a) => a.type === 'cs.application.decided');
    assert.deepEqual(decided.map((a) => [a.outcome, a.reason]), [['refused', 'JUKI_ERR_CS_NOT_REGISTERED'], ['refused', 'JUKI_ERR_CS_NOT_REGISTERED'], ['success', '']]);
  });
});

test('[R3.1.2a] a new issue is refused while a prior card is neither abolished nor collected, and accepted once it is', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { residents: [TARO], cards: ['SN0001', 'SN0002'] });
    const first = await issueNew(w, TARO, 'SN0001');
    const e = await refuses(w.counter.applications.apply(CLERK, { kind: 'new', residentCode: TARO, terminalId: 'T1' }), 'JUKI_ERR_CS_PRIOR_CARD_VALID', /issued-awaiting-pin, neither abolished nor collected/);
    assert.equal(e.details.cardNumber, first);
    await w.counter.issuance.activateOnPinSet(CLERK, first);
    await refuses(w.counter.applications.apply(CLERK, { kind: 'new', residentCode: TARO, terminalId: 'T1' }), 'JUKI_ERR_CS_PRIOR_CARD_VALID', /is active/);
    await w.counter.status.change(CLERK, first, 'holder-request');
    const ok = await w.counter.applications.apply(CLERK, { kind: 'new', residentCode: TARO, terminalId: 'T1' });
    assert.equal(ok.state, 'accepted');
  });
});

test('[R3.1.2a] a prior card from another municipality counts: the lookup is an interface, and a lookup that cannot answer refuses', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { residents: [TARO] });
    await refuses(w.counter.applications.apply(CLERK, { kind: 'new', residentCode: TARO, terminalId: 'T1' }), 'JUKI_ERR_CS_PRIOR_CARD_VALID', /issued by 271004 is active/);
  }, { priorCards: { cardsOf: async () => [{ cardNumber: '271004-SN7777', issuer: '271004', status: 'active', validUntil: '2030-01-01', source: 'municipality-271004' }] } });
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { residents: [TARO] });
    await refuses(w.counter.applications.apply(CLERK, { kind: 'new', residentCode: TARO, terminalId: 'T1' }), 'JUKI_ERR_CS_PRIOR_CARD_UNAVAILABLE', /could not be looked up: national center unreachable/);
  }, { priorCards: { cardsOf: async () => { throw new JukiError('JUKI_ERR_NET_DELIVERY', 'national center unreachable'); } } });
});

test('[R3.1.2i] reissue: the current card must be returned (that very card) or declared lost or burnt; reissue abolishes it and records its return', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { residents: [TARO, HANAKO], cards: ['SN0001', 'SN0002', 'SN0003', 'SN0004'] });
    await refuses(w.counter.applications.apply(CLERK, { kind: 'reissue', residentCode: TARO, terminalId: 'T1', disposition: 'lost' }), 'JUKI_ERR_CS_NO_CURRENT_CARD', /apply for a new issue/);
    const old = await issueNew(w, TARO, 'SN0001');
    await w.counter.issuance.activateOnPinSet(CLERK, old);
    await refuses(w.counter.applications.apply(CLERK, { kind: 'reissue', residentCode: TARO, terminalId: 'T1' }), 'JUKI_ERR_CS_CARD_NOT_RETURNED', /must be returned, or declared lost or burnt/);
    await refuses(w.counter.applications.apply(CLERK, { kind: 'reissue', residentCode: TARO, terminalId: 'T1', disposition: 'returned', returnedCard: '131016-SN9999' }), 'JUKI_ERR_CS_CARD_NOT_RETURNED', /expected the current card 131016-SN0001/);
    const app = await w.counter.applications.apply(CLERK, { kind: 'reissue', residentCode: TARO, terminalId: 'T1', disposition: 'returned', returnedCard: old });
    await w.counter.stock.takeOut(CLERK, { terminalId: 'T1', serial: 'SN0002' });
    const card = await w.counter.issuance.issue(CLERK, { applicationId: app.applicationId, serial: 'SN0002', terminalId: 'T1' });
    assert.equal(card.status, 'issued-awaiting-pin');
    assert.deepEqual((await w.counter.status.history(old)).map((h) => [h.from, h.to, h.cause]), [
      [null, 'issued-awaiting-pin', 'issued'], ['issued-awaiting-pin', 'active', 'pin-set'], ['active', 'abolished', 'reissue'], ['abolished', 'collected', 'returned'],
    ]);
    // Lost: reported first (suspended), then reissued on the declaration; the old card is abolished.
    const hanakoCard = await issueNew(w, HANAKO, 'SN0003');
    await w.counter.issuance.activateOnPinSet(CLERK, hanakoCard);
    await w.counter.status.change(CLERK, hanakoCard, 'lost');
    const lostApp = await w.counter.applications.apply(CLERK, { kind: 'reissue', residentCode: HANAKO, terminalId: 'T1', disposition: 'lost' });
    assert.deepEqual([lostApp.priorCard, lostApp.disposition], [hanakoCard, 'lost']);
    await w.counter.stock.takeOut(CLERK, { terminalId: 'T1', serial: 'SN0004' });
    await w.counter.issuance.issue(CLERK, { applicationId: lostApp.applicationId, serial: 'SN0004', terminalId: 'T1' });
    assert.equal((await w.counter.status.get(hanakoCard)).status, 'abolished');
    const abolished = (await outbox(w)).filter((m) => m.body.cardNumber === hanakoCard).map((m) => m.body.status);
    assert.deepEqual(abolished, ['active', 'suspended', 'abolished']);
  });
});

test('[R3.1.2u] renewal within validity needs the current card presented on the reader', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { residents: [TARO], cards: ['SN0001', 'SN0002'] });
    const old = await issueNew(w, TARO, 'SN0001');
    await refuses(w.counter.applications.apply(CLERK, { kind: 'renewal', residentCode: TARO, terminalId: 'T1', presentedCard: old }), 'JUKI_ERR_CS_NOT_WITHIN_VALIDITY', /issued-awaiting-pin/);
    await w.counter.issuance.activateOnPinSet(CLERK, old);
    await refuses(w.counter.applications.apply(CLERK, { kind: 'renewal', residentCode: TARO, terminalId: 'T1' }), 'JUKI_ERR_CS_CARD_NOT_PRESENTED', /needs the current card 131016-SN0001 on the reader, got none/);
    await refuses(w.counter.applications.apply(CLERK, { kind: 'renewal', residentCode: TARO, terminalId: 'T1', presentedCard: '131016-SN0009' }), 'JUKI_ERR_CS_CARD_NOT_PRESENTED', /got "131016-SN0009"/);
    const app = await w.counter.applications.apply(CLERK, { kind: 'renewal', residentCode: TARO, terminalId: 'T1', presentedCard: old });
    await w.counter.stock.takeOut(CLERK, { terminalId: 'T1', serial: 'SN0002' });
    const card = await w.counter.issuance.issue(CLERK, { applicationId: app.applicationId, serial: 'SN0002', terminalId: 'T1' });
    assert.equal((await w.counter.status.get(old)).status, 'collected');
    assert.equal(card.validUntil, '2035-05-31');
    // Past its validity, renewal is refused.
    w.clock = new Date('2036-01-01T00:00:00Z');
    await w.counter.issuance.activateOnPinSet(CLERK, card.cardNumber);
    await refuses(w.counter.applications.apply(CLERK, { kind: 'renewal', residentCode: TARO, terminalId: 'T1', presentedCard: card.cardNumber }), 'JUKI_ERR_CS_NOT_WITHIN_VALIDITY', /valid until 2035-05-31/);
  });
});

test('issuance: issued-awaiting-pin until the PIN is set, then active; the blank card is used; status messages in the outbox', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { residents: [TARO], cards: ['SN0001'] });
    const n = await issueNew(w, TARO, 'SN0001');
    assert.deepEqual(w.cardStep.requests.map((r) => [r.cardNumber, r.serial, r.residentCode, r.issuer, r.validUntil]), [[n, 'SN0001', TARO, CHIYODA, '2035-05-31']]);
    assert.equal((await w.counter.status.get(n)).status, 'issued-awaiting-pin');
    assert.equal((await w.counter.stock.get('SN0001')).state, 'used');
    assert.deepEqual(await outbox(w), [], 'nothing announced before the PIN is set');
    const active = await w.counter.issuance.activateOnPinSet(CLERK, n);
    assert.equal(active.status, 'active');
    assert.deepEqual(await outbox(w), [{ type: 'card.status', to: 'prefecture-13', body: { cardNumber: n, status: 'active', issuer: CHIYODA, residentCode: TARO, version: 2, changedAt: '2025-06-01T03:00:00.000Z' } }]);
    const report = await w.counter.stock.reconcile(KEEPER);
    assert.deepEqual(report.alarms, []);
  });
});

test('issuance is all or nothing: a failed card step records no card and spoils the blank card (or leaves it at the terminal when untouched)', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { residents: [TARO], cards: ['SN0001', 'SN0002'] });
    await w.counter.stock.takeOut(CLERK, { terminalId: 'T1', serial: 'SN0001' });
    const app = await w.counter.applications.apply(CLERK, { kind: 'new', residentCode: TARO, terminalId: 'T1' });
    w.cardStep.next = async () => { throw new JukiError('JUKI_ERR_CARD_INTERRUPTED', 'the card was lost at step "store basic data"'); };
    const e = await refuses(w.counter.issuance.issue(CLERK, { applicationId: app.applicationId, serial: 'SN0001', terminalId: 'T1' }), 'JUKI_ERR_CS_CARD_STEP', /the blank card is spoiled/);
    assert.equal(e.details.cause, 'JUKI_ERR_CARD_INTERRUPTED');
    assert.deepEqual(await w.database.db.selectFrom('cs_cards').selectAll().execute(), []);
    assert.deepEqual(await w.database.db.selectFrom('cs_pending_issuance').selectAll().execute(), []);
    const spoiled = await w.counter.stock.get('SN0001');
    assert.deepEqual([spoiled.state, spoiled.reason, spoiled.witnessedBy], ['spoiled', 'personalisation-failed', null]);
    assert.deepEqual((await w.counter.stock.reconcile(KEEPER)).awaitingDestruction, ['SN0001']);
    // The application stays accepted: retry on another blank, whose step never touched the card.
    await w.counter.stock.takeOut(CLERK, { terminalId: 'T1', serial: 'SN0002' });
    w.cardStep.next = async () => { throw new JukiError('JUKI_ERR_READER', 'no card in reader-1', { cardUntouched: true }); };
    await refuses(w.counter.issuance.issue(CLERK, { applicationId: app.applicationId, serial: 'SN0002', terminalId: 'T1' }), 'JUKI_ERR_CS_CARD_STEP', /the blank card is taken-out/);
    assert.equal((await w.counter.stock.get('SN0002')).state, 'taken-out');
    const card = await w.counter.issuance.issue(CLERK, { applicationId: app.applicationId, serial: 'SN0002', terminalId: 'T1' });
    assert.equal(card.status, 'issued-awaiting-pin');
    await refuses(w.counter.issuance.issue(CLERK, { applicationId: app.applicationId, serial: 'SN0002', terminalId: 'T1' }), 'JUKI_ERR_CS_APPLICATION_STATE', /is issued, not accepted/);
    const failures = (await auditTypes(w)).filter((a) => a.type === 'cs.issuance.completed').map((a) => [a.outcome, a.details.stock]);
    assert.deepEqual(failures, [['error', 'spoiled'], ['error', 'taken-out'], ['success', 'used']]);
  });
});

test('two terminals issuing for the same resident at once: exactly one card is issued', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { residents: [TARO], cards: ['SN0001', 'SN0002'] });
    await w.counter.stock.takeOut(CLERK, { terminalId: 'T1', serial: 'SN0001' });
    await w.counter.stock.takeOut({ kind: 'staff', id: 'clerk2' }, { terminalId: 'T2', serial: 'SN0002' });
    const a1 = await w.counter.applications.apply(CLERK, { kind: 'new', residentCode: TARO, terminalId: 'T1' });
    const a2 = await w.counter.applications.apply({ kind: 'staff', id: 'clerk2' }, { kind: 'new', residentCode: TARO, terminalId: 'T2' });
    const results = await Promise.allSettled([
      w.counter.issuance.issue(CLERK, { applicationId: a1.applicationId, serial: 'SN0001', terminalId: 'T1' }),
      w.counter.issuance.issue({ kind: 'staff', id: 'clerk2' }, { applicationId: a2.applicationId, serial: 'SN0002', terminalId: 'T2' }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(results.map((r) => r.status === 'rejected' ? String(r.reason) : 'ok')));
    const lost = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as JukiError;
    assert.ok(['JUKI_ERR_CS_ISSUANCE_IN_PROGRESS', 'JUKI_ERR_CS_PRIOR_CARD_VALID'].includes(lost.code), lost.code);
    const cards = await w.database.db.selectFrom('cs_cards').selectAll().where('resident_code', '=', TARO).execute();
    assert.equal(cards.length, 1);
    assert.equal(w.cardStep.requests.length, 1, 'the loser is refused before its card is touched');
    // The losing blank card never left the terminal: it is still accounted for.
    const states = [(await w.counter.stock.get('SN0001')).state, (await w.counter.stock.get('SN0002')).state].sort();
    assert.deepEqual(states, ['taken-out', 'used']);
    assert.deepEqual((await w.counter.stock.reconcile(KEEPER)).alarms, []);
  });
});

test('two issuances racing for the same blank card: exactly one uses it', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { residents: [TARO, HANAKO], cards: ['SN0001'] });
    await w.counter.stock.takeOut(CLERK, { terminalId: 'T1', serial: 'SN0001' });
    const a1 = await w.counter.applications.apply(CLERK, { kind: 'new', residentCode: TARO, terminalId: 'T1' });
    const a2 = await w.counter.applications.apply(CLERK, { kind: 'new', residentCode: HANAKO, terminalId: 'T1' });
    const results = await Promise.allSettled([
      w.counter.issuance.issue(CLERK, { applicationId: a1.applicationId, serial: 'SN0001', terminalId: 'T1' }),
      w.counter.issuance.issue(CLERK, { applicationId: a2.applicationId, serial: 'SN0001', terminalId: 'T1' }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.equal((await w.database.db.selectFrom('cs_cards').selectAll().execute()).length, 1);
    assert.equal(w.cardStep.requests.length, 1, 'the card step ran once');
  });
});

test('a crash in the middle of personalisation is recovered on restart: no card recorded, the blank card spoiled, the application open again', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { residents: [TARO], cards: ['SN0001', 'SN0002'] });
    await w.counter.stock.takeOut(CLERK, { terminalId: 'T1', serial: 'SN0001' });
    const app = await w.counter.applications.apply(CLERK, { kind: 'new', residentCode: TARO, terminalId: 'T1' });
    // The process "dies" inside the card step: the promise never settles.
    let reached!: () => void;
    const inStep = new Promise<void>((r) => { reached = r; });
    w.cardStep.next = () => { reached(); return new Promise<void>(() => {}); };
    void w.counter.issuance.issue(CLERK, { applicationId: app.applicationId, serial: 'SN0001', terminalId: 'T1' });
    await inStep;
    assert.equal((await w.database.db.selectFrom('cs_pending_issuance').selectAll().execute()).length, 1);
    // Meanwhile another terminal cannot issue for the same resident.
    await w.counter.stock.takeOut(CLERK, { terminalId: 'T2', serial: 'SN0002' });
    await refuses(w.counter.issuance.issue(CLERK, { applicationId: app.applicationId, serial: 'SN0002', terminalId: 'T2' }), 'JUKI_ERR_CS_ISSUANCE_IN_PROGRESS');
    // Restart: a new process over the same database.
    const restarted = openCounter(w.database, CHIYODA, { now: () => w.clock, cardStep: w.cardStep });
    const recovered = await restarted.issuance.recover();
    assert.deepEqual(recovered, [{ applicationId: app.applicationId, serial: 'SN0001', cardNumber: '131016-SN0001', stock: 'spoiled' }]);
    assert.deepEqual(await restarted.issuance.recover(), [], 'recovery is idempotent');
    assert.deepEqual(await w.database.db.selectFrom('cs_cards').selectAll().execute(), []);
    assert.equal((await restarted.stock.get('SN0001')).reason, 'issuance-interrupted');
    assert.equal((await restarted.applications.get(app.applicationId)).state, 'accepted');
    assert.ok((await auditTypes(w)).some((a) => a.type === 'cs.issuance.recovered' && a.details.serial === 'SN0001'));
    const card = await restarted.issuance.issue(CLERK, { applicationId: app.applicationId, serial: 'SN0002', terminalId: 'T2' });
    assert.equal(card.status, 'issued-awaiting-pin');
    assert.ok(restarted.issuance instanceof IssuanceService);
  });
});
