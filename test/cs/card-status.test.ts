/** Card status (R3.2.1a) and returned cards at move-in (R3.2.1i, counter side). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CARD_LIFECYCLE, DEFAULT_TRANSITIONS, STATUS_CAUSES, checkTransitions, openCounter, type CardLifecycle, type StatusCause } from '../../src/cs/index.ts';
import { openTestDb } from '../helpers/db.ts';
import { CHIYODA, CLERK, auditTypes, outbox, refuses, resident, setUp, withWorld } from './fixtures.ts';

const FROM_STATES: { status: CardLifecycle; suspendedFrom?: CardLifecycle }[] = [
  { status: 'issued-awaiting-pin' }, { status: 'active' }, { status: 'suspended', suspendedFrom: 'active' },
  { status: 'suspended', suspendedFrom: 'issued-awaiting-pin' }, { status: 'abolished' }, { status: 'collected' },
];

test('[R3.2.1a] every transition of the configuration is allowed and every other refused; each audited, each allowed one in the outbox', async () => {
  await withWorld(openTestDb(), async (w) => {
    let n = 0;
    for (const start of FROM_STATES) {
      for (const cause of Object.keys(STATUS_CAUSES) as StatusCause[]) {
        n += 1;
        const cardNumber = `${CHIYODA}-C${String(n).padStart(4, '0')}`;
        const residentCode = String(20000000000 + n);
        const live = ['issued-awaiting-pin', 'active', 'suspended'].includes(start.status);
        await w.database.db.insertInto('cs_cards').values({
          card_number: cardNumber, serial: null, resident_code: residentCode, municipality: CHIYODA, status: start.status, suspended_from: start.suspendedFrom ?? null,
          live_resident: live ? residentCode : null, issued_at: '2025-01-01T00:00:00.000Z', valid_until: '2034-12-31', application_id: null, version: 1, updated_at: '2025-01-01T00:00:00.000Z',
        }).execute();
        const rule = DEFAULT_TRANSITIONS.find((r) => r.from === start.status && r.causes.includes(cause));
        const auditBefore = (await auditTypes(w)).length;
        const outBefore = (await outbox(w)).length;
        const what = `${start.status}${start.suspendedFrom ? `(from ${start.suspendedFrom})` : ''} --${cause}-->`;
        if (!rule) {
          await refuses(w.counter.status.change(CLERK, cardNumber, cause), 'JUKI_ERR_CS_CARD_TRANSITION', new RegExp(`no transition from ${start.status} for ${cause}`));
          assert.equal((await w.counter.status.get(cardNumber)).status, start.status, `${what} refused changes nothing`);
          const audit = (await auditTypes(w)).slice(auditBefore);
          assert.deepEqual(audit.map((a) => [a.type, a.outcome, a.reason, a.details.cause]), [['cs.card.status', 'refused', 'JUKI_ERR_CS_CARD_TRANSITION', cause]], what);
          assert.equal((await outbox(w)).length, outBefore, `${what} refused sends nothing`);
          continue;
        }
        const expected = rule.to === 'previous' ? start.suspendedFrom! : rule.to;
        const after = await w.counter.status.change(CLERK, cardNumber, cause);
        assert.equal(after.status, expected, what);
        assert.equal(after.suspendedFrom, expected === 'suspended' ? start.status : null, what);
        const audit = (await auditTypes(w)).slice(auditBefore);
        assert.deepEqual(audit.map((a) => [a.type, a.outcome, a.subject, a.details.from, a.details.to, a.details.cause]), [['cs.card.status', 'success', `card:${cardNumber}`, start.status, expected, cause]], what);
        const sent = (await outbox(w)).slice(outBefore);
        if (expected === 'issued-awaiting-pin') assert.deepEqual(sent, [], `${what}: not announced`);
        else assert.deepEqual(sent.map((m) => [m.type, m.to, m.body.cardNumber, m.body.status, m.body.version]), [['card.status', 'prefecture-13', cardNumber, expected, 2]], what);
        const history = await w.counter.status.history(cardNumber);
        assert.deepEqual(history.map((h) => [h.from, h.to, h.cause, h.actor]), [[start.status, expected, cause, 'clerk1']], what);
      }
    }
    assert.equal(n, FROM_STATES.length * Object.keys(STATUS_CAUSES).length);
  });
});

test('[R3.2.1a] the transitions come from configuration: a stricter machine refuses what the default allows; a malformed one is refused', async () => {
  await withWorld(openTestDb(), async (w) => {
    await w.database.db.insertInto('cs_cards').values({
      card_number: '131016-X1', serial: null, resident_code: '20000000001', municipality: CHIYODA, status: 'active', suspended_from: null,
      live_resident: '20000000001', issued_at: null, valid_until: null, application_id: null, version: 1, updated_at: '2025-01-01T00:00:00.000Z',
    }).execute();
    await refuses(w.counter.status.change(CLERK, '131016-X1', 'suspension-request'), 'JUKI_ERR_CS_CARD_TRANSITION', /allowed: lost/);
    assert.equal((await w.counter.status.change(CLERK, '131016-X1', 'lost')).status, 'suspended');
  }, { transitions: [{ from: 'active', to: 'suspended', causes: ['lost'] }, { from: 'suspended', to: 'previous', causes: ['found'] }] });
  assert.throws(() => checkTransitions([{ from: 'active', to: 'previous', causes: ['found'] }]), /only a suspension returns/);
  assert.throws(() => checkTransitions([{ from: 'active', to: 'abolished', causes: ['death'] }, { from: 'active', to: 'suspended', causes: ['death'] }]), /a second rule from active for death/);
  assert.throws(() => checkTransitions([{ from: 'lost' as CardLifecycle, to: 'active', causes: [] }]), /transitions\[0\]\.from/);
  assert.deepEqual([...CARD_LIFECYCLE], ['issued-awaiting-pin', 'active', 'suspended', 'abolished', 'collected']);
});

test('[R3.2.1a] expiry abolishes every card past its validity', async () => {
  await withWorld(openTestDb(), async (w) => {
    for (const [n, until] of [['131016-E1', '2025-05-31'], ['131016-E2', '2030-01-01']] as const) {
      await w.database.db.insertInto('cs_cards').values({
        card_number: n, serial: null, resident_code: n === '131016-E1' ? '20000000001' : '20000000002', municipality: CHIYODA, status: 'active', suspended_from: null,
        live_resident: n === '131016-E1' ? '20000000001' : '20000000002', issued_at: null, valid_until: until, application_id: null, version: 1, updated_at: '2025-01-01T00:00:00.000Z',
      }).execute();
    }
    assert.deepEqual(await w.counter.status.expireDue({ kind: 'system' }, '2025-06-01'), ['131016-E1']);
    assert.equal((await w.counter.status.get('131016-E1')).status, 'abolished');
    assert.equal((await w.counter.status.get('131016-E2')).status, 'active');
  });
});

test('[R3.2.1i counter] the move-in municipality takes the returned card, records it collected and queues card.returned to the issuer in the same transaction; the issuer applies it once', async () => {
  const osakaDb = await openTestDb();
  try {
    const osaka = openCounter(osakaDb, '271004', { now: () => new Date('2025-06-01T03:00:00Z') });
    // The card as Osaka issued it.
    await osakaDb.db.insertInto('cs_cards').values({
      card_number: '271004-SN5555', serial: 'SN5555', resident_code: '10000000001', municipality: '271004', status: 'active', suspended_from: null,
      live_resident: '10000000001', issued_at: '2024-01-01T00:00:00.000Z', valid_until: '2033-12-31', application_id: null, version: 2, updated_at: '2024-01-01T00:00:00.000Z',
    }).execute();
    await withWorld(openTestDb(), async (w) => {
      await setUp(w);
      await refuses(w.counter.moves.receiveReturnedCard(CLERK, { cardNumber: '271004-SN5555', issuer: '271004', residentCode: '10000000001' }), 'JUKI_ERR_CS_NOT_REGISTERED');
      await w.counter.ctx.register.moveIn({ resident: resident('10000000001'), date: '2025-05-20', from: { municipality: '271004', address: '大阪府大阪市北区' } });
      const card = await w.counter.moves.receiveReturnedCard(CLERK, { cardNumber: '271004-SN5555', issuer: '271004', residentCode: '10000000001' });
      assert.deepEqual([card.status, card.issuer], ['collected', '271004']);
      const sent = await outbox(w);
      assert.deepEqual(sent, [{ type: 'card.returned', to: 'municipality-271004', body: { cardNumber: '271004-SN5555', issuer: '271004', receivedBy: CHIYODA, receivedAt: '2025-06-01T03:00:00.000Z' } }]);
      assert.ok((await auditTypes(w)).some((a) => a.type === 'cs.card.returned' && a.subject === 'card:271004-SN5555'));
      await refuses(w.counter.moves.receiveReturnedCard(CLERK, { cardNumber: '271004-SN5555', issuer: '271004', residentCode: '10000000001' }), 'JUKI_ERR_CS_CARD_TRANSITION', /already collected/);
      // The collected card counts as a prior card that no longer blocks a new issue here.
      const app = await w.counter.applications.apply(CLERK, { kind: 'new', residentCode: '10000000001', terminalId: 'T1' });
      assert.equal(app.state, 'accepted');
      // Only the issuer changes the card's status.
      await refuses(w.counter.status.change(CLERK, '271004-SN5555', 'returned'), 'JUKI_ERR_CS_CARD_TRANSITION', /only the issuing municipality/);
      // The issuer's inbox applies the message: collected there, announced to its prefecture; a repeat changes nothing.
      for (let i = 0; i < 2; i++) {
        await osakaDb.transaction((trx) => osaka.moves.applyReturnedCard(trx, sent[0]!.body as never, 'municipality-131016'));
      }
      assert.equal((await osaka.status.get('271004-SN5555')).status, 'collected');
      const osakaOut = (await osakaDb.db.selectFrom('net_outbox').select('envelope').execute()).map((r) => JSON.parse(r.envelope));
      assert.deepEqual(osakaOut.map((e) => [e.type, e.to, e.body.status]), [['card.status', 'prefecture-27', 'collected']]);
      const history = await osaka.status.history('271004-SN5555');
      assert.deepEqual(history.map((h) => [h.from, h.to, h.cause, h.actor]), [['active', 'collected', 'returned', 'municipality-131016']]);
    });
  } finally {
    await osakaDb.close();
  }
});
