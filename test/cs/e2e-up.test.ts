/**
 * `juki up` serves the counter with real card steps (docs/counter.md "juki up: the embedded
 * counter"): a separate `juki` process, driven over HTTP as a person would, with the
 * embedded-mode dev routes standing in for hands on the reader and the PIN pad. The OpenAPI
 * document lists the counter's routes; a card is issued from the blank-card lot made on first
 * start through to active; then the process is killed mid-personalisation and restarted, and
 * the interrupted issuance is recovered (no card, the blank card spoiled, the application open).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { openDatabase } from '../../src/db/index.ts';
import { juki, startJuki, stop } from '../helpers/cli.ts';

const M = '/municipality-131016';

test('juki up: the counter API and its OpenAPI document; a card issued end to end through the in-process terminal counter-1 (dev routes for the reader and the pad); [R3.1.2e] the process killed mid-personalisation is recovered on restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'juki-up-counter-'));
  const seeded = juki(['seed', '--municipality', '131016', '--residents', '3', '--db', join(dir, 'municipality-131016.sqlite')]);
  assert.equal(seeded.status, 0, seeded.stderr);
  const db = await openDatabase(join(dir, 'municipality-131016.sqlite'));
  const residents = (await db.db.selectFrom('register_residents').select('resident_code').orderBy('resident_code').execute()).map((r) => r.resident_code);
  const adult = await db.db.selectFrom('register_residents').select(['resident_code', 'birth_date']).where('birth_date', '<', '2000-01-01').orderBy('resident_code').executeTakeFirst()
    ?? await db.db.selectFrom('register_residents').select(['resident_code', 'birth_date']).orderBy('resident_code').executeTakeFirstOrThrow();
  await db.close();
  let up = await startJuki(['up', '--data-dir', dir, '--port', '0'], /listening on (http:\/\/\S+)/);
  let base = up.match[1]!;
  try {
    const call = async (method: string, path: string, body?: unknown, token?: string) => {
      const r = await fetch(`${base}${path}`, {
        method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : undefined };
    };
    const dev = (path: string, body?: unknown) => call('POST', `${M}/dev/counter-1/${path}`, body ?? {});
    const type = async (keys: string) => {
      assert.equal((await dev('pin-pad/type', { keys })).status, 200);
    };

    const doc = (await call('GET', '/openapi.json')).body;
    for (const p of ['/issuances', '/cards/{cardNumber}/pin', '/identity-checks', '/cards/{cardNumber}/pin/change', '/cards/{cardNumber}/pin/unblock', '/pin-notices/{noticeId}/destroyed', '/dev/counter-1/pin-pad/type']) {
      assert.ok(doc.paths[`${M}${p}`], `${p} in the OpenAPI document`);
    }

    // Staff: operator cards made on the bench's reader, PINs on the pad.
    const staff: Record<string, string> = {};
    for (const [id, role, pin] of [['admin1', 'administrator', '1357'], ['keeper1', 'stock-keeper', '2468'], ['clerk1', 'clerk', '9753']] as const) {
      await type(pin);
      await type(pin);
      const card = await dev('operator-cards', { staffId: id, ...(role === 'administrator' ? { firstAdministrator: true } : {}) });
      assert.equal(card.status, 200, JSON.stringify(card.body));
      if (role !== 'administrator') {
        const r = await call('POST', `${M}/staff`, { staffId: id, name: id, role, cardSerial: card.body.serial, publicKey: card.body.publicKey }, staff.admin1);
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      await type(pin);
      const login = await dev('login', { staffId: id, ...(role === 'administrator' ? {} : { terminalId: 'counter-1' }) });
      assert.equal(login.status, 200, JSON.stringify(login.body));
      staff[id] = login.body.token;
      if (role === 'administrator') {
        const t = await call('POST', `${M}/terminals`, { terminalId: 'counter-1', name: 'counter 1', reader: 'counter-1-reader', pinPad: 'counter-1-pad' }, staff.admin1);
        assert.equal(t.status, 201, JSON.stringify(t.body));
      }
    }

    // The lot made on first start, received and re-keyed card by card on the bench's reader.
    const { lot } = (await call('GET', `${M}/dev/counter-1/cards`)).body as { lot: string[] };
    const received = await call('POST', `${M}/stock/lots`, { lot: 'COUNTER-1', transportKeyRef: 'COUNTER-1', serials: lot.slice(0, 2) }, staff.keeper1);
    assert.equal(received.status, 200, JSON.stringify(received.body));
    assert.deepEqual(received.body.results.map((r: { state: string }) => r.state), ['in-safe', 'in-safe']);

    // A new issue with JPKI, face Form 2; the holder sets the PINs on the pad; active.
    assert.equal((await call('POST', `${M}/stock/take-out`, { terminalId: 'counter-1', serial: lot[0] }, staff.clerk1)).status, 200);
    const app = await call('POST', `${M}/applications`, { kind: 'new', residentCode: adult.resident_code, terminalId: 'counter-1' }, staff.clerk1);
    assert.equal(app.status, 201, JSON.stringify(app.body));
    const iss = await call('POST', `${M}/issuances`, { applicationId: app.body.applicationId, serial: lot[0], terminalId: 'counter-1', jpki: true, face: 'form2' }, staff.clerk1);
    assert.equal(iss.status, 201, JSON.stringify(iss.body));
    assert.equal(iss.body.status, 'issued-awaiting-pin');
    for (const pin of ['4321', '4321', '4321', '4321', 'PW12AB', 'PW12AB']) await type(pin);
    const set = await call('POST', `${M}/cards/${iss.body.cardNumber}/pin`, { terminalId: 'counter-1', setBy: 'holder' }, staff.clerk1);
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.card.status, 'active');

    // [R3.1.2e] A crash mid-personalisation, recovered on restart. Once the issuance has reserved its
    // pending row, this test takes the database's write lock, so the process can never commit;
    // then the process is killed (SIGKILL) and started again.
    const other = residents.find((r) => r !== adult.resident_code)!;
    assert.equal((await call('POST', `${M}/stock/take-out`, { terminalId: 'counter-1', serial: lot[1] }, staff.clerk1)).status, 200);
    const app2 = await call('POST', `${M}/applications`, { kind: 'new', residentCode: other, terminalId: 'counter-1' }, staff.clerk1);
    assert.equal(app2.status, 201, JSON.stringify(app2.body));
    const sqlite = new Sqlite(join(dir, 'municipality-131016.sqlite'));
    try {
      void call('POST', `${M}/issuances`, { applicationId: app2.body.applicationId, serial: lot[1], terminalId: 'counter-1', jpki: true }, staff.clerk1).catch(() => undefined);
      const pending = sqlite.prepare('select count(*) as n from cs_pending_issuance');
      while ((pending.get() as { n: number }).n === 0) await new Promise((r) => setImmediate(r));
      sqlite.exec('BEGIN IMMEDIATE');
      up.child.kill('SIGKILL');
      await new Promise((r) => (up.child.exitCode !== null || up.child.signalCode !== null ? r(undefined) : up.child.once('exit', r)));
      sqlite.exec('ROLLBACK');
    } finally {
      sqlite.close();
    }
    const again = await startJuki(['up', '--data-dir', dir, '--port', '0'], /listening on (http:\/\/\S+)/);
    up = again;
    base = again.match[1]!;
    const stock = await call('GET', `${M}/stock/${lot[1]}`, undefined, staff.keeper1);
    assert.equal(stock.status, 200, JSON.stringify(stock.body));
    assert.equal(stock.body.card.state, 'spoiled');
    const app2After = await call('GET', `${M}/applications/${app2.body.applicationId}`, undefined, staff.clerk1);
    assert.equal(app2After.body.state, 'accepted');
    const cards = await call('POST', `${M}/stock/reconcile`, {}, staff.keeper1);
    assert.deepEqual(cards.body.awaitingDestruction, [lot[1]]);
    assert.deepEqual(cards.body.alarms, []);
  } finally {
    assert.equal(await stop(up.child), 0, up.stderr());
    rmSync(dir, { recursive: true, force: true });
  }
});
