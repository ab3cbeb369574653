/**
 * Operator cards made at the counter through the API (docs/counter.md "Staff"): the first
 * administrator with the one-time set-up code (a CS under `juki serve` has no dev routes), then
 * the administrator making operator cards, from a maker's card on the stock terminal's reader
 * and from a blank card a stock keeper took out of the safe. The staff member sets the operator
 * PIN on the terminal's pad; the card signs the sign-in challenge; the stock ledger accounts for
 * every card (reconciliation without alarm); refusals change nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDb } from '../helpers/db.ts';
import { openE2e, READER, TERMINAL, type E2e } from './e2e-fixture.ts';

const PINS = { admin1: '13579', keeper1: '24680', clerk1: '97531' } as const;

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

async function staffCount(e: E2e): Promise<number> {
  return (await e.database.db.selectFrom('cs_staff').select('staff_id').execute()).length;
}

async function auditTypes(e: E2e): Promise<{ outcome: string }[]> {
  return e.database.db.selectFrom('audit_entries').select(['outcome']).where('event_type', '=', 'cs.staff.setup').orderBy('seq').execute();
}

test('operator cards through the API: first administrator with the set-up code, then a stock keeper and a clerk, each signing in with their card', async () => {
  await withE2e(async (e) => {
    const desk = e.counter.operatorCards!;
    const code = await desk.newSetupCode();
    assert.match(code!, /^[0-9A-F]{5}(-[0-9A-F]{5}){3}$/);
    const [adminCard] = e.deliver('SETUP-1', 1) as [string];
    e.put(adminCard);
    const body = { reader: READER, lot: 'SETUP-1', transportKeyRef: 'SETUP-1', staffId: 'admin1', name: 'Admin' };

    // A wrong code: refused and audited, nothing enrolled, no terminal registered, the card untouched.
    const wrong = await e.call('POST', '/setup/first-administrator', undefined, { ...body, setupCode: 'AAAAA-BBBBB-CCCCC-DDDDD' });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.code, 'JUKI_ERR_CS_FORBIDDEN');
    assert.equal(await staffCount(e), 0);
    assert.equal((await e.database.db.selectFrom('cs_terminals').select('terminal_id').execute()).length, 0);
    assert.equal((await e.database.db.selectFrom('cs_stock').select('serial').execute()).length, 0);

    // The right code: the stock terminal registered, the card received, re-keyed, taken out and personalised; the PIN on the pad.
    e.pad.type(PINS.admin1);
    e.pad.type(PINS.admin1);
    const first = await e.call('POST', '/setup/first-administrator', undefined, { ...body, setupCode: code!.toLowerCase() });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual([first.body.staffId, first.body.role, first.body.cardSerial], ['admin1', 'administrator', adminCard]);
    assert.deepEqual((await auditTypes(e)).map((a) => a.outcome), ['refused', 'success']);
    // The code is one-time.
    const again = await e.call('POST', '/setup/first-administrator', undefined, { ...body, staffId: 'admin2', setupCode: code });
    assert.equal(again.status, 403);
    assert.equal(await staffCount(e), 1);
    assert.equal(await desk.newSetupCode(), undefined, 'no set-up code once staff exist');

    const adminToken = await e.signIn('admin1', adminCard, PINS.admin1);

    // A stock keeper from a maker's card on the stock terminal's reader.
    const [keeperCard] = e.deliver('OPS-2', 1) as [string];
    e.put(keeperCard);
    e.pad.type(PINS.keeper1);
    e.pad.type(PINS.keeper1);
    const keeper = await e.call('POST', '/operator-cards/from-delivery', adminToken, { lot: 'OPS-2', transportKeyRef: 'OPS-2', staffId: 'keeper1', name: 'Keeper', role: 'stock-keeper' });
    assert.equal(keeper.status, 201, JSON.stringify(keeper.body));
    const keeperToken = await e.signIn('keeper1', keeperCard, PINS.keeper1);

    // A clerk from a blank card of a delivery the stock keeper received and took out for the terminal.
    const [blank] = e.deliver('LOT-9', 1) as [string];
    e.put(blank);
    const received = await e.call('POST', '/stock/lots', keeperToken, { lot: 'LOT-9', transportKeyRef: 'LOT-9', serials: [blank] });
    assert.equal(received.status, 200, JSON.stringify(received.body));
    const stocked = await e.database.db.selectFrom('cs_stock').select(['serial', 'state']).where('lot', '=', 'LOT-9').execute();
    assert.deepEqual(stocked.map((r) => r.state), ['in-safe']);
    const out = await e.call('POST', '/stock/take-out', keeperToken, { terminalId: TERMINAL, serial: stocked[0]!.serial });
    assert.equal(out.status, 200, JSON.stringify(out.body));
    // Not taken out for this terminal / already enrolled: refused before the card is touched.
    const dup = await e.call('POST', `/terminals/${TERMINAL}/operator-cards`, adminToken, { serial: stocked[0]!.serial, staffId: 'keeper1', name: 'Again', role: 'clerk' });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.code, 'JUKI_ERR_CONFLICT');
    const notOut = await e.call('POST', `/terminals/${TERMINAL}/operator-cards`, adminToken, { serial: adminCard, staffId: 'clerk1', name: 'Clerk', role: 'clerk' });
    assert.equal(notOut.status, 409);
    assert.equal(notOut.body.code, 'JUKI_ERR_CS_STOCK_STATE');
    // Only an administrator makes operator cards.
    const byKeeper = await e.call('POST', `/terminals/${TERMINAL}/operator-cards`, keeperToken, { serial: stocked[0]!.serial, staffId: 'clerk1', name: 'Clerk', role: 'clerk' });
    assert.equal(byKeeper.status, 403);
    assert.equal((await e.counter.stock.get(stocked[0]!.serial)).state, 'taken-out');

    e.put(stocked[0]!.serial);
    e.pad.type(PINS.clerk1);
    e.pad.type(PINS.clerk1);
    const clerk = await e.call('POST', `/terminals/${TERMINAL}/operator-cards`, adminToken, { serial: stocked[0]!.serial, staffId: 'clerk1', name: 'Clerk', role: 'clerk' });
    assert.equal(clerk.status, 201, JSON.stringify(clerk.body));
    assert.equal(clerk.body.role, 'clerk');
    assert.equal((await e.counter.stock.get(stocked[0]!.serial)).state, 'used');
    const clerkToken = await e.signIn('clerk1', stocked[0]!.serial, PINS.clerk1);
    assert.equal((await e.call('GET', '/me', clerkToken)).body.role, 'clerk');

    // Every card accounted for: the operator cards' stock cards are used with a staff record.
    const report = await e.call('POST', '/stock/reconcile', keeperToken, {});
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.deepEqual(report.body.alarms, []);
    assert.equal(report.body.counts.used, 3);

    // No PIN in any answer.
    for (const pin of Object.values(PINS)) assert.ok(!e.responses.some((r) => r.includes(pin)), `PIN ${pin} in an HTTP answer`);
  });
});

test('operator card: a PIN not set on the pad spoils the card (awaiting witnessed destruction) and enrols nobody', async () => {
  await withE2e(async (e) => {
    const desk = e.counter.operatorCards!;
    const code = await desk.newSetupCode();
    const [card] = e.deliver('SETUP-2', 1) as [string];
    e.put(card);
    e.pad.type({ cancel: true });
    const r = await e.call('POST', '/setup/first-administrator', undefined, { setupCode: code, reader: READER, lot: 'SETUP-2', transportKeyRef: 'SETUP-2', staffId: 'admin1', name: 'Admin' });
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.equal(r.body.code, 'JUKI_ERR_CS_PIN_NOT_SET');
    assert.equal(await staffCount(e), 0);
    const stock = await e.counter.stock.get(card);
    assert.equal(stock.state, 'spoiled');
    assert.equal(stock.witnessedBy, null);
  });
});

test('set-up code: five wrong codes close it until restart', async () => {
  await withE2e(async (e) => {
    const desk = e.counter.operatorCards!;
    const code = await desk.newSetupCode();
    for (let i = 0; i < 5; i++) {
      const r = await e.call('POST', '/setup/first-administrator', undefined, { setupCode: `WRONG-${i}`, reader: READER, lot: 'S', transportKeyRef: 'S', staffId: 'admin1', name: 'Admin' });
      assert.equal(r.status, 403);
    }
    const right = await e.call('POST', '/setup/first-administrator', undefined, { setupCode: code, reader: READER, lot: 'S', transportKeyRef: 'S', staffId: 'admin1', name: 'Admin' });
    assert.equal(right.status, 403);
    assert.match(right.body.message, /no set-up code is open/);
    assert.equal((await auditTypes(e)).length, 6);
    assert.equal(await staffCount(e), 0);
    // Bad input: a precise 400 naming the field.
    const bad = await e.call('POST', '/setup/first-administrator', undefined, { setupCode: code, lot: 'S', transportKeyRef: 'S', staffId: 'bad id!', name: 'Admin' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'JUKI_ERR_INVALID_INPUT');
  });
});
