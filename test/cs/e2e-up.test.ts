/**
 * `juki up` serves the counter with real card steps (docs/counter.md "juki up: the embedded
 * counter"): a separate `juki` process, driven over HTTP as a person would, with the
 * embedded-mode dev routes standing in for hands on the reader and the PIN pad. The OpenAPI
 * document lists the counter's routes; a card is issued from the blank-card lot made on first
 * start through to active.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/db/index.ts';
import { juki, startJuki, stop } from '../helpers/cli.ts';

const M = '/municipality-131016';

test('juki up: the counter API and its OpenAPI document; a card issued end to end through the in-process terminal counter-1 (dev routes for the reader and the pad)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'juki-up-counter-'));
  const seeded = juki(['seed', '--municipality', '131016', '--residents', '3', '--db', join(dir, 'municipality-131016.sqlite')]);
  assert.equal(seeded.status, 0, seeded.stderr);
  const db = await openDatabase(join(dir, 'municipality-131016.sqlite'));
  const adult = await db.db.selectFrom('register_residents').select(['resident_code', 'birth_date']).where('birth_date', '<', '2000-01-01').orderBy('resident_code').executeTakeFirst()
    ?? await db.db.selectFrom('register_residents').select(['resident_code', 'birth_date']).orderBy('resident_code').executeTakeFirstOrThrow();
  await db.close();
  const up = await startJuki(['up', '--data-dir', dir, '--port', '0'], /listening on (http:\/\/\S+)/);
  const base = up.match[1]!;
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
  } finally {
    assert.equal(await stop(up.child), 0, up.stderr());
    rmSync(dir, { recursive: true, force: true });
  }
});
