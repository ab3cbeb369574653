/** Blank-card stock: re-keying before the safe (R3.1.1a), ledger, take-out/return, spoiling under a witness, reconciliation (R3.1.1i). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, CLERK, KEEPER, SUPERVISOR, auditTypes, refuses, setUp, withWorld } from './fixtures.ts';
import { openTestDb } from '../helpers/db.ts';

test('[R3.1.1a] a card enters the safe only after re-keying: a failed re-key leaves it received, out of the safe, and a retry admits it', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w);
    const results = await w.counter.stock.receiveLot(KEEPER, { lot: 'LOT1', transportKeyRef: 'maker:transport:LOT1', serials: ['SN0001', 'SN0002', 'SN0003'] });
    assert.deepEqual(results.map((r) => [r.serial, r.state, r.error?.code]), [
      ['SN0001', 'in-safe', undefined], ['SN0002', 'received', 'JUKI_ERR_SCP_AUTHENTICATION'], ['SN0003', 'in-safe', undefined],
    ]);
    assert.deepEqual(w.rekey.done, ['SN0001', 'SN0003']);
    assert.equal((await w.counter.stock.get('SN0002')).state, 'received');
    // Not in the safe: it cannot be taken out.
    await refuses(w.counter.stock.takeOut(CLERK, { terminalId: 'T1', serial: 'SN0002' }), 'JUKI_ERR_CS_STOCK_STATE', /expected a card in-safe, but it is received/);
    const audit = await auditTypes(w);
    const failed = audit.find((a) => a.type === 'cs.stock.moved' && a.outcome === 'error');
    assert.deepEqual([failed?.reason, failed?.details.serial], ['JUKI_ERR_SCP_AUTHENTICATION', 'SN0002']);
    w.rekey.failFor.clear();
    const retry = await w.counter.stock.rekeyPending(KEEPER, 'LOT1');
    assert.deepEqual(retry.map((r) => [r.serial, r.state]), [['SN0002', 'in-safe']]);
    assert.deepEqual((await w.counter.stock.ledger('SN0002')).map((e) => [e.event, e.from, e.to]), [['received', null, 'received'], ['rekeyed', 'received', 'in-safe']]);
  }, { failRekey: ['SN0002'] });
});

test('[R3.1.1i] the ledger records every take-out and return by named staff for a named terminal', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { cards: ['SN0001', 'SN0002'] });
    const out = await w.counter.stock.takeOut(CLERK, { terminalId: 'T1' });
    assert.deepEqual([out.serial, out.state, out.staffId, out.terminalId], ['SN0001', 'taken-out', 'clerk1', 'T1']);
    await refuses(w.counter.stock.takeOut(CLERK, { terminalId: 'T2', serial: 'SN0001' }), 'JUKI_ERR_CS_STOCK_STATE');
    await refuses(w.counter.stock.takeOut(CLERK, { terminalId: 'T9' }), 'JUKI_ERR_NOT_FOUND', /no active terminal T9/);
    const back = await w.counter.stock.returnToSafe(CLERK, 'SN0001');
    assert.equal(back.state, 'in-safe');
    await refuses(w.counter.stock.returnToSafe(CLERK, 'SN0001'), 'JUKI_ERR_CS_STOCK_STATE');
    const ledger = await w.counter.stock.ledger('SN0001');
    assert.deepEqual(ledger.map((e) => [e.seq, e.event, e.to, e.staffId, e.terminalId]), [
      [1, 'received', 'received', 'keeper1', null],
      [2, 'rekeyed', 'in-safe', 'keeper1', null],
      [3, 'taken-out', 'taken-out', 'clerk1', 'T1'],
      [4, 'returned', 'in-safe', 'clerk1', null],
    ]);
    const report = await w.counter.stock.reconcile(SUPERVISOR);
    assert.deepEqual(report.counts, { received: 0, 'in-safe': 2, 'taken-out': 0, used: 0, spoiled: 0 });
    assert.deepEqual(report.alarms, []);
    assert.equal(report.delivered, 2);
  });
});

test('[R3.1.1i] spoiling needs a witness who is another staff member allowed to witness; the destruction is in the ledger', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { cards: ['SN0001'] });
    await w.counter.stock.takeOut(CLERK, { terminalId: 'T1', serial: 'SN0001' });
    await refuses(w.counter.stock.spoil(SUPERVISOR, { serial: 'SN0001', reason: 'printed crooked', witnessedBy: '' }), 'JUKI_ERR_CS_WITNESS', /needs a witness/);
    await refuses(w.counter.stock.spoil(SUPERVISOR, { serial: 'SN0001', reason: 'printed crooked', witnessedBy: 'super1' }), 'JUKI_ERR_CS_WITNESS', /own destruction/);
    await refuses(w.counter.stock.spoil(SUPERVISOR, { serial: 'SN0001', reason: 'printed crooked', witnessedBy: 'clerk2' }), 'JUKI_ERR_CS_WITNESS', /clerk role may not witness/);
    await refuses(w.counter.stock.spoil(SUPERVISOR, { serial: 'SN0001', reason: 'printed crooked', witnessedBy: 'nobody' }), 'JUKI_ERR_CS_WITNESS', /no active staff member nobody/);
    assert.equal((await w.counter.stock.get('SN0001')).state, 'taken-out', 'refusals change nothing');
    const spoiled = await w.counter.stock.spoil(SUPERVISOR, { serial: 'SN0001', reason: 'printed crooked', witnessedBy: 'keeper1' });
    assert.deepEqual([spoiled.state, spoiled.witnessedBy, spoiled.reason], ['spoiled', 'keeper1', 'printed crooked']);
    const last = (await w.counter.stock.ledger('SN0001')).at(-1)!;
    assert.deepEqual([last.event, last.staffId, last.witnessedBy], ['spoiled', 'super1', 'keeper1']);
    void ADMIN;
  });
});

test('[R3.1.1i] reconciliation raises an alarm, in the report and the audit, for a card missing from the records or from the safe', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { cards: ['SN0001', 'SN0002', 'SN0003'] });
    await w.counter.stock.takeOut(CLERK, { terminalId: 'T1', serial: 'SN0003' });
    // Someone removes a card's record behind the ledger's back.
    await w.database.db.deleteFrom('cs_stock').where('serial', '=', 'SN0002').execute();
    // The physical count of the safe finds only SN0001 ... and a stray card.
    const report = await w.counter.stock.reconcile(KEEPER, { counted: ['SN0001', 'SN0999'] });
    assert.deepEqual(report.alarms.map((a) => [a.serial, a.alarm]).sort(), [
      ['LOT1', 'lot-count'], ['SN0002', 'missing-record'], ['SN0999', 'unexpected-in-safe'],
    ]);
    assert.deepEqual(report.takenOut, [{ serial: 'SN0003', staffId: 'clerk1', terminalId: 'T1' }]);
    const audit = await auditTypes(w);
    const reconciled = audit.filter((a) => a.type === 'cs.stock.reconciled');
    assert.deepEqual([reconciled[0]?.outcome, reconciled[0]?.details.alarms], ['error', 3]);
    assert.deepEqual(audit.filter((a) => a.type === 'cs.stock.alarm').map((a) => [a.details.serial, a.reason]).sort(), [
      ['LOT1', 'lot-count'], ['SN0002', 'missing-record'], ['SN0999', 'unexpected-in-safe'],
    ]);
    // A card in the safe by the records but not found in the count is an alarm too.
    const second = await w.counter.stock.reconcile(KEEPER, { counted: [] });
    assert.ok(second.alarms.some((a) => a.serial === 'SN0001' && a.alarm === 'missing-from-safe'));
  });
});

test('two terminals taking out the same blank card at once: exactly one succeeds', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { cards: ['SN0001'] });
    const results = await Promise.allSettled([
      w.counter.stock.takeOut(CLERK, { terminalId: 'T1', serial: 'SN0001' }),
      w.counter.stock.takeOut({ kind: 'staff', id: 'clerk2' }, { terminalId: 'T2', serial: 'SN0001' }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.match((lost.reason as Error & { code: string }).code, /JUKI_ERR_CS_STOCK_STATE|JUKI_ERR_CONFLICT/);
    const ledger = await w.counter.stock.ledger('SN0001');
    assert.equal(ledger.filter((e) => e.event === 'taken-out').length, 1);
  });
});

test('bad input to the stock is refused naming the field, and writes nothing', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w);
    await refuses(w.counter.stock.receiveLot(KEEPER, { lot: 'LOT1', transportKeyRef: 'ref', serials: ['SN0001', 'bad serial'] }), 'JUKI_ERR_INVALID_INPUT', /^serials\[1\]: expected a card serial/);
    await refuses(w.counter.stock.receiveLot(KEEPER, { lot: 'LOT1', transportKeyRef: 'ref', serials: ['SN0001', 'SN0001'] }), 'JUKI_ERR_INVALID_INPUT', /listed twice/);
    await refuses(w.counter.stock.receiveLot(KEEPER, { lot: 'LOT1', transportKeyRef: 'ref', serials: [] }), 'JUKI_ERR_INVALID_INPUT', /^serials: expected 1 to 10000/);
    const { n } = await w.database.db.selectFrom('cs_stock').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(n), 0);
    await w.counter.stock.receiveLot(KEEPER, { lot: 'LOT1', transportKeyRef: 'ref', serials: ['SN0001'] });
    await refuses(w.counter.stock.receiveLot(KEEPER, { lot: 'LOT2', transportKeyRef: 'ref', serials: ['SN0001'] }), 'JUKI_ERR_CONFLICT');
    assert.equal((await w.database.db.selectFrom('cs_lots').selectAll().execute()).length, 1);
  });
});
